-- level.lua: the privilege level's rule, shared by commit.lua, cas.lua and refresh.lua: scripts.go
-- puts it ahead of each, so it is written once. A level has its own idle timeout (_lidle, ms, counted
-- from the session's last use, _seen) and absolute deadline (_labs, unix ms); when either passes, the
-- level lapses: it steps down to the ordinary level (the default), or, with _lend set, ends the session.
-- level(key, now, exp) takes the TTL end the session's own timeouts give and returns:
--   the TTL end allowed (for a level that ends the session, never past the level's deadlines), or nil
--   when such a level has lapsed: the caller deletes the session;
--   whether a lapsed level must be removed with the caller's writes (before _seen moves, so that use
--   never revives a lapsed level);
--   the level's idle timeout while it holds, for the refresh granularity.
-- Invariant: a lapsed level is never current again; the session's own timeouts are never touched.
local function level(key, now, exp)
  local l = redis.call('HMGET', key, '_lidle', '_labs', '_seen', '_lend')
  local lidle, labs, seen = tonumber(l[1]), tonumber(l[2]), tonumber(l[3])
  if not lidle or not labs or not seen then return exp, false, nil end
  if now >= math.min(seen + lidle, labs) then
    if l[4] then return nil, false, nil end
    return exp, true, nil
  end
  if l[4] then return math.min(exp, now + lidle, labs), false, lidle end
  return exp, false, lidle
end
