from django.contrib import admin

from chat.models import Attachment, LinkPreview, Message, Notification, Reaction


class AttachmentInline(admin.TabularInline):
    """The files a message carries, to look at: they change only by deleting the message."""

    model = Attachment
    fields = ("name", "content_type", "size", "width", "height", "uploader", "created_at", "storage_name")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    inlines = [AttachmentInline]
    list_display = ("room", "seq", "author", "short_body", "created_at", "edited_at", "deleted_at")
    # Filtering by room lists every room; on a large install use ?room__id__exact=<id> instead.
    list_filter = ("room", "created_at", "deleted_at")
    list_select_related = ("room", "author")
    search_fields = ("body",)
    raw_id_fields = ("room", "author", "reply_to", "preview")
    readonly_fields = ("room", "seq", "client_id", "created_at")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    show_full_result_count = False

    @admin.display(description="body")
    def short_body(self, message):
        return message.body[:80] if not message.is_deleted else "(deleted)"


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    list_display = ("emoji", "user", "message", "created_at")
    list_filter = ("created_at",)
    list_select_related = ("user", "message")
    search_fields = ("emoji", "user__handle")
    raw_id_fields = ("message", "user")
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("kind", "user", "actor", "room", "created_at", "read_at", "emailed_at")
    list_filter = (
        "kind",
        "created_at",
        ("read_at", admin.EmptyFieldListFilter),
        ("emailed_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("user", "actor", "room")
    search_fields = ("user__handle", "actor__handle")
    raw_id_fields = ("user", "actor", "room", "message")
    date_hierarchy = "created_at"
    ordering = ("-id",)
    show_full_result_count = False


@admin.register(LinkPreview)
class LinkPreviewAdmin(admin.ModelAdmin):
    """The cache of link cards. Deleting a row takes its card off every message that showed it."""

    list_display = ("url", "status", "title", "fetched_at", "expires_at")
    list_filter = ("status", "fetched_at")
    search_fields = ("url", "title")
    readonly_fields = ("url", "url_hash", "fetched_at")
    ordering = ("-fetched_at",)
    show_full_result_count = False
