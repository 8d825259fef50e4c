package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/push"
)

// Defaults applied to zero-valued CacheOptions fields.
const (
	// DefaultCacheMaxEntries bounds the number of sessions one app process keeps cached.
	DefaultCacheMaxEntries = 10_000
	// DefaultCacheMaxBytes bounds the estimated heap the cache uses.
	DefaultCacheMaxBytes = 32 << 20
	// DefaultCacheMaxStaleness bounds how long a cached session is served without asking Redis again.
	DefaultCacheMaxStaleness = 5 * time.Second
)

// cacheEntryOverhead is the Go heap one cached reply costs beyond the bytes of its reply, cache key
// and Redis key: the entry, its place in three maps, its wait channel and key slices. It was measured
// with TestClientCacheMemoryPerSession; it makes MaxBytes a bound on real heap, not on payload.
const cacheEntryOverhead = 700

// ErrClientCacheUnsupported means client-side caching was asked for where it cannot work: on Redis
// Cluster (go-redis does not support it there), with a client the store cannot reach the cache of,
// with settings under which go-redis silently does not cache (RESP2, a database other than 0, a
// credentials provider), or with a custom push notification processor, under which go-redis does not
// promise to apply invalidations.
var ErrClientCacheUnsupported = errors.New("redisession/store: client-side caching unavailable")

// CacheOptions size the client-side cache that serves session loads without a round trip (see
// NewCachedClient and Options.ClientSideCache). The zero value is a sane configuration.
type CacheOptions struct {
	// MaxEntries bounds the number of cached sessions. Default: 10,000.
	MaxEntries int
	// MaxBytes bounds the cache's heap use, estimated per entry as the reply, the keys and a measured
	// fixed overhead (about 1.5 KiB for a session of a dozen short fields). The cache is split into
	// 16 shards that each hold a sixteenth of both limits, so a session whose reply is larger than
	// MaxBytes/16 is never cached; it is read from Redis instead. Default: 32 MiB.
	MaxBytes int64
	// MaxStaleness bounds how long a cached session is served before Redis is asked again, whatever
	// happens to invalidation messages: the backstop for an invalidation that never arrives. Each
	// cached session costs at most one extra read per MaxStaleness. It must be positive (the backstop
	// cannot be switched off). Default: 5 seconds.
	MaxStaleness time.Duration
	// DrainInterval is how often connections idle in the pool are read for invalidation messages
	// that arrived while no command used them, which bounds how late another process's write is
	// seen in the usual case. Default: go-redis' default, 5 milliseconds.
	DrainInterval time.Duration
}

func (co CacheOptions) withDefaults() (CacheOptions, error) {
	if co.MaxEntries < 0 || co.MaxBytes < 0 || co.MaxStaleness < 0 || co.DrainInterval < 0 {
		return co, fmt.Errorf("%w: a CacheOptions value is negative", ErrInvalidOptions)
	}
	if co.MaxEntries == 0 {
		co.MaxEntries = DefaultCacheMaxEntries
	}
	if co.MaxBytes == 0 {
		co.MaxBytes = DefaultCacheMaxBytes
	}
	if co.MaxStaleness == 0 {
		co.MaxStaleness = DefaultCacheMaxStaleness
	}
	return co, nil
}

// config is go-redis' configuration of a cache bounded by co. go-redis reads the cache's limits from
// the cache and DrainInterval from the client's options, so Apply sets both.
func (co CacheOptions) config() (*redis.CacheConfig, error) {
	co, err := co.withDefaults()
	if err != nil {
		return nil, err
	}
	return &redis.CacheConfig{
		MaxEntries:     co.MaxEntries,
		MaxMemoryBytes: co.MaxBytes,
		Sizer:          cacheSizer,
		MaxStaleness:   co.MaxStaleness,
		DrainInterval:  co.DrainInterval,
	}, nil
}

// cacheSizer estimates the heap one cache entry holds.
func cacheSizer(cacheKey string, redisKeys []string, value []byte) int64 {
	n := cacheEntryOverhead + len(cacheKey) + len(value)
	for _, k := range redisKeys {
		n += 2 * len(k) // the entry's copy and the index's map key
	}
	return int64(n)
}

// Apply turns on client-side caching in o: RESP3 and a fresh cache bounded by co, set as
// o.ClientSideCache where the store can reach it to keep read-your-writes (see
// Options.ClientSideCache). Build exactly one client from o afterwards. It refuses, instead of
// letting go-redis fall back to uncached reads, options under which go-redis would not cache: RESP2,
// a database other than 0, a credentials provider or a custom push notification processor.
func (co CacheOptions) Apply(o *redis.Options) error {
	if o == nil {
		return fmt.Errorf("%w: nil redis.Options", ErrInvalidOptions)
	}
	if o.Protocol == 0 {
		o.Protocol = 3
	}
	if err := cacheablePolicy(o.Protocol, o.DB, o.CredentialsProvider != nil || o.CredentialsProviderContext != nil ||
		o.StreamingCredentialsProvider != nil, o.PushNotificationProcessor != nil); err != nil {
		return err
	}
	cfg, err := co.config()
	if err != nil {
		return err
	}
	// The cache is go-redis' own, built here so that the store can reach it; the configuration is set
	// too because go-redis reads DrainInterval from it, not from the cache.
	o.ClientSideCache = redis.NewLocalCache(*cfg)
	o.ClientSideCacheConfig = cfg
	return nil
}

// cacheablePolicy reports why go-redis would not cache on a client with these settings, or nil.
func cacheablePolicy(protocol, db int, credentialsProvider, pushProcessor bool) error {
	switch {
	case protocol != 3:
		return fmt.Errorf("%w: client-side caching needs RESP3 (Protocol 3), not %d", ErrClientCacheUnsupported, protocol)
	case db != 0:
		return fmt.Errorf("%w: go-redis caches only database 0, not %d", ErrClientCacheUnsupported, db)
	case credentialsProvider:
		return fmt.Errorf("%w: go-redis does not cache with a credentials provider; use a fixed Username and Password", ErrClientCacheUnsupported)
	case pushProcessor:
		return fmt.Errorf("%w: go-redis caches only with its own push notification processor", ErrClientCacheUnsupported)
	}
	return nil
}

// NewCachedClient returns a standalone client built from a copy of o with client-side caching
// bounded by co (see Apply). Pair it with Options.ClientSideCache:
//
//	rdb, err := store.NewCachedClient(&redis.Options{Addr: addr}, store.CacheOptions{})
//	...
//	st, err := store.New(ctx, rdb, store.Options{ClientSideCache: true})
func NewCachedClient(o *redis.Options, co CacheOptions) (*redis.Client, error) {
	if o == nil {
		return nil, fmt.Errorf("%w: nil redis.Options", ErrInvalidOptions)
	}
	cp := *o
	if err := co.Apply(&cp); err != nil {
		return nil, err
	}
	return redis.NewClient(&cp), nil
}

// NewCachedUniversalClient is NewUniversalClient with client-side caching: a standalone client
// (NewCachedClient) for one address, a Sentinel-following one (NewCachedFailoverClient) when
// o.MasterName is set. Cluster options (several addresses, or IsClusterMode) are refused with
// ErrClientCacheUnsupported, because go-redis does not support the cache on Cluster.
func NewCachedUniversalClient(o *redis.UniversalOptions, co CacheOptions) (redis.UniversalClient, error) {
	if o == nil {
		return nil, fmt.Errorf("%w: nil redis.UniversalOptions", ErrInvalidOptions)
	}
	switch {
	case o.MasterName != "" && (o.RouteByLatency || o.RouteRandomly || o.IsClusterMode):
		return nil, fmt.Errorf("%w: reading from replicas (RouteByLatency, RouteRandomly, IsClusterMode) is not supported with the cache", ErrClientCacheUnsupported)
	case o.MasterName != "":
		return NewCachedFailoverClient(o.Failover(), co)
	case len(o.Addrs) > 1 || o.IsClusterMode:
		return nil, errClusterCache
	}
	return NewCachedClient(o.Simple(), co)
}

var errClusterCache = fmt.Errorf("%w: go-redis does not support client-side caching on Redis Cluster; turn it off there", ErrClientCacheUnsupported)

// sessionCache is the client-side cache behind the store's client.
type sessionCache struct {
	cache redis.Cache
	// ns is the prefix go-redis puts before a Redis key in the cache's key index: the database and
	// the ACL user, length-delimited.
	ns string
}

// forget drops the cached reply for key, if any, and any read of it still in flight: called after
// every write to a session key, so that a request that follows the write on this process never sees
// the old value, whenever Redis' invalidation message arrives.
func (s *Store) forget(key string) {
	if s.cache != nil {
		s.cache.cache.DeleteByRedisKey(s.cache.ns + key)
	}
}

// CacheStats returns the client-side cache's counters and size, and false when the store reads
// without a cache (or the cache keeps no statistics).
func (s *Store) CacheStats() (redis.CSCStats, bool) {
	if s.cache == nil {
		return redis.CSCStats{}, false
	}
	r, ok := s.cache.cache.(interface{ Stats() redis.CSCStats })
	if !ok {
		return redis.CSCStats{}, false
	}
	return r.Stats(), true
}

// attachCache finds the client-side cache of the store's client. A cache the store can reach (an
// explicit redis.Options.ClientSideCache) is always used to keep read-your-writes, whether or not
// Options.ClientSideCache asked for it; one it cannot reach (ClientSideCacheConfig) is refused,
// because loads would then be cached without that guarantee. With Options.ClientSideCache set, it
// refuses clients that would not cache and checks with a probe that a repeated load is served from
// the cache.
func (s *Store) attachCache(ctx context.Context) error {
	want := s.opts.ClientSideCache
	c, ok := s.rdb.(interface{ Options() *redis.Options })
	if !ok {
		if _, cluster := s.rdb.(*redis.ClusterClient); cluster && want {
			return errClusterCache
		}
		if want {
			return fmt.Errorf("%w: a %T has no client-side cache; build the client with NewCachedClient", ErrClientCacheUnsupported, s.rdb)
		}
		return nil
	}
	o := c.Options()
	if o.ClientSideCache == nil && o.ClientSideCacheConfig == nil {
		if want {
			return fmt.Errorf("%w: the Redis client has no client-side cache; build it with NewCachedClient, NewCachedFailoverClient or CacheOptions.Apply", ErrClientCacheUnsupported)
		}
		return nil
	}
	credentials := o.CredentialsProvider != nil || o.CredentialsProviderContext != nil || o.StreamingCredentialsProvider != nil
	if err := cacheablePolicy(o.Protocol, o.DB, credentials, false); err != nil {
		// go-redis serves nothing from this cache, so there is nothing to keep consistent.
		if want {
			return err
		}
		return nil
	}
	if o.ClientSideCache == nil {
		return fmt.Errorf("%w: the Redis client caches through ClientSideCacheConfig, whose cache the store cannot reach to keep read-your-writes; build it with NewCachedClient or CacheOptions.Apply (an explicit ClientSideCache)", ErrClientCacheUnsupported)
	}
	if _, builtin := o.PushNotificationProcessor.(*push.Processor); want && o.PushNotificationProcessor != nil && !builtin {
		// go-redis caches with it all the same (New puts its own processor here otherwise), but
		// says that invalidations may then be missed.
		return cacheablePolicy(o.Protocol, o.DB, credentials, true)
	}
	s.cache = &sessionCache{cache: o.ClientSideCache, ns: cacheNamespace(o.DB, o.Username)}
	if want {
		return s.probeCache(ctx)
	}
	return nil
}

// cacheNamespace is go-redis' namespace for the keys of a client on database db as user (see
// cscNamespacePrefix in go-redis); TestClientCacheForgetReachesEntry fails if it ever changes.
func cacheNamespace(db int, user string) string {
	return strconv.Itoa(db) + "\x00" + strconv.Itoa(len(user)) + ":" + user + "\x00"
}

// probeCache loads a key that is never a session twice and checks that the second load was a cache
// hit, so that a server without RESP3 tracking is refused at start instead of serving every load
// with a round trip. It costs one round trip.
func (s *Store) probeCache(ctx context.Context) error {
	st, ok := s.cache.cache.(interface{ Stats() redis.CSCStats })
	if !ok {
		return nil // a custom cache without statistics: nothing to check against
	}
	key := s.sessionKey("cache-probe") // not a handle: never a session
	defer s.forget(key)
	before := st.Stats().Hits
	for range 2 {
		if err := s.rdb.HGetAll(ctx, key).Err(); err != nil {
			return fmt.Errorf("redisession/store: client-side cache probe: %w", err)
		}
	}
	if st.Stats().Hits == before {
		return fmt.Errorf("%w: the client-side cache served no read (does the server support RESP3 CLIENT TRACKING, Redis 6 or later?)", ErrClientCacheUnsupported)
	}
	return nil
}
