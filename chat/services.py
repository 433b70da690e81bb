"""Writes for messages: sending, editing, deleting, reactions and read positions.

The path of a message follows DESIGN.md ("Data flow of one message"): check, then lock the room row, then insert.
Every change is announced on commit by chat.events, never before.
"""

import uuid
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from accounts.models import User
from accounts.selectors import blocked_between
from chat import events, limits, selectors, tasks
from chat.limits import RateLimited
from chat.models import Message, Reaction
from rooms.models import Membership
from rooms.selectors import RoomNotVisible, membership_access
from rooms.services import require_verified, room_seq_next

__all__ = [
    "RateLimited",
    "message_delete",
    "message_edit",
    "message_send",
    "reaction_add",
    "reaction_remove",
    "read_mark",
    "user_touch_last_seen",
]

BODY_MAX_CHARS = 4000
EMOJI_MAX_CHARS = 32


# Checks


def _clean_body(body: str) -> str:
    body = body.strip() if isinstance(body, str) else ""
    if not body:
        raise ValidationError({"body": ["A message cannot be empty."]}, code="required")
    if len(body) > BODY_MAX_CHARS:
        raise ValidationError({"body": [f"A message is at most {BODY_MAX_CHARS} characters."]}, code="max_length")
    return body


def _clean_client_id(client_id) -> uuid.UUID:
    try:
        return client_id if isinstance(client_id, uuid.UUID) else uuid.UUID(str(client_id))
    except ValueError:
        raise ValidationError({"client_id": ["Send a UUID chosen by the client for this message."]}, code="invalid")


def _clean_emoji(emoji: str) -> str:
    if not isinstance(emoji, str) or not emoji or len(emoji) > EMOJI_MAX_CHARS or any(char.isspace() for char in emoji):
        raise ValidationError(
            {"emoji": [f"An emoji is 1 to {EMOJI_MAX_CHARS} characters without spaces."]}, code="invalid"
        )
    return emoji


def _reply_target(*, room_id: int, reply_to_id: int | None) -> Message | None:
    if reply_to_id is None:
        return None
    target = Message.objects.select_related("author").filter(pk=reply_to_id, room_id=room_id).first()
    if target is None:
        raise ValidationError({"reply_to": ["Reply to a message of this room."]}, code="invalid")
    if target.is_deleted:
        raise ValidationError({"reply_to": ["This message was deleted."]}, code="deleted")
    return target


def _already_sent(*, room_id: int, author, client_id: uuid.UUID) -> Message | None:
    original = selectors.messages_with_details().filter(room_id=room_id, author=author, client_id=client_id).first()
    if original is not None:
        original.replayed = True
    return original


def _membership_and_original(*, user, room_id: int, client_id: uuid.UUID) -> tuple[int, int | None, str | None]:
    """The sender's membership id, the id of a message already stored for this client_id, and the
    room's direct key (None for other rooms), in one query (the common answer is "no original":
    the details are loaded only for a real retry).
    """
    stored = Message.objects.filter(room_id=room_id, author=user, client_id=client_id).values("pk")[:1]
    memberships = Membership.objects.filter(user=user, room_id=room_id)
    row = memberships.values_list("pk", Subquery(stored), "room__direct_key").first()
    if row is None:
        raise RoomNotVisible()
    return row


def _require_direct_open(*, author, direct_key: str) -> None:
    """A direct conversation is read-only for both once either blocked the other; worded so as not
    to say who. ("Friends only" decides who may start one, not who may answer in it.)
    """
    peer_id = next((int(part) for part in direct_key.split(":") if int(part) != author.pk), author.pk)
    if blocked_between(a_id=author.pk, b_id=peer_id):
        raise PermissionDenied("You can't send messages in this conversation.")


def _message_for(*, user, message_id: int, lock: bool = False) -> tuple[Message, Membership]:
    """The message and the person's membership of its room; RoomNotVisible when they are not in it."""
    messages = selectors.messages_with_details()
    if lock:
        messages = messages.select_for_update(no_key=True, of=("self",))
    message = messages.filter(pk=message_id).first()
    if message is None:
        raise RoomNotVisible("No such message.")
    try:
        return message, membership_access(user=user, room_id=message.room_id)
    except RoomNotVisible:
        raise RoomNotVisible("No such message.") from None


# Messages


def message_send(
    *, author, room_id: int, body: str, client_id: uuid.UUID | str, reply_to_id: int | None = None
) -> Message:
    """Store a message, or return the original when this (room, author, client_id) was sent before.

    A returned original has `replayed = True` and publishes nothing. Raises PermissionDenied for
    non-members, ValidationError for bad input, RateLimited when the author sends too fast.
    """
    require_verified(author)
    client_id = _clean_client_id(client_id)
    try:
        return _message_store(author=author, room_id=room_id, body=body, client_id=client_id, reply_to_id=reply_to_id)
    except IntegrityError:
        # An identical retry committed while this one waited for the room: the unique index refused
        # the copy, the rollback gave its seq back, and the original is what the client gets.
        original = _already_sent(room_id=room_id, author=author, client_id=client_id)
        if original is None:
            raise
        return original


@transaction.atomic
def _message_store(*, author, room_id: int, body: str, client_id: uuid.UUID, reply_to_id: int | None) -> Message:
    # The hottest write: every statement and round trip here is paid by every message.
    member_id, original_id, direct_key = _membership_and_original(user=author, room_id=room_id, client_id=client_id)
    if original_id is not None:
        return _already_sent(room_id=room_id, author=author, client_id=client_id)
    if direct_key is not None:
        _require_direct_open(author=author, direct_key=direct_key)
    body = _clean_body(body)
    reply_to = _reply_target(room_id=room_id, reply_to_id=reply_to_id)
    limits.message_rate_take(user_id=author.pk)

    message = Message(room_id=room_id, author=author, body=body, reply_to=reply_to, client_id=client_id)
    message.created_at = timezone.now()
    _message_insert(message, member_id=member_id)
    message.prefetched_reactions = []
    events.publish_on_commit(events.room_group(room_id), partial(events.message_new, message))
    if "@" in body:
        transaction.on_commit(partial(tasks.message_mentions_notify.delay, message.pk), robust=True)
    return message


# Take the room's next seq (the UPDATE locks its row until commit: senders to one room queue here,
# so seqs are gapless and commit in seq order), insert the message, and move the author's own
# read position to it (your own message is never unread to you): one round trip on PostgreSQL.
_INSERT_SQL = """
WITH room AS (
    UPDATE rooms_room SET last_seq = last_seq + 1, last_message_at = %(now)s WHERE id = %(room)s RETURNING last_seq
), message AS (
    INSERT INTO chat_message (room_id, author_id, seq, body, reply_to_id, client_id, created_at)
    SELECT %(room)s, %(author)s, room.last_seq, %(body)s, %(reply_to)s, %(client_id)s, %(now)s FROM room
    RETURNING id, seq
), reader AS (
    UPDATE rooms_membership SET last_read_seq = message.seq FROM message
    WHERE rooms_membership.id = %(member)s AND rooms_membership.last_read_seq < message.seq
)
SELECT id, seq FROM message
"""


def _message_insert(message: Message, *, member_id: int) -> None:
    if connection.vendor != "postgresql":  # SQLite cannot write inside WITH: the same in three steps.
        message.seq = room_seq_next(room_id=message.room_id, now=message.created_at)
        message.save(force_insert=True)
        Membership.objects.filter(pk=member_id, last_read_seq__lt=message.seq).update(last_read_seq=message.seq)
        return
    fields = {"now": message.created_at, "room": message.room_id, "author": message.author_id, "body": message.body}
    fields |= {"reply_to": message.reply_to_id, "client_id": message.client_id, "member": member_id}
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, fields)
        row = cursor.fetchone()
    if row is None:
        raise RoomNotVisible()
    message.pk, message.seq = row
    message._state.adding, message._state.db = False, connection.alias


@transaction.atomic
def message_edit(*, user, message_id: int, body: str) -> Message:
    require_verified(user)
    message, _ = _message_for(user=user, message_id=message_id, lock=True)
    if message.author_id != user.pk:
        raise PermissionDenied("Only the author can edit a message.")
    if message.is_deleted:
        raise ValidationError({"body": ["A deleted message cannot be edited."]}, code="deleted")
    body = _clean_body(body)
    if body == message.body:
        return message
    message.body = body
    message.edited_at = timezone.now()
    message.save(update_fields=["body", "edited_at"])
    events.publish_on_commit(events.room_group(message.room_id), partial(events.message_edited, message))
    return message


@transaction.atomic
def message_delete(*, user, message_id: int) -> Message:
    """Blank a message, keeping its tombstone (and seq). Its author, or the room's owners and admins."""
    message, membership = _message_for(user=user, message_id=message_id, lock=True)
    if message.author_id != user.pk and not membership.is_manager:
        raise PermissionDenied("Only the author or the room's owners and admins can delete a message.")
    if message.is_deleted:
        return message
    message.body = ""
    message.deleted_at = timezone.now()
    message.save(update_fields=["body", "deleted_at"])
    Reaction.objects.filter(message=message).delete()
    message.prefetched_reactions = []
    events.publish_on_commit(events.room_group(message.room_id), partial(events.message_deleted, message))
    return message


# Reactions


@transaction.atomic
def reaction_add(*, user, message_id: int, emoji: str) -> Reaction:
    """Add a reaction; adding the same one again changes nothing and announces nothing."""
    require_verified(user)
    emoji = _clean_emoji(emoji)
    # Locked so that a delete running at the same moment cannot leave a reaction on its tombstone.
    message, _ = _message_for(user=user, message_id=message_id, lock=True)
    if message.is_deleted:
        raise ValidationError({"emoji": ["This message was deleted."]}, code="deleted")
    reaction, created = Reaction.objects.get_or_create(message=message, user=user, emoji=emoji)
    if created:
        events.publish_on_commit(events.room_group(message.room_id), partial(events.reaction_added, reaction))
    return reaction


@transaction.atomic
def reaction_remove(*, user, message_id: int, emoji: str) -> None:
    emoji = _clean_emoji(emoji)
    message, _ = _message_for(user=user, message_id=message_id)
    removed, _ = Reaction.objects.filter(message=message, user=user, emoji=emoji).delete()
    if removed:
        reaction = Reaction(message=message, user=user, emoji=emoji)
        events.publish_on_commit(events.room_group(message.room_id), partial(events.reaction_removed, reaction))


# Read position


@transaction.atomic
def read_mark(*, user, room_id: int, seq: int) -> Membership:
    """Move the person's read position forward to `seq` (never back, never past the newest message)."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValidationError({"seq": ["Send the seq of the last message read."]}, code="invalid")
    membership = membership_access(user=user, room_id=room_id)
    target = min(seq, membership.room.last_seq)
    # One conditional UPDATE: two tabs reporting at once can only move the position forward.
    moved = Membership.objects.filter(pk=membership.pk, last_read_seq__lt=target).update(last_read_seq=target)
    if moved:
        membership.last_read_seq = target
        events.publish_on_commit(events.user_group(user.pk), partial(events.read, membership))
    return membership


# Presence


def user_touch_last_seen(*, user_id: int) -> None:
    """Remember when the person was last connected (one UPDATE, no signals: nothing else changed)."""
    User.objects.filter(pk=user_id).update(last_seen=timezone.now())
