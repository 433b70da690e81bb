"""The lobby's queue of people waiting to talk to a stranger, and the matcher that pairs them.

With REDIS_URL everything lives in Redis, shared by every server process, and each step is one
Lua script (atomic: two processes can never hand the same person to two partners):

    <prefix>:lobby:queue           sorted set: who waits, scored by when they joined
    <prefix>:lobby:tags:<tag>      sorted set: who waits with that interest tag, the same scores
    <prefix>:lobby:who:<id>        hash: the person's tags, so that leaving cleans their tag sets
    <prefix>:lobby:blocks:<id>     set: people in a block with them (either way), written at join
    <prefix>:lobby:recent:<a>:<b>  a pair matched lately; expires after LOBBY_RECENT_PAIR_SECONDS

Matching prefers the longest-waiting person who shares a tag; someone with tags waits
LOBBY_TAG_WAIT_SECONDS for that, then anyone will do (`sweep`, run by one process per tick,
pairs those). Nobody is paired with someone in a block with them, with someone just paired with
them, or with someone whose sockets all expired (the presence index: their process died).

Without Redis (embedded: one process) the same structures live in a dict under a lock.
This module only answers "who with whom"; rooms.matching creates the rooms and tells people.
"""

import threading
import time
from functools import cache

from django.conf import settings

from chat import presence, redis_sync

# How many of the longest-waiting people one step looks at: bounds a script's time whatever the queue.
SCAN = 200
BLOCKS_TTL_SECONDS = 24 * 3600

# Shared by the scripts. KEYS: the queue, the presence index. ARGV[1] prefix, ARGV[2] now,
# ARGV[3] tag wait, ARGV[4] recent-pair ttl, ARGV[5] scan.
_COMMON = """
local queue, online = KEYS[1], KEYS[2]
local p, now, wait, recent_ttl, scan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])

local function forget(user)
  local who = p .. 'who:' .. user
  local tags = redis.call('HGET', who, 'tags')
  if tags then
    for tag in string.gmatch(tags, '%S+') do redis.call('ZREM', p .. 'tags:' .. tag, user) end
  end
  redis.call('DEL', who)
  return redis.call('ZREM', queue, user)
end

local function pair_key(a, b)
  if tonumber(a) < tonumber(b) then return p .. 'recent:' .. a .. ':' .. b end
  return p .. 'recent:' .. b .. ':' .. a
end

local function alive(user)
  local expiry = tonumber(redis.call('ZSCORE', online, user) or '0')
  if expiry > now then return true end
  forget(user)
  return false
end

local function allowed(a, b)
  if a == b then return false end
  if redis.call('SISMEMBER', p .. 'blocks:' .. a, b) == 1 then return false end
  if redis.call('SISMEMBER', p .. 'blocks:' .. b, a) == 1 then return false end
  if redis.call('EXISTS', pair_key(a, b)) == 1 then return false end
  return alive(b)
end

-- Someone without tags, or who has waited long enough for a shared one, takes anyone.
local function flexible(user, joined)
  return redis.call('HGET', p .. 'who:' .. user, 'tags') == '' or now - joined >= wait
end

local function pair(a, b)
  forget(a)
  forget(b)
  redis.call('SET', pair_key(a, b), 1, 'EX', recent_ttl)
end
"""

# ARGV[6] user, ARGV[7] tags (space-separated), ARGV[8] blocked ids (space-separated).
# Returns the partner's id, or false when the person now waits.
_JOIN = (
    _COMMON
    + """
local me, tags, blocked = ARGV[6], ARGV[7], ARGV[8]
forget(me)
local blocks = p .. 'blocks:' .. me
redis.call('DEL', blocks)
for id in string.gmatch(blocked, '%S+') do redis.call('SADD', blocks, id) end
redis.call('EXPIRE', blocks, ARGV[9])

local best, best_at = nil, nil
for tag in string.gmatch(tags, '%S+') do
  for _, other in ipairs(redis.call('ZRANGE', p .. 'tags:' .. tag, 0, scan - 1)) do
    if allowed(me, other) then
      local at = tonumber(redis.call('ZSCORE', queue, other))
      if at and (best_at == nil or at < best_at) then best, best_at = other, at end
      break
    end
  end
end
if best == nil and tags == '' then
  local entries = redis.call('ZRANGE', queue, 0, scan - 1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    local other = entries[i]
    if flexible(other, tonumber(entries[i + 1])) and allowed(me, other) then best = other break end
  end
end
if best ~= nil then
  pair(me, best)
  return best
end
redis.call('ZADD', queue, now, me)
for tag in string.gmatch(tags, '%S+') do redis.call('ZADD', p .. 'tags:' .. tag, now, me) end
redis.call('HSET', p .. 'who:' .. me, 'tags', tags)
return false
"""
)

# Pairs people among the longest waiting who now take anyone. Returns a flat list a1, b1, a2, b2...
_SWEEP = (
    _COMMON
    + """
local entries = redis.call('ZRANGE', queue, 0, scan - 1, 'WITHSCORES')
local open = {}
for i = 1, #entries, 2 do
  local user = entries[i]
  if flexible(user, tonumber(entries[i + 1])) and alive(user) then table.insert(open, user) end
end
local paired, taken = {}, {}
for i, a in ipairs(open) do
  if not taken[a] then
    for j = i + 1, #open do
      local b = open[j]
      if not taken[b] and allowed(a, b) then
        taken[a], taken[b] = true, true
        pair(a, b)
        table.insert(paired, a)
        table.insert(paired, b)
        break
      end
    end
  end
end
return paired
"""
)

_LEAVE = _COMMON + "return forget(ARGV[6])"


def join(*, user_id: int, tags: list[str], blocked: set[int]) -> int | None:
    """Queue the person (again, with these tags), or pair them at once: the partner's id, else None."""
    return _backend().join(user_id, tags, blocked, time.time())


def leave(*, user_id: int) -> bool:
    """Out of the queue; False when they were not in it."""
    return _backend().leave(user_id, time.time())


def sweep() -> list[tuple[int, int]]:
    """Pair people who waited long enough for a shared tag with anyone who takes them."""
    return _backend().sweep(time.time())


def waiting_count() -> int:
    return _backend().waiting()


def is_waiting(*, user_id: int) -> bool:
    return _backend().is_waiting(user_id)


def _backend():
    return _RedisQueue() if getattr(settings, "REDIS_URL", "") else _LOCAL


def _prefix() -> str:
    return (settings.CACHES["default"].get("KEY_PREFIX") or "parley") + ":lobby:"


def key(name: str) -> str:
    """A Redis key of the lobby's own (rooms.matching keeps its tick and last counts there)."""
    return _prefix() + name


@cache
def _scripts() -> dict:
    client = redis_sync.client()
    sources = {"join": _JOIN, "sweep": _SWEEP, "leave": _LEAVE}
    return {name: client.register_script(source) for name, source in sources.items()}


class _RedisQueue:
    def _run(self, name: str, now: float, *extra):
        keys = [_prefix() + "queue", presence.online_index_key()]
        args = [_prefix(), now, settings.LOBBY_TAG_WAIT_SECONDS, settings.LOBBY_RECENT_PAIR_SECONDS, SCAN, *extra]
        return _scripts()[name](keys=keys, args=args)

    def join(self, user_id: int, tags: list[str], blocked: set[int], now: float) -> int | None:
        partner = self._run("join", now, user_id, " ".join(tags), " ".join(map(str, blocked)), BLOCKS_TTL_SECONDS)
        return int(partner) if partner else None

    def leave(self, user_id: int, now: float) -> bool:
        return self._run("leave", now, user_id) == 1

    def sweep(self, now: float) -> list[tuple[int, int]]:
        flat = [int(user_id) for user_id in self._run("sweep", now)]
        return list(zip(flat[::2], flat[1::2], strict=True))

    def waiting(self) -> int:
        return redis_sync.client().zcard(_prefix() + "queue")

    def is_waiting(self, user_id: int) -> bool:
        return redis_sync.client().zscore(_prefix() + "queue", user_id) is not None


class _LocalQueue:
    """The same rules in this process's memory, for the embedded single-process mode, under a lock
    (database threads call in). Whoever is queued has an open socket here: disconnecting leaves."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queue: dict[int, tuple[float, tuple[str, ...]]] = {}  # Insertion order = joining order.
        self.blocks: dict[int, set[int]] = {}
        self.recent: dict[frozenset[int], float] = {}

    def _allowed(self, a: int, b: int, now: float) -> bool:
        blocked = b in self.blocks.get(a, ()) or a in self.blocks.get(b, ())
        return a != b and not blocked and self.recent.get(frozenset((a, b)), 0) <= now

    def _flexible(self, user_id: int, now: float) -> bool:
        joined, tags = self.queue[user_id]
        return not tags or now - joined >= settings.LOBBY_TAG_WAIT_SECONDS

    def _pair(self, a: int, b: int, now: float) -> None:
        self.queue.pop(a, None)
        self.queue.pop(b, None)
        self.recent[frozenset((a, b))] = now + settings.LOBBY_RECENT_PAIR_SECONDS

    def join(self, user_id: int, tags: list[str], blocked: set[int], now: float) -> int | None:
        with self.lock:
            self.queue.pop(user_id, None)
            self.blocks[user_id] = set(blocked)
            waiting = list(self.queue)[:SCAN]
            sharing = [other for other in waiting if set(tags) & set(self.queue[other][1])]
            fallback = [] if tags else [other for other in waiting if self._flexible(other, now)]
            partner = next((other for other in sharing + fallback if self._allowed(user_id, other, now)), None)
            if partner is None:
                self.queue[user_id] = (now, tuple(tags))
                return None
            self._pair(user_id, partner, now)
            return partner

    def leave(self, user_id: int, now: float) -> bool:
        with self.lock:
            return self.queue.pop(user_id, None) is not None

    def sweep(self, now: float) -> list[tuple[int, int]]:
        with self.lock:
            open_ = [user_id for user_id in list(self.queue)[:SCAN] if self._flexible(user_id, now)]
            paired, taken = [], set()
            for index, a in enumerate(open_):
                if a in taken:
                    continue
                later = (b for b in open_[index + 1 :] if b not in taken and self._allowed(a, b, now))
                partner = next(later, None)
                if partner is not None:
                    taken |= {a, partner}
                    self._pair(a, partner, now)
                    paired.append((a, partner))
            return paired

    def waiting(self) -> int:
        return len(self.queue)

    def is_waiting(self, user_id: int) -> bool:
        return user_id in self.queue


_LOCAL = _LocalQueue()
