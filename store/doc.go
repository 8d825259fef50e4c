// Package store keeps HTTP sessions in Redis: one Hash per session, correct TTLs, write-back of only
// the changed fields, ID rotation, and a per-user index for device lists and logout everywhere.
//
// # Data in Redis
//
// A session ID is 32 bytes from crypto/rand, base64url-encoded (43 characters). Redis never sees it:
// the session lives at <prefix>session:<hex SHA-256 of the ID>, so a dump, a replica or a MONITOR
// stream holds no usable token. The hex hash doubles as the session's Handle, which names it in
// device lists and revocations without being usable as an ID.
//
// Application fields are stored one per hash field, each value encoded on its own by the caller.
// Field names starting with "_" are reserved for metadata: _created, _abs (absolute deadline), _idle
// (idle timeout), _exp (when the current TTL ends), _seen (last refresh), _n and _size (field count
// and bytes, for the limits), _uid, _level, _ua, _ip and _csrf. Times are unix milliseconds by Redis'
// clock.
//
// A user's sessions are indexed in <prefix>user:<uid>:sessions, a sorted set of handles scored by
// each session's absolute deadline. Members past their deadline are pruned whenever the index is
// written or listed, members whose session idled out are dropped when listed, and the index's TTL is
// kept at least as long as its newest member's deadline.
//
// # Guarantees
//
//   - No key without a TTL: every script that creates or touches a session sets its TTL in the same
//     script, and TTL = min(now + idle timeout, absolute deadline), computed with Redis' TIME.
//   - A load is one HGETALL and nothing else; the hash records when its TTL ends, so the caller can
//     decide locally whether a refresh is due (NeedsRefresh), and refreshes are throttled by
//     Options.RefreshGranularity.
//   - A commit applies only the changed fields, in one script, and only to a session that still
//     exists: a destroyed session is never recreated.
//   - Every script touches exactly one key, so the store runs unchanged on Redis Cluster, where a
//     session and its user's index live in different slots. Multi-key steps (rotation, destroy) are
//     ordered so that a crash between them leaves at worst a dangling index entry.
//   - New refuses a server whose maxmemory-policy could evict live sessions silently, and warns when a
//     restart would lose them.
//
// # Client-side caching
//
// With a client built by NewCachedClient or NewCachedFailoverClient and Options.ClientSideCache, a
// load of a session this process has read before is served from go-redis' client-side cache (RESP3
// CLIENT TRACKING) with no round trip. Redis invalidates cached sessions when they change; the store
// also drops a session from its own process's cache after each of its writes, so that a request that
// follows a write on the same process reads it. Every load still checks the recorded end and absolute
// deadline against the clock, writes always go to Redis, and CacheOptions.MaxStaleness bounds how long
// a lost invalidation can leave a stale copy in use. Redis Cluster is refused (go-redis has no cache
// there). See docs/client-cache.md for the guarantees and their measured bounds.
package store
