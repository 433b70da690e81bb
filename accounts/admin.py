from functools import partial

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts import moderation
from accounts.admin_moderation import EstimatingPaginator, reasoned_action, refusals_as_messages
from accounts.models import Block, EmailVerification, FriendRequest, Friendship, ModerationAction, Report, User


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
    """People. Verifying, deactivating and reactivating go through accounts.moderation (logged);
    so does unticking "active" in the form. Only superusers change staff accounts and permissions."""

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
    # Newest first by id, which the primary key's index serves (date_joined has none).
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatingPaginator
    readonly_fields = ("date_joined", "last_login", "api_logout_at", "last_seen", "email_verified_at")
    actions = ["verify_users", "deactivate_users", "reactivate_users"]
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

    # Moderators are staff without superuser rights: they must not grant themselves more, nor change
    # the accounts (and passwords) of other staff.

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        return (*self.readonly_fields, "is_staff", "is_superuser", "groups", "user_permissions")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_staff and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        was_active = form.initial.get("is_active", True)
        super().save_model(request, obj, form, change)
        # Saved already (chat.signals closes the sockets); the service revokes tokens and logs it.
        if change and was_active and not obj.is_active:
            reason = 'Unticked "active" in the person\'s form.'
            work = partial(moderation.user_deactivate, moderator=request.user, user=obj, reason=reason)
        elif change and not was_active and obj.is_active:
            reason = 'Ticked "active" in the person\'s form.'
            work = partial(moderation.user_reactivate, moderator=request.user, user=obj, reason=reason)
        else:
            return
        refusals_as_messages(self, request, work)

    @admin.action(description="Mark selected people as verified", permissions=["change"])
    def verify_users(self, request, queryset):
        for user in queryset.filter(email_verified_at__isnull=True):
            refusals_as_messages(self, request, partial(moderation.user_verify, moderator=request.user, user=user))
        self.message_user(request, "The selected people are verified.", messages.SUCCESS)

    @reasoned_action(
        description="Deactivate selected people (signs them out everywhere)",
        help_text="Kept in the moderation log; the person is not shown it.",
    )
    def deactivate_users(self, request, user, reason):
        moderation.user_deactivate(moderator=request.user, user=user, reason=reason)

    @reasoned_action(description="Reactivate selected people", required=False)
    def reactivate_users(self, request, user, reason):
        moderation.user_reactivate(moderator=request.user, user=user, reason=reason)


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


class ReportStatusFilter(admin.SimpleListFilter):
    """The queue: open reports unless another status (or all) is chosen."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*Report.Status.choices, (self.ALL, "All")]

    def queryset(self, request, queryset):
        value = self.value() or Report.Status.OPEN
        return queryset if value == self.ALL else queryset.filter(status=value)

    def choices(self, changelist):
        current = self.value() or Report.Status.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """The reports queue (open ones first): resolve saying what was done, dismiss, or use a shortcut
    that removes the reported message or deactivates the reported person and resolves the report."""

    list_display = ("created_at", "reported", "reporter", "reason", "reported_message", "status", "handled_by")
    list_select_related = ("reported", "reporter", "handled_by")
    list_filter = (ReportStatusFilter, "reason", ("message", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("reported__handle", "reported__email", "reporter__handle", "details", "message_body")
    fields = (
        ("reported", "reporter"),
        ("reason", "created_at"),
        "details",
        ("room", "message_link"),
        "message_author_handle",
        "message_body",
        ("status", "handled_by", "handled_at"),
        "resolution",
    )
    # Everything: a report changes only through the actions below, which log what was done.
    readonly_fields = tuple(name for row in fields for name in (row if isinstance(row, tuple) else (row,)))
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["resolve_reports", "dismiss_reports", "remove_reported_messages", "deactivate_reported_people"]

    def has_add_permission(self, request):
        return False  # Reports come from the people who make them.

    @admin.display(description="message")
    def reported_message(self, report):
        return Truncator(report.message_body).chars(60) if report.message_body else "-"

    @admin.display(description="message now")
    def message_link(self, report):
        if report.message_id is None:
            return "-"
        url = reverse("admin:chat_message_change", args=[report.message_id])
        return format_html('<a href="{}">message {}</a>', url, report.message_id)

    @reasoned_action(description="Resolve selected reports", label="What was done")
    def resolve_reports(self, request, report, reason):
        moderation.report_resolve(moderator=request.user, report_id=report.pk, resolution=reason)

    @reasoned_action(description="Dismiss selected reports", required=False)
    def dismiss_reports(self, request, report, reason):
        moderation.report_dismiss(moderator=request.user, report_id=report.pk, reason=reason)

    @reasoned_action(
        description="Remove the reported messages and resolve",
        help_text='Members see "Removed by a moderator: <reason>".',
    )
    def remove_reported_messages(self, request, report, reason):
        moderation.report_remove_message(moderator=request.user, report_id=report.pk, reason=reason)

    @reasoned_action(description="Deactivate the reported people and resolve")
    def deactivate_reported_people(self, request, report, reason):
        moderation.report_deactivate_user(moderator=request.user, report_id=report.pk, reason=reason)


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """The audit log: read-only, newest first."""

    list_display = ("created_at", "kind", "moderator", "target", "reason")
    # Targets show as their id and label (which outlive them): only the moderator is joined.
    list_select_related = ("moderator",)
    list_filter = ("kind", "created_at")
    search_fields = ("target_label", "reason", "moderator__handle", "target_user__handle")
    ordering = ("-id",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="target")
    def target(self, action):
        for field, label in (
            ("target_message", "message"),
            ("target_report", "report"),
            ("target_room", "room"),
            ("target_user", "person"),
        ):
            target_id = getattr(action, f"{field}_id")
            if target_id is not None:
                model = action._meta.get_field(field).related_model._meta
                url = reverse(f"admin:{model.app_label}_{model.model_name}_change", args=[target_id])
                text = Truncator(action.target_label).chars(60)
                return format_html('<a href="{}">{} {}</a>: {}', url, label, target_id, text)
        return action.target_label
