package redistest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// SentinelMasterName is the name the sentinels of StartSentinel monitor their master under.
	SentinelMasterName = "sessions"
	// sentinelCount is how many sentinels StartSentinel runs; sentinelQuorum of them must agree that
	// the master is down before one of them fails it over.
	sentinelCount  = 3
	sentinelQuorum = 2
	// sentinelDownAfter is down-after-milliseconds: how long a master must not answer before a
	// sentinel considers it down.
	sentinelDownAfter = 1000
	// sentinelFailoverTimeout is failover-timeout in milliseconds.
	sentinelFailoverTimeout = 10000
	// sentinelTimeout bounds the waits for sentinels to discover each other and for a promotion.
	sentinelTimeout = 60 * time.Second
)

// Sentinel is a master, its replica and three Redis Sentinels monitoring them, started by
// StartSentinel.
type Sentinel struct {
	// MasterName is the name the sentinels know the master by (SentinelMasterName).
	MasterName string
	// Data holds the two data servers: the initial master first, then its replica. Which one is the
	// master changes with failovers; Master asks the sentinels.
	Data []*Server
	// Sentinels are the three sentinel processes. Server.Addr, Stop, Kill and Restart work on them;
	// Client returns a plain client, on which SENTINEL commands can be sent with Do.
	Sentinels []*Server
}

// StartSentinel starts a master and one replica configured by opts (AOF, MaxMemory, Args, ...),
// waits until the replica is in sync, then starts three sentinels that monitor the master with a
// quorum of two (down-after-milliseconds 1000), and returns once every sentinel knows the replica
// and the two other sentinels. Everything is killed when the test ends.
//
// Without redis-server or redis-cli on PATH, StartSentinel fails the test when Required reports
// true and skips it otherwise: the miniredis fallback has no replication.
func StartSentinel(t testing.TB, opts Options) *Sentinel {
	t.Helper()
	requireBinaries(t, "Sentinel")
	opts.AllowFake = false
	master := Start(t, opts)
	_, port, _ := net.SplitHostPort(master.Addr())
	ro := opts
	ro.Args = append(append([]string(nil), opts.Args...), "--replicaof", "127.0.0.1", port)
	replica := Start(t, ro)
	sn := &Sentinel{MasterName: SentinelMasterName, Data: []*Server{master, replica}}
	sn.WaitSynced(t)

	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]s %[3]d\n"+
		"sentinel down-after-milliseconds %[1]s %[4]d\n"+
		"sentinel failover-timeout %[1]s %[5]d\n"+
		"sentinel parallel-syncs %[1]s 1\n",
		sn.MasterName, port, sentinelQuorum, sentinelDownAfter, sentinelFailoverTimeout)
	for range sentinelCount {
		s := &Server{dir: t.TempDir(), sentinelConf: conf}
		t.Cleanup(func() { s.cleanup(t) })
		if err := s.start(); err != nil {
			t.Fatalf("redistest: start sentinel: %v", err)
		}
		sn.Sentinels = append(sn.Sentinels, s)
	}
	sn.waitFor(t, "every sentinel to know the replica and the other sentinels", func(ctx context.Context) error {
		for _, s := range sn.Sentinels {
			c := s.sentinelClient()
			m, err := c.Master(ctx, sn.MasterName).Result()
			_ = c.Close()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != strconv.Itoa(sentinelCount-1) || m["flags"] != "master" {
				return fmt.Errorf("sentinel %s sees %s replicas, %s other sentinels, flags %s",
					s.Addr(), m["num-slaves"], m["num-other-sentinels"], m["flags"])
			}
		}
		return nil
	})
	return sn
}

// sentinelClient returns a client for SENTINEL commands on s; the caller closes it.
func (s *Server) sentinelClient() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DialTimeout: probeTimeout, ReadTimeout: probeTimeout, MaxRetries: -1})
}

// masterAddr asks the sentinel s for the master's address.
func (s *Server) masterAddr(ctx context.Context, name string) (string, error) {
	c := s.sentinelClient()
	defer func() { _ = c.Close() }()
	hp, err := c.GetMasterAddrByName(ctx, name).Result()
	if err != nil {
		return "", fmt.Errorf("sentinel %s: %w", s.Addr(), err)
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("sentinel %s: master address %v", s.Addr(), hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// waitFor polls check every 100ms until it returns nil, failing the test after a minute.
func (sn *Sentinel) waitFor(t testing.TB, what string, check func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(sentinelTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := check(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: timed out after %v waiting for %s: %v", sentinelTimeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SentinelAddrs returns the sentinels' addresses, usable as redis.FailoverOptions.SentinelAddrs.
func (sn *Sentinel) SentinelAddrs() []string {
	out := make([]string, len(sn.Sentinels))
	for i, s := range sn.Sentinels {
		out[i] = s.Addr()
	}
	return out
}

// FailoverClient returns a go-redis failover client for the master with options o (nil for the
// defaults); MasterName and SentinelAddrs are filled in when empty. It is closed when the test ends.
func (sn *Sentinel) FailoverClient(t testing.TB, o *redis.FailoverOptions) *redis.Client {
	t.Helper()
	var cp redis.FailoverOptions
	if o != nil {
		cp = *o
	}
	if cp.MasterName == "" {
		cp.MasterName = sn.MasterName
	}
	if len(cp.SentinelAddrs) == 0 {
		cp.SentinelAddrs = sn.SentinelAddrs()
	}
	c := redis.NewFailoverClient(&cp)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Master returns the data server the first answering sentinel names as the master.
func (sn *Sentinel) Master(t testing.TB) *Server {
	t.Helper()
	var last error
	for _, s := range sn.Sentinels {
		if s.Pid() == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		addr, err := s.masterAddr(ctx, sn.MasterName)
		cancel()
		if err != nil {
			last = err
			continue
		}
		if d := sn.data(addr); d != nil {
			return d
		}
		last = fmt.Errorf("sentinel %s names %s, which this test did not start", s.Addr(), addr)
	}
	t.Fatalf("redistest: no sentinel names the master: %v", last)
	return nil
}

// Replica returns the data server that is not the master.
func (sn *Sentinel) Replica(t testing.TB) *Server {
	t.Helper()
	m := sn.Master(t)
	for _, d := range sn.Data {
		if d != m {
			return d
		}
	}
	return nil
}

// data returns the data server listening on addr, or nil.
func (sn *Sentinel) data(addr string) *Server {
	for _, d := range sn.Data {
		if d.Addr() == addr {
			return d
		}
	}
	return nil
}

// WaitSynced waits until the master's replica has acknowledged every write the master has taken
// (WAIT 1), so that a failover after it loses nothing.
func (sn *Sentinel) WaitSynced(t testing.TB) {
	t.Helper()
	m := sn.Data[0]
	if len(sn.Sentinels) > 0 {
		m = sn.Master(t)
	}
	sn.waitFor(t, "the replica to acknowledge the master's writes", func(context.Context) error {
		n, err := command(m.Addr(), 5*time.Second, "WAIT", "1", "1000")
		if err != nil {
			return err
		}
		if n != "1" {
			return fmt.Errorf("WAIT 1 on %s: %s replicas acknowledged", m.Addr(), n)
		}
		return nil
	})
}

// KillMaster sends SIGKILL to the current master, a crash that Sentinel must fail over, and returns
// it. Its data directory stays, so Restart brings it back (Sentinel then makes it a replica).
func (sn *Sentinel) KillMaster(t testing.TB) *Server {
	t.Helper()
	m := sn.Master(t)
	m.Kill(t)
	return m
}

// WaitForPromotion waits until every running sentinel names a master other than old, and that
// server answers as a master (role:master), failing the test after a minute. It returns the new
// master and how long the wait took.
func (sn *Sentinel) WaitForPromotion(t testing.TB, old *Server) (*Server, time.Duration) {
	t.Helper()
	start := time.Now()
	var promoted *Server
	sn.waitFor(t, "Sentinel to promote the replica", func(ctx context.Context) error {
		promoted = nil
		for _, s := range sn.Sentinels {
			if s.Pid() == 0 {
				continue
			}
			addr, err := s.masterAddr(ctx, sn.MasterName)
			if err != nil {
				return err
			}
			d := sn.data(addr)
			if d == nil || d == old {
				return fmt.Errorf("sentinel %s still names %s", s.Addr(), addr)
			}
			promoted = d
		}
		if promoted == nil {
			return fmt.Errorf("no sentinel is running")
		}
		info, err := command(promoted.Addr(), probeTimeout, "INFO", "replication")
		if err != nil {
			return err
		}
		if r := infoField(info, "role"); r != "master" {
			return fmt.Errorf("%s has role %s", promoted.Addr(), r)
		}
		return nil
	})
	return promoted, time.Since(start)
}

// Role returns the replication role ("master" or "slave") s reports, or "" when it does not answer.
func Role(s *Server) string {
	info, err := command(s.Addr(), probeTimeout, "INFO", "replication")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(infoField(info, "role"))
}
