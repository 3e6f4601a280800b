-- wrk script: make predictions (body from BENCH_BODY) and append every decision id to IDS_FILE.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_BODY") or error("BENCH_BODY is not set")
local out = io.open(os.getenv("IDS_FILE") or error("IDS_FILE is not set"), "a")

response = function(status, headers, body)
  local id = body:match('"decision":"([%w_-]+)"')
  if id then out:write(id, "\n") end
end
