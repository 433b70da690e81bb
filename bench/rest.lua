-- wrk script of bench/rest.py: spread wrk's threads (and their connections) over the daphne
-- processes whose ports PARLEY_PORTS lists, and print the result as one line of JSON. With
-- PARLEY_RATE (requests/s, all threads together) the connections send on a fixed schedule instead
-- of as fast as answers come back: the latency of a known load, not of a saturated server.

local ports = {}
for port in string.gmatch(os.getenv("PARLEY_PORTS") or "", "%d+") do
  table.insert(ports, port)
end
local threads = 0

local rate = tonumber(os.getenv("PARLEY_RATE") or "")

function setup(thread)
  -- Thread i (and its share of the connections) talks to process i mod N, as nginx would spread them.
  thread.addr = wrk.lookup("127.0.0.1", ports[threads % #ports + 1])[1]
  threads = threads + 1
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

  -- Called before each request of any of this thread's connections: the request takes the thread's
  -- next slot. A server that falls behind finds its slots already past (no wait): the rate then
  -- drops below PARLEY_RATE, which bench/rest.py reports as not sustained.
  function delay()
    local at = now_ms()
    next_at = math.max((next_at or at) + 1000 / thread_rate, at - 1000 / thread_rate)
    return math.max(0, math.floor(next_at - at))
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
