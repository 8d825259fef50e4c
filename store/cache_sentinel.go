package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// NewCachedFailoverClient returns a client for the master that Redis Sentinel names, with
// client-side caching bounded by co, which go-redis' own failover client (NewFailoverClient) does not
// offer. It is a standalone go-redis client whose dialer asks the sentinels, in order, for the current
// master each time it opens a connection, and which checks on every new connection (a bare HELLO)
// that the server it reached is a master; connections to a server that is not are refused and
// dialled again.
//
// It follows a failover when the connections to the old master close: Sentinel closes them when it
// demotes that server (CLIENT KILL TYPE normal), and a crashed master's connections fail. Closing a
// connection drops every session it cached, so nothing the old master served outlives the switch.
// Unlike NewFailoverClient it keeps no subscription to the sentinels and sends nothing in the
// background; a demoted master that stays reachable but is not yet reconfigured keeps this client
// until Sentinel reconfigures it, as it keeps any client.
//
// Reading from replicas (ReplicaOnly, RouteByLatency, RouteRandomly) and credentials providers are
// refused with ErrClientCacheUnsupported.
func NewCachedFailoverClient(fo *redis.FailoverOptions, co CacheOptions) (*redis.Client, error) {
	if fo == nil {
		return nil, fmt.Errorf("%w: nil redis.FailoverOptions", ErrInvalidOptions)
	}
	if fo.MasterName == "" || len(fo.SentinelAddrs) == 0 {
		return nil, fmt.Errorf("%w: a master name and at least one sentinel address are needed", ErrInvalidOptions)
	}
	if fo.ReplicaOnly || fo.RouteByLatency || fo.RouteRandomly {
		return nil, fmt.Errorf("%w: reading from replicas is not supported with the cache", ErrClientCacheUnsupported)
	}
	d := &sentinelDialer{fo: fo, sentinels: append([]string(nil), fo.SentinelAddrs...)}
	o := &redis.Options{
		Addr:       "sentinel:" + fo.MasterName,
		ClientName: fo.ClientName,
		Dialer:     d.dial,
		OnConnect:  d.onConnect,

		Protocol:                     fo.Protocol,
		Username:                     fo.Username,
		Password:                     fo.Password,
		CredentialsProvider:          fo.CredentialsProvider,
		CredentialsProviderContext:   fo.CredentialsProviderContext,
		StreamingCredentialsProvider: fo.StreamingCredentialsProvider,
		DB:                           fo.DB,

		MaxRetries:      fo.MaxRetries,
		MinRetryBackoff: fo.MinRetryBackoff,
		MaxRetryBackoff: fo.MaxRetryBackoff,

		DialTimeout:           fo.DialTimeout,
		ReadTimeout:           fo.ReadTimeout,
		WriteTimeout:          fo.WriteTimeout,
		ContextTimeoutEnabled: fo.ContextTimeoutEnabled,
		ReadBufferSize:        fo.ReadBufferSize,
		WriteBufferSize:       fo.WriteBufferSize,

		PoolFIFO:              fo.PoolFIFO,
		PoolSize:              fo.PoolSize,
		PoolTimeout:           fo.PoolTimeout,
		MinIdleConns:          fo.MinIdleConns,
		MaxIdleConns:          fo.MaxIdleConns,
		MaxActiveConns:        fo.MaxActiveConns,
		ConnMaxIdleTime:       fo.ConnMaxIdleTime,
		ConnMaxLifetime:       fo.ConnMaxLifetime,
		ConnMaxLifetimeJitter: fo.ConnMaxLifetimeJitter,

		TLSConfig:       fo.TLSConfig,
		DisableIdentity: fo.DisableIdentity || fo.DisableIndentity,
		IdentitySuffix:  fo.IdentitySuffix,

		PushNotificationProcessor: fo.PushNotificationProcessor,
	}
	return NewCachedClient(o, co)
}

// sentinelDialer opens connections to the master the sentinels name.
type sentinelDialer struct {
	fo        *redis.FailoverOptions
	sentinels []string
}

// errNotMaster means a new connection reached a server that is not the master.
var errNotMaster = errors.New("redisession/store: the server Sentinel named is not a master (failover in progress?)")

// masterAddr asks each sentinel in turn for the master's address and returns the first answer.
func (d *sentinelDialer) masterAddr(ctx context.Context) (string, error) {
	var errs []error
	for _, addr := range d.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{
			Addr:         addr,
			Username:     d.fo.SentinelUsername,
			Password:     d.fo.SentinelPassword,
			DialTimeout:  d.fo.DialTimeout,
			ReadTimeout:  d.fo.ReadTimeout,
			WriteTimeout: d.fo.WriteTimeout,
			TLSConfig:    d.fo.TLSConfig,
			MaxRetries:   -1,
			PoolSize:     1,
		})
		hp, err := sc.GetMasterAddrByName(ctx, d.fo.MasterName).Result()
		_ = sc.Close()
		if err == nil && len(hp) == 2 {
			return net.JoinHostPort(hp[0], hp[1]), nil
		}
		if err == nil {
			err = fmt.Errorf("unexpected reply %q", hp)
		}
		errs = append(errs, fmt.Errorf("sentinel %s: %w", addr, err))
	}
	return "", fmt.Errorf("redisession/store: no sentinel named master %q: %w", d.fo.MasterName, errors.Join(errs...))
}

// dial connects to the current master.
func (d *sentinelDialer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	addr, err := d.masterAddr(ctx)
	if err != nil {
		return nil, err
	}
	if d.fo.Dialer != nil {
		return d.fo.Dialer(ctx, network, addr)
	}
	nd := &net.Dialer{Timeout: d.fo.DialTimeout}
	if d.fo.TLSConfig == nil {
		return nd.DialContext(ctx, network, addr)
	}
	td := &tls.Dialer{NetDialer: nd, Config: d.fo.TLSConfig}
	return td.DialContext(ctx, network, addr)
}

// onConnect refuses a connection to a server that is not a master (HELLO, which every ACL user may
// run, reports the role), then runs the caller's OnConnect.
func (d *sentinelDialer) onConnect(ctx context.Context, cn *redis.Conn) error {
	v, err := cn.Do(ctx, "HELLO").Result()
	if err != nil {
		return fmt.Errorf("redisession/store: HELLO on a new connection: %w", err)
	}
	if role := helloField(v, "role"); !strings.EqualFold(role, "master") {
		return fmt.Errorf("%w: role %q", errNotMaster, role)
	}
	if d.fo.OnConnect != nil {
		return d.fo.OnConnect(ctx, cn)
	}
	return nil
}

// helloField returns the string value of name in a HELLO reply (a map in RESP3, a flat list in RESP2).
func helloField(v any, name string) string {
	switch m := v.(type) {
	case map[any]any:
		s, _ := m[name].(string)
		return s
	case []any:
		for i := 0; i+1 < len(m); i += 2 {
			if k, _ := m[i].(string); k == name {
				s, _ := m[i+1].(string)
				return s
			}
		}
	}
	return ""
}
