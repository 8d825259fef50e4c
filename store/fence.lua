-- fence.lua: the write a durable destroy waits on (see durable.go). It checks that KEYS[1] holds
-- no live session and then writes to it, so that the write enters the replication stream after
-- every earlier write of this master: WAIT on the same connection then covers the destroy, and any
-- earlier destroy of the same key (another request's, or an attempt whose wait failed).
-- KEYS[1]  a session key the destroy ended or found ended, or the fence key of durable.go
-- ARGV[1]  tombstone life, ms, for a key that does not exist
-- Returns  1 when the key holds no live session: it is a tombstone now (written again when it was
--          one already; the write is what WAIT counts); 0 when it holds a live session: nothing is
--          written.
-- Invariant: a live session is never touched; a tombstone keeps its fields and its TTL.
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 and redis.call('HEXISTS', key, '_dead') == 0 then
  return 0
end
redis.call('HSET', key, '_dead', '1')
if redis.call('PTTL', key) < 0 then
  redis.call('PEXPIRE', key, ARGV[1])
end
return 1
