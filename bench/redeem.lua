-- wrk script for bench/redeem.py: each request redeems a fresh voucher.
-- PN_BENCH_BODIES: a file of JSON bodies, one per line (each a different voucher and request id).
-- PN_BENCH_TOKENS: bearer tokens separated by commas (site agents), used in turn.
-- Thread i of n sends lines i, i+n, i+2n…; when its share is used up it stops (no reuse, ever).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local n = tonumber(os.getenv("PN_BENCH_THREADS") or "1")
  bodies = {}
  local i = 0
  for line in io.lines(os.getenv("PN_BENCH_BODIES")) do
    if i % n == id then
      table.insert(bodies, line)
    end
    i = i + 1
  end
  tokens = {}
  for token in string.gmatch(os.getenv("PN_BENCH_TOKENS"), "[^,]+") do
    table.insert(tokens, "Bearer " .. token)
  end
  position = 0
  exhausted = 0
end

function request()
  position = position + 1
  if position > #bodies then
    exhausted = 1
    wrk.thread:stop()
    position = #bodies
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = tokens[(position % #tokens) + 1],
  }
  return wrk.format("POST", nil, headers, bodies[position])
end

function done(summary, latency, requests)
  local used = 0
  local ran_out = 0
  for _, thread in ipairs(threads) do
    used = used + (thread:get("position") or 0)
    ran_out = ran_out + (thread:get("exhausted") or 0)
  end
  io.write(string.format(
    "PN_RESULT {\"requests\": %d, \"duration_us\": %d, \"non2xx\": %d, \"connect\": %d, \"read\": %d, "
      .. "\"write\": %d, \"timeout\": %d, \"p50_us\": %d, \"p99_us\": %d, \"max_us\": %d, "
      .. "\"bodies_used\": %d, \"exhausted\": %d}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, used, ran_out))
end
