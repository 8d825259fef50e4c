-- destroy.lua: deletes one session and tells whose it was and what it was rotated into, so the caller
-- can update that user's index and end the successor too.
-- KEYS[1]  the session key
-- ARGV[1]  '1' to delete only if the session belongs to user ARGV[2]; '0' to delete whatever it is
-- ARGV[3]  tombstone life, ms: when the key does not exist, a tombstone is left for this long, so that
--          a rotation still creating this handle fails instead of bringing the session back
-- Returns  {owner, successor, deleted}: the user id ('' for an anonymous session), the handle the
--          session was rotated into ('' for none, '-' for a session ended by another user's login),
--          and 1 when this call deleted a live or rotated session, 0 when it found the tombstone of a
--          rotated one (so that a retried destroy still follows the successor); nil when there was
--          nothing, or the session belongs to another user.
-- Invariant: a revoke by handle never destroys another user's session; a handle destroyed before its
-- session was created is never created afterwards (create.lua refuses a tombstone); a rotated
-- session's successor stays reachable from its old ID for the tombstone's life.
local key = KEYS[1]
local life = tonumber(ARGV[3])
local meta = redis.call('HMGET', key, '_uid', '_rot', '_dead')
local uid = meta[1] or ''
if meta[3] then
  if not meta[2] or (ARGV[1] == '1' and uid ~= ARGV[2]) then return false end
  return {uid, meta[2], '0'}
end
if redis.call('EXISTS', key) == 0 then
  if life > 0 then
    redis.call('HSET', key, '_dead', '1')
    redis.call('PEXPIRE', key, life)
  end
  return false
end
if ARGV[1] == '1' and uid ~= ARGV[2] then return false end
redis.call('DEL', key)
local succ = meta[2] or ''
if succ ~= '' and succ ~= '-' then
  redis.call('HSET', key, '_dead', '1', '_rot', succ, '_uid', uid)
  redis.call('PEXPIRE', key, math.max(life, 1000))
end
return {uid, succ, '1'}
