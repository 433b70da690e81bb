"""Reads for messages. Every list costs the same few queries however long it is."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from psycopg.types.numeric import Int8

from accounts.selectors import blocked_ids
from chat import presence
from chat.db import BIGINT_MAX, BIGINT_MIN, prepared_cursor
from chat.events import Moment, moment_sql
from chat.models import Attachment, Message, Reaction
from rooms.models import Room

RECENT_LIMIT = 50
# The most a reconnecting client is sent per room; beyond it, it is told to reload.
RESUME_LIMIT = 200
SEQ_MIN, SEQ_MAX = BIGINT_MIN, BIGINT_MAX


def positive_bigint(text: str) -> int | None:
    """The number typed in a query string or a filter box, when it is one a bigint column can hold
    (ASCII digits only: "²".isdigit() is true too); None otherwise."""
    if text.isascii() and text.isdigit() and 0 < int(text) <= SEQ_MAX:
        return int(text)
    return None


# The columns of a person that chat.events.UserPayload shows. Lists load only these: the others
# (four timestamps a user among them) were a large share of building a page's rows. If the payload
# grows, the pinned query counts fail until this does too.
USER_SUMMARY_FIELDS = ("id", "handle", "display_name", "avatar_thumbnail")
_MESSAGE_FIELDS = (
    *("room", "author", "seq", "body", "reply_to", "client_id", "created_at", "edited_at", "deleted_at"),
    "removal_reason",
)
_REPLY_PREVIEW_FIELDS = ("seq", "body", "deleted_at", "removal_reason", "author")
_LINK_PREVIEW_FIELDS = ("url", "title", "description", "image_url", "site_name")


def user_summary_of(relation: str) -> list[str]:
    """USER_SUMMARY_FIELDS behind a relation, for only()."""
    return [f"{relation}__{field}" for field in USER_SUMMARY_FIELDS]


def messages_with_details() -> QuerySet[Message]:
    """Messages with everything their payload shows: author, replied-to message and its author,
    attachments, reactions, link preview."""
    reactions = Reaction.objects.order_by("created_at", "id")
    return Message.objects.select_related("author", "reply_to__author", "preview").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("id"), to_attr="prefetched_attachments"),
        Prefetch("reactions", queryset=reactions, to_attr="prefetched_reactions"),
    )


def messages_for_lists() -> QuerySet[Message]:
    """messages_with_details loading only what a payload (or the room page) shows, for pages of many."""
    return messages_with_details().only(
        *_MESSAGE_FIELDS,
        *user_summary_of("author"),
        *(f"reply_to__{field}" for field in _REPLY_PREVIEW_FIELDS),
        *user_summary_of("reply_to__author"),
        "preview",
        *(f"preview__{field}" for field in _LINK_PREVIEW_FIELDS),
    )


# A message's payload as columns, for history pages read as rows (chat.events.message_row_payload
# unpacks them in this order): model instances, their related ones and prefetches were most of a page's time.
MESSAGE_ROW_COLUMNS = (
    *("id", "room_id", "seq", *user_summary_of("author"), "body"),
    *("reply_to_id", "reply_to__seq", "reply_to__author__handle", "reply_to__body", "reply_deleted"),
    *("reply_to__removal_reason", "client_id", "created_text", "edited_text", "deleted", "removal_reason"),
    *("preview_id", *(f"preview__{field}" for field in _LINK_PREVIEW_FIELDS)),
)
# After the message id, in chat.events.attachment_summary's order.
ATTACHMENT_ROW_COLUMNS = ("message_id", "id", "name", "size", "content_type", "width", "height", "preview_name")


@dataclass(slots=True)
class MessageRow:
    """One message of a page read as rows: MESSAGE_ROW_COLUMNS, its attachments' ATTACHMENT_ROW_COLUMNS
    (without the message id) by id, and its reactions' (emoji, user id) oldest first."""

    id: int
    seq: int
    columns: tuple
    attachments: list[tuple] = field(default_factory=list)
    reactions: list[tuple[str, int]] = field(default_factory=list)


def _is_set(column: str) -> ExpressionWrapper:
    return ExpressionWrapper(Q(**{f"{column}__isnull": False}), output_field=BooleanField())


def _message_rows() -> QuerySet[Message]:
    return Message.objects.annotate(
        reply_deleted=_is_set("reply_to__deleted_at"),
        created_text=Moment("created_at"),
        edited_text=Moment("edited_at"),
        deleted=_is_set("deleted_at"),
    ).values_list(*MESSAGE_ROW_COLUMNS)


def _rows_with_details(rows: list[tuple]) -> list[MessageRow]:
    """The page's rows with their attachments and reactions: two queries, as the prefetches were (none for
    an empty page)."""
    page = {columns[0]: MessageRow(id=columns[0], seq=columns[2], columns=columns) for columns in rows}
    if page:
        attachments = Attachment.objects.filter(message_id__in=page).order_by("id")
        for message_id, *attachment in attachments.values_list(*ATTACHMENT_ROW_COLUMNS):
            page[message_id].attachments.append(attachment)
        reactions = Reaction.objects.filter(message_id__in=page).order_by("created_at", "id")
        for message_id, emoji, user_id in reactions.values_list("message_id", "emoji", "user_id"):
            page[message_id].reactions.append((emoji, user_id))
    return list(page.values())


# PostgreSQL: a page read as rows is ONE statement, prepared on each pooled connection. Planning
# the ORM's page query (four joins, 28 columns) took 2.4 ms of PostgreSQL's CPU against 0.2 ms to run
# it, and the attachments and reactions were two more round trips with 51 ids each. The columns are
# MESSAGE_ROW_COLUMNS' (change both together: test_history_rows compares the JSON with the instances'),
# then the attachments and reactions as JSON arrays, one per message, in ATTACHMENT_ROW_COLUMNS' order
# (without the message id) by id, and as (emoji, user id) oldest first. `bounds` gives the lowest
# and highest seq of the page; `{order}` is ASC or DESC, a constant.
_PAGE_SQL = """
WITH {bounds},
-- The page's rows first, on their own: the (room, seq) index's range in order, stopped at the limit.
-- Prepared statements run on a generic plan after five runs, which knows neither the room nor the
-- bounds and guesses one row: with the joins beside it, it sorted the whole room by author to
-- merge-join the users (0.9 s for a room of 100,000, where this takes 0.4 ms).
page AS MATERIALIZED (
    SELECT * FROM chat_message room_messages
     -- The bounds as scalar subqueries: computed once, then the index's range. Joined as a row
     -- instead, they became a filter on a walk of the whole room (8 s around the middle of 1,000,000).
     WHERE room_id = %(room)s AND seq BETWEEN (SELECT low FROM bounds) AND (SELECT high FROM bounds)
     ORDER BY seq {order}
     LIMIT %(limit)s
)
SELECT m.id, m.room_id, m.seq, m.author_id, u.handle, u.display_name, u.avatar_thumbnail, m.body,
       m.reply_to_id, r.seq, ru.handle, r.body, r.deleted_at IS NOT NULL, r.removal_reason,
       m.client_id, {created}, {edited}, m.deleted_at IS NOT NULL, m.removal_reason,
       m.preview_id, p.url, p.title, p.description, p.image_url, p.site_name,
       (SELECT json_agg(json_build_array(a.id, a.name, a.size, a.content_type, a.width, a.height, a.preview_name)
                        ORDER BY a.id)
          FROM chat_attachment a WHERE a.message_id = m.id),
       (SELECT json_agg(json_build_array(x.emoji, x.user_id) ORDER BY x.created_at, x.id)
          FROM chat_reaction x WHERE x.message_id = m.id)
  FROM page m
  LEFT JOIN accounts_user u ON u.id = m.author_id
  LEFT JOIN chat_message r ON r.id = m.reply_to_id
  LEFT JOIN accounts_user ru ON ru.id = r.author_id
  LEFT JOIN chat_linkpreview p ON p.id = m.preview_id
 ORDER BY m.seq {order}
""".replace("{created}", moment_sql("m.created_at")).replace("{edited}", moment_sql("m.edited_at"))
_GIVEN_BOUNDS = "bounds AS (SELECT %(low)s::bigint AS low, %(high)s::bigint AS high)"
# history_around's: `older` seqs below the message and `newer` above it, fewer at either end of the room.
_AROUND_BOUNDS = """target AS MATERIALIZED (SELECT seq FROM chat_message WHERE room_id = %(room)s AND id = %(message)s),
bounds AS MATERIALIZED (
    SELECT CASE WHEN %(older)s = 0 THEN t.seq ELSE COALESCE((
               SELECT seq FROM chat_message WHERE room_id = %(room)s AND seq < t.seq
                ORDER BY seq DESC OFFSET GREATEST(%(older)s - 1, 0) LIMIT 1), 0) END AS low,
           CASE WHEN %(newer)s = 0 THEN t.seq ELSE COALESCE((
               SELECT seq FROM chat_message WHERE room_id = %(room)s AND seq > t.seq
                ORDER BY seq OFFSET GREATEST(%(newer)s - 1, 0) LIMIT 1), %(seq_max)s) END AS high
      FROM target t
)"""
# Constants only: nothing from a request reaches the text.
_NEWEST_FIRST_SQL = _PAGE_SQL.replace("{bounds}", _GIVEN_BOUNDS).replace("{order}", "DESC")
_OLDEST_FIRST_SQL = _PAGE_SQL.replace("{bounds}", _GIVEN_BOUNDS).replace("{order}", "ASC")
_AROUND_SQL = _PAGE_SQL.replace("{bounds}", _AROUND_BOUNDS).replace("{order}", "ASC")


def _prepared_rows() -> bool:
    return connection.vendor == "postgresql"


def _statement_rows(sql: str, **parameters: int) -> list[MessageRow]:
    # One parameter type whatever the value (psycopg picks int2, int4 or int8 by size otherwise): one
    # prepared copy per connection, not one per combination of sizes.
    with prepared_cursor() as cursor:
        cursor.execute(sql, {name: Int8(value) for name, value in parameters.items()})
        fetched = cursor.fetchall()
    return [
        MessageRow(
            id=columns[0],
            seq=columns[2],
            columns=columns[:-2],
            attachments=[tuple(attachment) for attachment in columns[-2] or ()],
            reactions=[tuple(reaction) for reaction in columns[-1] or ()],
        )
        for columns in fetched
    ]


def _history_source(rows: bool) -> QuerySet[Message]:
    return _message_rows() if rows else messages_for_lists()


def _fetched(messages: QuerySet[Message], rows: bool) -> list:
    return _rows_with_details(list(messages)) if rows else list(messages)


def messages_recent(*, room_id: int, limit: int = RECENT_LIMIT) -> list[Message]:
    """The newest messages of a room, oldest first (the order a page shows them in)."""
    newest = list(messages_for_lists().filter(room_id=room_id).order_by("-seq")[:limit])
    newest.reverse()
    return newest


@dataclass(frozen=True)
class HistoryPage:
    """One page of a room's history, oldest first, and where the pages beside it start.

    `older` is the `before` bound of the page just older (None when there is none); `newer` the
    `after` bound of the page just newer. Bounds are seqs, so a page never overlaps or skips its
    neighbours however many messages are sent or deleted (deletes keep their seq) in between.
    The messages are model instances, or MessageRows when asked for `rows` (the API's pages).
    """

    messages: list[Message] | list[MessageRow]
    older: int | None
    newer: int | None


def history_before(*, room: Room, before_seq: int | None, limit: int, rows: bool = False) -> HistoryPage:
    """The `limit` messages just older than `before_seq` (the newest ones when None)."""
    # One more than asked says whether an older page exists without a COUNT.
    if rows and _prepared_rows():
        highest = SEQ_MAX if before_seq is None else before_seq - 1
        page = _statement_rows(_NEWEST_FIRST_SQL, room=room.pk, low=SEQ_MIN, high=highest, limit=limit + 1)
    else:
        messages = _history_source(rows).filter(room_id=room.pk).order_by("-seq")
        if before_seq is not None:
            messages = messages.filter(seq__lt=before_seq)
        page = _fetched(messages[: limit + 1], rows)
    older = page[limit - 1].seq if len(page) > limit else None
    page = page[:limit]
    page.reverse()
    newest = before_seq - 1 if before_seq is not None else (page[-1].seq if page else 0)
    # `room.last_seq` was read before the page: a newer message sent since then is in no page yet.
    return HistoryPage(messages=page, older=older, newer=newest if newest < room.last_seq else None)


def history_after(*, room: Room, after_seq: int, limit: int, rows: bool = False) -> HistoryPage:
    """The `limit` messages just newer than `after_seq`, oldest first."""
    if rows and _prepared_rows():
        if after_seq < SEQ_MAX:
            bounds = {"low": after_seq + 1, "high": SEQ_MAX}
            page = _statement_rows(_OLDEST_FIRST_SQL, room=room.pk, **bounds, limit=limit + 1)
        else:  # nothing is above the largest bigint, whose successor the statement's bound could not hold
            page = []
    else:
        messages = _history_source(rows).filter(room_id=room.pk, seq__gt=after_seq).order_by("seq")
        page = _fetched(messages[: limit + 1], rows)
    newer = page[limit - 1].seq if len(page) > limit else None
    return HistoryPage(messages=page[:limit], older=after_seq + 1 if after_seq > 0 else None, newer=newer)


def history_around(*, room: Room, message_id: int, limit: int, rows: bool = False) -> HistoryPage | None:
    """A page centred on one message: `limit // 2` older ones, the message, and the rest newer.

    One query: the page's seq bounds are subqueries, so an admin's hard delete (a gap in the seqs)
    still gives full halves. None when the message is not in this room.
    """
    older_count, newer_count = limit // 2, limit - limit // 2 - 1
    if rows and _prepared_rows():
        parameters = dict(room=room.pk, message=message_id, older=older_count, newer=newer_count, seq_max=SEQ_MAX)
        page = _statement_rows(_AROUND_SQL, **parameters, limit=limit)
    else:
        in_room = Message.objects.filter(room_id=room.pk)
        target = Subquery(in_room.filter(pk=message_id).values("seq")[:1])
        lowest = _nth_seq(in_room.filter(seq__lt=target).order_by("-seq"), older_count, start=target, past_end=0)
        highest = _nth_seq(in_room.filter(seq__gt=target).order_by("seq"), newer_count, start=target, past_end=SEQ_MAX)
        messages = _history_source(rows).filter(room_id=room.pk, seq__gte=lowest, seq__lte=highest).order_by("seq")
        page = _fetched(messages[:limit], rows)
    if not any(message.id == message_id for message in page):
        return None
    first, last = page[0].seq, page[-1].seq
    return HistoryPage(messages=page, older=first if first > 1 else None, newer=last if last < room.last_seq else None)


def _nth_seq(ordered: QuerySet[Message], n: int, *, start: Subquery, past_end: int):
    """The seq `n` rows into `ordered` (`start` when n is 0), or `past_end` when it has fewer rows."""
    if n == 0:
        return start
    return Coalesce(Subquery(ordered.values("seq")[n - 1 : n]), Value(past_end))


def messages_after(*, room_id: int, after_seq: int, limit: int = RESUME_LIMIT) -> list[Message]:
    """What a client that last saw `after_seq` missed, in seq order (tombstones included)."""
    return list(messages_for_lists().filter(room_id=room_id, seq__gt=after_seq).order_by("seq")[:limit])


def resume_needs_reload(*, last_seq: int, after_seq: int, limit: int = RESUME_LIMIT) -> bool:
    """True when more was missed than one resume sends. Seqs are gapless, so the difference is the count."""
    return last_seq - after_seq > limit


def resume_batches(*, user, positions: dict[int, int]) -> list[tuple[int, list[Message] | None]]:
    """For each of the person's rooms in `positions` ({room id: last seen seq}), in room order: the
    messages missed, or None when more were missed than one resume sends (the client reloads).

    Rooms the person is not in are left out. One query for the rooms, then one per room behind.
    """
    rooms = Room.objects.filter(pk__in=positions, memberships__user=user).values_list("pk", "last_seq")
    batches = []
    for room_id, last_seq in sorted(rooms):
        after_seq = positions[room_id]
        if last_seq <= after_seq:
            continue
        if resume_needs_reload(last_seq=last_seq, after_seq=after_seq):
            batches.append((room_id, None))
        else:
            batches.append((room_id, messages_after(room_id=room_id, after_seq=after_seq)))
    return batches


def online_visible_to(*, viewer_id: int, user_ids: Iterable[int]) -> set[int]:
    """Which of these people the viewer sees online: nobody in a block with them (either way)."""
    hidden = blocked_ids(user_id=viewer_id)
    return presence.online_among_now([user_id for user_id in user_ids if user_id not in hidden])


def attachment_for(*, user, attachment_id: int) -> Attachment | None:
    """The attachment if this person may fetch it (a member of its message's room, or its uploader
    before it is sent), else None: one query, and no difference between "not yours" and "none"."""
    visible = Q(message__isnull=True, uploader=user) | Q(message__room__memberships__user=user)
    return Attachment.objects.filter(visible, pk=attachment_id).first()


def message_reportable(*, user, message_id: int) -> Message | None:
    """A message the person may report: someone else's, still there, in a room they are in (one query).
    The same for every miss, as accounts.services.report_create answers."""
    mine = Q(room__memberships__user=user)
    reportable = Message.objects.select_related("author").filter(mine, pk=message_id, deleted_at__isnull=True)
    return reportable.exclude(author=user).exclude(author__isnull=True).defer("search_vector").first()
