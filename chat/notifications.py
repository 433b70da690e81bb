"""Notifications: what happened to a person while they looked elsewhere, in the app and by e-mail.

Writes (services) and reads (selectors) of chat.models.Notification live here, apart from the
message path in chat.services: nothing on the send path waits for them. Celery (chat.tasks) runs
the slow parts: parsing mentions, the direct-message-while-away scan, the mails and clean-ups.

Who hears about what:
- The recipient's per-room `Membership.notification_level` decides: "all" gives mentions and
  direct messages, "mentions" gives mentions only, "nothing" mutes the room (there is no separate
  mute flag; "nothing" is the mute). Friend requests and invites have no membership to consult.
- Nobody is notified about themselves, or by someone on the other side of a block.
- Nothing in a message request (rooms.message_requests) notifies its recipient before they accept it.

Direct messages while away: no per-message work on the send path. A periodic scan finds direct
rooms with messages the person has not read while they are offline, and notifies once per unread
stretch (the stretch's first message is the notification's message, and the unique constraint on
(user, kind, message) makes overlapping scans harmless). Reading the room ends the stretch.

Mail goes once, even past a worker killed mid-send: a notification is claimed for a lease
(mail_claimed_at, NOTIFICATION_MAIL_LEASE) and committed before the mail is sent, then marked
emailed_at once SMTP took it. While the claim holds, a retried, redelivered or concurrent task finds
nothing to claim. An SMTP error gives the claim back and the task retries; a worker killed while
sending leaves its claim, which expires, and the redelivered task (acks_late) or the next scan mails
it. Only a worker killed between SMTP's acceptance and the mark sends it twice; both copies carry
the same Message-ID, which mail clients use to show it once.
"""

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet
from django.db.models.functions import Upper
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import EmailNotifications as EmailPreference
from accounts.models import EmailVerification, User
from accounts.selectors import blocked_between
from chat import events, presence
from chat.models import Message, Notification
from rooms.models import Membership, Room

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Level = Membership.Notify

# Handles are 3 to 30 ASCII letters, digits or underscores (accounts.models.HANDLE_PATTERN). A mention
# starts where no word character or "@" precedes it (so ann@example.com mentions nobody) and ends
# where no word character follows (so @ann does not match inside @anna).
MENTION_PATTERN = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{3,30})(?!\w)")
# A message naming more people than this notifies the first ones only (no mass pings).
MENTION_LIMIT = 20
MAILED_KINDS = (Kind.MENTION, Kind.DM)
# Only this much is read per mail; the rest waits for the next one.
MAIL_MAX_ITEMS = 50
# Mail about notifications older than this is never sent (someone turning mail back on is not
# flooded with last month).
MAIL_MAX_AGE = timedelta(days=7)
DM_AWAY_WINDOW = timedelta(days=1)
SCAN_BATCH = 500
PAGE_DEFAULT = 20
PAGE_MAX = 100
UNSUBSCRIBE_SALT = "chat.notifications.unsubscribe"


def email_preference(user) -> str:
    return user.email_notifications


# Creating


def notification_create(
    *, user, kind: str, actor=None, room=None, message=None, announce: bool = True
) -> Notification | None:
    """Notify `user`, unless their settings for the room, a block or the rules above say not to.

    Returns the notification, the existing one when this message already notified them of this kind,
    or None when nobody is to be told. Publishes `notification.new` to the person's sockets on commit,
    unless `announce` is False (the caller's own event already tells those sockets).
    """
    room_id = room.pk if room is not None else (message.room_id if message is not None else None)
    if actor is not None and actor.pk == user.pk:
        return None
    if not _level_allows(user_id=user.pk, kind=kind, room_id=room_id):
        return None
    if actor is not None and blocked_between(a_id=user.pk, b_id=actor.pk):
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user=user, kind=kind, actor=actor, room_id=room_id, message=message
            )
    except IntegrityError:
        # Notified about this message before (a retried task, an overlapping scan): the first one stands.
        return Notification.objects.filter(user=user, kind=kind, message=message).first()
    # The payload is built after commit from these, without loading them again.
    notification.actor, notification.message = actor, message
    if room is not None:
        notification.room = room
    if announce:
        _publish_new(notification)
    return notification


def _level_allows(*, user_id: int, kind: str, room_id: int | None) -> bool:
    if room_id is None:
        return True
    membership = Membership.objects.filter(room_id=room_id, user_id=user_id)
    row = membership.values_list("notification_level", "request").first()
    if row is None:
        # Not in the room: only an invitation to it makes sense.
        return kind == Kind.ROOM_INVITE
    level, request = row
    if request:
        return False  # A message request tells its recipient nothing until they accept it.
    if level == Level.ALL:
        return True
    return level == Level.MENTIONS and kind == Kind.MENTION


def _publish_new(notification: Notification) -> None:
    user_id = notification.user_id
    events.publish_on_commit(
        events.user_group(user_id),
        lambda: events.notification_new(notification, unread=notifications_unread_count(user_id=user_id)),
    )


# Mentions


def mentioned_handles(body: str) -> list[str]:
    """The distinct handles mentioned in a text, upper-cased (handles are unique case-insensitively), in order."""
    seen: dict[str, None] = {}
    for match in MENTION_PATTERN.finditer(body):
        seen.setdefault(match.group(1).upper(), None)
    return list(seen)[:MENTION_LIMIT]


def mentions_notify(*, message_id: int) -> list[Notification]:
    """Notify the members of the message's room that it mentions (never its author)."""
    message = Message.objects.select_related("author", "room").filter(pk=message_id).first()
    if message is None or message.is_deleted or message.author is None:
        return []
    handles = mentioned_handles(message.body)
    if not handles:
        return []
    # One query, served by the unique UPPER(handle) index; non-members are left out here.
    people = (
        User.objects.alias(handle_upper=Upper("handle"))
        .filter(handle_upper__in=handles, is_active=True, memberships__room_id=message.room_id)
        .exclude(pk=message.author_id)
    )
    created = []
    for person in people:
        notification = notification_create(
            user=person, kind=Kind.MENTION, actor=message.author, room=message.room, message=message
        )
        if notification is not None:
            created.append(notification)
    return created


# Direct messages while away


def dm_away_notify(*, now: datetime | None = None) -> int:
    """One `dm` notification per direct room with unread messages whose person is offline; returns how many."""
    now = now or timezone.now()
    stretch_notified = Notification.objects.filter(
        user_id=OuterRef("user_id"),
        room_id=OuterRef("room_id"),
        kind=Kind.DM,
        message__seq__gt=OuterRef("last_read_seq"),
    )
    # Only rooms active lately (the indexed last_message_at), so the scan does not grow with history.
    due = (
        Membership.objects.filter(
            room__kind=Room.Kind.DIRECT,
            room__last_message_at__gte=now - DM_AWAY_WINDOW,
            room__last_seq__gt=F("last_read_seq"),
            notification_level=Level.ALL,
            request="",
            user__is_active=True,
        )
        .exclude(Exists(stretch_notified))
        .select_related("user", "room")
        .order_by("pk")
    )
    # Batches by pk: people skipped (online now, nothing notifiable) stay due, and must not keep
    # the people after them from ever being reached.
    count, after = 0, 0
    while batch := list(due.filter(pk__gt=after)[:SCAN_BATCH]):
        after = batch[-1].pk
        count += _dm_away_batch(batch)
    return count


def _dm_away_batch(candidates: list[Membership]) -> int:
    online = _online_among({membership.user_id for membership in candidates})
    count = 0
    for membership in candidates:
        if membership.user_id in online:
            continue
        first_unread = (
            Message.objects.select_related("author")
            .filter(room_id=membership.room_id, seq__gt=membership.last_read_seq, deleted_at__isnull=True)
            .exclude(author_id=membership.user_id)
            .order_by("seq")
            .first()
        )
        if first_unread is None or first_unread.author is None:
            continue
        made = notification_create(
            user=membership.user, kind=Kind.DM, actor=first_unread.author, room=membership.room, message=first_unread
        )
        count += made is not None
    return count


def _online_among(user_ids: Iterable[int]) -> set[int]:
    return presence.online_among_now(list(user_ids))


# Reading


def notifications_of(*, user) -> QuerySet[Notification]:
    """The person's notifications, newest first, with everything their payload shows."""
    return Notification.objects.filter(user=user).select_related("actor", "room", "message").order_by("-id")


@dataclass(frozen=True)
class NotificationPage:
    notifications: list[Notification]
    # The `before` bound of the next (older) page; None on the last one.
    older: int | None


def notifications_page(*, user, before_id: int | None = None, limit: int = PAGE_DEFAULT) -> NotificationPage:
    """A keyset page over ids, newest first: its cost does not grow with depth, and pages never overlap."""
    notifications = notifications_of(user=user)
    if before_id is not None:
        notifications = notifications.filter(pk__lt=before_id)
    # One more than asked says whether an older page exists without a COUNT.
    page = list(notifications[: limit + 1])
    older = page[limit - 1].pk if len(page) > limit else None
    return NotificationPage(notifications=page[:limit], older=older)


def notifications_unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


@transaction.atomic
def notification_mark_read(*, user, notification_id: int) -> int:
    """Mark one of the person's notifications read; returns their unread count. Http404 for anybody else's."""
    marked = Notification.objects.filter(pk=notification_id, user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if not marked and not Notification.objects.filter(pk=notification_id, user=user).exists():
        raise Http404("No such notification.")
    if marked:
        _publish_read(user_id=user.pk, ids=[notification_id])
    return notifications_unread_count(user_id=user.pk)


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    """Mark every notification of the person read; returns how many were unread."""
    marked = Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    if marked:
        _publish_read(user_id=user.pk, ids=None)
    return marked


def _publish_read(*, user_id: int, ids: list[int] | None) -> None:
    events.publish_on_commit(
        events.user_group(user_id),
        lambda: events.notification_read(unread=notifications_unread_count(user_id=user_id), ids=ids),
    )


# E-mail


def mail_interval(preference: str) -> timedelta:
    """The least time between two mails to one person."""
    if preference == EmailPreference.IMMEDIATELY:
        return getattr(settings, "NOTIFICATION_EMAIL_INTERVAL", timedelta(minutes=10))
    return getattr(settings, "NOTIFICATION_DIGEST_INTERVAL", timedelta(days=1))


def _mailable(*, now: datetime) -> QuerySet[Notification]:
    """Unread, unmailed mentions and DMs, recent, about messages not read since and rooms not muted since."""
    muted = Membership.objects.filter(room_id=OuterRef("room_id"), user_id=OuterRef("user_id")).filter(
        Q(notification_level=Level.NOTHING) | Q(last_read_seq__gte=OuterRef("message__seq"))
    )
    unclaimed = Q(mail_claimed_at__isnull=True) | Q(mail_claimed_at__lt=now - settings.NOTIFICATION_MAIL_LEASE)
    return Notification.objects.filter(
        unclaimed,
        kind__in=MAILED_KINDS,
        read_at__isnull=True,
        emailed_at__isnull=True,
        created_at__gte=now - MAIL_MAX_AGE,
        message__deleted_at__isnull=True,
    ).exclude(Exists(muted))


def _mail_due(*, user, last_mailed: datetime | None, now: datetime) -> bool:
    preference = email_preference(user)
    if preference == EmailPreference.NEVER or not user.is_active or not user.is_verified:
        return False
    return last_mailed is None or now - last_mailed >= mail_interval(preference)


def _last_mailed(user_ids: Iterable[int]) -> dict[int, datetime]:
    rows = (
        Notification.objects.filter(user_id__in=list(user_ids), emailed_at__isnull=False)
        .values("user_id")
        .annotate(last=Max("emailed_at"))
        .values_list("user_id", "last")
    )
    return dict(rows)


def _mail_outstanding_since(*, user_id: int, now: datetime) -> datetime | None:
    """When another worker claimed this person's mail that it may still be sending (its lease not run
    out): that mail counts as sent for the interval, or a second one could follow at once."""
    claims = Notification.objects.filter(user_id=user_id, mail_claimed_at__gte=now - settings.NOTIFICATION_MAIL_LEASE)
    return claims.aggregate(since=Max("mail_claimed_at"))["since"]


def users_due_for_mail(*, now: datetime | None = None, batch: int = SCAN_BATCH) -> list[int]:
    """People with something to be mailed about, who want mail, are offline and were not mailed too recently."""
    now = now or timezone.now()
    due, after = [], 0
    # Batches in user id order, all of them: people waiting out their interval never hide those behind.
    while True:
        pending = _mailable(now=now).filter(user_id__gt=after).order_by("user_id").values_list("user_id", flat=True)
        user_ids = list(pending.distinct()[:batch])
        if not user_ids:
            return due
        last = _last_mailed(user_ids)
        online = _online_among(user_ids)
        for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
            if user.pk not in online and _mail_due(user=user, last_mailed=last.get(user.pk), now=now):
                due.append(user.pk)
        after = user_ids[-1]


def notification_mail_send(*, user_id: int, now: datetime | None = None) -> int:
    """Mail the person about what they have not read (at most once per interval); returns how many items.

    Claim, commit, send, mark (see the module's docstring for why once).
    """
    now = now or timezone.now()
    user = User.objects.filter(pk=user_id).first()
    if user is None or user_id in _online_among([user_id]):
        return 0
    claimed = _mail_claim(user=user, now=now)
    if not claimed:
        return 0
    mine = Notification.objects.filter(pk__in=[n.pk for n in claimed], mail_claimed_at=now)
    try:
        _mail(user=user, notifications=claimed)
    except Exception:
        # Not sent: give the claim back so that the task's retry mails them.
        mine.update(mail_claimed_at=None)
        raise
    mine.update(emailed_at=now, mail_claimed_at=None)
    return len(claimed)


@transaction.atomic
def _mail_claim(*, user, now: datetime) -> list[Notification]:
    # The person's row lock makes the interval check and the claim one step: two workers mailing the same
    # person at once queue here, and the second sees the first one's claim. Held for a few
    # statements only, never while talking to SMTP.
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk").first()
    last = max(
        filter(None, [_last_mailed([user.pk]).get(user.pk), _mail_outstanding_since(user_id=user.pk, now=now)]),
        default=None,
    )
    if not _mail_due(user=user, last_mailed=last, now=now):
        return []
    ids = list(
        _mailable(now=now)
        .filter(user=user)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("id")
        .values_list("pk", flat=True)[:MAIL_MAX_ITEMS]
    )
    if not ids:
        return []
    Notification.objects.filter(pk__in=ids).update(mail_claimed_at=now)
    return list(Notification.objects.filter(pk__in=ids).select_related("actor", "room", "message").order_by("id"))


def _mail(*, user, notifications: list[Notification]) -> None:
    unsubscribe = settings.SITE_URL + reverse("notifications-unsubscribe", args=[unsubscribe_token(user_id=user.pk)])
    context = {
        "site_name": settings.SITE_NAME,
        "user": user,
        "items": [_mail_item(notification) for notification in notifications],
        "notifications_url": settings.SITE_URL + reverse("notifications"),
        "unsubscribe_url": unsubscribe,
    }
    message = EmailMultiAlternatives(
        subject=_mail_subject(notifications),
        body=render_to_string("chat/email/notifications.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        # RFC 8058: mail clients offer a one-click unsubscribe that POSTs to the link.
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": _mail_message_id(user=user, notifications=notifications),
        },
    )
    message.attach_alternative(render_to_string("chat/email/notifications.html", context), "text/html")
    message.send()


def _mail_message_id(*, user, notifications: list[Notification]) -> str:
    """The same for the same claim: a mail sent again after a crash is recognised as the same mail."""
    ids = ".".join(str(notification.pk) for notification in notifications)
    digest = hashlib.sha256(ids.encode()).hexdigest()[:24]
    return f"<notifications.{user.pk}.{digest}@{urlsplit(settings.SITE_URL).hostname or 'parley.localhost'}>"


def _mail_item(notification: Notification) -> dict:
    return {
        "text": notification_text(notification),
        "preview": notification.message.body[:200] if notification.message is not None else "",
        "url": settings.SITE_URL + notification.target_url,
    }


def _mail_subject(notifications: list[Notification]) -> str:
    if len(notifications) == 1:
        # People's names and room titles go into it: one line, whatever they contain (a newline
        # would make Django refuse the header, and the mail would never go).
        return " ".join(f"{notification_text(notifications[0])} on {settings.SITE_NAME}".split())
    return f"{len(notifications)} things you missed on {settings.SITE_NAME}"


def notification_text(notification: Notification) -> str:
    """One line saying what happened, for the page and the mail."""
    actor = notification.actor.name if notification.actor is not None else "Someone"
    room = notification.room
    where = f" in # {room.title}" if room is not None and room.kind != Room.Kind.DIRECT and room.title else ""
    return {
        Kind.FRIEND_REQUEST: f"{actor} sent you a friend request",
        Kind.FRIEND_ACCEPTED: f"{actor} accepted your friend request",
        Kind.MENTION: f"{actor} mentioned you{where}",
        Kind.DM: f"{actor} sent you a message",
        Kind.ROOM_INVITE: f"{actor} invited you to # {room.title}" if room is not None else f"{actor} invited you",
    }.get(notification.kind, "Something happened")


# Unsubscribing without signing in


def unsubscribe_token(*, user_id: int) -> str:
    """Signed, so only the mail's recipient can turn their mail off; no expiry (old mails keep working)."""
    return signing.dumps(user_id, salt=UNSUBSCRIBE_SALT)


def unsubscribe_user_id(token: str) -> int | None:
    """The person a token was made for, or None when it was tampered with."""
    try:
        user_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return user_id if isinstance(user_id, int) else None


def email_notifications_off(*, user_id: int) -> bool:
    """Turn the person's notification mail off; True when it was on."""
    return bool(
        User.objects.filter(pk=user_id)
        .exclude(email_notifications=EmailPreference.NEVER)
        .update(email_notifications=EmailPreference.NEVER)
    )


# Clean-ups (the daily beat task, and `manage.py purge` through chat.purge, which counts them first)


def old_read_notifications(*, now: datetime | None = None) -> QuerySet[Notification]:
    days = getattr(settings, "NOTIFICATION_RETENTION_DAYS", 30)
    return Notification.objects.filter(read_at__lt=(now or timezone.now()) - timedelta(days=days))


def expired_verifications(*, now: datetime | None = None) -> QuerySet[EmailVerification]:
    """E-mail verification codes a day past expiry (the day keeps the resend limit's recent history)."""
    return EmailVerification.objects.filter(expires_at__lt=(now or timezone.now()) - timedelta(days=1))


def notifications_delete_old_read(*, now: datetime | None = None) -> int:
    deleted, _ = old_read_notifications(now=now).delete()
    return deleted


def verifications_delete_expired(*, now: datetime | None = None) -> int:
    deleted, _ = expired_verifications(now=now).delete()
    return deleted
