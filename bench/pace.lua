-- wrk script for paced load (the latency-at-half-load step): each connection
-- waits BENCH_DELAY_MS after every answer, so the rate is about
-- connections / (delay + latency) instead of the maximum. wrk's latency
-- figures do not include the delay. BENCH_METHOD, BENCH_BODY and
-- BENCH_HEADERS ("Name: value|Name: value") set the request.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "1")
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then wrk.body = body end
for h in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^|]+") do
  local k, v = string.match(h, "^%s*([^:]+):%s*(.*)$")
  if k then wrk.headers[k] = v end
end
function delay()
  return delay_ms
end
