package store

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on. Every error the store returns wraps one of these or a Redis error.
var (
	// ErrNotFound means the session does not exist: never created, destroyed, expired or past its
	// absolute deadline. Callers treat it as "no session", never as a failure.
	ErrNotFound = errors.New("redisession/store: session not found")
	// ErrDeadlinePassed means the session was found past its absolute deadline, and so is gone (a
	// script that found it also deleted it). It wraps ErrNotFound, so errors.Is(err, ErrNotFound)
	// holds for it too; callers that care why a session ended (metrics) test for it first. A session
	// whose key Redis already removed at its deadline reads as plain ErrNotFound: the store cannot tell
	// that from an idle timeout or an unknown ID.
	ErrDeadlinePassed = fmt.Errorf("%w: past its absolute deadline", ErrNotFound)
	// ErrRotated means the session was rotated to a new ID (a login or privilege change in another
	// request): its old ID reads as no session and refuses every write, refresh, compare-and-set and
	// further rotation, so that a straggling tab can neither reach the new session nor replace its
	// cookie. It does not wrap ErrNotFound: a write carrying a rotated ID must fail (409), never start
	// a new anonymous session.
	ErrRotated = errors.New("redisession/store: session was rotated to a new id")
	// ErrNoUser means a privilege change found a session without a user, or of another user than
	// expected; nothing was changed or created.
	ErrNoUser = errors.New("redisession/store: session has no user, or another one")
	// ErrInvalidID means the ID is empty or not 43 base64url characters; nothing was sent to Redis.
	ErrInvalidID = errors.New("redisession/store: invalid session id")
	// ErrReservedField means a field name is empty, too long or in the reserved metadata namespace
	// (names starting with "_").
	ErrReservedField = errors.New("redisession/store: invalid or reserved field name")
	// ErrTooLarge means a value, the number of fields or the session's size is over a configured limit;
	// nothing was written.
	ErrTooLarge = errors.New("redisession/store: over a size limit")
	// ErrCorrupt means the session hash in Redis does not hold the metadata the store writes.
	ErrCorrupt = errors.New("redisession/store: corrupt session hash")
	// ErrConflict means a compare-and-set found a value other than the expected one.
	ErrConflict = errors.New("redisession/store: value changed concurrently")
	// ErrNotInteger means an increment hit a field that does not hold a decimal integer.
	ErrNotInteger = errors.New("redisession/store: field is not an integer")
	// ErrEvictionPolicy means the server's maxmemory-policy may evict any key (allkeys-*), so sessions
	// would vanish silently; Options.AllowEvictingPolicy overrides it.
	ErrEvictionPolicy = errors.New("redisession/store: maxmemory-policy evicts sessions")
	// ErrInvalidOptions means an Options value is out of range.
	ErrInvalidOptions = errors.New("redisession/store: invalid options")
	// ErrInvalidChanges means a Changes value names one field in two operations or carries an
	// increment out of range; nothing was written.
	ErrInvalidChanges = errors.New("redisession/store: invalid changes")
)
