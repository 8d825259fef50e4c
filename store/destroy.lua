-- destroy.lua: deletes one session and tells whose it was, so the caller can update that user's index.
-- KEYS[1]  the session key
-- ARGV[1]  '1' to delete only if the session belongs to user ARGV[2]; '0' to delete whatever it is
-- Returns  the session's user id ('' for an anonymous session) when it was deleted; nil when it did
--          not exist or belongs to another user.
-- Invariant: a revoke by handle never destroys another user's session.
local key = KEYS[1]
local uid = redis.call('HGET', key, '_uid')
if not uid then
  if redis.call('EXISTS', key) == 0 then return false end
  uid = ''
end
if ARGV[1] == '1' and uid ~= ARGV[2] then return false end
redis.call('DEL', key)
return uid
