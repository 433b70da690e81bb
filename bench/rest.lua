-- wrk script of bench/rest.py: spread wrk's threads (and their connections) over the daphne
-- processes whose ports PARLEY_PORTS lists, and print the result as one line of JSON. With
-- PARLEY_RATE (requests/s, all threads together) the connections send on a fixed schedule instead
-- of as fast as answers come back: the latency of a known load, not of a saturated server.

local ports = {}
for port in string.gmatch(os.getenv("PARLEY_PORTS") or "", "%d+") do
  table.insert(ports, port)
end
local threads = 0
local started = {}  -- every thread, for done() to collect their late sends

local rate = tonumber(os.getenv("PARLEY_RATE") or "")
LATE_MS = 5

function setup(thread)
  -- Thread i (and its share of the connections) talks to process i mod N, as nginx would spread them.
  thread.addr = wrk.lookup("127.0.0.1", ports[threads % #ports + 1])[1]
  threads = threads + 1
  table.insert(started, thread)
  if rate then
    thread:set("thread_rate", rate / #ports)  -- wrk runs one thread per process (bench/rest.py)
  end
end

if rate then
  local ffi = require("ffi")
  ffi.cdef([[
    typedef struct { long tv_sec; long tv_nsec; } parley_timespec;
    int clock_gettime(int clock_id, parley_timespec *now);
  ]])
  local CLOCK_MONOTONIC = 1
  local now = ffi.new("parley_timespec")
  local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, now)
    return tonumber(now.tv_sec) * 1000 + tonumber(now.tv_nsec) / 1e6
  end
  local next_at = nil
  late, worst_ms = 0, 0  -- globals: done() reads them with thread:get

  -- Called before each request of any of this thread's connections: the request takes the thread's
  -- next slot, and slots stay on the schedule. When every connection was still waiting for an
  -- answer, the slot is past by the time one is free: wrk times the request from its actual send,
  -- so the wait before it would be missed. Such sends are counted (late by more than LATE_MS) and
  -- bench/rest.py bounds the p99 with them (coordinated omission).
  function delay()
    local at = now_ms()
    next_at = (next_at or at) + 1000 / thread_rate
    local wait = next_at - at
    if wait < -LATE_MS then
      late = late + 1
      worst_ms = math.max(worst_ms, -wait)
    end
    return math.max(0, math.floor(wait))
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local late, worst_ms = 0, 0
  for _, thread in ipairs(started) do
    late = late + (thread:get("late") or 0)
    worst_ms = math.max(worst_ms, thread:get("worst_ms") or 0)
  end
  -- The p99 of the latency counted from each request's slot: sends within LATE_MS of theirs add at
  -- most that; late ones may be anything, so they move the percentile read up by their share.
  local share = summary.requests > 0 and late / summary.requests or 0
  local bound_us = -1
  if share < 0.01 then
    bound_us = latency:percentile(99 + 100 * share) + LATE_MS * 1000
  end
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
      .. '"late": %d, "worst_late_ms": %.1f, "p99_bound_us": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    late, worst_ms, bound_us))
end
