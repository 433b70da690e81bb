"""Each person's friend ids, kept in Redis beside the presence index, for "who of my friends is online".

The friends list puts online friends first, so every page needs to know which of all (say 1,000)
friends are online. Asking PostgreSQL for the ids and Redis about each of them cost two round
trips and a script over 1,000 ids on every page. With the ids kept as a Redis set, one call
intersects that set with the presence index (`ZINTER` walks the smaller of the two).

The set is a cache: rebuilt from PostgreSQL when absent, dropped when a friendship of its owner
is written or deleted (after the commit), and expiring after FRIEND_SET_TTL_SECONDS whatever
happens. Each drop also counts up the owner's generation: a read that found no set keeps the one
it builds only if the generation is still the one it found, so a friendship committed while it
read PostgreSQL cannot be left out of a kept set (that request answers from what it read). An
extra id cannot show anyone anyway, because the page itself is read from PostgreSQL's
friendships (accounts.selectors).
"""

import logging
import time
from functools import cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Friendship
from chat import presence, redis_sync
from chat.db import on_commit_robust

logger = logging.getLogger(__name__)

FRIEND_SET_TTL_SECONDS = 300
# Always a member, so that someone with no friends has a set too (Redis drops empty sets); no
# account has id 0, so the presence index never holds it.
_PRESENT = "0"


def online_friend_ids(user_id: int) -> set[int]:
    """Which of this person's friends are online now: one Redis call while their set is kept."""
    now = time.time()
    keys = [_key(user_id), presence.online_index_key(), _generation_key(user_id)]
    found = _script(_ONLINE_FRIENDS)(keys=keys, args=[now])
    if isinstance(found, int):  # no set: the generation it was missing at
        joined = _friend_ids_joined(user_id)
        found = _script(_REBUILD_ONLINE_FRIENDS)(keys=keys, args=[now, joined, FRIEND_SET_TTL_SECONDS, _PRESENT, found])
        if found is None:  # a drop came meanwhile: no set kept, this read answers from its own ids
            return presence.online_among_now([int(friend_id) for friend_id in joined.split(",") if friend_id])
    return {int(friend_id) for friend_id in found}


def forget(user_ids: set[int]) -> None:
    """Drop these people's sets once the transaction commits (their friendships changed).

    The ids wait on the database connection, and the transaction's first callback after the commit
    drops them all in one Redis call: deleting someone with 1,000 friends deletes 2,000 friendship
    rows one by one (post_delete), and the callbacks of all but the first find nothing left to do.
    Ids of a transaction rolled back wait for the next commit on the connection: one drop too many.
    """
    if not _enabled():
        return
    database = connections[DEFAULT_DB_ALIAS]
    pending = getattr(database, _PENDING, None)
    if pending is None:
        pending = set()
        setattr(database, _PENDING, pending)
    pending.update(user_ids)
    on_commit_robust(_drop_pending)


_PENDING = "friend_sets_pending"


def _drop_pending() -> None:
    pending = getattr(connections[DEFAULT_DB_ALIAS], _PENDING, None)
    if pending:
        user_ids = set(pending)
        pending.clear()
        _delete(user_ids)


def _delete(user_ids: set[int]) -> None:
    try:
        keys = [key for user_id in user_ids for key in (_key(user_id), _generation_key(user_id))]
        _script(_FORGET)(keys=keys, args=[FRIEND_SET_TTL_SECONDS])
    except Exception:  # Redis down: the sets expire on their own
        logger.exception("friend sets of %s not dropped; they expire within %s s", user_ids, FRIEND_SET_TTL_SECONDS)


@receiver(post_save, sender=Friendship, dispatch_uid="friend_sets_saved")
@receiver(post_delete, sender=Friendship, dispatch_uid="friend_sets_deleted")
def _friendship_changed(sender, instance: Friendship, **kwargs) -> None:
    forget({instance.user_id, instance.friend_id})


def _enabled() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def _friend_ids_joined(user_id: int) -> str:
    # One comma-joined value, as the script takes it: 1,000 rows joined in Python cost four times the query.
    with connection.cursor() as cursor:
        cursor.execute(_FRIEND_IDS_JOINED_SQL[connection.vendor == "postgresql"], [user_id])
        return cursor.fetchone()[0] or ""


_FRIEND_IDS_JOINED_SQL = {
    True: "SELECT string_agg(friend_id::text, ',') FROM accounts_friendship WHERE user_id = %s",
    False: "SELECT group_concat(friend_id, ',') FROM accounts_friendship WHERE user_id = %s",
}


def _key(user_id: int) -> str:
    return f"{presence.online_index_key()}:friends:{int(user_id)}"


def _generation_key(user_id: int) -> str:
    # Counted up by every drop of the set; kept as long as a set, which is far longer than a read.
    return f"{presence.online_index_key()}:friends-generation:{int(user_id)}"


@cache
def _script(source: str):
    return redis_sync.client().register_script(source)


# KEYS: the person's friend set, the presence index, the set's generation. ARGV: now. When the set
# is absent, its generation (an integer); else the online friends' ids. WEIGHTS 0 1: each id's
# score is its expiry in the index.
_ONLINE_FRIENDS_BODY = """
local found, online = redis.call('ZINTER', 2, KEYS[1], KEYS[2], 'WEIGHTS', 0, 1, 'WITHSCORES'), {}
for i = 1, #found, 2 do
  if tonumber(found[i + 1]) > tonumber(ARGV[1]) then online[#online + 1] = found[i] end
end
return online
"""
_GENERATION = "local generation = tonumber(redis.call('GET', KEYS[3]) or '0')\n"
_ONLINE_FRIENDS = (
    _GENERATION + "if redis.call('EXISTS', KEYS[1]) == 0 then return generation end\n" + _ONLINE_FRIENDS_BODY
)
# The same after making the set. ARGV: now, the friend ids joined by commas, the set's ttl, the
# marker, the generation the set was found missing at. nil when a drop came since: the ids may lack
# a new friend, so no set is kept (the caller asks chat.presence about the ids it read).
_REBUILD_ONLINE_FRIENDS = (
    _GENERATION
    + """
if generation ~= tonumber(ARGV[5]) then return nil end
local ids = {ARGV[4]}
for id in string.gmatch(ARGV[2], '%d+') do ids[#ids + 1] = id end
redis.call('DEL', KEYS[1])
for first = 1, #ids, 500 do redis.call('SADD', KEYS[1], unpack(ids, first, math.min(first + 499, #ids))) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""
    + _ONLINE_FRIENDS_BODY
)
# KEYS: each person's set then generation, in pairs. ARGV: the generation's ttl.
_FORGET = """
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
end
"""
