from django.contrib import admin

from accounts.admin_moderation import EstimatingPaginator, reasoned_action
from rooms import services
from rooms.models import Membership, Room, RoomInvite


class MembershipInline(admin.TabularInline):
    """Who is in the room, to look at: people join, leave and change roles in the product, where those
    changes are announced to the room (the Membership list below edits rows directly, for repairs)."""

    model = Membership
    extra = 0
    fields = ("user", "role", "joined_at", "last_read_seq", "notification_level", "request")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request, obj=None):
        return False


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("yes", "Archived"), ("no", "Not archived")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(kind=Room.Kind.GROUP, closed_at__isnull=self.value() == "no")
        return queryset


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "kind",
        "category",
        "is_public",
        "is_archived",
        "creator",
        "created_at",
        "last_message_at",
        "last_seq",
    )
    list_filter = ("kind", ArchivedFilter, "is_public", "category", "created_at")
    list_select_related = ("creator",)
    search_fields = ("title", "description", "category", "creator__handle", "direct_key")
    readonly_fields = ("direct_key", "created_at", "last_message_at", "last_seq", "closed_at")
    raw_id_fields = ("creator",)
    inlines = [MembershipInline]
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatingPaginator
    actions = ["archive_rooms", "unarchive_rooms"]

    @admin.display(boolean=True, description="archived", ordering="closed_at")
    def is_archived(self, room):
        return room.kind == Room.Kind.GROUP and room.closed_at is not None

    @reasoned_action(
        description="Archive selected group rooms (read-only, out of the directory)",
        help_text="Kept in the moderation log.",
    )
    def archive_rooms(self, request, room, reason):
        services.room_archive(moderator=request.user, room_id=room.pk, reason=reason)

    @reasoned_action(description="Unarchive selected group rooms", required=False)
    def unarchive_rooms(self, request, room, reason):
        services.room_unarchive(moderator=request.user, room_id=room.pk, reason=reason)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "room", "role", "joined_at", "last_read_seq", "notification_level", "request")
    list_filter = ("role", "notification_level", "request", "room__kind")
    list_select_related = ("user", "room")
    search_fields = ("user__handle", "user__email", "room__title")
    raw_id_fields = ("user", "room")
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatingPaginator


@admin.register(RoomInvite)
class RoomInviteAdmin(admin.ModelAdmin):
    list_display = ("user", "room", "invited_by", "created_at", "accepted_at")
    list_filter = ("created_at", "accepted_at")
    list_select_related = ("user", "room", "invited_by")
    search_fields = ("user__handle", "room__title", "invited_by__handle")
    raw_id_fields = ("user", "room", "invited_by")
    show_full_result_count = False
