-- rotate_local.lua: a whole rotation as one atomic script, for servers where one script may touch
-- every key (standalone and Sentinel), when the request carries no pending changes and no field is
-- encrypted (bound to the old handle): rotate.lua's first step copies the hash to the new key
-- server-side, then the new session gets its metadata and TTL, then index_add.lua swaps the index
-- entry. scripts.go wraps rotate.lua and index_add.lua as functions ahead of this body.
-- KEYS[1]  the old session key; KEYS[2] the new session key; KEYS[3] the user index
-- ARGV[1..4] rotate.lua's: the new handle, 'login' or 'level', the user id, the grace in ms
-- ARGV[5]  the old handle; ARGV[6] idle timeout, ms, and ARGV[7] absolute timeout, ms from now, of a
--          login ('level' keeps the session's own)
-- ARGV[8]  the level's absolute timeout, ms (0 for the ordinary level); ARGV[9] its idle timeout, ms;
--          ARGV[10] '1' when its lapse ends the session
-- ARGV[11] the per-user cap, 0 for none
-- ARGV[12] a login's absolute deadline cap, unix ms, 0 for none; ARGV[13] its creation time to keep,
--          unix ms, 0 for now
-- ARGV[14] m, the number of metadata pairs; then m pairs: a login's user, CSRF token and device, or
--          a level change's level
-- Returns  {1, expires, absolute deadline, created, index_add's reply, {the new session's metadata:
--          name, value, ...}} (its fields stay in Redis: a rotation need not read them); else rotate.lua's refusal
--          (nothing written, or only the old session ended by another user's login: {-9, owner}).
-- Invariant: as rotate.lua and index_add.lua; the new session exists only complete and indexed.
local r = rotate({KEYS[1], KEYS[2]}, {ARGV[1], ARGV[2], ARGV[3], ARGV[4]})
if r[1] ~= 1 then return r end
local now, new = r[2], KEYS[2]
local login = ARGV[2] == 'login'
local keep = {'_created', '_abs', '_idle', '_uid', '_csrf', '_ua', '_ip'}
local m = redis.call('HMGET', new, unpack(keep))
local created, abs, idle = tonumber(m[1]), tonumber(m[2]), tonumber(m[3])
local ident = {} -- what a level change keeps of the session's identity, reported back unchanged
if login then
  redis.call('HDEL', new, '_uid', '_csrf', '_ua', '_ip', '_level', '_lidle', '_labs', '_lend')
  created, idle = tonumber(ARGV[13]), tonumber(ARGV[6])
  if created == 0 then created = now end
  abs = now + tonumber(ARGV[7])
  local cap = tonumber(ARGV[12])
  if cap > 0 and cap < abs then abs = cap end
else
  redis.call('HDEL', new, '_level', '_lidle', '_labs', '_lend')
  for i = 4, #keep do
    if m[i] then ident[#ident + 1], ident[#ident + 2] = keep[i], m[i] end
  end
end
local exp = math.min(now + idle, abs)
local h = {'_created', created, '_abs', abs, '_idle', idle, '_seen', now}
exp = level_set(h, now, abs, exp, tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]) -- level.lua
h[#h + 1], h[#h + 2] = '_exp', exp
for i = 15, 14 + 2 * tonumber(ARGV[14]) do h[#h + 1] = ARGV[i] end
redis.call('HSET', new, unpack(h))
redis.call('PEXPIREAT', new, exp)
local uid = ARGV[3]
local over = {'0'}
if uid ~= '' then
  local replaces = ''
  if r[3] ~= '' then replaces = ARGV[5] end
  over = index_add({KEYS[3]}, {ARGV[1], abs, ARGV[11], replaces})
end
-- The new session's metadata: what was just written, and what a level change kept.
for i = 1, #ident do h[#h + 1] = ident[i] end
return {1, exp, abs, created, over, h}
