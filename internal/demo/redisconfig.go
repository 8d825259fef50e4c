package demo

import (
	"errors"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// RedisMode says which kind of Redis the app talks to.
type RedisMode int

const (
	// RedisEmbedded is an in-process Redis, for REDIS_URL empty.
	RedisEmbedded RedisMode = iota
	// RedisStandalone is one server named by REDIS_URL.
	RedisStandalone
	// RedisCluster is a Redis Cluster seeded by REDIS_URL (REDIS_CLUSTER=true).
	RedisCluster
	// RedisSentinel is a master found through the sentinels REDIS_URL names (REDIS_SENTINEL_MASTER).
	RedisSentinel
)

// RedisConfig is the parsed Redis part of the configuration; exactly the options of its Mode are set.
type RedisConfig struct {
	// Mode says which of the options below apply.
	Mode RedisMode
	// Standalone holds go-redis' options for RedisStandalone.
	Standalone *redis.Options
	// Cluster holds go-redis' options for RedisCluster.
	Cluster *redis.ClusterOptions
	// Failover holds go-redis' options for RedisSentinel.
	Failover *redis.FailoverOptions
}

// Addrs returns the addresses the configuration names, for messages: the server, the cluster seeds
// or the sentinels. The embedded Redis has none until it starts.
func (c RedisConfig) Addrs() []string {
	switch c.Mode {
	case RedisStandalone:
		return []string{c.Standalone.Addr}
	case RedisCluster:
		return c.Cluster.Addrs
	case RedisSentinel:
		return c.Failover.SentinelAddrs
	}
	return nil
}

// redis reads REDIS_URL, REDIS_CLUSTER and REDIS_SENTINEL_MASTER with go-redis' own URL parsers, so
// every query parameter they know (dial_timeout=, pool_size=, addr= for more cluster nodes or
// sentinels, ...) is accepted and anything else refused.
func (p *parser) redis() RedisConfig {
	raw := p.get(EnvRedisURL)
	cluster := p.boolean(EnvRedisCluster, false)
	master := p.get(EnvSentinelMaster)
	switch {
	case cluster && master != "":
		p.fail(EnvRedisCluster, "cannot be combined with %s: name either a cluster or a sentinel", EnvSentinelMaster)
	case raw == "" && cluster:
		p.fail(EnvRedisCluster, "needs %s to name a cluster node", EnvRedisURL)
	case raw == "" && master != "":
		p.fail(EnvSentinelMaster, "needs %s to name a sentinel", EnvRedisURL)
	case raw == "":
		return RedisConfig{Mode: RedisEmbedded}
	case cluster:
		o, err := redis.ParseClusterURL(raw)
		if err == nil {
			return RedisConfig{Mode: RedisCluster, Cluster: o}
		}
		p.fail(EnvRedisURL, "not a Redis Cluster URL: %v", redactURLError(err))
	case master != "":
		o, err := redis.ParseFailoverURL(raw)
		if err == nil {
			o.MasterName = master
			return RedisConfig{Mode: RedisSentinel, Failover: o}
		}
		p.fail(EnvRedisURL, "not a Redis Sentinel URL: %v", redactURLError(err))
	default:
		o, err := redis.ParseURL(raw)
		if err == nil {
			return RedisConfig{Mode: RedisStandalone, Standalone: o}
		}
		p.fail(EnvRedisURL, "not a redis:// or rediss:// URL: %v", redactURLError(err))
	}
	return RedisConfig{}
}

// redactURLError drops the URL itself, which may hold a password, from url.Parse's errors.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
