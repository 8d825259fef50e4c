package demo

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/store"
)

// connectTimeout bounds the first PING that proves Redis reachable at start.
const connectTimeout = 10 * time.Second

// Redis is the Redis an App runs on.
type Redis struct {
	// Client is the go-redis client: standalone, cluster or failover.
	Client redis.UniversalClient
	// Addrs are the addresses it was given, for messages.
	Addrs []string
	// Embedded is true for the in-process Redis.
	Embedded bool
	// Cached is true when session loads may be served from go-redis' client-side cache.
	Cached bool

	embedded *embedded
}

// OpenRedis connects to the Redis cfg names, or starts the embedded one, and returns once it answers
// PING. An unreachable Redis is an error naming its address.
func OpenRedis(ctx context.Context, cfg Config, log *slog.Logger) (*Redis, error) {
	r := &Redis{Addrs: cfg.Redis.Addrs()}
	var err error
	switch cfg.Redis.Mode {
	case RedisEmbedded:
		err = r.useEmbedded(ctx, cfg, log)
	case RedisStandalone, RedisSentinel:
		r.Client, r.Cached, err = dataClient(cfg)
	case RedisCluster:
		// LoadConfig refuses SESSION_CLIENT_CACHE here: go-redis has no client-side cache on Cluster.
		r.Client = redis.NewClusterClient(cfg.Redis.Cluster)
	default:
		err = fmt.Errorf("unknown Redis mode %d", cfg.Redis.Mode)
	}
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := r.Client.Ping(pctx).Err(); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %w", strings.Join(r.Addrs, ", "), err)
	}
	return r, nil
}

// useEmbedded starts the in-process Redis and says so in the log.
func (r *Redis) useEmbedded(ctx context.Context, cfg Config, log *slog.Logger) error {
	e, err := startEmbedded()
	if err != nil {
		return err
	}
	r.embedded, r.Embedded, r.Addrs = e, true, []string{e.addr()}
	r.Client = redis.NewClient(&redis.Options{Addr: e.addr()})
	log.InfoContext(ctx, "REDIS_URL is empty: using an embedded in-process Redis (miniredis); sessions are lost when the app stops",
		"addr", e.addr())
	if cfg.ClientCache {
		log.WarnContext(ctx, "SESSION_CLIENT_CACHE=true is ignored on the embedded Redis, which cannot track keys for a client-side cache")
	}
	return nil
}

// dataClient is where SESSION_CLIENT_CACHE takes effect for a standalone or Sentinel Redis: with it,
// the client comes from the store's helpers, which turn on go-redis' client-side cache (RESP3
// tracking), and the store is told to rely on it (store.Options.ClientSideCache); without it, a plain
// go-redis client.
func dataClient(cfg Config) (c redis.UniversalClient, cached bool, err error) {
	rc := cfg.Redis
	switch {
	case rc.Mode == RedisStandalone && cfg.ClientCache:
		c, err = store.NewCachedClient(rc.Standalone, store.CacheOptions{})
	case rc.Mode == RedisStandalone:
		c = redis.NewClient(rc.Standalone)
	case cfg.ClientCache:
		c, err = store.NewCachedFailoverClient(rc.Failover, store.CacheOptions{})
	default:
		c = redis.NewFailoverClient(rc.Failover)
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", EnvClientCache, err)
	}
	return c, cfg.ClientCache, nil
}

// Ping reports whether Redis answers within timeout.
func (r *Redis) Ping(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return r.Client.Ping(ctx).Err()
}

// Close closes the client and stops the embedded Redis.
func (r *Redis) Close() error {
	err := r.Client.Close()
	if r.embedded != nil {
		r.embedded.close()
	}
	return err
}
