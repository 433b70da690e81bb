"""Writes for accounts: registration, e-mail verification, profiles, avatars, sign-out."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import avatars, friend_sets, selectors, tokens
from accounts.models import Block, EmailVerification, FriendRequest, Friendship, Report, User
from chat import limits

PROFILE_FIELDS = ("display_name", "bio", "handle", "dm_policy", "friend_request_policy", "email_notifications")


# Registration


@transaction.atomic
def user_register(*, email: str, handle: str, password: str, display_name: str = "") -> User | None:
    """Create an unverified account and mail its code.

    Answers the same way whether or not the address is known: every check that can fail runs
    before the address is looked up, and an existing owner is mailed instead (a fresh code if
    still unverified, a notice otherwise). Returns the new user, or None when the address was taken.
    """
    candidate = User(
        email=User.objects.normalize_email(email.strip()), handle=handle, display_name=display_name.strip()
    )
    candidate.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    if selectors.handle_is_taken(handle):
        raise ValidationError({"handle": ["This handle is taken."]}, code="handle_taken")
    _validate_new_password(password, user=candidate, field="password")
    candidate.set_password(password)
    existing = User.objects.filter(email__iexact=candidate.email).first()
    if existing is None:
        try:
            with transaction.atomic():
                candidate.save()
        except IntegrityError:  # the same address or handle registered a moment ago
            existing = User.objects.filter(email__iexact=candidate.email).first()
            if existing is None:
                raise ValidationError({"handle": ["This handle is taken."]}, code="handle_taken") from None
    if existing is not None:
        task = "send_verification_email" if not existing.is_verified else "send_existing_account_notice"
        _enqueue(task, existing.pk)
        return None
    _enqueue("send_verification_email", candidate.pk)
    return candidate


def _validate_new_password(password: str, *, user: User, field: str) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise ValidationError({field: error.messages}, code="weak_password") from error


def _enqueue(task_name: str, user_id: int) -> None:
    # Mail goes out only once the account row is committed, and never from the request itself.
    from accounts import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(user_id))


# E-mail verification


@dataclass(frozen=True)
class IssuedVerification:
    verification: EmailVerification
    code: str
    link_token: str


def _code_hash(*, user_id: int, code: str) -> str:
    return salted_hmac("parley.verification-code", f"{user_id}:{code}").hexdigest()


def _link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def verification_issue(*, user: User) -> IssuedVerification:
    """A new code and link for the user; earlier ones stop working."""
    EmailVerification.objects.filter(user=user, used_at__isnull=True).update(used_at=timezone.now())
    code = f"{secrets.randbelow(10**6):06d}"
    link_token = secrets.token_urlsafe(32)
    verification = EmailVerification.objects.create(
        user=user,
        code_hash=_code_hash(user_id=user.pk, code=code),
        link_hash=_link_hash(link_token),
        expires_at=timezone.now() + settings.VERIFICATION_CODE_LIFETIME,
    )
    return IssuedVerification(verification=verification, code=code, link_token=link_token)


def verification_mail(*, user: User) -> None:
    """Issue a code and mail it. The plain code exists only in this process and the mail."""
    if user.is_verified or not user.is_active:
        return
    issued = verification_issue(user=user)
    context = {
        "user": user,
        "code": issued.code,
        "link": settings.SITE_URL + reverse("verify-link", args=[issued.link_token]),
        "minutes": int(settings.VERIFICATION_CODE_LIFETIME.total_seconds() // 60),
    }
    _send_templated_mail(
        to=user.email,
        subject=f"{issued.code} is your {settings.SITE_NAME} code",
        template="accounts/email/verification",
        context=context,
    )


def existing_account_notice_mail(*, user: User) -> None:
    _send_templated_mail(
        to=user.email,
        subject=f"Someone tried to sign up to {settings.SITE_NAME} with your address",
        template="accounts/email/existing_account",
        context={
            "user": user,
            "reset_link": settings.SITE_URL + reverse("password_reset"),
        },
    )


def password_reset_mail(*, user: User) -> None:
    token = default_token_generator.make_token(user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    _send_templated_mail(
        to=user.email,
        subject=f"Reset your {settings.SITE_NAME} password",
        template="accounts/email/password_reset",
        context={
            "user": user,
            "link": settings.SITE_URL + reverse("password_reset_confirm", args=[uid, token]),
        },
    )


def password_reset_request(*, email: str) -> None:
    """Queue a reset mail for an active account; unknown addresses get the same silence."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is not None and user.has_usable_password():
        from accounts import tasks

        tasks.send_password_reset_email.delay(user.pk)


def _send_templated_mail(*, to: str, subject: str, template: str, context: dict) -> None:
    context = {"site_name": settings.SITE_NAME, **context}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send()


def verification_resend(*, email: str) -> None:
    """Queue a new code unless one went out moments ago. Silent for unknown addresses."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or user.is_verified:
        return
    recent = EmailVerification.objects.filter(
        user=user, created_at__gt=timezone.now() - settings.VERIFICATION_RESEND_INTERVAL
    ).exists()
    if not recent:
        from accounts import tasks

        tasks.send_verification_email.delay(user.pk)


INVALID_CODE = ValidationError(
    {"code": ["This code is not valid. Check the latest e-mail we sent."]}, code="invalid_code"
)
EXPIRED_CODE = ValidationError({"code": ["This code has expired. Ask for a new one."]}, code="expired_code")
TOO_MANY_ATTEMPTS = ValidationError(
    {"code": ["Too many wrong tries for this code. Ask for a new one."]}, code="too_many_attempts"
)


def verification_confirm_code(*, email: str, code: str) -> User:
    """Verify with the 6-digit code. Raises one ValidationError per failure kind.

    The attempt counter must survive the failure, so the check commits before raising.
    """
    outcome, user = _check_code(email=email.strip(), code=code.strip())
    if outcome is not None:
        raise outcome
    return user


@transaction.atomic
def _check_code(*, email: str, code: str) -> tuple[ValidationError | None, User | None]:
    user = User.objects.filter(email__iexact=email).first()
    verification = (
        EmailVerification.objects.select_for_update().filter(user=user).order_by("-created_at").first()
        if user
        else None
    )
    candidate = _code_hash(user_id=user.pk if user else 0, code=code)
    if verification is None or verification.used_at is not None:
        return INVALID_CODE, None
    if verification.expires_at <= timezone.now():
        return EXPIRED_CODE, None
    if verification.attempts >= settings.VERIFICATION_MAX_ATTEMPTS:
        return TOO_MANY_ATTEMPTS, None
    if not constant_time_compare(candidate, verification.code_hash):
        verification.attempts += 1
        verification.save(update_fields=["attempts"])
        return INVALID_CODE, None
    _mark_verified(verification)
    return None, verification.user


@transaction.atomic
def verification_confirm_link(*, token: str) -> User:
    verification = (
        EmailVerification.objects.select_for_update().select_related("user").filter(link_hash=_link_hash(token)).first()
    )
    if verification is None or verification.used_at is not None:
        raise ValidationError({"token": ["This link has already been used or is not valid."]}, code="invalid_link")
    if verification.expires_at <= timezone.now():
        raise ValidationError({"token": ["This link has expired. Ask for a new code."]}, code="expired_link")
    _mark_verified(verification)
    return verification.user


def _mark_verified(verification: EmailVerification) -> None:
    now = timezone.now()
    verification.used_at = now
    verification.save(update_fields=["used_at"])
    user = verification.user
    user.email_verified_at = now
    user.save(update_fields=["email_verified_at"])


@transaction.atomic
def user_mark_verified(*, user: User) -> User:
    """For admins: verify without a code."""
    if not user.is_verified:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        EmailVerification.objects.filter(user=user, used_at__isnull=True).update(used_at=user.email_verified_at)
    return user


@transaction.atomic
def user_deactivate(*, user: User) -> User:
    user.is_active = False
    user.save(update_fields=["is_active"])
    tokens.outstanding_tokens_blacklist(user=user)
    return user


# Profile and avatar


@transaction.atomic
def profile_update(*, user: User, **changes) -> User:
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})
    if "handle" in changes and selectors.handle_is_taken(changes["handle"], excluding=user):
        raise ValidationError({"handle": ["This handle is taken."]}, code="handle_taken")
    for name, value in changes.items():
        setattr(user, name, value.strip() if isinstance(value, str) else value)
    user.full_clean(exclude=["password", "avatar", "avatar_thumbnail"])
    user.save(update_fields=list(changes))
    return user


@transaction.atomic
def avatar_set(*, user: User, upload: UploadedFile) -> User:
    """Re-encode the upload and store it under random names; the old files go after commit."""
    images = avatars.process(upload)
    old_names = [name for name in (user.avatar.name, user.avatar_thumbnail.name) if name]
    user.avatar.name = avatars.store(images.full)
    user.avatar_thumbnail.name = avatars.store(images.thumbnail)
    user.save(update_fields=["avatar", "avatar_thumbnail"])
    transaction.on_commit(lambda: avatars.delete(old_names))
    return user


@transaction.atomic
def avatar_remove(*, user: User) -> User:
    old_names = [name for name in (user.avatar.name, user.avatar_thumbnail.name) if name]
    user.avatar = user.avatar_thumbnail = ""
    user.save(update_fields=["avatar", "avatar_thumbnail"])
    transaction.on_commit(lambda: avatars.delete(old_names))
    return user


# Sign-out


def api_logout(*, user: User, refresh: str, access_jti: str | None, access_expires: int | None) -> None:
    """Blacklist the refresh token and make the current access token stop working now."""
    tokens.refresh_blacklist(user=user, refresh=refresh)
    if access_jti and access_expires:
        tokens.access_deny(user=user, jti=access_jti, expires_at=datetime.fromtimestamp(access_expires, tz=UTC))


# Friends and blocks


def _lock_pair(a: User, b: User) -> None:
    # Everything that changes a pair's friendship, requests or blocks locks both people's rows
    # (always in id order, so two callers cannot deadlock): two crossing requests sent at the
    # same moment are then seen one after the other and become a friendship.
    list(User.objects.select_for_update().filter(pk__in=sorted([a.pk, b.pk])).order_by("pk").values_list("pk"))


@dataclass(frozen=True)
class FriendRequestOutcome:
    """What the sender is told: "requested" (also when a block silently swallowed it) or "friends"."""

    status: str
    user: User


@transaction.atomic
def friend_request_send(*, sender: User, recipient: User) -> FriendRequestOutcome:
    """Ask recipient to be friends; a request already waiting the other way makes them friends now.

    Sending twice is harmless (the pending request stays, nothing new is notified). When the
    recipient has blocked the sender the answer is the same "requested", and nothing is stored.
    Raises RateLimited when the sender asks too often (chat.limits).
    """
    if sender.pk == recipient.pk:
        raise ValidationError({"user": ["You cannot send a friend request to yourself."]}, code="self")
    limits.friend_request_rate_take(user_id=sender.pk)
    _lock_pair(sender, recipient)
    if selectors.are_friends(a_id=sender.pk, b_id=recipient.pk):
        raise ValidationError({"user": ["You are already friends."]}, code="already_friends")
    if selectors.has_blocked(blocker_id=sender.pk, blocked_id=recipient.pk):
        raise ValidationError({"user": ["You blocked this person. Unblock them first."]}, code="blocked")
    # Checked before the recipient's block, so a blocked sender sees what anybody else would.
    if not selectors.friend_request_allowed(sender=sender, recipient=recipient):
        raise ValidationError({"user": ["This person does not accept friend requests from you."]}, code="not_allowed")
    requested = FriendRequestOutcome(status="requested", user=recipient)
    if selectors.has_blocked(blocker_id=recipient.pk, blocked_id=sender.pk):
        return requested
    crossing = selectors.friend_request_pending(from_id=recipient.pk, to_id=sender.pk)
    if crossing is not None:
        _friendship_start(crossing)
        _notify(user=recipient, kind="friend_accepted", actor=sender)
        return FriendRequestOutcome(status="friends", user=recipient)
    _, created = FriendRequest.objects.get_or_create(from_user=sender, to_user=recipient)
    if created:
        _notify(user=recipient, kind="friend_request", actor=sender)
    return requested


@transaction.atomic
def friend_request_accept(*, request: FriendRequest) -> Friendship:
    """The recipient says yes (the caller found the request among the recipient's own)."""
    _lock_pair(request.from_user, request.to_user)
    if not FriendRequest.objects.filter(pk=request.pk).exists():
        raise ValidationError({"request": ["This request was withdrawn."]}, code="gone")
    friendship = _friendship_start(request)
    _notify(user=request.from_user, kind="friend_accepted", actor=request.to_user)
    return friendship


def _notify(*, user: User, kind: str, actor: User) -> None:
    # Told only once the friendship or request is committed; chat.notifications applies blocks and
    # the person's preferences. Imported here: chat builds on accounts, not the other way round.
    from chat.notifications import notification_create

    transaction.on_commit(lambda: notification_create(user=user, kind=kind, actor=actor), robust=True)


def _friendship_start(request: FriendRequest) -> Friendship:
    FriendRequest.objects.filter(
        Q(from_user=request.from_user_id, to_user=request.to_user_id)
        | Q(from_user=request.to_user_id, to_user=request.from_user_id)
    ).delete()
    now = timezone.now()
    Friendship.objects.bulk_create(
        [
            Friendship(user_id=request.to_user_id, friend_id=request.from_user_id, created_at=now),
            Friendship(user_id=request.from_user_id, friend_id=request.to_user_id, created_at=now),
        ],
        ignore_conflicts=True,
    )
    friend_sets.forget({request.from_user_id, request.to_user_id})  # bulk_create sends no post_save
    # Strangers from the lobby who become friends keep their conversation as their DM. Imported
    # here: rooms builds on accounts, not the other way round.
    from rooms.services import random_room_keep

    random_room_keep(first_id=request.from_user_id, second_id=request.to_user_id)
    _message_requests_befriended(request.from_user_id, request.to_user_id)
    return Friendship.objects.get(user_id=request.to_user_id, friend_id=request.from_user_id)


@transaction.atomic
def friend_request_decline(*, request: FriendRequest) -> None:
    """The recipient says no. The sender is not told; they may ask again later."""
    request.delete()


@transaction.atomic
def friend_request_cancel(*, request: FriendRequest) -> None:
    request.delete()


@transaction.atomic
def friendship_end(*, user: User, friend: User) -> bool:
    """Unfriend, both ways. False when they were not friends."""
    deleted, _ = _friendship_delete(user.pk, friend.pk)
    return deleted > 0


def _friendship_delete(a_id: int, b_id: int) -> tuple[int, dict]:
    return Friendship.objects.filter(Q(user_id=a_id, friend_id=b_id) | Q(user_id=b_id, friend_id=a_id)).delete()


@transaction.atomic
def block_create(*, blocker: User, blocked: User) -> Block:
    """Block someone: ends a friendship, any pending friend request and any waiting message request between
    us. Blocking twice is harmless."""
    if blocker.pk == blocked.pk:
        raise ValidationError({"user": ["You cannot block yourself."]}, code="self")
    _lock_pair(blocker, blocked)
    _friendship_delete(blocker.pk, blocked.pk)
    FriendRequest.objects.filter(Q(from_user=blocker, to_user=blocked) | Q(from_user=blocked, to_user=blocker)).delete()
    _message_requests_drop(blocker.pk, blocked.pk)
    block, created = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    if created:
        _blocks_changed(blocker.pk, blocked.pk)
    return block


@transaction.atomic
def block_remove(*, blocker: User, blocked_id: int) -> bool:
    """Unblock. False when there was no such block. The friendship it ended stays ended."""
    deleted, _ = Block.objects.filter(blocker=blocker, blocked_id=blocked_id).delete()
    if deleted:
        _blocks_changed(blocker.pk, blocked_id)
    return deleted > 0


def _message_requests_drop(a_id: int, b_id: int) -> None:
    from rooms.services import message_requests_drop  # rooms builds on accounts, not the other way round

    message_requests_drop(a_id=a_id, b_id=b_id)


def _message_requests_befriended(a_id: int, b_id: int) -> None:
    from rooms.services import message_requests_befriended  # rooms builds on accounts

    message_requests_befriended(a_id=a_id, b_id=b_id)


def _blocks_changed(*user_ids: int) -> None:
    # Both people's open sockets reload whom they hide (presence, typing); neither is told why.
    from chat import events  # chat builds on accounts, not the other way round

    events.publish_on_commit([events.user_group(user_id) for user_id in user_ids], events.blocks_changed)


# Reports (moderators handle them in the admin's queue: accounts.moderation, docs/MODERATION.md)


@transaction.atomic
def report_create(
    *,
    reporter: User,
    reported: User,
    reason: str,
    details: str = "",
    room_id: int | None = None,
    message_id: int | None = None,
) -> Report:
    """Report someone, optionally pointing at the room (a lobby chat, say) and a message of theirs.

    The reporter must be in that room, and the message must be the reported person's, in it: a
    report can only point at what its author could see. A room with an open report is kept until
    the report is handled, even a lobby chat due to be purged.
    """
    from chat.models import Message  # chat builds on accounts, not the other way round
    from rooms.models import Membership

    if reporter.pk == reported.pk:
        raise ValidationError({"user": ["You cannot report yourself."]}, code="self")
    if reason not in Report.Reason.values:
        raise ValidationError({"reason": [f"Choose one of: {', '.join(Report.Reason.values)}."]}, code="invalid_choice")
    snapshot = {}
    if message_id is not None:
        # Only among what the reporter can see, and one answer for every miss: otherwise the
        # answers would tell who wrote which message in rooms the reporter is not in.
        seen = Message.objects.filter(pk=message_id, author=reported, room__memberships__user=reporter)
        message = seen.only("room_id", "body").first()
        if message is None or room_id not in (None, message.room_id):
            raise ValidationError({"message": ["No such message of this person."]}, code="not_found")
        room_id = message.room_id
        snapshot = {"message_body": message.body, "message_author_handle": reported.handle}
    elif room_id is not None and not Membership.objects.filter(room_id=room_id, user=reporter).exists():
        raise ValidationError({"room": ["No such room."]}, code="not_found")
    return Report.objects.create(
        reporter=reporter,
        reported=reported,
        reason=reason,
        details=details.strip(),
        room_id=room_id,
        message_id=message_id,
        **snapshot,
    )
