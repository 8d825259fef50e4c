-- destroy.lua: deletes one session and tells whose it was and what it was rotated into, so the caller
-- can update that user's index and end the successor too.
-- KEYS[1]  the session key
-- ARGV[1]  '1' to delete only if the session belongs to user ARGV[2]; '0' to delete whatever it is
-- ARGV[3]  tombstone life, ms: when the key does not exist, a tombstone is left for this long, so that
--          a rotation still creating this handle fails instead of bringing the session back
-- Returns  {owner, successor} when it deleted a session: the user id ('' for an anonymous session)
--          and the handle it was rotated into ('' for none, '-' for a session ended by another
--          user's login); nil when it did not exist or belongs to another user.
-- Invariant: a revoke by handle never destroys another user's session; a handle destroyed before its
-- session was created is never created afterwards (create.lua refuses a tombstone).
local key = KEYS[1]
local meta = redis.call('HMGET', key, '_uid', '_rot', '_dead')
if meta[3] then return false end
if redis.call('EXISTS', key) == 0 then
  if tonumber(ARGV[3]) > 0 then
    redis.call('HSET', key, '_dead', '1')
    redis.call('PEXPIRE', key, ARGV[3])
  end
  return false
end
local uid = meta[1] or ''
if ARGV[1] == '1' and uid ~= ARGV[2] then return false end
redis.call('DEL', key)
return {uid, meta[2] or ''}
