-- wrk script for rest_bench.sh. Without READ_PATH: POST /api/v1/users with a
-- unique email per request; with READ_PATH: GET it. Each connection waits
-- PACE_MS between requests (wrk is closed-loop; the pace sets the rate).
-- Prints the achieved rate, p50/p95/p99/max and the status mix.
local counter = 0
local thread_id = 0
local threads = {}
local pace = tonumber(os.getenv("PACE_MS") or "0")
local read_path = os.getenv("READ_PATH")
local label = read_path and "read" or "create"
local want = read_path and 200 or 201

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  created = 0
  other = 0
  prefix = os.getenv("RUN_ID") or "run"
end

function delay()
  return pace
end

function request()
  if read_path then return wrk.format("GET", read_path) end
  counter = counter + 1
  local body = string.format(
    '{"firstName":"Load","lastName":"Test","email":"%s-%d-%d@bench.example","timezone":"Europe/Paris","birthdayDate":"1990-%02d-%02d"}',
    prefix, id, counter, (counter % 12) + 1, (counter % 28) + 1)
  return wrk.format("POST", "/api/v1/users", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == want then created = created + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format("%s: %d requests in %.1f s = %.0f req/s; %d: %d, other: %d\n", label,
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), want,
    c, o))
  io.write(string.format("%s latency ms: p50 %.2f  p95 %.2f  p99 %.2f  max %.2f\n", label,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
