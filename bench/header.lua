-- wrk script for the peers: GET PEER_PATH (default /check) with the keys of KEYS_FILE
-- in turn, each in the header HEADER (default X-Api-Key) with optional PREFIX
-- (for example "Api-Key " for djangorestframework-api-key's Authorization header).
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if #line > 0 then keys[#keys + 1] = line end
end
local header = os.getenv("HEADER") or "X-Api-Key"
local prefix = os.getenv("PREFIX") or ""
local path = os.getenv("PEER_PATH") or "/check"
local i = 0
request = function()
  i = i % #keys + 1
  return wrk.format("GET", path, { [header] = prefix .. keys[i] })
end
