-- wrk script: POST /send-email as Candle does (JSON body, Idempotency-Key),
-- a fresh key per request. Used by bench/provider_ceiling.sh.
local counter = 0
local thread_id = 0
function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end
function request()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json",
                   ["Idempotency-Key"] = "wrk-" .. tid .. "-" .. counter}
  return wrk.format("POST", nil, headers,
                    '{"email":"someone@example.com","message":"Hey, Bench Mark it\'s your birthday"}')
end
