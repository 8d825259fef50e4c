-- create.lua: creates a session hash, its metadata and its TTL in one atomic step.
-- KEYS[1]  the session key, <prefix>session:<sha256 of the id>
-- ARGV[1]  idle timeout, ms
-- ARGV[2]  absolute timeout, ms from now
-- ARGV[3]  absolute deadline cap, unix ms, 0 for none: an elevation never extends the session's own cap
-- ARGV[4]  creation time to keep, unix ms, 0 for now: a rotation keeps the device's first sign-in
-- ARGV[5]  max application fields; ARGV[6] max application bytes (names + values)
-- ARGV[7]  not after, unix ms, 0 for none: a rotation's successor must be created within the grace
--          period of its first step, while a destroy of the old ID still leaves a tombstone in time
-- ARGV[8]  a privilege level's absolute timeout, ms from now (never past the session's deadline), 0
--          for the ordinary level; ARGV[9] its idle timeout, ms; ARGV[10] '1' when its lapse ends the
--          session (the TTL then never passes the level's deadlines), '0' when it steps down
-- ARGV[11] m, the number of metadata pairs; then m metadata name/value pairs; then the application
--          name/value pairs
-- Returns  {1, expires, absolute deadline, created}; {0} if the deadline has already passed;
--          {-1} too many fields; {-2} too many bytes; {-4} the key exists (never overwritten);
--          {-10} the handle was destroyed before it was created (a tombstone), or ARGV[7] passed.
-- Invariant: a session key never exists without a TTL, and its TTL never passes its absolute deadline;
-- a session ended while its rotation was under way is never created.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HEXISTS', KEYS[1], '_dead') == 1 then return {-10} end
  return {-4}
end
local notAfter = tonumber(ARGV[7])
if notAfter > 0 and now > notAfter then return {-10} end
local idle = tonumber(ARGV[1])
local abs = now + tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
if cap > 0 and cap < abs then abs = cap end
if abs <= now then return {0} end
local created = tonumber(ARGV[4])
if created == 0 then created = now end
local first = 12 + 2 * tonumber(ARGV[11])
local count, size = 0, 0
for i = first, #ARGV, 2 do
  count = count + 1
  size = size + #ARGV[i] + #ARGV[i + 1]
end
if count > tonumber(ARGV[5]) then return {-1} end
if size > tonumber(ARGV[6]) then return {-2} end
local exp = math.min(now + idle, abs)
local h = {'_created', created, '_abs', abs, '_idle', idle, '_exp', exp, '_seen', now, '_n', count, '_size', size}
exp = level_set(h, now, abs, exp, tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]) -- level.lua
h[8] = exp
for i = 12, #ARGV do h[#h + 1] = ARGV[i] end
for i = 1, #h, 200 do redis.call('HSET', KEYS[1], unpack(h, i, math.min(i + 199, #h))) end
redis.call('PEXPIREAT', KEYS[1], exp)
return {1, exp, abs, created}
