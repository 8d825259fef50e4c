-- index_add.lua: records a session in its user's index, prunes expired members, applies the cap.
-- KEYS[1]  the user index, <prefix>user:<uid>:sessions, a sorted set of session handles scored by
--          each session's absolute deadline (unix ms), the latest moment it can live
-- ARGV[1]  the handle to add; ARGV[2] its score; ARGV[3] the cap on members, 0 for none
-- Returns  the handles the cap pushed out, oldest deadline first; their sessions are for the caller to
--          destroy.
-- Invariant: the index's TTL is never shorter than its newest member's deadline, so it never vanishes
-- while it has live members and never exists without a TTL.
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
redis.call('ZADD', key, ARGV[2], ARGV[1])
local evicted = {}
local cap = tonumber(ARGV[3])
if cap > 0 then
  local over = redis.call('ZCARD', key) - cap
  if over > 0 then
    for _, m in ipairs(redis.call('ZRANGE', key, 0, over)) do
      if #evicted < over and m ~= ARGV[1] then evicted[#evicted + 1] = m end
    end
    redis.call('ZREM', key, unpack(evicted))
  end
end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, math.max(tonumber(last[2]), now + 1000))
return evicted
