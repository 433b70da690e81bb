from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts import services
from accounts.models import Block, EmailVerification, FriendRequest, Friendship, Report, User


class VerifiedFilter(admin.SimpleListFilter):
    title = "e-mail verified"
    parameter_name = "verified"

    def lookups(self, request, model_admin):
        return [("yes", "Verified"), ("no", "Not verified")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(email_verified_at__isnull=self.value() == "no")
        return queryset


class ParleyUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "handle")


class ParleyUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = ParleyUserChangeForm
    add_form = ParleyUserCreationForm
    list_display = (
        "handle",
        "email",
        "display_name",
        "is_verified",
        "is_active",
        "is_staff",
        "date_joined",
        "last_seen",
    )
    list_filter = (VerifiedFilter, "is_active", "is_staff", "is_superuser", "date_joined")
    search_fields = ("email", "handle", "display_name")
    ordering = ("-date_joined",)
    show_full_result_count = False
    readonly_fields = ("date_joined", "last_login", "api_logout_at", "last_seen", "email_verified_at")
    actions = ["verify_users", "deactivate_users"]
    fieldsets = (
        (None, {"fields": ("email", "handle", "password")}),
        ("Profile", {"fields": ("display_name", "bio", "avatar", "avatar_thumbnail")}),
        ("Privacy", {"fields": ("dm_policy", "friend_request_policy", "email_notifications")}),
        (
            "Status",
            {"fields": ("is_active", "email_verified_at", "last_seen", "last_login", "api_logout_at", "date_joined")},
        ),
        (
            "Permissions",
            {"classes": ("collapse",), "fields": ("is_staff", "is_superuser", "groups", "user_permissions")},
        ),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "handle", "password1", "password2")}),)

    @admin.display(boolean=True, description="verified", ordering="email_verified_at")
    def is_verified(self, user):
        return user.is_verified

    @admin.action(description="Mark selected people as verified")
    def verify_users(self, request, queryset):
        for user in queryset.filter(email_verified_at__isnull=True):
            services.user_mark_verified(user=user)
        self.message_user(request, "The selected people are verified.", messages.SUCCESS)

    @admin.action(description="Deactivate selected people (signs them out everywhere)")
    def deactivate_users(self, request, queryset):
        count = 0
        for user in queryset.filter(is_active=True).exclude(pk=request.user.pk):
            services.user_deactivate(user=user)
            count += 1
        self.message_user(request, f"Deactivated {count} people.", messages.SUCCESS)


@admin.register(EmailVerification)
class EmailVerificationAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "expires_at", "attempts", "used_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "user__handle")
    readonly_fields = ("user", "code_hash", "link_hash", "created_at", "expires_at", "attempts", "used_at")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    """Each friendship shows twice, once from each side (see the model); delete both rows to unfriend."""

    list_display = ("user", "friend", "created_at")
    list_select_related = ("user", "friend")
    search_fields = ("user__handle", "user__email", "friend__handle", "friend__email")
    raw_id_fields = ("user", "friend")
    show_full_result_count = False


@admin.register(FriendRequest)
class FriendRequestAdmin(admin.ModelAdmin):
    list_display = ("from_user", "to_user", "created_at")
    list_select_related = ("from_user", "to_user")
    search_fields = ("from_user__handle", "from_user__email", "to_user__handle", "to_user__email")
    raw_id_fields = ("from_user", "to_user")
    show_full_result_count = False


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("blocker", "blocked", "created_at")
    list_select_related = ("blocker", "blocked")
    search_fields = ("blocker__handle", "blocker__email", "blocked__handle", "blocked__email")
    raw_id_fields = ("blocker", "blocked")
    show_full_result_count = False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Reports, newest first; set the status once handled. The full moderation queue is the operations issue's."""

    list_display = ("created_at", "reported", "reporter", "reason", "status", "room")
    list_select_related = ("reported", "reporter", "room")
    list_filter = ("status", "reason", "created_at")
    list_editable = ("status",)
    search_fields = ("reported__handle", "reported__email", "reporter__handle", "details")
    raw_id_fields = ("reporter", "reported", "room", "message")
    readonly_fields = ("created_at", "message_body", "message_author_handle")
    ordering = ("-created_at",)
    show_full_result_count = False
