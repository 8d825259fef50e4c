-- commit.lua: applies one request's changed fields to a live session and refreshes its TTL.
-- KEYS[1]  the session key
-- ARGV[1]  max application fields; ARGV[2] max application bytes (names + values)
-- ARGV[3]  s, sets; ARGV[4] d, deletes; ARGV[5] i, increments
-- then     s name/value pairs, d names, i name/delta pairs (the three sets of names are disjoint)
-- Returns  {1, expires, new value of each increment...}; {0} the session is gone and nothing was
--          written; {-6} it was past its absolute deadline, deleted now and nothing written;
--          {-1} too many fields; {-2} too many bytes; {-3, name} not an integer; {-5} corrupt; {-7} the session was rotated away (nothing written).
-- Invariant: a destroyed or expired session is never recreated (HMGET finds no metadata, nothing is
-- written); everything is checked before the first write, so a refused commit writes nothing; the TTL
-- is min(now + idle, absolute deadline) by Redis' clock.
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
local s, d, n = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local sets, dels, incs = 6, 6 + 2 * s, 6 + 2 * s + d
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
for i = incs, #ARGV, 2 do
  local f = ARGV[i]
  local v = redis.call('HGET', key, f)
  if v and (#v > 18 or not string.match(v, '^%-?%d+$')) then return {-3, f} end
  local nv = string.format('%d', (tonumber(v) or 0) + tonumber(ARGV[i + 1]))
  if v then size = size + #nv - #v else size = size + #f + #nv; count = count + 1 end
end
if count > tonumber(ARGV[1]) then return {-1} end
if size > tonumber(ARGV[2]) then return {-2} end
if s > 0 then redis.call('HSET', key, unpack(ARGV, sets, dels - 1)) end
if d > 0 then redis.call('HDEL', key, unpack(ARGV, dels, incs - 1)) end
local exp = math.min(now + idle, abs)
local out = {1, exp}
for i = incs, #ARGV, 2 do out[#out + 1] = redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', key, '_exp', exp, '_seen', now, '_n', count, '_size', size)
redis.call('PEXPIREAT', key, exp)
return out
