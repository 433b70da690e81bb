-- wrk script of bench/rest.py: spread wrk's threads (and their connections) over the daphne
-- processes whose ports PARLEY_PORTS lists, and print the result as one line of JSON.

local ports = {}
for port in string.gmatch(os.getenv("PARLEY_PORTS") or "", "%d+") do
  table.insert(ports, port)
end
local threads = 0

function setup(thread)
  -- Thread i (and its share of the connections) talks to process i mod N, as nginx would spread them.
  thread.addr = wrk.lookup("127.0.0.1", ports[threads % #ports + 1])[1]
  threads = threads + 1
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
