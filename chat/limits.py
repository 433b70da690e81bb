"""How fast one person may send: a token bucket that every server process shares.

A person may send MESSAGE_RATE_BURST messages at once, then MESSAGE_RATE_PER_SECOND on average.
With Redis the bucket is one Lua script: atomic, one round trip per send (or batch), on Redis's clock so
that processes on different hosts agree. Embedded (no Redis) there is one process, so a dict
under a lock serves: its buckets live in the local-memory cache.
"""

import hashlib
import logging
import math
import threading
import time

from django.conf import settings
from django.core.cache import cache as django_cache
from redis.exceptions import NoScriptError, RedisError
from rest_framework.throttling import ScopedRateThrottle

from chat import redis_sync

DEFAULT_BURST = 10
DEFAULT_PER_SECOND = 2.0
logger = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: float):
        self.retry_after = retry_after
        super().__init__(f"You are sending too fast. Try again in {math.ceil(retry_after)} s.")


def message_rate_take(*, user_id: int) -> None:
    """Spend one token of the person's bucket, or raise RateLimited with the wait for the next one."""
    [refusal] = message_rate_take_many(user_ids=[user_id])
    if refusal is not None:
        raise refusal


def lobby_rate_take(*, user_id: int) -> None:
    """The same for joining the lobby's queue and "Next" (one bucket for both), LOBBY_RATE_* settings."""
    burst, per_second = settings.LOBBY_RATE_BURST, settings.LOBBY_RATE_PER_SECOND
    [refusal] = _refusals(keys=[f"rate:lobby:{user_id}"], burst=burst, per_second=per_second)
    if refusal is not None:
        raise refusal


def friend_request_rate_take(*, user_id: int) -> None:
    """One friend request (FRIEND_REQUEST_RATE_* settings): asking, cancelling and asking again
    notifies each time, so the asking is what is limited, whatever becomes of the request."""
    per_second = settings.FRIEND_REQUEST_RATE_PER_HOUR / 3600
    burst = settings.FRIEND_REQUEST_RATE_BURST
    [refusal] = _refusals(keys=[f"rate:friend-request:{user_id}"], burst=burst, per_second=per_second)
    if refusal is not None:
        raise refusal


def room_invite_rate_take(*, user_id: int) -> None:
    """One room invitation (ROOM_INVITE_RATE_* settings): each notifies the person invited, so
    inviting is limited like friend requests are, whatever becomes of the invitation."""
    per_second = settings.ROOM_INVITE_RATE_PER_HOUR / 3600
    burst = settings.ROOM_INVITE_RATE_BURST
    [refusal] = _refusals(keys=[f"rate:room-invite:{user_id}"], burst=burst, per_second=per_second)
    if refusal is not None:
        raise refusal


def message_rate_take_many(*, user_ids: list[int]) -> list[RateLimited | None]:
    """message_rate_take for several sends at once, in order (one Redis round trip): for each, None
    when it may go, else the RateLimited to answer it with.

    If Redis is unreachable the messages go through: PostgreSQL, the record, is what a send
    needs, and refusing every message during a Redis outage would be worse than a brief window
    without a limit.
    """
    burst = getattr(settings, "MESSAGE_RATE_BURST", DEFAULT_BURST)
    per_second = getattr(settings, "MESSAGE_RATE_PER_SECOND", DEFAULT_PER_SECOND)
    return _refusals(keys=[f"rate:message:{user_id}" for user_id in user_ids], burst=burst, per_second=per_second)


def upload_rate_take(*, user_id: int) -> None:
    """One upload (chat.attachments), by the same rules: ATTACHMENT_RATE_BURST, then ATTACHMENT_RATE_PER_MINUTE."""
    per_second = settings.ATTACHMENT_RATE_PER_MINUTE / 60
    [refusal] = _refusals(keys=[f"rate:upload:{user_id}"], burst=settings.ATTACHMENT_RATE_BURST, per_second=per_second)
    if refusal is not None:
        raise refusal


def report_rate_take(*, user_id: int) -> None:
    """One report from a page (the API's throttle counts its own): THROTTLE_REPORT's rate, e.g. 30/hour,
    as a bucket of that many that refills over the period, so the two paths share one setting."""
    count, seconds = ScopedRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["report"])
    [refusal] = _refusals(keys=[f"rate:report:{user_id}"], burst=count, per_second=count / seconds)
    if refusal is not None:
        raise refusal


def _refusals(*, keys: list[str], burst: int, per_second: float) -> list[RateLimited | None]:
    try:
        waits = _take_many(keys=keys, burst=burst, per_second=per_second)
    except RedisError:
        logger.warning("Rate limit skipped: Redis is unreachable", exc_info=True)
        return [None] * len(keys)
    return [RateLimited(retry_after=wait) if wait > 0 else None for wait in waits]


def _take_many(*, keys: list[str], burst: int, per_second: float) -> list[float]:
    if not getattr(settings, "REDIS_URL", ""):
        return [_LOCAL.take(key, burst=burst, per_second=per_second) for key in keys]
    # An idle bucket refills completely within burst / rate seconds; expiry then means "full".
    arguments = [burst, per_second, math.ceil(burst / per_second) + 1]
    buckets = [f"{_prefix()}:{key}" for key in keys]
    try:
        return _run_take(buckets, arguments)
    except NoScriptError:  # Redis restarted, or its scripts were flushed: load it once more.
        redis_sync.client().script_load(_TAKE)
        return _run_take(buckets, arguments)


def _run_take(buckets: list[str], arguments: list) -> list[float]:
    # EVALSHA straight into a plain pipeline: redis-py's Script, run in a pipeline, first asks
    # SCRIPT EXISTS on every execute, a second round trip for every send.
    with redis_sync.client().pipeline(transaction=False) as pipe:
        for bucket in buckets:
            pipe.evalsha(_TAKE_SHA, 1, bucket, *arguments)
        return [float(wait) for wait in pipe.execute()]


# KEYS: the bucket. ARGV: burst, tokens per second, expiry. Returns the wait as a string (Lua
# numbers come back from Redis truncated to integers).
_TAKE = """
local burst, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens < 1 then return tostring((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[3])
return '0'
"""
_TAKE_SHA = hashlib.sha1(_TAKE.encode(), usedforsecurity=False).hexdigest()  # Redis names a script by this digest.


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "parley"


class _LocalBuckets:
    """Buckets in the process's local-memory cache (which tests clear), read and written under a lock."""

    def __init__(self):
        self.lock = threading.Lock()

    def take(self, key: str, *, burst: int, per_second: float) -> float:
        with self.lock:
            now = time.monotonic()
            tokens, at = django_cache.get(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * per_second)
            if tokens < 1:
                return (1 - tokens) / per_second
            django_cache.set(key, (tokens - 1, now), timeout=math.ceil(burst / per_second) + 1)
            return 0.0


_LOCAL = _LocalBuckets()
