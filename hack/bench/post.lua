-- wrk script for `make bench`: POST one JSON body (BENCH_BODY) to BENCH_PATH, or GET it when
-- BENCH_METHOD is GET; a "{id}" in the
-- path becomes a fresh workflow id per request (BENCH_ID_PREFIX-<n>), as Temporal's own HTTP API
-- takes the id in its path. BENCH_HEADER adds one "Name: value" header (an API key). done()
-- writes the run's figures as one JSON object to BENCH_OUT, latencies in microseconds.
local path = os.getenv("BENCH_PATH")
local body = os.getenv("BENCH_BODY")
local prefix = os.getenv("BENCH_ID_PREFIX") or "bench"
local method = os.getenv("BENCH_METHOD") or "POST"
if method == "GET" then body = nil end
local headers = { ["Content-Type"] = "application/json" }
local extra = os.getenv("BENCH_HEADER")
if extra and extra ~= "" then
  local name, value = extra:match("^([^:]+):%s*(.*)$")
  headers[name] = value
end
local unique = path:find("{id}", 1, true) ~= nil
local counter = 0
local fixed = nil

function request()
  if not unique then
    fixed = fixed or wrk.format(method, path, headers, body)
    return fixed
  end
  counter = counter + 1
  local p = path:gsub("{id}", prefix .. "-" .. counter)
  return wrk.format(method, p, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "socket_errors": %d, "status_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d}',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
  out:close()
end
