-- index_list.lua: prunes a user index of members past their deadline and returns the rest.
-- KEYS[1]  the user index
-- Returns  the live members and their scores, flattened: {handle, deadline, ...}, oldest deadline first.
-- Invariant: members past their absolute deadline never pile up; the index's TTL is left as it is,
--          already at least its newest member's deadline.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
