-- wrk script: the verify API asked about keys of KEYS_FILE in turn, like verify.lua,
-- and, with DELAY_MS, each connection waiting that long between requests, so that a
-- flood can be held to a rate (about connections x 1000 / DELAY_MS per second).
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if #line > 0 then keys[#keys + 1] = line end
end
local token = os.getenv("ADMIN_TOKEN") or ""
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local i = 0
local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }

request = function()
  i = i % #keys + 1
  local body = '{"key":"' .. keys[i] .. '","project":"Website","environment":"production","method":"GET"}'
  return wrk.format("POST", "/v1/keys/verify", headers, body)
end

if pause > 0 then
  delay = function() return pause end
end
