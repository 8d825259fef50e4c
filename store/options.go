package store

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults applied to zero-valued Options fields.
const (
	// DefaultIdleTimeout ends a session unused for this long.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultAbsoluteTimeout ends a session this long after it was created, however much it is used.
	DefaultAbsoluteTimeout = 12 * time.Hour
	// DefaultMaxValueBytes bounds one encoded field value.
	DefaultMaxValueBytes = 64 << 10
	// DefaultMaxFields bounds the number of application fields in one session.
	DefaultMaxFields = 1024
	// DefaultMaxSessionBytes bounds the application fields of one session, names and values together.
	DefaultMaxSessionBytes = 1 << 20
	// maxRefreshGranularity caps the default refresh granularity.
	maxRefreshGranularity = time.Minute
	// maxNameBytes bounds a field name.
	maxNameBytes = 256
	// maxUserIDBytes bounds a user ID, which becomes part of a Redis key.
	maxUserIDBytes = 512
)

// Options configure a Store. The zero value is a sane, secure configuration.
type Options struct {
	// Prefix is prepended to every key the store writes, e.g. "myapp:". Default: empty. It may not
	// contain '{' or '}': a Cluster hash tag in the prefix would put every session in one slot.
	Prefix string
	// IdleTimeout ends a session that is not used for this long. Default: 30 minutes. Each session
	// records its own idle timeout (see NewSession), so elevated sessions can have shorter ones.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after creation however much it is used; Redis enforces
	// it through the key's TTL. Default: 12 hours.
	AbsoluteTimeout time.Duration
	// RefreshGranularity is how far the recorded TTL end may fall behind now + idle timeout before a
	// read sends a refresh. Larger values mean fewer writes; a session may then end up to this much
	// earlier than its idle timeout after its last use. Default: a tenth of the idle timeout, at most
	// one minute. A session whose own idle timeout is shorter (a privilege level's) uses at most a
	// tenth of it.
	RefreshGranularity time.Duration
	// MaxValueBytes bounds one encoded field value. Default: 64 KiB.
	MaxValueBytes int
	// MaxFields bounds the number of application fields per session. Default: 1024.
	MaxFields int
	// MaxSessionBytes bounds the bytes of all application field names and values of one session.
	// Default: 1 MiB.
	MaxSessionBytes int
	// MaxSessionsPerUser caps a user's concurrent sessions: a login beyond the cap destroys the
	// user's session whose absolute deadline comes first. Default: 0, no cap.
	MaxSessionsPerUser int
	// AllowEvictingPolicy lets New accept a server whose maxmemory-policy is allkeys-*, where Redis
	// may evict live sessions silently. Default: false, such a server is refused with
	// ErrEvictionPolicy.
	AllowEvictingPolicy bool
	// ClientSideCache requires session loads to be served from go-redis' client-side cache (RESP3
	// CLIENT TRACKING) when the session was read before on this process: New then refuses, with
	// ErrClientCacheUnsupported, a client that would not cache (a Cluster client, one built without
	// NewCachedClient, NewCachedFailoverClient or CacheOptions.Apply, a server without RESP3), and
	// checks with one probe read that a repeated load is a cache hit. Whether or not it is set, the
	// store keeps a client's reachable cache consistent: after every write to a session it drops that
	// session's cached reply, so a request that follows a write on the same process reads the write.
	// Default: false. See docs/client-cache.md.
	ClientSideCache bool
	// DisableAutoPipeline sends every write straight to Redis. By default a write made while another
	// write of the same Store is in flight goes through go-redis' autopipeliner, which batches
	// concurrent writes into one round trip (see docs/client-cache.md for the measurements). Default:
	// false.
	DisableAutoPipeline bool
	// DurableDestroy makes logout (Destroy), logout everywhere and lockout (DestroyUser,
	// DestroyOthers, DestroyUserHandles, DestroyUserExcept) and revocation (Revoke, DestroyHandle) wait
	// until DurableDestroy.Replicas replicas have acknowledged the destroy (Redis WAIT), so that a
	// master failing right after acknowledging a logout cannot bring the session back with the replica
	// promoted in its place. When fewer acknowledge within DurableDestroy.Timeout the call returns an
	// error wrapping ErrNotDurable, after the destroy was applied on the master; retrying it is safe.
	// It costs two round trips per destroy (a fence write, then WAIT) and needs a *redis.Client or a
	// *redis.ClusterClient. Default: zero, no wait: a destroy returns once the master has applied it,
	// and a failover before the replica has it undoes it. See docs/reliability.md, "Durable logout".
	DurableDestroy DurableOptions
	// SkipChecks skips the eviction and persistence checks in New. Default: false.
	SkipChecks bool
	// Sealer encrypts the fields named in Encrypted at rest, e.g. an *encrypt.AEAD. Default: nil.
	Sealer Sealer
	// Encrypted names the fields the Sealer encrypts; they cannot be incremented. Default: none.
	Encrypted []string
	// Logger receives warnings from the checks and errors that cannot be returned. Default:
	// slog.Default(). Nothing logged ever contains a session ID.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if strings.ContainsAny(o.Prefix, "{}") {
		return o, fmt.Errorf("%w: Prefix %q contains a Cluster hash tag brace", ErrInvalidOptions, o.Prefix)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"IdleTimeout", o.IdleTimeout}, {"AbsoluteTimeout", o.AbsoluteTimeout}, {"RefreshGranularity", o.RefreshGranularity}} {
		if d.v < 0 {
			return o, fmt.Errorf("%w: %s is negative (%v)", ErrInvalidOptions, d.name, d.v)
		}
	}
	if o.MaxValueBytes < 0 || o.MaxFields < 0 || o.MaxSessionBytes < 0 || o.MaxSessionsPerUser < 0 {
		return o, fmt.Errorf("%w: a limit is negative", ErrInvalidOptions)
	}
	var err error
	if o.DurableDestroy, err = o.DurableDestroy.withDefaults(); err != nil {
		return o, err
	}
	if len(o.Encrypted) > 0 && o.Sealer == nil {
		return o, fmt.Errorf("%w: Encrypted fields need a Sealer", ErrInvalidOptions)
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.AbsoluteTimeout == 0 {
		o.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if o.IdleTimeout < time.Millisecond || o.AbsoluteTimeout < time.Millisecond {
		return o, fmt.Errorf("%w: timeouts must be at least 1ms", ErrInvalidOptions)
	}
	if o.RefreshGranularity == 0 {
		o.RefreshGranularity = min(o.IdleTimeout/10, maxRefreshGranularity)
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.MaxFields == 0 {
		o.MaxFields = DefaultMaxFields
	}
	if o.MaxSessionBytes == 0 {
		o.MaxSessionBytes = DefaultMaxSessionBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}
