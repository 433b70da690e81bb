"""Who is online, counted per connection so that tabs, processes and crashes all add up.

Each open socket keeps an entry in its person's sorted set, scored by when it expires, and
refreshes it every heartbeat. A person is online while the set holds an unexpired entry: closing
one of three tabs changes nothing, and the sockets of a process that crashed simply stop
counting once their entries expire, whichever process asks.

Going offline is announced exactly once: by the last socket to close, or, when the last ones died
with their process, by whichever process's sweeper claims the person first. An index of online
people (scored by their latest expiry) tells sweepers whom to look at; claiming removes the
person from it, and scripts make each step atomic.

With REDIS_URL the sets live in Redis, shared by every process; without it (embedded mode, one
process) in this process's memory.
"""

import asyncio
import logging
import time
import weakref
from functools import cache

import redis.asyncio as redis
from asgiref.sync import async_to_sync
from django.conf import settings

from chat import redis_sync

logger = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_SECONDS = 20.0
SWEEP_BATCH = 500


def heartbeat_seconds() -> float:
    return float(getattr(settings, "WS_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS))


def ttl_seconds() -> float:
    # Two and a half beats: one late heartbeat does not make anybody flicker offline.
    return heartbeat_seconds() * 2.5


async def connection_alive(*, user_id: int, connection: str) -> bool:
    """Record (or refresh) one connection; True when the person was offline until now."""
    return await _backend().alive(user_id, connection, time.time())


async def connections_alive(entries: list[tuple[int, str]]) -> list[bool]:
    """connection_alive for many (user id, connection) pairs at once: one round trip."""
    return await _backend().alive_many(entries, time.time()) if entries else []


async def connection_gone(*, user_id: int, connection: str) -> bool:
    """Forget one connection; True when it was the person's last (announce them offline)."""
    return await _backend().gone(user_id, connection, time.time())


async def is_online(*, user_id: int) -> bool:
    return await _backend().count(user_id, time.time()) > 0


async def online_among(user_ids: list[int]) -> set[int]:
    """Which of these people are online now, in one round trip however many (a page's first view)."""
    return await _backend().online_among(list(user_ids), time.time()) if user_ids else set()


def online_among_now(user_ids: list[int]) -> set[int]:
    """online_among for synchronous code (views, selectors, tasks), without an event loop."""
    if not user_ids:
        return set()
    if getattr(settings, "REDIS_URL", ""):
        # The ids go as one argument and only the online ones come back: for a list of 1,000,
        # redis-py encoding 1,000 arguments and parsing 1,000 scores took twice this script's time.
        joined = ",".join(str(int(user_id)) for user_id in user_ids)
        found = _online_among_script()(keys=[_RedisSets._index()], args=[joined, time.time()])
        return {int(user_id) for user_id in found}
    return async_to_sync(online_among)(user_ids)


def online_count_now() -> int:
    """How many people are online now (the lobby's live count): one Redis call, for synchronous code."""
    now = time.time()
    if getattr(settings, "REDIS_URL", ""):
        return redis_sync.client().zcount(online_index_key(), f"({now}", "+inf")
    return sum(1 for entries in list(_LOCAL.sets.values()) if max(entries.values(), default=0) > now)


def online_index_key() -> str:
    """The Redis sorted set of online people, scored by when their latest connection expires
    (rooms.lobby's matcher reads it, so that nobody whose process died is paired)."""
    return _RedisSets._index()


@cache
def _online_among_script():
    return redis_sync.client().register_script(_ONLINE_AMONG)


def _online(user_ids: list[int], expiries: list[float | None], now: float) -> set[int]:
    # The index scores each online person by their latest connection's expiry.
    return {user_id for user_id, expiry in zip(user_ids, expiries, strict=True) if expiry and expiry > now}


async def sweep() -> list[int]:
    """People whose every connection expired without closing; each is returned to one caller only."""
    return await _backend().sweep(time.time())


def _backend():
    return _RedisSets() if getattr(settings, "REDIS_URL", "") else _LOCAL


# KEYS: the index. ARGV: user ids joined by commas, now. The online ones among them (see _online).
_ONLINE_AMONG = """
local ids, online, now = {}, {}, tonumber(ARGV[2])
for id in string.gmatch(ARGV[1], '%d+') do ids[#ids + 1] = id end
for first = 1, #ids, 500 do
  local last = math.min(first + 499, #ids)
  local expiries = redis.call('ZMSCORE', KEYS[1], unpack(ids, first, last))
  for i = 1, last - first + 1 do
    if expiries[i] and tonumber(expiries[i]) > now then online[#online + 1] = ids[first + i - 1] end
  end
end
return online
"""
# KEYS: the person's set, the index. ARGV: connection, now, expiry, key ttl, user id.
_ALIVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[5])
return before
"""
# KEYS: the person's set, the index. ARGV: connection, now, user id.
_GONE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[3])
"""
# KEYS: the index. ARGV: now, prefix of the people's sets, batch size.
_SWEEP = """
local gone = {}
for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])) do
  local key = ARGV[2] .. user
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  if redis.call('ZCARD', key) == 0 then
    redis.call('ZREM', KEYS[1], user)
    table.insert(gone, user)
  end
end
return gone
"""


class _RedisSets:
    async def alive(self, user_id: int, connection: str, now: float) -> bool:
        return (await self.alive_many([(user_id, connection)], now))[0]

    async def alive_many(self, entries: list[tuple[int, str]], now: float) -> list[bool]:
        ttl = ttl_seconds()
        async with _client().pipeline(transaction=False) as pipe:
            for user_id, connection in entries:
                keys = [self._key(user_id), self._index()]
                pipe.eval(_ALIVE, 2, *keys, connection, now, now + ttl, int(ttl) + 1, user_id)
            return [before == 0 for before in await pipe.execute()]

    async def gone(self, user_id: int, connection: str, now: float) -> bool:
        return await _client().eval(_GONE, 2, self._key(user_id), self._index(), connection, now, user_id) == 1

    async def count(self, user_id: int, now: float) -> int:
        key = self._key(user_id)
        async with _client().pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zcard(key)
            _, left = await pipe.execute()
        return left

    async def online_among(self, user_ids: list[int], now: float) -> set[int]:
        return _online(user_ids, await _client().zmscore(self._index(), user_ids), now)

    async def sweep(self, now: float) -> list[int]:
        gone = await _client().eval(_SWEEP, 1, self._index(), now, self._key(""), SWEEP_BATCH)
        return [int(user_id) for user_id in gone]

    @staticmethod
    def _key(user_id) -> str:
        return f"{_prefix()}:presence:{user_id}"

    @staticmethod
    def _index() -> str:
        return f"{_prefix()}:presence-index"


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "parley"


# One client per event loop: a redis.asyncio connection belongs to the loop that opened it
# (daphne runs one loop per process; tests run one per test).
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.Redis]" = weakref.WeakKeyDictionary()


def _client() -> redis.Redis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = redis.from_url(settings.REDIS_URL)
    return client


class _LocalSets:
    """The same sets in a dict, for a single embedded process (consumers all run on its one loop)."""

    def __init__(self):
        self.sets: dict[int, dict[str, float]] = {}

    async def alive(self, user_id: int, connection: str, now: float) -> bool:
        before = await self.count(user_id, now)
        self.sets.setdefault(user_id, {})[connection] = now + ttl_seconds()
        return before == 0

    async def alive_many(self, entries: list[tuple[int, str]], now: float) -> list[bool]:
        return [await self.alive(user_id, connection, now) for user_id, connection in entries]

    async def gone(self, user_id: int, connection: str, now: float) -> bool:
        had = user_id in self.sets
        self.sets.get(user_id, {}).pop(connection, None)
        return had and await self.count(user_id, now) == 0

    async def count(self, user_id: int, now: float) -> int:
        entries = {name: expiry for name, expiry in self.sets.get(user_id, {}).items() if expiry > now}
        if entries:
            self.sets[user_id] = entries
        else:
            self.sets.pop(user_id, None)
        return len(entries)

    async def online_among(self, user_ids: list[int], now: float) -> set[int]:
        return {user_id for user_id in user_ids if await self.count(user_id, now)}

    async def sweep(self, now: float) -> list[int]:
        expired = [user_id for user_id, entries in self.sets.items() if max(entries.values(), default=0) <= now]
        for user_id in expired:
            del self.sets[user_id]
        return expired


_LOCAL = _LocalSets()
