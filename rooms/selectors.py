"""Reads for rooms. Each function fetches what its callers serialize, in a fixed number of queries."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connection, models
from django.db.models import Case, Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Left
from psycopg.types.numeric import Int8

from accounts.models import User
from accounts.selectors import active_users
from chat import presence
from chat.db import BIGINT_MAX, BIGINT_MIN, prepared_cursor
from chat.events import REPLY_PREVIEW_CHARS, Moment, avatar_url, moment_sql
from chat.models import Message
from chat.selectors import USER_SUMMARY_FIELDS, online_visible_to, user_summary_of
from rooms.models import Membership, Room, RoomInvite

ROLE_ORDER = (Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.MEMBER)
# Memberships, most recently active rooms first.
RECENT_FIRST = (F("room__last_message_at").desc(nulls_last=True), "-room__created_at", "-room_id")
# The columns of one row of the rooms list, in this order (rooms.api.room_list_payload reads them).
ROOM_LIST_COLUMNS = (
    *(f"room__{field}" for field in ("id", "kind", "title", "description", "category", "is_public", "creator_id")),
    "room_created_at",
    "room_last_message_at",
    "room__last_seq",
    "room_closed_at",
    "role",
    "last_read_seq",
    "notification_level",
    *(f"last__{field}" for field in ("id", "seq")),
    "last_preview",
    "last_created_at",
    "last__deleted_at",
    *user_summary_of("last__author"),
)
PUBLIC_SORTS = {
    "activity": (F("last_message_at").desc(nulls_last=True), "-created_at", "-pk"),
    "size": ("-member_count", F("last_message_at").desc(nulls_last=True), "-pk"),
}


class RoomNotVisible(PermissionDenied):
    """The room does not exist for this person. The API answers 404 so private rooms stay unknown."""

    def __init__(self, message: str = "No such room."):
        super().__init__(message)


def membership_access(*, user, room_id: int) -> Membership:
    """The person's membership of the room, with the room; RoomNotVisible for anyone outside it.

    Every room and message endpoint asks this first. On PostgreSQL it is one prepared statement
    read into model instances as the ORM does (Model.from_db): building the ORM's query cost more
    of this process's CPU than the history page's own statement, and PostgreSQL planned it anew
    each time.
    """
    membership = _membership_with_room(user_id=user.pk, room_id=room_id)
    if membership is None:
        raise RoomNotVisible()
    return membership


def _membership_with_room(*, user_id: int, room_id: int) -> Membership | None:
    if not BIGINT_MIN <= room_id <= BIGINT_MAX:  # no such id (a URL's digits, a socket frame)
        return None
    if connection.vendor != "postgresql":
        return Membership.objects.select_related("room").filter(user_id=user_id, room_id=room_id).first()
    with prepared_cursor() as cursor:
        cursor.execute(_MEMBERSHIP_SQL, [Int8(room_id), Int8(user_id)])
        row = cursor.fetchone()
    if row is None:
        return None
    membership = Membership.from_db(connection.alias, _MEMBERSHIP_FIELDS, row[: len(_MEMBERSHIP_FIELDS)])
    room = Room.from_db(connection.alias, _ROOM_FIELDS, row[len(_MEMBERSHIP_FIELDS) :])
    Membership.room.field.set_cached_value(membership, room)
    return membership


_MEMBERSHIP_FIELDS = [field.attname for field in Membership._meta.concrete_fields]
_ROOM_FIELDS = [field.attname for field in Room._meta.concrete_fields]
# Built once from the models' own columns: nothing from a request reaches the text. (room, user) is unique.
_MEMBERSHIP_SQL = (
    "SELECT "  # noqa: S608
    + ", ".join(
        [f"m.{field.column}" for field in Membership._meta.concrete_fields]
        + [f"r.{field.column}" for field in Room._meta.concrete_fields]
    )
    + " FROM rooms_membership m JOIN rooms_room r ON r.id = m.room_id WHERE m.room_id = %s AND m.user_id = %s"
)


def room_ids_of_user(*, user_id: int) -> list[int]:
    """Ids of every room the person is in (a socket subscribes to each one's group)."""
    # Not message requests: nothing in them reaches the person before they accept (rooms.message_requests).
    # Not ended lobby chats: the two strangers stay members (to read, befriend, report) but no longer
    # get each other's presence and typing.
    return list(
        Membership.objects.filter(user_id=user_id, request="", room__closed_at__isnull=True)
        .order_by("room_id")
        .values_list("room_id", flat=True)
    )


def random_chatting_ids(*, user_ids: list[int]) -> set[int]:
    """Those of these people who are in an open lobby chat (each has at most one)."""
    return set(
        Membership.objects.filter(
            user_id__in=user_ids, room__kind=Room.Kind.RANDOM, room__closed_at__isnull=True
        ).values_list("user_id", flat=True)
    )


def lobby_requeue_ids(*, user_ids: list[int]) -> list[int]:
    """Those of two people whose pairing was refused who may wait on: active, verified, not in a
    lobby chat. In the order given."""
    fine = set(active_users().filter(pk__in=user_ids).values_list("pk", flat=True)) - random_chatting_ids(
        user_ids=user_ids
    )
    return [user_id for user_id in user_ids if user_id in fine]


def presence_shown(*, user_id: int, request: str, viewer_id: int, closed: bool = False) -> bool:
    """Whether a member's presence is shown to the viewer. Not that of the recipient of a message
    request (to its sender): until they accept, whether they are around is none of the sender's business.
    Nobody else's in an ended lobby chat: the strangers parted."""
    return user_id == viewer_id or (request == "" and not closed)


def room_presence_ids(*, user, room_id: int) -> list[int]:
    """The ids of the room's members whose presence one of them sees (presence_shown); RoomNotVisible
    for anyone else. One query."""
    members = list(Membership.objects.filter(room_id=room_id).values_list("user_id", "request", "room__closed_at"))
    if all(user_id != user.pk for user_id, *_ in members):
        raise RoomNotVisible()
    return [
        user_id
        for user_id, request, closed_at in members
        if presence_shown(user_id=user_id, request=request, viewer_id=user.pk, closed=closed_at is not None)
    ]


def memberships_of_user(*, user) -> list[Membership]:
    """The person's rooms, most recently active first, each room with its newest message in
    `last_message` (None in a room without one) and each membership with the other person of a
    direct room in `peer` (None elsewhere).

    Three queries whatever the number of rooms: memberships with their rooms, direct peers, and the
    newest messages, found by joining each room to its message with seq = room.last_seq (a lookup
    in the unique (room, seq) index per room).
    """
    memberships = list(
        Membership.objects.filter(user=user, request="")  # message requests are listed apart
        .select_related("room")
        .defer("joined_at")
        .order_by(*RECENT_FIRST)
    )
    # The peers themselves, not their memberships through a prefetch: a fifth of the time for 500 rooms.
    peers = (
        User.objects.filter(memberships__room__kind=Room.Kind.DIRECT, memberships__room__memberships__user=user)
        .exclude(pk=user.pk)
        .annotate(direct_room_id=F("memberships__room_id"))
        .only(*USER_SUMMARY_FIELDS)
    )
    peer_of = {peer.direct_room_id: peer for peer in peers}
    newest = (
        Message.objects.filter(room__memberships__user=user, seq=F("room__last_seq"))
        .select_related("author")
        .only("room", "seq", "body", "created_at", "deleted_at", "author", *user_summary_of("author"))
    )
    last_of = {message.room_id: message for message in newest}
    for membership in memberships:
        room = membership.room
        room.last_message = last_of.get(room.pk)
        membership.peer = peer_of.get(room.pk)
    return memberships


@dataclass(frozen=True)
class RoomList:
    """The rooms list as rows, for a payload built without model instances (500 rooms were 2,500 of them).

    rows: ROOM_LIST_COLUMNS of each of my rooms, most recently active first, times as text (chat.events.Moment);
    the newest message's columns (its body cut to the preview) are None in a room without messages.
    peers: room id -> USER_SUMMARY_FIELDS of the other person, for each listed direct room that has one
    (the ORM's reading may also hold those of rooms listed apart as requests: never read).
    online: the ids of those peers I see online (presence_shown).
    """

    rows: list[tuple]
    peers: dict[int, list]
    online: set[int]


def room_list(*, user) -> RoomList:
    """My rooms as memberships_of_user gives them, as rows, with presence: three queries (rooms, direct
    peers, blocks) built by the ORM and one Redis round trip, whatever the number of rooms. On
    PostgreSQL the list is read as room_list_json instead (rooms.api.my_rooms); a test holds the two equal.

    The newest message is joined on seq = room.last_seq (a lookup in the unique (room, seq) index
    per room) and only its preview is read; times come as the API's text.
    """
    user_id = user.pk
    rows = list(
        Membership.objects.filter(user_id=user_id, request="")  # message requests are listed apart
        .annotate(
            last=FilteredRelation("room__messages", condition=Q(room__messages__seq=F("room__last_seq"))),
            last_preview=Left("last__body", REPLY_PREVIEW_CHARS),
            room_created_at=Moment("room__created_at"),
            room_last_message_at=Moment("room__last_message_at"),
            room_closed_at=Moment("room__closed_at"),
            last_created_at=Moment("last__created_at"),
        )
        .order_by(*RECENT_FIRST)
        .values_list(*ROOM_LIST_COLUMNS)
    )
    peers = (
        Membership.objects.filter(room__kind=Room.Kind.DIRECT, room__memberships__user_id=user_id)
        .exclude(user_id=user_id)
        .order_by("room_id", "user_id")  # the peer is the lowest id, as in room_list_json (see _peers_shown)
        .values_list("room_id", "request", *user_summary_of("user"))
    )
    peer_of, shown = _peers_shown(peers, viewer_id=user_id)
    online = online_visible_to(viewer_id=user_id, user_ids=shown) if shown else set()
    return RoomList(rows=rows, peers=peer_of, online=online)


def room_list_json(*, user_id: int) -> str:
    """On PostgreSQL, the rooms list's JSON text, the same characters as rooms.api.room_list_payload
    gives to the renderer (a test holds them equal): one prepared statement writes each room's JSON,
    and only what PostgreSQL cannot know is filled in here, the peers' presence (one Redis round trip)
    and avatar URLs.

    Reading 500 rows of 29 columns, building their dicts and writing them with orjson took a daphne
    serving the list about 4 ms of CPU per request more than this; PostgreSQL spends about 3 ms more
    writing the text than sending the rows.
    """
    with prepared_cursor() as cursor:
        cursor.execute(_ROOM_LIST_JSON_SQL, {"user": Int8(user_id)})  # one prepared copy for any id
        rooms = [room for (room,) in cursor.fetchall()]
    # Joined here rather than by string_agg: PostgreSQL then also sorted and copied the 295 KB
    # of 500 rooms' text (about 0.7 ms of its CPU), where the join costs this process 0.1 ms.
    return _holes_filled("[" + ",".join(rooms) + "]")


# The statement leaves a hole where a value needs Python: HOLE, a kind, its argument, HOLE. HOLE is a
# control character, which PostgreSQL escapes in every string it writes as JSON ("\u0001"), so the
# text has no other. Kinds: ONLINE + the id of a peer whose presence I may see; AVATAR + the
# thumbnail's name, as a JSON string.
HOLE, ONLINE, AVATAR = "\x01", "o", "a"


def _holes_filled(text: str) -> str:
    parts = text.split(HOLE)  # the holes are at the odd indexes
    if len(parts) == 1:
        return text
    holes = parts[1::2]
    # Each distinct hole once: the same author's avatar URL recurs in many rooms (a storage's url()
    # can be costly: a signed URL per call on S3).
    distinct = set(holes)
    online = presence.online_among_now([int(hole[1:]) for hole in distinct if hole[0] == ONLINE])
    value_of = {hole: _hole_value(hole, online) for hole in distinct}
    parts[1::2] = map(value_of.__getitem__, holes)
    return "".join(parts)


def _hole_value(hole: str, online: set[int]) -> str:
    if hole[0] == ONLINE:
        return "true" if int(hole[1:]) in online else "false"
    return orjson.dumps(avatar_url(orjson.loads(hole[1:]))).decode()


def _peers_shown(peers: Iterable[tuple], *, viewer_id: int) -> tuple[dict[int, list], list[int]]:
    """From (room id, request, *USER_SUMMARY_FIELDS) of direct rooms' other members: room id -> the
    person's fields, and the ids of those whose presence the viewer may see (presence_shown). A direct
    room a repair in the admin left with a third member shows its first person (the lowest id)."""
    peer_of, shown = {}, []
    for room_id, request, *person in peers:
        if room_id in peer_of:
            continue
        peer_of[room_id] = person
        if presence_shown(user_id=person[0], request=request, viewer_id=viewer_id):
            shown.append(person[0])
    return peer_of, shown


def _user_json(alias: str) -> str:
    """SQL writing chat.events.user_summary's JSON for the accounts_user row `alias` (not null), less its
    closing brace (a peer's object goes on): the head a trigger keeps in the row (accounts_user.summary_head:
    migration rooms 0004), then the avatar's hole."""
    return (
        f"""{alias}.summary_head || ',"avatar_thumbnail_url":' || CASE WHEN {alias}.avatar_thumbnail = '' THEN 'null'"""
        f""" ELSE '{HOLE}{AVATAR}' || to_json({alias}.avatar_thumbnail)::text || '{HOLE}' END"""
    )


def _time_json(column: str) -> str:
    """SQL writing a time column as the renderer writes `moment`'s text: a JSON string, or null."""
    return f"coalesce({moment_sql(column, quoted=True)}, 'null')"


def _choice_json(column: str, choices: type[models.TextChoices]) -> str:
    """SQL writing a choice column as a JSON string: its known values as constants, any other through
    to_json (whose price is mostly looking up how to write the column's type, on every call)."""
    # Written into the statement as they are: a value needing quoting in SQL or escaping in JSON
    # would break both, so only plain names are allowed (checked when this module is imported).
    if not all(re.fullmatch(r"[a-z_]+", value) for value in choices.values):
        raise ImproperlyConfigured(f"{choices.__name__}'s values must be plain names to be written into SQL")
    known = " ".join(f"""WHEN '{value}' THEN '"{value}"'""" for value in choices.values)
    return f"CASE {column} {known} ELSE to_json({column})::text END"


# rooms.api._my_room's JSON for each of my rooms (MyRoomSerializer's keys, in order), in the list's
# order. The room's fields up to created_at a trigger keeps written in its row (rooms_room.list_head:
# migration rooms 0004), where writing them per request took about 0.35 ms. The other member of a
# direct room: one, the lowest id (a repair in the admin can leave a third), whose presence I may see
# unless a block (either way) or their waiting request hides it; read for all my direct rooms in one
# set rather than looked up room by room (a lateral subquery's 500 runs cost about 0.1 ms more).
# Built from constants only: nothing from a request reaches the text.
_ROOM_LIST_JSON_SQL = f"""
WITH hidden AS (
    SELECT blocked_id AS id FROM accounts_block WHERE blocker_id = %(user)s
    UNION SELECT blocker_id FROM accounts_block WHERE blocked_id = %(user)s
)
SELECT
    '{{"room":' || m.list_head || ',"last_message_at":' || {_time_json("m.last_message_at")}
    || ',"last_seq":' || m.last_seq || ',"closed_at":' || {_time_json("m.closed_at")}
    || '}},"membership":{{"role":' || {_choice_json("m.role", Membership.Role)}
    || ',"last_read_seq":' || m.last_read_seq
    || ',"notification_level":' || {_choice_json("m.notification_level", Membership.Notify)}
    || '}},"unread":' || greatest(0, m.last_seq - m.last_read_seq)
    || ',"peer":' || CASE WHEN peer.id IS NULL THEN 'null' ELSE {_user_json("peer")} || ',"online":'
        || CASE WHEN peer.shown THEN '{HOLE}{ONLINE}' || peer.id || '{HOLE}' ELSE 'false' END || '}}' END
    || ',"last_message":' || CASE WHEN last.id IS NULL THEN 'null' ELSE '{{"id":' || last.id || ',"seq":' || last.seq
        || ',"author":' || CASE WHEN author.id IS NULL THEN 'null' ELSE {_user_json("author")} || '}}' END
        || ',"body":' || to_json(LEFT(last.body, {int(REPLY_PREVIEW_CHARS)}))::text
        || ',"created_at":' || {_time_json("last.created_at")}
        || ',"deleted":' || (last.deleted_at IS NOT NULL) || '}}' END
    || '}}'
  FROM (
    SELECT m.room_id, m.role, m.last_read_seq, m.notification_level, r.list_head, r.created_at, r.last_message_at,
           r.last_seq, r.closed_at
      FROM rooms_membership m JOIN rooms_room r ON r.id = m.room_id
     WHERE m.user_id = %(user)s AND m.request = ''
  ) m
  LEFT JOIN chat_message last ON last.room_id = m.room_id AND last.seq = m.last_seq
  LEFT JOIN accounts_user author ON author.id = last.author_id
  LEFT JOIN (
    SELECT DISTINCT ON (other.room_id) other.room_id, u.id, u.summary_head, u.avatar_thumbnail,
           other.request = '' AND u.id NOT IN (SELECT id FROM hidden) AS shown
      FROM rooms_membership mine JOIN rooms_room pair ON pair.id = mine.room_id
      JOIN rooms_membership other ON other.room_id = mine.room_id JOIN accounts_user u ON u.id = other.user_id
     WHERE mine.user_id = %(user)s AND mine.request = '' AND pair.kind = '{Room.Kind.DIRECT.value}'
       AND other.user_id <> %(user)s
     ORDER BY other.room_id, other.user_id
  ) peer ON peer.room_id = m.room_id
 ORDER BY m.last_message_at DESC NULLS LAST, m.created_at DESC, m.room_id DESC
"""  # noqa: S608


def room_visible(*, user, room_id: int) -> Room | None:
    """A room the person is in, or any public group room (which anyone may look at and join)."""
    is_member = Exists(Membership.objects.filter(room=OuterRef("pk"), user=user))
    listed = Q(kind=Room.Kind.GROUP, is_public=True, closed_at__isnull=True)
    return Room.objects.filter(Q(is_member) | listed, pk=room_id).first()


def room_detail(*, user, room_id: int) -> Room | None:
    """A visible room with its members (owners first) in `member_list`: two queries."""
    room = room_visible(user=user, room_id=room_id)
    if room is not None:
        room.member_list = list(room_members(room_id=room.pk))
    return room


def room_members(*, room_id: int) -> QuerySet[Membership]:
    rank = Case(*(When(role=role, then=Value(order)) for order, role in enumerate(ROLE_ORDER)))
    return Membership.objects.filter(room_id=room_id).select_related("user").order_by(rank, "joined_at", "id")


def member_ids(*, room_id: int) -> list[int]:
    return list(Membership.objects.filter(room_id=room_id).order_by("user_id").values_list("user_id", flat=True))


def owners_remaining(*, room_id: int, excluding_user_id: int | None = None) -> int:
    owners = Membership.objects.filter(room_id=room_id, role=Membership.Role.OWNER)
    if excluding_user_id is not None:
        owners = owners.exclude(user_id=excluding_user_id)
    return owners.count()


def longest_standing_member(*, room_id: int, excluding_user_id: int) -> Membership | None:
    return (
        Membership.objects.filter(room_id=room_id)
        .exclude(user_id=excluding_user_id)
        .select_related("user")
        .order_by("joined_at", "id")
        .first()
    )


def invites_pending(*, user) -> QuerySet[RoomInvite]:
    """Invitations the person can still accept: not those to rooms archived since (read-only, nobody new comes in)."""
    return (
        RoomInvite.objects.filter(user=user, accepted_at__isnull=True, room__closed_at__isnull=True)
        .select_related("room", "invited_by")
        .order_by("-created_at", "-id")
    )


# The public room directory


def listed_rooms() -> QuerySet[Room]:
    """The rooms of the directory: public group rooms, not archived (rooms.services.room_archive)."""
    return Room.objects.filter(kind=Room.Kind.GROUP, is_public=True, closed_at__isnull=True)


def public_rooms(*, viewer, category: str = "", query: str = "", sort: str = "activity") -> QuerySet[Room]:
    """Public group rooms, each with `member_count` and whether the viewer `joined` it: one query.

    `category` matches exactly (case-insensitive), `query` is a part of the title; `sort` is
    "activity" (newest message first) or "size" (most members first).
    """
    rooms = listed_rooms()
    if category:
        rooms = rooms.filter(category__iexact=category)
    if query:
        rooms = rooms.filter(title__icontains=query)
    joined = Exists(Membership.objects.filter(room=OuterRef("pk"), user=viewer))
    return rooms.annotate(member_count=Count("memberships"), joined=joined).order_by(*PUBLIC_SORTS[sort])


def public_categories() -> list[str]:
    """The categories of public rooms, for browsing, alphabetically (case-insensitively once each)."""
    names = listed_rooms().exclude(category="")
    unique = {name.lower(): name for name in names.order_by("-category").values_list("category", flat=True)}
    return sorted(unique.values(), key=str.lower)


def public_room_counts(*, limit: int) -> list[dict]:
    """The `limit` largest public rooms as {"id", "members"}, for the lobby's live counts."""
    rooms = listed_rooms().annotate(member_count=Count("memberships"))
    rows = rooms.order_by(*PUBLIC_SORTS["size"]).values_list("pk", "member_count")[:limit]
    return [{"id": pk, "members": members} for pk, members in rows]
