-- index_add.lua: records a session in its user's index (replacing the session it was rotated from),
-- prunes expired members, and reports the members over the per-user cap.
-- KEYS[1]  the user index, <prefix>user:<uid>:sessions, a sorted set of session handles scored by
--          each session's absolute deadline (unix ms), the latest moment it can live
-- ARGV[1]  the handle to add; ARGV[2] its score; ARGV[3] the cap on members, 0 for none
-- ARGV[4]  the handle it replaces (a rotation), '' for none: removed in the same step, so the cap
--          counts a rotated session once
-- Returns  {members, handle...}: the number of members now (as a string; the caller prunes members
--          whose session idled out when there are many), then the handles over the cap, oldest
--          deadline first, never ARGV[1]. Those stay members: the caller destroys each session and only
--          then removes its member, so a failed destroy never leaves a live session that logout-all
--          cannot find.
-- Invariant: the index's TTL is never shorter than its newest member's deadline, so it never vanishes
-- while it has live members and never exists without a TTL.
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if ARGV[4] ~= '' then redis.call('ZREM', key, ARGV[4]) end
redis.call('ZADD', key, ARGV[2], ARGV[1])
local over = {}
local cap = tonumber(ARGV[3])
if cap > 0 then
  local n = redis.call('ZCARD', key) - cap
  if n > 0 then
    for _, m in ipairs(redis.call('ZRANGE', key, 0, n)) do
      if #over < n and m ~= ARGV[1] then over[#over + 1] = m end
    end
  end
end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, math.max(tonumber(last[2]), now + 1000))
table.insert(over, 1, tostring(redis.call('ZCARD', key)))
return over
