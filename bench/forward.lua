-- wrk script: forward auth as nginx auth_request sends it. GET FORWARD_PATH (default
-- /v1/forward-auth) with the keys of KEYS_FILE in turn in x-api-key, and the original
-- request in X-Original-Method / X-Original-URI (a read of Website's forms). With
-- DIRECT=0 the headers are left to the proxy: GET /api/v1/projects/Website/forms/f1
-- with the key only, for nginx in front of keyward. VALIDATE=1 counts non-200 answers.
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if #line > 0 then keys[#keys + 1] = line end
end
local direct = os.getenv("DIRECT") ~= "0"
local path = os.getenv("FORWARD_PATH") or "/v1/forward-auth"
local original = "/api/v1/projects/Website/forms/f1"
local i = 0

request = function()
  i = i % #keys + 1
  if direct then
    return wrk.format("GET", path, {
      ["x-api-key"] = keys[i],
      ["X-Original-Method"] = "GET",
      ["X-Original-URI"] = original,
    })
  end
  return wrk.format("GET", original, { ["x-api-key"] = keys[i] })
end

if os.getenv("VALIDATE") == "1" then
  local invalid = 0
  response = function(status)
    if status ~= 200 then invalid = invalid + 1 end
  end
  done = function()
    io.stderr:write("invalid_answers " .. invalid .. "\n")
  end
end
