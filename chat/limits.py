"""How fast one person may send: a token bucket in the shared cache, so all processes see one bucket.

A person may send MESSAGE_RATE_BURST messages at once, then MESSAGE_RATE_PER_SECOND on average.
"""

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

DEFAULT_BURST = 10
DEFAULT_PER_SECOND = 2.0
# The cache API has no compare-and-set, so a bucket's read-modify-write runs under a short
# cache.add() lock: without it, two sockets of one person sending at once could both spend
# the same token, and a flood from many tabs would pass.
LOCK_TRIES = 20
LOCK_PAUSE = 0.005
logger = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: float):
        self.retry_after = retry_after
        super().__init__(f"You are sending too fast. Try again in {math.ceil(retry_after)} s.")


def message_rate_take(*, user_id: int) -> None:
    """Spend one token of the person's bucket, or raise RateLimited with the wait for the next one.

    If the cache (Redis) is unreachable the message goes through: PostgreSQL, the record, is what
    a send needs, and refusing every message during a Redis outage would be worse than a brief
    window without a limit.
    """
    try:
        _take(user_id=user_id)
    except RedisError:
        logger.warning("Message rate limit skipped: the cache is unreachable", exc_info=True)


def _take(*, user_id: int) -> None:
    burst = getattr(settings, "MESSAGE_RATE_BURST", DEFAULT_BURST)
    per_second = getattr(settings, "MESSAGE_RATE_PER_SECOND", DEFAULT_PER_SECOND)
    key = f"rate:message:{user_id}"
    with _locked(key):
        now = time.time()
        tokens, updated = cache.get(key, (burst, now))
        tokens = min(burst, tokens + (now - updated) * per_second)
        if tokens < 1:
            raise RateLimited(retry_after=(1 - tokens) / per_second)
        # An idle bucket refills completely within burst / rate seconds; expiry then means "full".
        cache.set(key, (tokens - 1, now), timeout=math.ceil(burst / per_second) + 1)


@contextmanager
def _locked(key: str) -> Iterator[None]:
    lock = f"{key}:lock"
    for _ in range(LOCK_TRIES):
        if cache.add(lock, 1, timeout=1):
            break
        time.sleep(LOCK_PAUSE)
    else:
        raise RateLimited(retry_after=1)
    try:
        yield
    finally:
        cache.delete(lock)
