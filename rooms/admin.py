from django.contrib import admin

from rooms.models import Membership, Room, RoomInvite


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "role", "joined_at", "last_read_seq", "notification_level", "request")
    readonly_fields = ("joined_at", "last_read_seq")
    raw_id_fields = ("user",)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "category", "is_public", "creator", "created_at", "last_message_at", "last_seq")
    list_filter = ("kind", "is_public", "category", "created_at")
    list_select_related = ("creator",)
    search_fields = ("title", "description", "category", "creator__handle", "direct_key")
    readonly_fields = ("direct_key", "created_at", "last_message_at", "last_seq")
    raw_id_fields = ("creator",)
    inlines = [MembershipInline]
    ordering = ("-created_at",)
    show_full_result_count = False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "room", "role", "joined_at", "last_read_seq", "notification_level", "request")
    list_filter = ("role", "notification_level", "request", "room__kind")
    list_select_related = ("user", "room")
    search_fields = ("user__handle", "user__email", "room__title")
    raw_id_fields = ("user", "room")
    show_full_result_count = False


@admin.register(RoomInvite)
class RoomInviteAdmin(admin.ModelAdmin):
    list_display = ("user", "room", "invited_by", "created_at", "accepted_at")
    list_filter = ("created_at", "accepted_at")
    list_select_related = ("user", "room", "invited_by")
    search_fields = ("user__handle", "room__title", "invited_by__handle")
    raw_id_fields = ("user", "room", "invited_by")
    show_full_result_count = False
