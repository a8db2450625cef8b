-- wrk script for bench/run.sh: POST /v1/chat/completions with the benchmark's request bodies,
-- and one machine-readable result line from done().
--
-- Environment:
--   BENCH_KIND          plain | stream | mix (mix: every BENCH_MIX_EVERY-th request streamed)
--   BENCH_PLAIN_BODY    file with the non-streamed request body
--   BENCH_STREAM_BODY   file with the streamed request body ("stream": true)
--   BENCH_STREAM_TOKENS value of x-mock-output-tokens on streamed requests
--   BENCH_MIX_EVERY     for mix, default 4
--   BENCH_LIMIT         stop after this many responses (run with -t1); 0 = run for -d
local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

local kind = os.getenv("BENCH_KIND") or "plain"
local limit = tonumber(os.getenv("BENCH_LIMIT") or "0") or 0
local tokens = os.getenv("BENCH_STREAM_TOKENS") or "20"
local path = "/v1/chat/completions"

local function headers(stream)
  local h = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer sk-bench-0123456789",
  }
  if stream then h["x-mock-output-tokens"] = tokens end
  return h
end

if kind == "plain" or kind == "stream" then
  -- A static request: wrk builds it once and does not call into Lua per request.
  local stream = kind == "stream"
  wrk.method = "POST"
  wrk.path = path
  wrk.body = slurp(os.getenv(stream and "BENCH_STREAM_BODY" or "BENCH_PLAIN_BODY"))
  for k, v in pairs(headers(stream)) do wrk.headers[k] = v end
elseif kind == "mix" then
  local every = tonumber(os.getenv("BENCH_MIX_EVERY") or "4") or 4
  local plain_req, stream_req = nil, nil
  local i = 0
  request = function()
    if plain_req == nil then
      plain_req = wrk.format("POST", path, headers(false), slurp(os.getenv("BENCH_PLAIN_BODY")))
      stream_req = wrk.format("POST", path, headers(true), slurp(os.getenv("BENCH_STREAM_BODY")))
    end
    i = i + 1
    if i % every == 0 then return stream_req end
    return plain_req
  end
else
  error("BENCH_KIND must be plain, stream or mix")
end

if limit > 0 then
  -- wrk's main thread sleeps for the whole -d duration even after every thread stopped; the
  -- marker line tells bench.py to end that sleep with SIGINT (wrk then reports as usual).
  local n = 0
  response = function(status, hdrs, body)
    n = n + 1
    if n == limit then
      wrk.thread:stop()
      io.write("BENCH_LIMIT_REACHED\n")
      io.flush()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
