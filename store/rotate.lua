-- rotate.lua: the first step of a rotation (a login or a privilege change), atomic on the OLD key.
-- It checks the session is live and whose it is, marks it rotated so that every later commit,
-- refresh, compare-and-set and rotation of it fails, shortens its life to a grace period (a tab that
-- has not seen the new cookie yet is told 409 rather than handed a new anonymous session), and
-- returns its whole hash as of that instant.
-- KEYS[1]  the old session key
-- ARGV[1]  the successor's handle, recorded in _rot: destroying the old ID ends the successor too
-- ARGV[2]  'login': ARGV[3] authenticated afresh; an anonymous session or one of ARGV[3] is carried
--          over, a session of another user is ended (_rot '-', nothing carried) and reported.
--          'level': a privilege change; the session must have a user, ARGV[3]'s when not empty.
-- ARGV[3]  user id
-- ARGV[4]  grace, ms: how long the rotated key lives on
-- KEYS[2]  optional, on servers where one script may touch several keys: the new session key, to
--          which the hash is copied, server-side, instead of being returned (rotate_local.lua)
-- Returns  {1, now, name, value, ...}: Redis' time and every field of the hash before the mark;
--          with KEYS[2], {1, now, uid} once the hash is copied; {-10} when KEYS[2] exists already;
--          {0} gone; {-6} past its absolute deadline (deleted now); {-7} already rotated;
--          {-8} no user, or another user than ARGV[3] ('level'); {-9, owner} another user's
--          session, now ended ('login'); {-5} corrupt.
-- Invariant: of concurrent rotations of one session exactly one gets {1}; every write acknowledged
-- before it is in the returned hash, every write after it is refused by the mark; a destroyed or
-- rotated session is never rotated again.
local key = KEYS[1]
local meta = redis.call('HMGET', key, '_abs', '_uid', '_rot')
if not meta[1] then return {0} end
if meta[3] then return {-7} end
local abs = tonumber(meta[1])
if not abs then return {-5} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if abs <= now then
  redis.call('DEL', key)
  return {-6}
end
local uid, want, grace = meta[2] or '', ARGV[3], tonumber(ARGV[4])
local function mark(successor)
  redis.call('HSET', key, '_rot', successor)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 or ttl > grace then redis.call('PEXPIRE', key, grace) end
end
if ARGV[2] == 'level' then
  if uid == '' or (want ~= '' and uid ~= want) then return {-8} end
elseif uid ~= '' and uid ~= want then
  mark('-')
  return {-9, uid}
end
if KEYS[2] then
  if redis.call('COPY', key, KEYS[2]) == 0 then return {-10} end
  mark(ARGV[1])
  return {1, now, uid}
end
local out = redis.call('HGETALL', key)
mark(ARGV[1])
table.insert(out, 1, now)
table.insert(out, 1, 1)
return out
