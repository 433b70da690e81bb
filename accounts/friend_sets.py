"""Each person's friend ids, kept in Redis beside the presence index, for "who of my friends is online".

The friends list puts online friends first, so every page needs to know which of all (say 1,000)
friends are online. Asking PostgreSQL for the ids and Redis about each of them cost two round
trips and a script over 1,000 ids on every page. With the ids kept as a Redis set, one call
intersects that set with the presence index (`ZINTER` walks the smaller of the two).

The set is a cache: rebuilt from PostgreSQL when absent, dropped when a friendship of its owner
is written or deleted (after the commit), and expiring after FRIEND_SET_TTL_SECONDS whatever
happens. A read that loses a race with a new friendship can put back a set without the new
friend, who then shows offline until the set expires; an extra id cannot show anyone, because
the page itself is read from PostgreSQL's friendships (accounts.selectors).
"""

import logging
import time
from functools import cache

from django.conf import settings
from django.db import connection
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
    found = _script(_ONLINE_FRIENDS)(keys=[_key(user_id), presence.online_index_key()], args=[now])
    if found is None:
        found = _script(_REBUILD_ONLINE_FRIENDS)(
            keys=[_key(user_id), presence.online_index_key()],
            args=[now, _friend_ids_joined(user_id), FRIEND_SET_TTL_SECONDS, _PRESENT],
        )
    return {int(friend_id) for friend_id in found}


def forget(user_ids: set[int]) -> None:
    """Drop these people's sets once the transaction commits (their friendships changed)."""
    if _enabled():
        on_commit_robust(lambda: _delete(user_ids))


def _delete(user_ids: set[int]) -> None:
    try:
        redis_sync.client().delete(*(_key(user_id) for user_id in user_ids))
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


@cache
def _script(source: str):
    return redis_sync.client().register_script(source)


# KEYS: the person's friend set, the presence index. ARGV: now. nil when the set is absent, else the
# online friends' ids. WEIGHTS 0 1: each id's score is its expiry in the index.
_ONLINE_FRIENDS_BODY = """
local found, online = redis.call('ZINTER', 2, KEYS[1], KEYS[2], 'WEIGHTS', 0, 1, 'WITHSCORES'), {}
for i = 1, #found, 2 do
  if tonumber(found[i + 1]) > tonumber(ARGV[1]) then online[#online + 1] = found[i] end
end
return online
"""
_ONLINE_FRIENDS = "if redis.call('EXISTS', KEYS[1]) == 0 then return nil end\n" + _ONLINE_FRIENDS_BODY
# The same after making the set. ARGV: now, the friend ids joined by commas, the set's ttl, the marker.
_REBUILD_ONLINE_FRIENDS = (
    """
local ids = {ARGV[4]}
for id in string.gmatch(ARGV[2], '%d+') do ids[#ids + 1] = id end
redis.call('DEL', KEYS[1])
for first = 1, #ids, 500 do redis.call('SADD', KEYS[1], unpack(ids, first, math.min(first + 499, #ids))) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""
    + _ONLINE_FRIENDS_BODY
)
