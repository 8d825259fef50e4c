-- cas.lua: compare-and-set of one field, for read-modify-write that must not lose updates.
-- KEYS[1]  the session key
-- ARGV[1]  field; ARGV[2] '1' if a value is expected, '0' if absence is expected; ARGV[3] that value
-- ARGV[4]  '1' to set the field to ARGV[5], '0' to delete it
-- ARGV[6]  max application fields; ARGV[7] max application bytes
-- Returns  {1, expires}; {0} the session is gone; {-6} it was past its absolute deadline (deleted
--          now); {2, current value or nil} the field changed; {-1} too many fields; {-2} too many
--          bytes; {-5} corrupt; {-7} the session was rotated away (nothing written).
-- Invariant: the field is written only if it still holds what the caller read, and only in a live
-- session; the TTL is refreshed in the same step.
local key, f = KEYS[1], ARGV[1]
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
local cur = redis.call('HGET', key, f)
if ARGV[2] == '1' then
  if cur ~= ARGV[3] then return {2, cur} end
elseif cur then
  return {2, cur}
end
if cur then
  size = size - #f - #cur
  count = count - 1
end
if ARGV[4] == '1' then
  size = size + #f + #ARGV[5]
  count = count + 1
  if count > tonumber(ARGV[6]) then return {-1} end
  if size > tonumber(ARGV[7]) then return {-2} end
  redis.call('HSET', key, f, ARGV[5])
elseif cur then
  redis.call('HDEL', key, f)
end
if stepdown then redis.call('HDEL', key, '_level', '_lidle', '_labs') end
redis.call('HSET', key, '_exp', exp, '_seen', now, '_n', count, '_size', size)
redis.call('PEXPIREAT', key, exp)
return {1, exp}
