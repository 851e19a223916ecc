-- Optional variant: wrk -s wrk-multikey.lua ... with KEYS_FILE=<file of plaintext keys, one per line>
-- (make-keys.mjs writes it when ALL_KEYS=<path> is set). Each request uses a random key, so the
-- per-request UPDATEs are spread over many rows instead of contending on one row lock.
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do
  if #line > 0 then keys[#keys + 1] = line end
end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/check", { ["x-api-key"] = keys[math.random(#keys)] })
end
-- wrk itself prints "Non-2xx or 3xx responses: N" when any response is not 2xx.
