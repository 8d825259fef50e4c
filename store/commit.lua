-- commit.lua: applies one request's changed fields to a live session and refreshes its TTL.
-- KEYS[1]  the session key
-- ARGV[1]  max application fields; ARGV[2] max application bytes (names + values)
-- ARGV[3]  s, sets; ARGV[4] d, deletes; ARGV[5] i, increments
-- then     s name/value pairs, d names, i name/delta pairs (the three sets of names are disjoint; every
--          delta a canonical decimal of magnitude at most 2^50)
-- Returns  {1, expires, new value of each increment as a decimal string...}; {0} the session is gone
--          and nothing was written; {-6} it was past its absolute deadline, deleted now and nothing
--          written; {-1} too many fields (or more than max sets + increments, or max deletes);
--          {-2} too many bytes; {-3, name} name holds no integer HINCRBY accepts, or the increment
--          would overflow int64; {-5} corrupt; {-7} the session was rotated away (nothing written).
-- Invariant: a destroyed or expired session is never recreated (HMGET finds no metadata, nothing is
-- written); every check a write could fail (Redis' integer rule and overflow for HINCRBY, the size
-- limits) is made before the first write, and the writes are sent in chunks Lua's unpack always
-- takes, so a refused commit writes nothing and an accepted one writes everything; the TTL is
-- min(now + idle, absolute deadline) by Redis' clock, and a privilege level lapses as level.lua says.
local key = KEYS[1]
local meta = redis.call('HMGET', key, '_abs', '_idle', '_n', '_size', '_rot')
if not meta[1] then return {0} end
if meta[5] then return {-7} end
local abs, idle = tonumber(meta[1]), tonumber(meta[2])
local count, size = tonumber(meta[3]) or 0, tonumber(meta[4]) or 0
if not abs or not idle then return {-5} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if abs <= now then
  redis.call('DEL', key)
  return {-6}
end
local exp, stepdown = level(key, now, math.min(now + idle, abs))
if not exp then
  redis.call('DEL', key)
  return {0}
end
local max = tonumber(ARGV[1])
local s, d, n = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if s + n > max or d > max then return {-1} end
local sets, dels, incs = 6, 6 + 2 * s, 6 + 2 * s + d

-- Integers are exact here as two doubles, hi * 1e9 + lo with 0 <= lo < 1e9: Lua's numbers are doubles,
-- exact only below 2^53, and a stored value may have 19 digits.
local B = 1e9
-- fits reports whether the digits mag, with sign neg ('-' or ''), are within int64. It compares
-- numbers, two exact halves, not strings: Lua compares strings with strcoll, and Redis sets LC_COLLATE.
local function fits(neg, mag)
  if #mag ~= 19 then return #mag < 19 end
  local hi, lo = tonumber(string.sub(mag, 1, 10)), tonumber(string.sub(mag, 11))
  return hi < 9223372036 or (hi == 9223372036 and lo <= (neg == '-' and 854775808 or 854775807))
end
-- split parses what Redis' string2ll accepts: an optional '-', then "0" or digits without a leading
-- zero, no "-0", within int64. It returns sign, hi, lo, or nil for anything else.
local function split(v)
  local neg, mag = string.match(v, '^(%-?)([1-9]%d*)$')
  if not mag then
    if v == '0' then return 1, 0, 0 end
    return nil
  end
  if not fits(neg, mag) then return nil end
  local cut = #mag - 9
  local hi = cut > 0 and tonumber(string.sub(mag, 1, cut)) or 0
  local lo = tonumber(string.sub(mag, math.max(cut + 1, 1)))
  return (neg == '-' and -1 or 1), hi, lo
end
-- add returns the decimal of v + by, or nil when v is not an integer or the sum overflows int64.
local function add(v, by)
  local sv, hv, lv = split(v)
  if not sv then return nil end
  local sd, hd, ld = split(by)
  if not sd then return nil end
  local hi, lo = sv * hv + sd * hd, sv * lv + sd * ld
  while lo < 0 do lo = lo + B; hi = hi - 1 end
  while lo >= B do lo = lo - B; hi = hi + 1 end
  local sign = ''
  if hi < 0 then -- the sum is hi * B + lo < 0: its magnitude is (-hi - 1) * B + (B - lo)
    sign = '-'
    if lo > 0 then hi, lo = -hi - 1, B - lo else hi = -hi end
  end
  local mag
  if hi > 0 then mag = string.format('%d%09d', hi, lo) else mag = string.format('%d', lo) end
  if not fits(sign, mag) then return nil end
  return sign .. mag
end

for i = sets, dels - 1, 2 do
  local f = ARGV[i]
  if redis.call('HEXISTS', key, f) == 1 then
    size = size - #f - redis.call('HSTRLEN', key, f)
  else
    count = count + 1
  end
  size = size + #f + #ARGV[i + 1]
end
for i = dels, incs - 1 do
  local f = ARGV[i]
  if redis.call('HEXISTS', key, f) == 1 then
    size = size - #f - redis.call('HSTRLEN', key, f)
    count = count - 1
  end
end
local out = {1, 0}
for i = incs, #ARGV, 2 do
  local f = ARGV[i]
  local v = redis.call('HGET', key, f)
  local nv = add(v or '0', ARGV[i + 1])
  if not nv then return {-3, f} end
  if v then size = size + #nv - #v else size = size + #f + #nv; count = count + 1 end
  out[#out + 1] = nv -- a string: a Lua number would round values past 2^53
end
if count > max then return {-1} end
if size > tonumber(ARGV[2]) then return {-2} end

-- Writes, in chunks far below Lua's unpack limit (LUAI_MAXCSTACK, 8000).
local CHUNK = 256
local function each(cmd, first, last)
  for from = first, last, CHUNK do
    redis.call(cmd, key, unpack(ARGV, from, math.min(from + CHUNK - 1, last)))
  end
end
each('HSET', sets, dels - 1) -- CHUNK is even: a chunk never splits a name from its value
each('HDEL', dels, incs - 1)
for i = incs, #ARGV, 2 do redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1]) end
if stepdown then redis.call('HDEL', key, '_level', '_lidle', '_labs') end
out[2] = exp
redis.call('HSET', key, '_exp', exp, '_seen', now, '_n', count, '_size', size)
redis.call('PEXPIREAT', key, exp)
return out
