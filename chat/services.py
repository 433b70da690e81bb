"""Writes for messages: sending, editing, deleting, reactions and read positions.

The path of a message follows DESIGN.md ("Data flow of one message"): check, then lock the room row, then insert.
Every change is announced on commit by chat.events, never before.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from accounts import moderation
from accounts.models import ModerationAction, User
from accounts.moderation import reason_clean, require_moderator
from accounts.selectors import blocked_between, blocked_pairs
from chat import attachments, events, limits, link_previews, selectors, tasks
from chat.db import on_commit_robust, prepared_cursor, stale_statement
from chat.limits import RateLimited
from chat.models import Attachment, Message, Reaction
from rooms.models import Membership, Room
from rooms.selectors import RoomNotVisible, membership_access
from rooms.services import require_verified, room_seq_next

__all__ = [
    "RateLimited",
    "message_delete",
    "message_edit",
    "message_remove",
    "message_send",
    "reaction_add",
    "reaction_remove",
    "read_mark",
    "user_touch_last_seen",
]

BODY_MAX_CHARS = 4000
EMOJI_MAX_CHARS = 32


# Checks


def _clean_body(body: str, *, required: bool = True) -> str:
    body = body.strip() if isinstance(body, str) else ""
    if not body and required:
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


ROOM_CLOSED = "This conversation has ended."


def _membership_and_original(*, user, room_id: int, client_id: uuid.UUID) -> tuple[int, int | None, str | None]:
    """The sender's membership id, the id of a message already stored for this client_id, and the
    room's direct key (None for other rooms), in one query (the common answer is "no original":
    the details are loaded only for a real retry). A closed lobby chat refuses new messages.
    """
    stored = Message.objects.filter(room_id=room_id, author=user, client_id=client_id).values("pk")[:1]
    memberships = Membership.objects.filter(user=user, room_id=room_id)
    row = memberships.values_list("pk", Subquery(stored), "room__direct_key", "room__closed_at", "request").first()
    if row is None:
        raise RoomNotVisible()
    member_id, original_id, direct_key, closed_at, request = row
    _require_not_request(request)
    if closed_at is not None and original_id is None:
        raise PermissionDenied(ROOM_CLOSED)
    return member_id, original_id, direct_key


REQUEST_UNANSWERED = "Accept this message request to reply."


def _require_not_request(request: str) -> None:
    # The recipient of a message request answers it first (accepting it); writing in it would
    # otherwise leave a conversation they take part in out of their rooms.
    if request:
        raise PermissionDenied(REQUEST_UNANSWERED)


DIRECT_CLOSED = "You can't send messages in this conversation."


def _require_direct_open(*, author, direct_key: str) -> None:
    """A direct conversation is read-only for both once either blocked the other; worded so as not
    to say who. ("Friends only" decides who may start one, not who may answer in it.)
    """
    if blocked_between(a_id=author.pk, b_id=_direct_peer(direct_key, author.pk)):
        raise PermissionDenied(DIRECT_CLOSED)


def _direct_peer(direct_key: str, user_id: int) -> int:
    return next((int(part) for part in direct_key.split(":") if int(part) != user_id), user_id)


def _message_for(*, user, message_id: int, lock: bool = False) -> tuple[Message, Membership]:
    """The message and the person's membership of its room; RoomNotVisible when they are not in it.

    Every change to a message (edit, delete, reactions) goes through here, so the rules of sending
    hold for them too: nothing changes in an ended chat (a reported person cannot rewrite what was
    reported), and the recipient of a message request answers it before anything they do is seen.
    """
    messages = selectors.messages_with_details()
    if lock:
        messages = messages.select_for_update(no_key=True, of=("self",))
    message = messages.filter(pk=message_id).first()
    if message is None:
        raise RoomNotVisible("No such message.")
    try:
        membership = membership_access(user=user, room_id=message.room_id)
    except RoomNotVisible:
        raise RoomNotVisible("No such message.") from None
    _require_not_request(membership.request)
    if membership.room.closed_at is not None:
        raise PermissionDenied(ROOM_CLOSED)
    return message, membership


# Messages


def message_send(
    *,
    author,
    room_id: int,
    body: str,
    client_id: uuid.UUID | str,
    reply_to_id: int | None = None,
    attachment_ids: list[int] | None = None,
) -> Message:
    """Store a message, or return the original when this (room, author, client_id) was sent before.

    A returned original has `replayed = True` and publishes nothing. Raises PermissionDenied for
    non-members, ValidationError for bad input, RateLimited when the author sends too fast.
    `attachment_ids` are the author's own unsent uploads (chat.attachments); with any, the body may be empty.
    """
    require_verified(author)
    client_id = _clean_client_id(client_id)
    attachment_ids = attachments.clean_ids(attachment_ids)
    try:
        return _message_store(
            author=author,
            room_id=room_id,
            body=body,
            client_id=client_id,
            reply_to_id=reply_to_id,
            attachment_ids=attachment_ids,
        )
    except IntegrityError:
        # An identical retry committed while this one waited for the room: the unique index refused
        # the copy, the rollback gave its seq back, and the original is what the client gets.
        original = _already_sent(room_id=room_id, author=author, client_id=client_id)
        if original is None:
            raise
        return original


@transaction.atomic
def _message_store(
    *, author, room_id: int, body: str, client_id: uuid.UUID, reply_to_id: int | None, attachment_ids: list[int]
) -> Message:
    # The hottest write: every statement and round trip here is paid by every message.
    member_id, original_id, direct_key = _membership_and_original(user=author, room_id=room_id, client_id=client_id)
    if original_id is not None:
        return _already_sent(room_id=room_id, author=author, client_id=client_id)
    if direct_key is not None:
        _require_direct_open(author=author, direct_key=direct_key)
    body = _clean_body(body, required=not attachment_ids)
    reply_to = _reply_target(room_id=room_id, reply_to_id=reply_to_id)
    [claimed] = attachments.attachments_claim_many(requests=[(author.pk, attachment_ids)])
    if isinstance(claimed, ValidationError):
        raise claimed
    limits.message_rate_take(user_id=author.pk)

    message = Message(room_id=room_id, author=author, body=body, reply_to=reply_to, client_id=client_id)
    message.created_at = timezone.now()
    _message_insert(message, member_id=member_id)
    message.prefetched_reactions, message.prefetched_attachments = [], claimed
    attachments.attachments_link([message])
    events.publish_on_commit(events.room_group(room_id), partial(events.message_new, message))
    _mentions_on_commit(message)
    _preview_on_commit(message)
    return message


# Take the room's next seq (the UPDATE locks its row until commit: senders to one room queue here,
# so seqs are gapless and commit in seq order), insert the message, and move the author's own
# read position to it (your own message is never unread to you): one round trip on PostgreSQL.
# closed_at is checked again here, under the lock: a chat that ended after the sender's first
# check (and before this) takes no message, so nothing lands after the "ended" event.
_INSERT_SQL = """
WITH room AS (
    UPDATE rooms_room SET last_seq = last_seq + 1, last_message_at = %(now)s
    WHERE id = %(room)s AND closed_at IS NULL RETURNING last_seq
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
        _require_open_now(message.room_id)  # The room is locked now (SQLite: the whole database).
        message.save(force_insert=True)
        Membership.objects.filter(pk=member_id, last_read_seq__lt=message.seq).update(last_read_seq=message.seq)
        return
    fields = {"now": message.created_at, "room": message.room_id, "author": message.author_id, "body": message.body}
    fields |= {"reply_to": message.reply_to_id, "client_id": message.client_id, "member": member_id}
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, fields)
        row = cursor.fetchone()
    if row is None:
        _require_open_now(message.room_id)
        raise RoomNotVisible()
    message.pk, message.seq = row
    message._state.adding, message._state.db = False, connection.alias


def _require_open_now(room_id: int) -> None:
    """ROOM_CLOSED when the room ended; called once its row is locked, so the answer holds until commit."""
    if Room.objects.filter(pk=room_id, closed_at__isnull=False).exists():
        raise PermissionDenied(ROOM_CLOSED)


# Many sends at once: the WebSocket path under load (chat.batching)


@dataclass(frozen=True)
class SendRequest:
    author: User
    room_id: int
    body: str
    client_id: uuid.UUID | str
    reply_to_id: int | None = None
    attachment_ids: tuple[int, ...] | list[int] | None = None


# What message_send refuses a single request with; anything else fails the whole batch.
_REFUSALS = (ValidationError, PermissionDenied, RateLimited)


def message_send_many(*, requests: list[SendRequest]) -> list[Message | Exception]:
    """message_send for many requests at once, by the same rules: in one transaction with a fixed
    handful of statements however many there are (500 people sending at the same moment otherwise
    queue up as 500 transactions). Each request gets its message (the original for a retry) or the
    exception message_send would have raised. Should the batch fail as a whole (a retry committed
    by another process in the meantime), each request is sent on its own instead. A batch of one
    goes the same way on PostgreSQL: its two statements are prepared, where message_send's query is
    built by the ORM and planned by PostgreSQL for every send (and most batches are of one or two).
    """
    if connection.vendor != "postgresql":
        return [_send_one(request) for request in requests]
    try:
        return _stored_at_once(requests)
    except IntegrityError:
        return [_send_one(request) for request in requests]


def _stored_at_once(requests: list[SendRequest]) -> list[Message | Exception]:
    try:
        return _store_once(requests)
    except DatabaseError as error:
        if not stale_statement(error):
            raise
    # A migration changed what one of the batch's prepared statements returns (a rolling deploy):
    # the statement (or the batch's transaction) is rolled back, and prepared_cursor prepares it afresh.
    return _store_once(requests)


def _store_once(requests: list[SendRequest]) -> list[Message | Exception]:
    """Uploads are claimed (locked) and linked in statements of their own, so a batch with any is one
    transaction. Without them the batch writes in one statement (_STORE_SQL), its own transaction: no
    BEGIN and COMMIT round trips, each a wait for the GIL in the database thread while the event loop
    writes copies. The check before it reads, and PostgreSQL gives every statement a fresh snapshot
    inside a transaction too (READ COMMITTED), so it sees nothing different. Outside a transaction
    Django runs on_commit hooks at once, after the statement has committed. Inside a caller's
    transaction the batch is a savepoint, as before: a failed statement would otherwise abort the
    caller's transaction, and the fallbacks (message_send_many, _stored_at_once) could not run."""
    if connection.in_atomic_block or any(request.attachment_ids for request in requests):
        with transaction.atomic():
            return _store_many(requests)
    return _store_many(requests)


def _send_one(request: SendRequest) -> Message | Exception:
    try:
        return message_send(
            author=request.author,
            room_id=request.room_id,
            body=request.body,
            client_id=request.client_id,
            reply_to_id=request.reply_to_id,
            attachment_ids=request.attachment_ids,
        )
    except _REFUSALS as error:
        return error


def _store_many(requests: list[SendRequest]) -> list[Message | Exception]:
    outcomes: list[Message | Exception | None] = [None] * len(requests)
    checked, stored = _checked(requests, outcomes)
    blocked = blocked_pairs(pairs={pair for *_, pair, _ in checked if pair})
    fresh: dict[tuple, int] = {}  # a client_id sent twice in one batch: the second is a retry
    candidates, accepted, now = [], [], timezone.now()
    for index, request, client_id, member_id, direct_pair, closed in checked:
        key = (request.room_id, request.author.pk, client_id)
        if key in stored or key in fresh:
            continue  # A retry gets its original, even in a chat that has ended since (as message_send).
        try:
            if closed:
                raise PermissionDenied(ROOM_CLOSED)
            if direct_pair is not None and frozenset(direct_pair) in blocked:
                raise PermissionDenied(DIRECT_CLOSED)
            attachment_ids = attachments.clean_ids(request.attachment_ids)
            body = _clean_body(request.body, required=not attachment_ids)
            reply_to = _reply_target(room_id=request.room_id, reply_to_id=request.reply_to_id)
        except _REFUSALS as error:
            outcomes[index] = error
            continue
        message = Message(room_id=request.room_id, author=request.author, body=body, reply_to=reply_to)
        message.client_id, message.created_at, message.prefetched_reactions = client_id, now, []
        message.prefetched_attachments = attachment_ids  # Ids until claimed, just below.
        fresh[key] = index
        candidates.append((index, message, member_id))
    candidates = _with_attachments_claimed(candidates, outcomes)
    limited = limits.message_rate_take_many(user_ids=[message.author_id for _, message, _ in candidates])
    for candidate, refusal in zip(candidates, limited, strict=True):
        outcomes[candidate[0]] = refusal or candidate[1]
        if refusal is None:
            accepted.append(candidate)
    if accepted:
        refused = _insert_many([m for _, m, _ in accepted], member_ids=[member for *_, member in accepted])
        for index, message, _ in accepted:
            if message.room_id in refused:
                outcomes[index] = refused[message.room_id]()
        attachments.attachments_link([message for _, message, _ in accepted if message.room_id not in refused])
    for index, request, client_id, *_ in checked:
        key = (request.room_id, request.author.pk, client_id)
        if outcomes[index] is None:  # A retry: of a stored message, or of one earlier in this batch.
            outcomes[index] = _already_sent(room_id=request.room_id, author=request.author, client_id=client_id)
            if outcomes[index] is None:
                outcomes[index] = outcomes[fresh[key]]
    return outcomes


def _with_attachments_claimed(candidates: list[tuple], outcomes: list) -> list[tuple]:
    """The candidates whose uploads could be claimed (one query for all); the others are refused in `outcomes`."""
    claims = attachments.attachments_claim_many(
        requests=[(message.author_id, message.prefetched_attachments) for _, message, _ in candidates]
    )
    kept = []
    for (index, message, member_id), claimed in zip(candidates, claims, strict=True):
        if isinstance(claimed, ValidationError):
            outcomes[index] = claimed
        else:
            message.prefetched_attachments = claimed
            kept.append((index, message, member_id))
    return kept


# Every request's membership (with its room's direct key and whether it ended), then the requests
# stored already (a retry's original) as rows without a membership. The same text for any batch,
# prepared once per connection. Each request is looked up by its own (room, author, client_id) in
# that unique index: matching each membership's messages against the whole batch's client_ids
# instead compared every one of them with every client_id (500 DM pairs' burst: most of
# PostgreSQL's CPU, 2.4 to 6.6 ms a batch of 200).
_CHECK_SQL = """
SELECT membership.id, membership.room_id, membership.user_id, room.direct_key, room.closed_at IS NOT NULL,
       membership.request, NULL::uuid
  FROM rooms_membership membership JOIN rooms_room room ON room.id = membership.room_id
 WHERE membership.room_id = ANY(%(rooms)s::bigint[]) AND membership.user_id = ANY(%(people)s::bigint[])
UNION ALL
SELECT NULL, sent.room_id, sent.author_id, NULL, NULL, NULL, sent.client_id
  FROM unnest(%(room)s::bigint[], %(author)s::bigint[], %(client_id)s::uuid[]) AS asked(room, author, client_id)
  JOIN chat_message sent
    ON sent.room_id = asked.room AND sent.author_id = asked.author AND sent.client_id = asked.client_id
"""


def _checked(requests: list[SendRequest], outcomes: list) -> tuple[list[tuple], set[tuple]]:
    """(index, request, client_id, membership id, direct pair or None, room closed) of every request
    from a member with a valid client_id, and the (room, author, client_id) of those already stored;
    the refusals of the others go into `outcomes`. One statement (PostgreSQL: the batch path's).
    A closed room is refused later, once it is known whether the request is a retry."""
    client_ids = _client_ids(requests, outcomes)
    if not client_ids:
        return [], set()
    asked = [requests[index] for index in client_ids]
    fields = {"rooms": list({request.room_id for request in asked}), "people": list({r.author.pk for r in asked})}
    fields |= {"room": [request.room_id for request in asked], "author": [request.author.pk for request in asked]}
    fields["client_id"] = list(client_ids.values())
    with prepared_cursor() as cursor:
        cursor.execute(_CHECK_SQL, fields)
        rows = cursor.fetchall()
    members, stored = {}, set()
    for pk, room, user, key, closed, message_request, sent in rows:
        if pk is None:
            stored.add((room, user, sent))
        else:
            members[(room, user)] = (pk, key, closed, message_request)
    checked = []
    for index, client_id in client_ids.items():
        request = requests[index]
        try:
            member = members.get((request.room_id, request.author.pk))
            if member is None:
                raise RoomNotVisible()
            _require_not_request(member[3])
        except _REFUSALS as error:
            outcomes[index] = error
            continue
        member_id, direct_key, closed, _ = member
        pair = (request.author.pk, _direct_peer(direct_key, request.author.pk)) if direct_key else None
        checked.append((index, request, client_id, member_id, pair, closed))
    return checked, stored


def _client_ids(requests: list[SendRequest], outcomes: list) -> dict[int, uuid.UUID]:
    """The client_id of each request by index, from verified people whose client_id and attachment ids
    are well formed; the refusals of the others go into `outcomes`. Checked in message_send's order, so
    that a send gets the same refusal over the socket as over REST."""
    client_ids = {}
    for index, request in enumerate(requests):
        try:
            require_verified(request.author)
            client_id = _clean_client_id(request.client_id)
            attachments.clean_ids(request.attachment_ids)  # kept as ids by _store_many, once it is a candidate
            client_ids[index] = client_id
        except _REFUSALS as error:
            outcomes[index] = error
    return client_ids


# One statement stores a batch, so the room locks are held from it to the commit and no longer
# (four statements, each a round trip and a wait for the GIL under load, held them before). It locks
# the rooms in id order (two batches sharing rooms then queue instead of deadlocking: a room is
# updated only once `locked` has returned it, and `locked` returns them in order), takes each open
# room's seqs in one UPDATE, numbers the room's messages in request order after its last seq,
# inserts them, and moves each author's read position past their own messages. A room found closed
# once locked takes none of its messages: it comes back as a row without a seq.
_STORE_SQL = """
WITH locked AS MATERIALIZED (
    SELECT id, closed_at IS NOT NULL AS closed FROM rooms_room WHERE id = ANY(%(rooms)s::bigint[])
    ORDER BY id FOR NO KEY UPDATE
), taken AS (
    UPDATE rooms_room SET last_seq = rooms_room.last_seq + wanted.count, last_message_at = %(now)s
    FROM unnest(%(rooms)s::bigint[], %(counts)s::bigint[]) AS wanted(id, count) JOIN locked USING (id)
    WHERE rooms_room.id = wanted.id AND NOT locked.closed
    RETURNING rooms_room.id, rooms_room.last_seq - wanted.count AS before
), numbered AS (
    SELECT new.*, taken.before + new.rank AS seq
    FROM unnest(
        %(room)s::bigint[], %(rank)s::bigint[], %(author)s::bigint[], %(member)s::bigint[],
        %(body)s::text[], %(reply_to)s::bigint[], %(client_id)s::uuid[]
    ) AS new(room, rank, author, member, body, reply_to, client_id)
    JOIN taken ON taken.id = new.room
), message AS (
    INSERT INTO chat_message (room_id, author_id, seq, body, reply_to_id, client_id, created_at)
    SELECT room, author, seq, body, reply_to, client_id, %(now)s FROM numbered
    RETURNING id, room_id, seq
), reader AS (
    UPDATE rooms_membership SET last_read_seq = own.seq
    FROM (SELECT member, max(seq) AS seq FROM numbered GROUP BY member) AS own
    WHERE rooms_membership.id = own.member AND rooms_membership.last_read_seq < own.seq
)
SELECT room_id, seq, id FROM message
UNION ALL SELECT id, NULL, NULL FROM locked WHERE closed
"""


def _insert_many(messages: list[Message], *, member_ids: list[int]) -> dict[int, Callable[[], Exception]]:
    """Store the messages, but none to a room found closed, or gone, once locked: returns those rooms'
    ids, each with the refusal its senders get (a new one each)."""
    ranks, counts = _ranks_in_rooms(messages)
    rooms = sorted(counts)
    fields = {"now": messages[0].created_at, "rooms": rooms, "counts": [counts[room] for room in rooms]}
    fields |= {"room": [m.room_id for m in messages], "rank": ranks, "author": [m.author_id for m in messages]}
    fields |= {"member": member_ids, "body": [m.body for m in messages]}
    fields |= {"reply_to": [m.reply_to_id for m in messages], "client_id": [m.client_id for m in messages]}
    with prepared_cursor() as cursor:
        cursor.execute(_STORE_SQL, fields)
        rows = cursor.fetchall()
    refused: dict[int, Callable[[], Exception]] = {room: RoomNotVisible for room in rooms}  # Unless found below.
    first = {}  # Each room's messages took the seqs after its last one: the lowest is rank 1's.
    for room, seq, _ in rows:
        if seq is None:
            refused[room] = partial(PermissionDenied, ROOM_CLOSED)
        else:
            refused.pop(room, None)
            first[room] = min(seq, first.get(room, seq))
    stored = {(room, seq): pk for room, seq, pk in rows if seq is not None}
    kept = [(message, rank) for message, rank in zip(messages, ranks, strict=True) if message.room_id in first]
    for message, rank in kept:
        message.seq = first[message.room_id] + rank - 1
        message.pk = stored[(message.room_id, message.seq)]
        message._state.adding, message._state.db = False, connection.alias
    if kept:
        _announce_on_commit([message for message, _ in kept])
    return refused


def _ranks_in_rooms(messages: list[Message]) -> tuple[list[int], dict[int, int]]:
    """Each message's place among its room's messages in the batch (from 1, in request order: the
    order people's messages arrived in), and each room's count."""
    counts: dict[int, int] = {}
    ranks = []
    for message in messages:
        counts[message.room_id] = counts.get(message.room_id, 0) + 1
        ranks.append(counts[message.room_id])
    return ranks, counts


def _announce_on_commit(messages: list[Message]) -> None:
    on_commit_robust(
        partial(events.publish_each, [(events.room_group(m.room_id), partial(events.message_new, m)) for m in messages])
    )
    for message in messages:
        _mentions_on_commit(message)
        _preview_on_commit(message)


def _mentions_on_commit(message: Message) -> None:
    # Parsing mentions and looking people up is a Celery task's work, queued only when there may be one.
    if "@" in message.body:
        on_commit_robust(partial(tasks.message_mentions_notify.delay, message.pk))


def _preview_on_commit(message: Message) -> None:
    # Fetching a page is a Celery task's work (chat.previews), queued only when the body has a link.
    if settings.LINK_PREVIEWS_ENABLED and link_previews.first_url(message.body):
        on_commit_robust(partial(tasks.message_preview_fetch.delay, message.pk))


@transaction.atomic
def message_edit(*, user, message_id: int, body: str) -> Message:
    require_verified(user)
    message, _ = _message_for(user=user, message_id=message_id, lock=True)
    if message.author_id != user.pk:
        raise PermissionDenied("Only the author can edit a message.")
    if message.is_deleted:
        raise ValidationError({"body": ["A deleted message cannot be edited."]}, code="deleted")
    body = _clean_body(body, required=not message.prefetched_attachments)
    if body == message.body:
        return message
    # Another first link (or none now): the old card goes with this edit, and a new one is fetched.
    relinked = link_previews.first_url(body) != link_previews.first_url(message.body)
    message.body = body
    message.edited_at = timezone.now()
    if relinked:
        message.preview = None
    message.save(update_fields=["body", "edited_at", *(["preview"] if relinked else [])])
    events.publish_on_commit(events.room_group(message.room_id), partial(events.message_edited, message))
    if relinked:
        _preview_on_commit(message)
    # A mention added by the edit notifies its person; whoever this message notified already is not
    # told twice (one notification per person, kind and message: chat.notifications).
    _mentions_on_commit(message)
    return message


@transaction.atomic
def message_delete(*, user, message_id: int) -> Message:
    """Blank a message, keeping its tombstone (and seq). Its author, or the room's owners and admins."""
    message, membership = _message_for(user=user, message_id=message_id, lock=True)
    if message.author_id != user.pk and not membership.is_manager:
        raise PermissionDenied("Only the author or the room's owners and admins can delete a message.")
    if message.is_deleted:
        return message
    _tombstone(message)
    return message


def _tombstone(message: Message, *, removal_reason: str = "") -> None:
    """Blank the message and drop what hung on it (reactions, files, card); announced as message.deleted."""
    message.body = ""
    message.deleted_at = message.deleted_at or timezone.now()
    message.preview = None
    message.removal_reason = removal_reason
    message.save(update_fields=["body", "deleted_at", "preview", "removal_reason"])
    Reaction.objects.filter(message=message).delete()
    Attachment.objects.filter(message=message).delete()  # Their files follow on commit (chat.signals).
    message.prefetched_reactions, message.prefetched_attachments = [], []
    events.publish_on_commit(events.room_group(message.room_id), partial(events.message_deleted, message))


@transaction.atomic
def message_remove(*, moderator, message_id: int, reason: str) -> Message:
    """Staff take a message down: blanked like a delete (so its text is in no payload, search, preview
    or notification any more), its files and card gone, and members see "removed by a moderator" with
    `reason`, live (message.deleted) and in history. Its text is kept in the audit log only.

    Works in any room, ended or archived ones too; removing a removed message changes nothing.
    """
    require_moderator(moderator, "chat.change_message")
    reason = reason_clean(reason)
    message = Message.objects.select_for_update(no_key=True).filter(pk=message_id).first()
    if message is None:
        raise ValidationError({"message": ["No such message."]}, code="not_found")
    if message.is_removed:
        return message
    body = message.body
    _tombstone(message, removal_reason=reason)
    moderation.action_record(
        moderator=moderator,
        kind=ModerationAction.Kind.MESSAGE_REMOVE,
        reason=reason,
        message=message,
        user=message.author,
        room=message.room,
        label=body or str(message),
    )
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
        events.publish_on_commit(_read_group(membership), partial(events.read, membership))
    return membership


def _read_group(membership: Membership) -> str:
    """Who hears of a read position: the reader's own sockets (other tabs clear their badges) and, in a
    direct room, the other person too (their "Seen" mark; their socket and mine are in the room group).
    Never a group room's members (a read by anyone would reach everyone), nor the sender of a message
    request I have not accepted (they are promised they are not told)."""
    if membership.room.kind == Room.Kind.DIRECT and not membership.request:
        return events.room_group(membership.room_id)
    return events.user_group(membership.user_id)


# Presence


def user_touch_last_seen(*, user_id: int) -> None:
    """Remember when the person was last connected (one UPDATE, no signals: nothing else changed)."""
    User.objects.filter(pk=user_id).update(last_seen=timezone.now())
