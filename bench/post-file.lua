-- wrk script: POST the bytes of BENCH_BODY_FILE (JSON or the binary tensor extension).
--   BENCH_CONTENT_TYPE   content type (default application/json)
--   BENCH_HEADERS        extra headers, "name: value" separated by newlines
--   BENCH_COUNT_STATUS   when set, count answers by status (and 503s that carry Retry-After)
--                        and print "status <code> <count>" / "retry-after <count>" lines at the end
local path = os.getenv("BENCH_BODY_FILE") or error("BENCH_BODY_FILE is not set (run through a bench/*.ts script)")
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end

if os.getenv("BENCH_COUNT_STATUS") then
  local threads = {}
  function setup(thread) table.insert(threads, thread) end
  counts = {}
  retry_after = 0
  function response(status, headers, body)
    counts[status] = (counts[status] or 0) + 1
    if status == 503 then
      for k, _ in pairs(headers) do
        if string.lower(k) == "retry-after" then retry_after = retry_after + 1 break end
      end
    end
  end
  function done(summary, latency, requests)
    local total, ra = {}, 0
    for _, t in ipairs(threads) do
      for code, n in pairs(t:get("counts")) do total[code] = (total[code] or 0) + n end
      ra = ra + t:get("retry_after")
    end
    for code, n in pairs(total) do io.write(string.format("status %d %d\n", code, n)) end
    io.write(string.format("retry-after %d\n", ra))
  end
end
