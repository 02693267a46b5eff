-- wrk script for actiongate invoke: POST a JSON body with the API token.
-- The action id comes from the URL; the token and body from the environment
-- (bench/run.sh sets them).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_API_TOKEN")
wrk.body = os.getenv("BENCH_INVOKE_BODY") or '{"operation":"getItem","arguments":{"id":"42"}}'
