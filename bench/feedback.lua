-- wrk script: POST one outcome per request to /v1/feedback, each for a different decision, taken in
-- order from the file IDS_FILE (one id per line) starting after line IDS_FROM.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE") or error("IDS_FILE is not set")) do ids[#ids + 1] = line end
local i = tonumber(os.getenv("IDS_FROM") or "0")
-- Past the last id, start this run's ids again (answered as duplicates), not the oldest, which the
-- store may have evicted.
local start = i
local headers = { ["Content-Type"] = "application/json" }

request = function()
  i = i + 1
  if i > #ids then i = start + 1 end
  return wrk.format("POST", "/v1/feedback", headers, '{"decision":"' .. ids[i] .. '","reward":1}')
end
