"""Writes of moderation: what staff do to people and reports, and the audit log every such write adds to.

Every moderation service (here, chat.services.message_remove, rooms.services.room_archive and
room_unarchive) checks the moderator's permission, changes what it changes, and records one
ModerationAction in the same transaction: the log holds exactly what happened. The admin's actions
only call these (docs/MODERATION.md).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import services
from accounts.models import ModerationAction, Report, User

Kind = ModerationAction.Kind
REASON_MAX_CHARS = 500
REQUIRED = "Say why: it is kept in the moderation log."


def require_moderator(moderator: User, permission: str) -> None:
    """Staff with the Django permission `permission` (e.g. "chat.change_message") may moderate."""
    if not (moderator.is_active and moderator.is_staff and moderator.has_perm(permission)):
        raise PermissionDenied("Only moderators can do this.")


def reason_clean(reason: str, *, required: bool = True, field: str = "reason") -> str:
    reason = reason.strip() if isinstance(reason, str) else ""
    if required and not reason:
        raise ValidationError({field: [REQUIRED]}, code="required")
    if len(reason) > REASON_MAX_CHARS:
        raise ValidationError({field: [f"At most {REASON_MAX_CHARS} characters."]}, code="max_length")
    return reason


def action_record(
    *,
    moderator: User,
    kind: str,
    reason: str = "",
    user=None,
    room=None,
    message=None,
    report=None,
    label: str = "",
) -> ModerationAction:
    """Add one entry to the audit log (inside the caller's transaction)."""
    return ModerationAction.objects.create(
        moderator=moderator,
        kind=kind,
        reason=reason,
        target_user=user,
        target_room=room,
        target_message=message,
        target_report=report,
        target_label=label or str(user or room or message or report or ""),
    )


# People


def _require_may_act_on(moderator: User, user: User) -> None:
    if user.pk == moderator.pk:
        raise ValidationError({"user": ["Not your own account."]}, code="self")
    # Moderators are staff; only superusers act on staff accounts, so a moderator cannot lock out another.
    if user.is_staff and not moderator.is_superuser:
        raise PermissionDenied("Only superusers can act on staff accounts.")


@transaction.atomic
def user_verify(*, moderator: User, user: User, reason: str = "") -> User:
    """Mark the person's e-mail address verified without a code. Verifying twice records nothing."""
    require_moderator(moderator, "accounts.change_user")
    reason = reason_clean(reason, required=False)
    if not user.is_verified:
        services.user_mark_verified(user=user)
        action_record(moderator=moderator, kind=Kind.USER_VERIFY, reason=reason, user=user)
    return user


@transaction.atomic
def user_deactivate(*, moderator: User, user: User, reason: str) -> User:
    """Lock the person out: their sockets close on every server process (chat.signals, through their
    group), their refresh tokens are blacklisted, and their sessions and access tokens stop working at
    the next request (Django's and simplejwt's authentication refuse inactive accounts).

    Also called after the user form unticked "active" (already saved): the rest still happens once.
    """
    require_moderator(moderator, "accounts.change_user")
    _require_may_act_on(moderator, user)
    reason = reason_clean(reason)
    services.user_deactivate(user=user)
    action_record(moderator=moderator, kind=Kind.USER_DEACTIVATE, reason=reason, user=user)
    return user


@transaction.atomic
def user_reactivate(*, moderator: User, user: User, reason: str = "") -> User:
    """Let a deactivated person sign in again (their old tokens stay revoked)."""
    require_moderator(moderator, "accounts.change_user")
    _require_may_act_on(moderator, user)
    reason = reason_clean(reason, required=False)
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    action_record(moderator=moderator, kind=Kind.USER_REACTIVATE, reason=reason, user=user)
    return user


# Reports


def _open_report(report_id: int) -> Report:
    report = Report.objects.select_for_update(of=("self",)).select_related("reported").filter(pk=report_id).first()
    if report is None:
        raise ValidationError({"report": ["No such report."]}, code="not_found")
    if report.status != Report.Status.OPEN:
        raise ValidationError({"report": ["This report was handled already."]}, code="handled")
    return report


def _report_close(*, moderator: User, report: Report, status: str, kind: str, note: str) -> Report:
    report.status, report.handled_by, report.handled_at, report.resolution = status, moderator, timezone.now(), note
    report.save(update_fields=["status", "handled_by", "handled_at", "resolution"])
    action_record(moderator=moderator, kind=kind, reason=note, report=report, user=report.reported)
    return report


@transaction.atomic
def report_resolve(*, moderator: User, report_id: int, resolution: str) -> Report:
    """Close an open report saying what was done about it (e.g. "warned them by e-mail")."""
    require_moderator(moderator, "accounts.change_report")
    resolution = reason_clean(resolution, field="resolution")
    report = _open_report(report_id)
    return _report_close(
        moderator=moderator, report=report, status=Report.Status.RESOLVED, kind=Kind.REPORT_RESOLVE, note=resolution
    )


@transaction.atomic
def report_dismiss(*, moderator: User, report_id: int, reason: str = "") -> Report:
    """Close an open report as needing nothing done."""
    require_moderator(moderator, "accounts.change_report")
    reason = reason_clean(reason, required=False)
    report = _open_report(report_id)
    return _report_close(
        moderator=moderator, report=report, status=Report.Status.DISMISSED, kind=Kind.REPORT_DISMISS, note=reason
    )


@transaction.atomic
def report_remove_message(*, moderator: User, report_id: int, reason: str) -> Report:
    """The shortcut of the queue: remove the reported message (members see the reason) and resolve the report."""
    from chat.services import message_remove  # chat builds on accounts, not the other way round

    require_moderator(moderator, "accounts.change_report")
    reason = reason_clean(reason)
    report = _open_report(report_id)
    if report.message_id is None:
        raise ValidationError({"report": ["This report names no message (or it is gone)."]}, code="no_message")
    message_remove(moderator=moderator, message_id=report.message_id, reason=reason)
    return _report_close(
        moderator=moderator,
        report=report,
        status=Report.Status.RESOLVED,
        kind=Kind.REPORT_RESOLVE,
        note=f"Message removed: {reason}",
    )


@transaction.atomic
def report_deactivate_user(*, moderator: User, report_id: int, reason: str) -> Report:
    """The other shortcut: deactivate the reported person and resolve the report."""
    require_moderator(moderator, "accounts.change_report")
    reason = reason_clean(reason)
    report = _open_report(report_id)
    user_deactivate(moderator=moderator, user=report.reported, reason=reason)
    return _report_close(
        moderator=moderator,
        report=report,
        status=Report.Status.RESOLVED,
        kind=Kind.REPORT_RESOLVE,
        note=f"Account deactivated: {reason}",
    )
