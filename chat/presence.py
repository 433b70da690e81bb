"""Who is online, counted per connection so that tabs, processes and crashes all add up.

Each open socket keeps an entry in its person's sorted set, scored by when it expires, and
refreshes it every heartbeat. A person is online while the set holds an unexpired entry: closing
one of three tabs changes nothing, and the sockets of a process that crashed simply stop
counting once their entries expire, whichever process asks.

With REDIS_URL the sets live in Redis, shared by every process; without it (embedded mode, one
process) in this process's memory.
"""

import asyncio
import time
import weakref

import redis.asyncio as redis
from django.conf import settings

DEFAULT_HEARTBEAT_SECONDS = 20.0


def heartbeat_seconds() -> float:
    return float(getattr(settings, "WS_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS))


def ttl_seconds() -> float:
    # Two and a half beats: one late heartbeat does not make anybody flicker offline.
    return heartbeat_seconds() * 2.5


async def connection_alive(*, user_id: int, connection: str) -> bool:
    """Record (or refresh) one connection; True when the person was offline until now."""
    return await _backend().alive(user_id, connection, time.time())


async def connection_gone(*, user_id: int, connection: str) -> bool:
    """Forget one connection; True when the person has no live connection left."""
    return await _backend().gone(user_id, connection, time.time())


async def is_online(*, user_id: int) -> bool:
    return await _backend().count(user_id, time.time()) > 0


def _backend():
    return _RedisSets() if getattr(settings, "REDIS_URL", "") else _LOCAL


class _RedisSets:
    async def alive(self, user_id: int, connection: str, now: float) -> bool:
        key = self._key(user_id)
        ttl = ttl_seconds()
        async with _client().pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zcard(key)
            pipe.zadd(key, {connection: now + ttl})
            pipe.expire(key, int(ttl) + 1)
            _, before, _, _ = await pipe.execute()
        return before == 0

    async def gone(self, user_id: int, connection: str, now: float) -> bool:
        key = self._key(user_id)
        async with _client().pipeline(transaction=True) as pipe:
            pipe.zrem(key, connection)
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zcard(key)
            _, _, left = await pipe.execute()
        return left == 0

    async def count(self, user_id: int, now: float) -> int:
        key = self._key(user_id)
        async with _client().pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zcard(key)
            _, left = await pipe.execute()
        return left

    @staticmethod
    def _key(user_id: int) -> str:
        prefix = settings.CACHES["default"].get("KEY_PREFIX") or "parley"
        return f"{prefix}:presence:{user_id}"


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

    async def gone(self, user_id: int, connection: str, now: float) -> bool:
        self.sets.get(user_id, {}).pop(connection, None)
        return await self.count(user_id, now) == 0

    async def count(self, user_id: int, now: float) -> int:
        entries = {name: expiry for name, expiry in self.sets.get(user_id, {}).items() if expiry > now}
        if entries:
            self.sets[user_id] = entries
        else:
            self.sets.pop(user_id, None)
        return len(entries)


_LOCAL = _LocalSets()
