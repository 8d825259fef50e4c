-- refresh.lua: slides a session's TTL forward after a read, at most once per granularity.
-- KEYS[1]  the session key
-- ARGV[1]  granularity, ms: no write when the recorded end is already within this of the wanted end;
--          never more than a tenth of the session's idle timeout, nor of its level's while one holds
-- Returns  {1, expires}; {0} the session is gone; {-6} it was past its absolute deadline (deleted
--          now); {-5} corrupt; {-7} the session was rotated away (nothing written).
-- Invariant: never recreates a deleted key (it checks existence first, and PEXPIREAT cannot create a
-- key); the TTL never passes the absolute deadline; a session past its deadline is deleted.
local key = KEYS[1]
local meta = redis.call('HMGET', key, '_abs', '_idle', '_exp', '_rot')
if not meta[1] then return {0} end
if meta[4] then return {-7} end
local abs, idle, exp = tonumber(meta[1]), tonumber(meta[2]), tonumber(meta[3])
if not abs or not idle or not exp then return {-5} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if abs <= now then
  redis.call('DEL', key)
  return {-6}
end
local want, stepdown, lidle = level(key, now, math.min(now + idle, abs))
if not want then
  redis.call('DEL', key)
  return {0}
end
local g = math.min(tonumber(ARGV[1]), math.floor(idle / 10))
if lidle then g = math.min(g, math.floor(lidle / 10)) end
if want - exp <= g and not stepdown then return {1, exp} end
if stepdown then redis.call('HDEL', key, '_level', '_lidle', '_labs') end
redis.call('PEXPIREAT', key, want)
redis.call('HSET', key, '_exp', want, '_seen', now)
return {1, want}
