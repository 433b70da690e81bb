"""Everything Parley holds about one person: the export (data portability) and the erasure.

Used by `manage.py export_user` and `manage.py delete_user`. Here in chat because the data spans
every app and chat builds on accounts and rooms, not the other way round.
"""

from datetime import datetime
from functools import partial

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.db import transaction
from django.utils import timezone

from accounts import avatars, tokens
from accounts.models import Block, FriendRequest, Friendship, Report, User
from chat import events
from chat.db import on_commit_robust
from chat.events import moment
from chat.models import Attachment, Message, Notification, Reaction
from rooms import services as room_services
from rooms.models import Membership, Room, RoomInvite

EXPORT_FORMAT = "parley-export/1"


class MessagesChoice:
    """What happens to a deleted person's messages: there is no default, the operator chooses."""

    KEEP_ANONYMIZED = "keep-anonymized"  # They stay, with no author ("a deleted account").
    DELETE = "delete"  # They become tombstones: blank, marked deleted, their seqs kept.
    ALL = (KEEP_ANONYMIZED, DELETE)


# Export (a read)


def user_export(*, user: User) -> dict:
    """A JSON-ready dict of the person's data. No password hash, code or token (hashed or not)."""
    return {
        "format": EXPORT_FORMAT,
        "exported_at": moment(timezone.now()),
        "profile": _profile(user),
        "settings": {
            "dm_policy": user.dm_policy,
            "friend_request_policy": user.friend_request_policy,
            "email_notifications": user.email_notifications,
        },
        "friends": _people(Friendship.objects.filter(user=user), "friend", since="created_at"),
        "friend_requests": {
            "sent": _people(FriendRequest.objects.filter(from_user=user), "to_user", since="created_at"),
            "received": _people(FriendRequest.objects.filter(to_user=user), "from_user", since="created_at"),
        },
        "blocks": _people(Block.objects.filter(blocker=user), "blocked", since="created_at"),
        # Reports the person made; not those about them, which would name who reported them.
        "reports": _rows(
            Report.objects.filter(reporter=user).order_by("created_at"),
            reported="reported__handle", room="room_id", message="message_id", reason="reason",
            details="details", status="status", created_at="created_at",
        ),
        "memberships": _rows(
            Membership.objects.filter(user=user).order_by("joined_at"),
            room="room_id", room_kind="room__kind", room_title="room__title", role="role",
            joined_at="joined_at", last_read_seq="last_read_seq", notification_level="notification_level",
        ),
        "room_invites": _rows(
            RoomInvite.objects.filter(user=user).order_by("created_at"),
            room="room_id", room_title="room__title", invited_by="invited_by__handle",
            created_at="created_at", accepted_at="accepted_at",
        ),
        "messages": _rows(
            Message.objects.filter(author=user).order_by("room_id", "seq"),
            id="id", room="room_id", seq="seq", body="body", reply_to="reply_to_id",
            created_at="created_at", edited_at="edited_at", deleted_at="deleted_at",
        ),
        "reactions": _rows(
            Reaction.objects.filter(user=user).order_by("created_at"),
            message="message_id", room="message__room_id", emoji="emoji", created_at="created_at",
        ),
        "notifications": _rows(
            Notification.objects.filter(user=user).order_by("id"),
            id="id", kind="kind", actor="actor__handle", room="room_id", message="message_id",
            created_at="created_at", read_at="read_at", emailed_at="emailed_at",
        ),
    }  # fmt: skip


def _profile(user: User) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "handle": user.handle,
        "display_name": user.display_name,
        "bio": user.bio,
        "avatar": user.avatar.name or None,
        "email_verified_at": moment(user.email_verified_at),
        "date_joined": moment(user.date_joined),
        "last_login": moment(user.last_login),
        "last_seen": moment(user.last_seen),
        "is_active": user.is_active,
    }


def _people(queryset, person: str, *, since: str) -> list[dict]:
    return _rows(queryset.order_by(since), id=f"{person}_id", handle=f"{person}__handle", since=since)


def _rows(queryset, **columns: str) -> list[dict]:
    """One query: each row as {output name: value}, times in the API's ISO form."""
    rows = []
    for values in queryset.values_list(*columns.values()).iterator(chunk_size=2000):
        rows.append({name: _plain(value) for name, value in zip(columns, values, strict=True)})
    return rows


def _plain(value):
    return moment(value) if isinstance(value, datetime) else value


# Erasure (a write)


@transaction.atomic
def user_delete(*, user: User, messages: str) -> dict[str, int]:
    """Delete the person and what is only theirs; close their sockets. Returns counts of what changed.

    Group rooms are left through rooms.services.room_leave (members are told; an owner's room passes
    to its longest-standing member). Direct rooms stay for the other person. With
    messages="delete" every message becomes a tombstone, as if its author had deleted it, so room
    seqs stay gapless; with "keep-anonymized" they stay and lose their author.
    """
    if messages not in MessagesChoice.ALL:
        raise ValueError(f"messages must be one of {', '.join(MessagesChoice.ALL)}")
    user = User.objects.select_for_update().get(pk=user.pk)
    group_room_ids = list(
        Membership.objects.filter(user=user).exclude(room__kind=Room.Kind.DIRECT).values_list("room_id", flat=True)
    )
    for room_id in group_room_ids:
        room_services.room_leave(user=user, room_id=room_id)
    tombstoned = _messages_tombstone(user) if messages == MessagesChoice.DELETE else 0
    authored = Message.objects.filter(author=user).count()
    tokens.outstanding_tokens_blacklist(user=user)
    login_records = sum(
        model.objects.filter(username__iexact=user.email).delete()[0]
        for model in (AccessAttempt, AccessFailureLog, AccessLog)
    )
    files = [name for name in (user.avatar.name, user.avatar_thumbnail.name) if name]
    user_id = user.pk
    user.delete()
    transaction.on_commit(lambda: avatars.delete(files))
    on_commit_robust(partial(events.user_sockets_close, user_id))
    return {
        "rooms_left": len(group_room_ids),
        "messages_tombstoned": tombstoned,
        "messages_anonymized": authored if messages == MessagesChoice.KEEP_ANONYMIZED else 0,
        "login_records": login_records,
    }


def _messages_tombstone(user: User) -> int:
    """Blank every message of the person (message_delete's tombstone), announced per room on commit."""
    now = timezone.now()
    live = list(
        Message.objects.filter(author=user, deleted_at__isnull=True).select_related("reply_to__author").order_by("pk")
    )
    Reaction.objects.filter(message__in=[message.pk for message in live]).delete()
    # As message_delete: the files go too (from storage on commit, chat.signals), and the link card,
    # which would say what the words linked to.
    Attachment.objects.filter(message__in=[message.pk for message in live]).delete()
    Message.objects.filter(pk__in=[message.pk for message in live]).update(body="", deleted_at=now, preview=None)
    for message in live:
        message.body, message.deleted_at, message.author, message.preview = "", now, None, None
        message.prefetched_reactions, message.prefetched_attachments = [], []
    # One hop for all the events; the payloads show what members will see: no author, no words.
    transaction.on_commit(
        lambda: events.publish_each(
            [(events.room_group(message.room_id), partial(events.message_deleted, message)) for message in live]
        ),
        robust=True,
    )
    return len(live)
