-- keyward's rate limits across nodes: the rule of keyward_core::limits (GCRA over all
-- of a key's named limits, all or nothing) applied in Redis, atomically, in one round
-- trip. Every number the rule needs comes from the core (limit, period and interval in
-- nanoseconds); this script only does its arithmetic on the shared state.
--
-- KEYS[1]  the key's state under its current limits: a hash, field i holding limit i's
--          theoretical arrival time (TAT) in nanoseconds since the Unix epoch, as
--          decimal text. The key's name carries the limits' definition, so a changed
--          limit starts from a fresh state, as the in-memory limiter does.
-- ARGV[1]  "spend": decide, and when admitted spend `cost` on every limit;
--          "peek": decide, change nothing (the quota refused: where the limits stand);
--          "refund": give back `cost` on every limit (an admitted request refused later).
-- ARGV[2]  cost
-- ARGV[3]  now as "seconds.nanoseconds" since the Unix epoch; empty: Redis's own TIME,
--          so that every node decides on one clock. Tests pass a time.
-- ARGV[4.] per limit, three numbers: limit, period (ns), interval = period / limit (ns)
--
-- Returns {admitted (1 or 0), retry after (ns; -1 never, 0 when admitted), then for
-- each limit: remaining, reset (ns)}.
--
-- Lua numbers are doubles, exact to 2^53: absolute times in nanoseconds (about 1.8e18)
-- are not, so a time is kept as whole seconds and nanoseconds, and the rule works on
-- how far each TAT lies ahead of now (at most a period, 31 days = 2.7e15 ns), which is.

local E9 = 1000000000

local mode = ARGV[1]
local cost = tonumber(ARGV[2])
local now_s, now_ns
if ARGV[3] == '' then
  -- TIME before a write is allowed since scripts are replicated by their effects
  -- (the default from Redis 5, the only way from Redis 7).
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now_s, now_ns = tonumber(t[1]), tonumber(t[2]) * 1000
else
  local dot = string.find(ARGV[3], '.', 1, true)
  now_s, now_ns = tonumber(string.sub(ARGV[3], 1, dot - 1)), tonumber(string.sub(ARGV[3], dot + 1))
end

local n = (#ARGV - 3) / 3
local fields = {}
for i = 1, n do fields[i] = tostring(i) end
local stored = {}
if n > 0 then stored = redis.call('HMGET', KEYS[1], unpack(fields)) end

-- How far each limit's TAT lies ahead of now: max(tat, now) - now.
local ahead = {}
for i = 1, n do
  local tat = stored[i]
  local d = 0
  if tat then
    local len = string.len(tat)
    local s, ns = 0, tonumber(tat)
    if len > 9 then
      s, ns = tonumber(string.sub(tat, 1, len - 9)), tonumber(string.sub(tat, len - 8))
    end
    d = (s - now_s) * E9 + (ns - now_ns)
    if d < 0 then d = 0 end
  end
  ahead[i] = d
end

local function limit_of(i) return tonumber(ARGV[4 + 3 * (i - 1)]) end
local function period_of(i) return tonumber(ARGV[5 + 3 * (i - 1)]) end
local function interval_of(i) return tonumber(ARGV[6 + 3 * (i - 1)]) end

-- Writes the TATs back (now + ahead), or drops the state once every limit is whole
-- again, and lets it expire then: Redis holds only keys still refilling.
local function store()
  local longest = 0
  local args = {}
  for i = 1, n do
    local total = now_ns + ahead[i]
    local carry = math.floor(total / E9)
    local rest = total - carry * E9
    if rest < 0 then carry, rest = carry - 1, rest + E9 end
    if rest >= E9 then carry, rest = carry + 1, rest - E9 end
    args[#args + 1] = fields[i]
    args[#args + 1] = string.format('%d%09d', now_s + carry, rest)
    if ahead[i] > longest then longest = ahead[i] end
  end
  if longest <= 0 then
    redis.call('DEL', KEYS[1])
  else
    redis.call('HSET', KEYS[1], unpack(args))
    redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000000))
  end
end

local function standing(out)
  for i = 1, n do
    local interval = interval_of(i)
    if interval < 1 then interval = 1 end
    local free = period_of(i) - ahead[i]
    if free < 0 then free = 0 end
    local remaining = math.floor(free / interval)
    if remaining > limit_of(i) then remaining = limit_of(i) end
    out[#out + 1] = remaining
    out[#out + 1] = ahead[i]
  end
  return out
end

if mode == 'refund' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    for i = 1, n do
      local d = ahead[i] - interval_of(i) * cost
      if d < 0 then d = 0 end
      ahead[i] = d
    end
    store()
  end
  return standing({1, 0})
end

-- limits::admits: the new TAT may lie at most a period ahead.
local retry = 0
local never = false
for i = 1, n do
  if cost > limit_of(i) then never = true end
  local late = ahead[i] + interval_of(i) * cost - period_of(i)
  if late > retry then retry = late end
end
if retry > 0 then
  if never then retry = -1 end
  return standing({0, retry})
end
if mode == 'spend' and cost > 0 then
  for i = 1, n do ahead[i] = ahead[i] + interval_of(i) * cost end
  store()
end
return standing({1, 0})
