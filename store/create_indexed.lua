-- create_indexed.lua: create.lua and index_add.lua as one atomic step, for servers where one script
-- may touch both keys (standalone and Sentinel; on Cluster they sit in different slots and run one
-- after the other, index first). scripts.go wraps the two files as the functions create and
-- index_add ahead of this body.
-- KEYS[1]  the user index; KEYS[2] the new session key
-- ARGV[1]  n, the number of index_add arguments; then index_add's ARGV (its score, ARGV[2], is
--          replaced by the deadline create sets); then create's ARGV
-- Returns  create's reply with index_add's reply (the members, then the handles over the cap) appended as one more
--          element when the session was created; create's refusal alone, with nothing written, else.
-- Invariant: a session of a user is never created without its index entry, nor indexed without
-- being created.
local n = tonumber(ARGV[1])
local ia, ca = {}, {}
for i = 2, n + 1 do ia[#ia + 1] = ARGV[i] end
for i = n + 2, #ARGV do ca[#ca + 1] = ARGV[i] end
local r = create({KEYS[2]}, ca)
if r[1] ~= 1 then return r end
ia[2] = r[3] -- the member's score: the absolute deadline create just set
r[#r + 1] = index_add({KEYS[1]}, ia)
return r
