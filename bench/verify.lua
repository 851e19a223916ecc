-- wrk script: POST /v1/keys/verify (or any path, for the baselines) with the keys of
-- KEYS_FILE in turn, each asking for read on Website/production. ADMIN_TOKEN is the
-- operator token. With VALIDATE=1 it also counts answers that are not
-- {"valid":true,...}; the timed runs leave that off, since a response callback slows
-- wrk itself down.
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if #line > 0 then keys[#keys + 1] = line end
end
local token = os.getenv("ADMIN_TOKEN") or ""
local path = os.getenv("VERIFY_PATH") or "/v1/keys/verify"
local i = 0
local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }

request = function()
  i = i % #keys + 1
  local body = '{"key":"' .. keys[i] .. '","project":"Website","environment":"production","method":"GET"}'
  return wrk.format("POST", path, headers, body)
end

if os.getenv("VALIDATE") == "1" then
  local invalid = 0
  response = function(status, _, body)
    if status ~= 200 or not string.find(body, '"valid":true', 1, true) then
      invalid = invalid + 1
    end
  end
  done = function()
    io.stderr:write("invalid_answers " .. invalid .. "\n")
  end
end
