-- level.lua: the privilege level's rule, shared by the scripts that create a session or move its TTL
-- (create.lua, rotate_local.lua, commit.lua, cas.lua, refresh.lua): scripts.go puts it ahead of each,
-- so it is written once. A level has its own idle timeout (_lidle, ms, counted
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

-- level_set(h, now, abs, exp, labsIn, lidle, lend) gives a new session a level's timeouts: it appends
-- the level's fields to h, the HSET arguments being built, and returns the TTL end, bounded by the
-- level's deadlines when its lapse ends the session. labsIn is the level's absolute timeout in ms from
-- now (0 for the ordinary level: nothing is added), lidle its idle timeout, lend '1' when it ends the
-- session. The level's deadline never passes the session's, abs.
local function level_set(h, now, abs, exp, labsIn, lidle, lend)
  if labsIn <= 0 then return exp end
  local labs = math.min(now + labsIn, abs)
  h[#h + 1], h[#h + 2], h[#h + 3], h[#h + 4] = '_lidle', lidle, '_labs', labs
  if lend ~= '1' then return exp end
  h[#h + 1], h[#h + 2] = '_lend', '1'
  return math.min(exp, now + lidle, labs)
end
