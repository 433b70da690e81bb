from django.contrib import admin
from django.utils.text import Truncator

from accounts.admin_moderation import EstimatingPaginator, InputFilter, reasoned_action
from chat import services
from chat.models import Attachment, LinkPreview, Message, Notification, Reaction
from chat.search import messages_matching
from chat.selectors import positive_bigint


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


class RoomFilter(InputFilter):
    title = "room id"
    parameter_name = "room"

    def queryset(self, request, queryset):
        value = self.value()
        if value:
            room_id = positive_bigint(value)
            return queryset.filter(room_id=room_id) if room_id is not None else queryset.none()
        return queryset


class AuthorFilter(InputFilter):
    title = "author handle"
    parameter_name = "author"

    def queryset(self, request, queryset):
        # The handle's unique index (on UPPER(handle)) finds the person; then their messages by author_id.
        value = (self.value() or "").lstrip("@")
        return queryset.filter(author__handle__iexact=value) if value else queryset


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Shown"), ("deleted", "Deleted by a member"), ("removed", "Removed by a moderator")]

    def queryset(self, request, queryset):
        return {
            "live": lambda: queryset.filter(deleted_at__isnull=True),
            "deleted": lambda: queryset.filter(deleted_at__isnull=False, removal_reason=""),
            "removed": lambda: queryset.exclude(removal_reason=""),
        }.get(self.value(), lambda: queryset)()


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages, to look at and remove (with a reason members see). Nothing here edits a message.

    Built for a table of millions: newest first by id (the primary key's index; created_at has none),
    rooms and authors filtered by typing an id or a handle rather than from a list of every room, and
    the search box matching the GIN-indexed search vector (chat.search), not a scan of every body.
    """

    inlines = [AttachmentInline]
    list_display = ("id", "room", "seq", "author", "short_body", "created_at", "state")
    list_filter = (RoomFilter, AuthorFilter, StateFilter, "created_at")
    list_select_related = ("room", "author")
    search_fields = ("body",)
    search_help_text = 'Whole words, as in the app\'s search ("quoted phrase", or, -word).'
    fields = (
        ("room", "seq"),
        "author",
        "body",
        "reply_to",
        ("created_at", "edited_at", "deleted_at"),
        "removal_reason",
        "client_id",
    )
    readonly_fields = ("room", "seq", "author", "body", "reply_to", "created_at", "edited_at", "deleted_at")
    readonly_fields += ("removal_reason", "client_id")
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatingPaginator
    actions = ["remove_messages"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("search_vector")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return messages_matching(queryset, search_term), False

    @admin.display(description="body")
    def short_body(self, message):
        return Truncator(message.body).chars(80) if not message.is_deleted else ""

    @admin.display(description="state")
    def state(self, message):
        if message.is_removed:
            return f"removed: {Truncator(message.removal_reason).chars(40)}"
        return "deleted" if message.is_deleted else "shown"

    @reasoned_action(
        description="Remove selected messages",
        help_text='Members see "Removed by a moderator: <reason>" in place of each message.',
    )
    def remove_messages(self, request, message, reason):
        services.message_remove(moderator=request.user, message_id=message.pk, reason=reason)


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    list_display = ("emoji", "user", "message", "created_at")
    list_filter = ("created_at",)
    list_select_related = ("user", "message")
    search_fields = ("emoji", "user__handle")
    raw_id_fields = ("message", "user")
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatingPaginator


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
    # No date_hierarchy: its first look is MIN/MAX(created_at) over the whole table, which has no index on it.
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatingPaginator


@admin.register(LinkPreview)
class LinkPreviewAdmin(admin.ModelAdmin):
    """The cache of link cards. Deleting a row takes its card off every message that showed it."""

    list_display = ("url", "status", "title", "fetched_at", "expires_at")
    list_filter = ("status", "fetched_at")
    search_fields = ("url", "title")
    readonly_fields = ("url", "url_hash", "fetched_at")
    ordering = ("-fetched_at",)
    show_full_result_count = False
