import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Case, Q, QuerySet, Value, When
from django.db.models.functions import Upper
from psycopg.types.numeric import Int8

from accounts import friend_sets
from accounts.models import Block, DmPolicy, FriendRequest, FriendRequestPolicy, Friendship, User
from chat import presence
from chat.db import prepared_cursor
from chat.events import Moment, moment_sql

USER_SEARCH_LIMIT = 20
FRIENDS_PAGE_SIZE = 100
# The user columns a friends list shows (PublicUserSerializer's), in selectors.Friend's order; the
# last, last_seen, is read as the API writes it (chat.events.moment), written by the database.
FRIEND_FIELDS = ("id", "handle", "display_name", "bio", "avatar", "avatar_thumbnail", "last_seen")


def handle_is_taken(handle: str, *, excluding: User | None = None) -> bool:
    users = User.objects.filter(handle__iexact=handle)
    if excluding is not None:
        users = users.exclude(pk=excluding.pk)
    return users.exists()


def active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True, email_verified_at__isnull=False)


def user_by_handle(handle: str) -> User | None:
    return active_users().filter(handle__iexact=handle).first()


def anyone_by_handle(handle: str) -> User | None:
    """For operators: the account with this handle, also when deactivated or never verified."""
    return User.objects.filter(handle__iexact=handle.lstrip("@")).first()


def user_search(*, query: str, viewer: User) -> QuerySet[User]:
    query = query.strip().lstrip("@")
    if not query:
        return User.objects.none()
    matches = Q(handle__istartswith=query) | Q(display_name__istartswith=query)
    return visible_users(viewer=viewer).filter(matches).exclude(pk=viewer.pk).order_by("handle")[:USER_SEARCH_LIMIT]


def visible_users(*, viewer: User) -> QuerySet[User]:
    """Active, verified people with no block either way between them and the viewer (one query)."""
    return active_users().exclude(pk__in=_blocked_ids_query(user_id=viewer.pk))


# Blocks


def _blocked_ids_query(*, user_id: int) -> QuerySet:
    # A subquery, so callers that filter by it stay one query.
    return (
        Block.objects.filter(blocker_id=user_id)
        .values("blocked_id")
        .union(Block.objects.filter(blocked_id=user_id).values("blocker_id"))
    )


def blocked_ids(*, user_id: int) -> set[int]:
    """People I blocked or who blocked me."""
    rows = Block.objects.filter(Q(blocker_id=user_id) | Q(blocked_id=user_id)).values_list("blocker_id", "blocked_id")
    return {other for pair in rows for other in pair if other != user_id}


def blocked_between(*, a_id: int, b_id: int) -> bool:
    return Block.objects.filter(Q(blocker_id=a_id, blocked_id=b_id) | Q(blocker_id=b_id, blocked_id=a_id)).exists()


def blocked_pairs(*, pairs: set[tuple[int, int]]) -> set[frozenset[int]]:
    """Which of these pairs of people are in a block (either way), in one query."""
    people = {person for pair in pairs for person in pair}
    if not people:
        return set()
    rows = Block.objects.filter(blocker_id__in=people, blocked_id__in=people).values_list("blocker_id", "blocked_id")
    wanted = {frozenset(pair) for pair in pairs}
    return {frozenset(row) for row in rows} & wanted


def has_blocked(*, blocker_id: int, blocked_id: int) -> bool:
    return Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).exists()


def blocks_by(*, user: User) -> QuerySet[Block]:
    return Block.objects.filter(blocker=user).select_related("blocked").order_by("-created_at", "-id")


# Friends


def friend_ids(*, user_id: int) -> set[int]:
    return set(Friendship.objects.filter(user_id=user_id).values_list("friend_id", flat=True))


def are_friends(*, a_id: int, b_id: int) -> bool:
    return Friendship.objects.filter(user_id=a_id, friend_id=b_id).exists()


def have_common_friend(*, a_id: int, b_id: int) -> bool:
    return Friendship.objects.filter(
        user_id=a_id, friend_id__in=Friendship.objects.filter(user_id=b_id).values("friend_id")
    ).exists()


def dm_allowed(*, sender: User, recipient: User) -> bool:
    """May sender open or write a direct conversation with recipient?

    No when either blocked the other, or when the recipient takes messages from friends only and
    they are not friends. (Someone who takes strangers' messages as requests may be written to:
    dm_is_request says whether the conversation waits among their requests.)
    """
    if sender.pk == recipient.pk:
        return True
    if blocked_between(a_id=sender.pk, b_id=recipient.pk):
        return False
    return recipient.dm_policy != DmPolicy.FRIENDS or are_friends(a_id=sender.pk, b_id=recipient.pk)


def dm_is_request(*, sender: User, recipient: User) -> bool:
    """Does a direct conversation sender starts wait among recipient's message requests?"""
    return recipient.dm_policy == DmPolicy.REQUESTS and not are_friends(a_id=sender.pk, b_id=recipient.pk)


def friend_request_allowed(*, sender: User, recipient: User) -> bool:
    """The recipient's own rule about who may ask (blocks are decided elsewhere, silently)."""
    policy = recipient.friend_request_policy
    if policy == FriendRequestPolicy.NOBODY:
        return False
    if policy == FriendRequestPolicy.FRIENDS_OF_FRIENDS:
        return have_common_friend(a_id=sender.pk, b_id=recipient.pk)
    return True


def incoming_requests(*, user: User) -> QuerySet[FriendRequest]:
    return (
        FriendRequest.objects.filter(to_user=user).select_related("from_user", "to_user").order_by("-created_at", "-id")
    )


def outgoing_requests(*, user: User) -> QuerySet[FriendRequest]:
    return (
        FriendRequest.objects.filter(from_user=user)
        .select_related("from_user", "to_user")
        .order_by("-created_at", "-id")
    )


def friend_request_pending(*, from_id: int, to_id: int) -> FriendRequest | None:
    return FriendRequest.objects.filter(from_user_id=from_id, to_user_id=to_id).first()


@dataclass(frozen=True)
class Relationship:
    """What the viewer's buttons on someone's profile should offer."""

    friends: bool = False
    request_sent: FriendRequest | None = None
    request_received: FriendRequest | None = None
    blocked: bool = False


def profile_presence(*, viewer: User, person: User, relation: Relationship | None) -> bool | None:
    """Whether the person is online, as their profile shows it to the viewer: to themselves and their
    friends (the circle that sees it on the friends page); None, not shown, to anyone else."""
    if viewer.pk != person.pk and not (relation and relation.friends):
        return None
    return person.pk in presence.online_among_now([person.pk])


def relationship(*, viewer: User, other: User) -> Relationship:
    # Whether the other blocked the viewer is deliberately not part of it: the viewer is not told.
    if viewer.pk == other.pk:
        return Relationship()
    requests = {
        request.from_user_id: request
        for request in FriendRequest.objects.filter(
            Q(from_user=viewer, to_user=other) | Q(from_user=other, to_user=viewer)
        )
    }
    return Relationship(
        friends=are_friends(a_id=viewer.pk, b_id=other.pk),
        request_sent=requests.get(viewer.pk),
        request_received=requests.get(other.pk),
        blocked=has_blocked(blocker_id=viewer.pk, blocked_id=other.pk),
    )


@dataclass(frozen=True)
class Friend:
    """One person of my friends list: the columns of their public profile, and whether they are online."""

    id: int
    handle: str
    display_name: str
    bio: str
    avatar: str  # storage names, as the columns hold them ("" for none)
    avatar_thumbnail: str
    last_seen: str | None  # ISO 8601 in UTC, as the API writes times: 100 datetimes loaded and written
    online: bool  # back cost more than the rest of the page's rows

    @property
    def name(self) -> str:
        return self.display_name or self.handle

    @property
    def last_seen_at(self) -> datetime | None:
        return datetime.fromisoformat(self.last_seen) if self.last_seen else None


@dataclass(frozen=True)
class FriendsPage:
    friends: list[Friend]
    next_cursor: str | None
    total: int
    online: int


def friends_cursor_encode(key: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]}:{key[1]}".encode()).decode().rstrip("=")


def friends_cursor_decode(token: str) -> tuple[int, str]:
    """The key a cursor wraps; ValueError for anything friends_cursor_encode did not make."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError("not a cursor") from error
    rank, _, handle = text.partition(":")
    if rank not in ("0", "1") or not handle or len(handle) > 30:
        raise ValueError("not a cursor")
    return int(rank), handle.upper()


def friends_page(*, user: User, cursor: str | None = None, limit: int = FRIENDS_PAGE_SIZE) -> FriendsPage:
    """My friends, online first then by handle, one page after `cursor`.

    A constant cost whatever the number of friends: with Redis and PostgreSQL, one Redis call
    (who of my friends is online: accounts.friend_sets) and one prepared statement that counts
    and reads the page in index order, returning only the page's rows (as tuples: model
    instances cost more than the query). The order is recomputed per page from live presence,
    so someone who comes online between two pages can be shown twice or not at all; a reload
    puts them right.
    """
    after = friends_cursor_decode(cursor) if cursor else (-1, "")
    if connection.vendor == "postgresql":
        online = _online_friend_ids(user.pk)
        total, online_count, rows = _friend_page_sql(user_id=user.pk, online=online, after=after, limit=limit + 1)
    else:
        ids = _friend_ids(user.pk)
        online = presence.online_among_now(ids)
        total, online_count = len(ids), len(online)
        rows = _friend_rows_orm(user_id=user.pk, online=online, after=after, limit=limit + 1)
    page = [Friend(*row[2:], online=row[0] == 0) for row in rows[:limit]]
    return FriendsPage(
        friends=page,
        next_cursor=friends_cursor_encode(rows[limit - 1][:2]) if len(rows) > limit else None,
        total=total,
        online=online_count,
    )


def _online_friend_ids(user_id: int) -> set[int]:
    if getattr(settings, "REDIS_URL", ""):
        return friend_sets.online_friend_ids(user_id)
    return presence.online_among_now(_friend_ids(user_id))


def _friend_ids(user_id: int) -> list[int]:
    # Plain SQL (any database): the ORM spent twice the query's own time building this one line.
    with connection.cursor() as cursor:
        cursor.execute("SELECT friend_id FROM accounts_friendship WHERE user_id = %s", [user_id])
        return [friend_id for (friend_id,) in cursor.fetchall()]


# PostgreSQL: the counts and the page in one statement, prepared (planning it cost twice running
# it). The online friends are merged with the first offline ones read in order from the
# (user, friend_key "C") index, which stops after `limit` entries: 101 rows read, not every
# friend sorted. The counts are PostgreSQL's,
# so an id that Redis still keeps after an unfriending is never counted or shown. Columns:
# total, online, rank (0 online, 1 not), key (the upper-cased handle), then FRIEND_FIELDS.
_FRIEND_PAGE_SQL = """
WITH online AS (
    SELECT f.friend_id, f.friend_key FROM unnest(%(online)s::bigint[]) AS o(id)
      JOIN accounts_friendship f ON f.user_id = %(user)s AND f.friend_id = o.id
)
SELECT counts.total, counts.online, page.* FROM (
    SELECT (SELECT count(*) FROM accounts_friendship WHERE user_id = %(user)s) AS total,
           (SELECT count(*) FROM online) AS online
) counts LEFT JOIN (
    (SELECT 0 AS rank, o.friend_key COLLATE "C" AS key,
            u.id, u.handle, u.display_name, u.bio, u.avatar, u.avatar_thumbnail, {last_seen}
       FROM online o JOIN accounts_user u ON u.id = o.friend_id
      WHERE %(rank)s <= 0 AND o.friend_key COLLATE "C" > %(online_after)s
      ORDER BY o.friend_key COLLATE "C" LIMIT %(limit)s)
    UNION ALL
    (SELECT 1, f.friend_key COLLATE "C",
            u.id, u.handle, u.display_name, u.bio, u.avatar, u.avatar_thumbnail, {last_seen}
       FROM accounts_friendship f JOIN accounts_user u ON u.id = f.friend_id
      WHERE f.user_id = %(user)s AND NOT f.friend_id = ANY(%(online)s::bigint[])
        AND f.friend_key COLLATE "C" > %(offline_after)s
      ORDER BY f.friend_key COLLATE "C" LIMIT %(limit)s)
) page ON true
ORDER BY page.rank, page.key COLLATE "C"
LIMIT %(limit)s
""".replace("{last_seen}", moment_sql("u.last_seen"))  # a constant: no input reaches the text


def _friend_page_sql(*, user_id: int, online: set[int], after: tuple[int, str], limit: int) -> tuple[int, int, list]:
    rank, key = after
    parameters = {
        "user": user_id,
        # One array type whatever the ids' size (psycopg picks int2[], int4[] or int8[] by the largest
        # value otherwise): the statement is prepared once per connection, not once per type.
        "online": [Int8(friend_id) for friend_id in online],
        "rank": rank,
        "online_after": key if rank == 0 else "",
        "offline_after": key if rank == 1 else "",
        "limit": limit,
    }
    with prepared_cursor() as cursor:
        cursor.execute(_FRIEND_PAGE_SQL, parameters)
        rows = cursor.fetchall()
    total, online_count = rows[0][:2]
    return total, online_count, [row[2:] for row in rows if row[2] is not None]


def _friend_rows_orm(*, user_id: int, online: set[int], after: tuple[int, str], limit: int) -> list[tuple]:
    """(rank, key, *FRIEND_FIELDS) of the page: rank 0 online, 1 not; key the upper-cased handle."""
    rank = Case(When(friend_id__in=online, then=Value(0)), default=Value(1))
    return list(
        Friendship.objects.filter(user_id=user_id)
        .annotate(rank=rank, key=_handle_key("friend__handle"))
        .filter(Q(rank__gt=after[0]) | Q(rank=after[0], key__gt=after[1]))
        .order_by("rank", "key")
        .values_list("rank", "key", *(f"friend__{field}" for field in FRIEND_FIELDS[:-1]), Moment("friend__last_seen"))[
            :limit
        ]
    )


def _handle_key(field: str):
    # Handles are unique in any case, so (offline, upper(handle)) is a unique key. SQLite compares
    # byte by byte, as Python compares the cursor's key (PostgreSQL pages by friend_key "C" instead).
    return Upper(field)
