package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewCachedFailoverClient returns a client for the master that Redis Sentinel names, with
// client-side caching bounded by co, which go-redis' own failover client (NewFailoverClient) does not
// offer. It is a standalone go-redis client whose dialer asks the sentinels, in order, for the current
// master each time it opens a connection, and which checks on every new connection (a bare HELLO)
// that the server it reached is a master; connections to a server that is not are refused and
// dialled again.
//
// Like NewFailoverClient it follows a failover as soon as Sentinel announces it: while it has
// connections open it listens to the sentinel's +switch-master channel and closes its connections to
// the old master, so that writes go to the new one at once. A closed connection drops every session
// it cached, so nothing the old master served outlives the switch. Connections to a crashed master
// fail and are dropped the same way, and Sentinel closes a demoted master's client connections itself.
//
// Reading from replicas (ReplicaOnly, RouteByLatency, RouteRandomly) is refused with
// ErrClientCacheUnsupported, as are the settings Apply refuses.
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
	fc := *fo // the dialer keeps using these after the call
	fo = &fc
	d := &sentinelDialer{fo: fo, sentinels: append([]string(nil), fo.SentinelAddrs...), conns: map[*masterConn]struct{}{}}
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

		TLSConfig: fo.TLSConfig,
		//lint:ignore SA1019 the misspelt field is deprecated but still honoured by go-redis
		DisableIdentity: fo.DisableIdentity || fo.DisableIndentity,
		IdentitySuffix:  fo.IdentitySuffix,

		PushNotificationProcessor: fo.PushNotificationProcessor,
	}
	return NewCachedClient(o, co)
}

// sentinelDialer opens connections to the master the sentinels name, and closes them when Sentinel
// announces a new master.
type sentinelDialer struct {
	fo        *redis.FailoverOptions
	sentinels []string

	mu    sync.Mutex
	conns map[*masterConn]struct{} // the open connections
	stop  chan struct{}            // closes the +switch-master listener; nil when none runs
}

// masterConn is a connection dialled to a master, tracked so that a failover can close it.
type masterConn struct {
	net.Conn
	d    *sentinelDialer
	addr string
	once sync.Once
}

// Close stops tracking the connection and closes it.
func (c *masterConn) Close() error {
	c.once.Do(func() { c.d.untrack(c) })
	return c.Conn.Close()
}

// NetConn returns the wrapped connection, so that go-redis can inspect the socket.
func (c *masterConn) NetConn() net.Conn { return c.Conn }

// masterSysConn is a masterConn over a socket go-redis may peek at directly.
type masterSysConn struct{ *masterConn }

// SyscallConn returns the socket's raw connection.
func (c masterSysConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

// track records an open connection and starts the +switch-master listener if none runs.
func (d *sentinelDialer) track(c *masterConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns[c] = struct{}{}
	if d.stop == nil {
		d.stop = make(chan struct{})
		go d.listen(d.stop)
	}
}

// untrack forgets a closed connection and stops the listener with the last one: a closed client
// leaves nothing running.
func (d *sentinelDialer) untrack(c *masterConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns, c)
	if len(d.conns) == 0 && d.stop != nil {
		close(d.stop)
		d.stop = nil
	}
}

// switchMaster closes every connection that is not to addr, the new master.
func (d *sentinelDialer) switchMaster(addr string) {
	d.mu.Lock()
	var old []*masterConn
	for c := range d.conns {
		if c.addr != addr {
			old = append(old, c)
		}
	}
	d.mu.Unlock()
	for _, c := range old {
		_ = c.Close()
	}
}

// sentinelOptions are the options of a client for the sentinel at addr.
func (d *sentinelDialer) sentinelOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:         addr,
		Username:     d.fo.SentinelUsername,
		Password:     d.fo.SentinelPassword,
		DialTimeout:  d.fo.DialTimeout,
		ReadTimeout:  d.fo.ReadTimeout,
		WriteTimeout: d.fo.WriteTimeout,
		TLSConfig:    d.fo.TLSConfig,
		MaxRetries:   -1,
		PoolSize:     1,
	}
}

// listen follows the sentinels' +switch-master announcements until stop is closed, on the first
// sentinel that accepts the subscription; go-redis resubscribes to it after a broken connection.
func (d *sentinelDialer) listen(stop chan struct{}) {
	for {
		for _, addr := range d.sentinels {
			if d.listenOn(addr, stop) {
				return
			}
		}
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
	}
}

// listenOn follows one sentinel's announcements; it reports whether it returned because of stop.
func (d *sentinelDialer) listenOn(addr string, stop chan struct{}) bool {
	sc := redis.NewSentinelClient(d.sentinelOptions(addr))
	defer sc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	ps := sc.Subscribe(ctx, "+switch-master")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return ctx.Err() != nil
	}
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return true
		case msg, ok := <-ch:
			if !ok {
				return ctx.Err() != nil
			}
			// <master name> <old ip> <old port> <new ip> <new port>
			if f := strings.Fields(msg.Payload); len(f) == 5 && f[0] == d.fo.MasterName {
				d.switchMaster(net.JoinHostPort(f[3], f[4]))
			}
		}
	}
}

// errNotMaster means a new connection reached a server that is not the master.
var errNotMaster = errors.New("redisession/store: the server Sentinel named is not a master (failover in progress?)")

// masterAddr asks each sentinel in turn for the master's address and returns the first answer.
func (d *sentinelDialer) masterAddr(ctx context.Context) (string, error) {
	var errs []error
	for _, addr := range d.sentinels {
		sc := redis.NewSentinelClient(d.sentinelOptions(addr))
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
	var cn net.Conn
	switch {
	case d.fo.Dialer != nil:
		cn, err = d.fo.Dialer(ctx, network, addr)
	case d.fo.TLSConfig != nil:
		td := &tls.Dialer{NetDialer: &net.Dialer{Timeout: d.fo.DialTimeout}, Config: d.fo.TLSConfig}
		cn, err = td.DialContext(ctx, network, addr)
	default:
		cn, err = (&net.Dialer{Timeout: d.fo.DialTimeout}).DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	mc := &masterConn{Conn: cn, d: d, addr: addr}
	d.track(mc)
	if _, ok := cn.(syscall.Conn); ok {
		return masterSysConn{mc}, nil
	}
	return mc, nil
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
