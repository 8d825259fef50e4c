package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestClusterSpreadsKeysAndReshards(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3, 1)
	if len(c.Nodes) != 6 {
		t.Fatalf("%d nodes, want 6", len(c.Nodes))
	}
	masters := c.Masters(t)
	if len(masters) != 3 {
		t.Fatalf("%d masters, want 3", len(masters))
	}
	cc := c.Client(t)
	ctx := ctx(t)
	owners := map[*Server]bool{}
	for i := range 30 {
		key := fmt.Sprintf("k%d", i)
		if err := cc.Set(ctx, key, i, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
		owners[c.MasterOf(t, key)] = true
	}
	if len(owners) != 3 {
		t.Errorf("30 keys landed on %d masters, want 3", len(owners))
	}
	if n := c.DBSize(t); n != 30 {
		t.Errorf("DBSize = %d, want 30", n)
	}

	before := masters[0].Addr()
	c.Reshard(t, masters[0], masters[1], 100)
	for _, n := range c.Topology(t) {
		if n.Addr == before && n.Slots != 16384/3+1-100 && n.Slots != 16384/3-100 {
			t.Errorf("%s serves %d slots after giving away 100", n.Addr, n.Slots)
		}
	}
	for i := range 30 {
		if v, err := cc.Get(ctx, fmt.Sprintf("k%d", i)).Int(); err != nil || v != i {
			t.Errorf("GET k%d after the reshard = %d, %v", i, v, err)
		}
	}
	c.FlushAll(t)
	if n := c.DBSize(t); n != 0 {
		t.Errorf("DBSize after FlushAll = %d", n)
	}
}

func TestSentinelPromotesTheReplica(t *testing.T) {
	t.Parallel()
	sn := StartSentinel(t, Options{})
	if len(sn.SentinelAddrs()) != 3 || sn.Master(t) != sn.Data[0] || sn.Replica(t) != sn.Data[1] {
		t.Fatalf("sentinels %v, master %s", sn.SentinelAddrs(), sn.Master(t).Addr())
	}
	fc := sn.FailoverClient(t, nil)
	ctx := ctx(t)
	if err := fc.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	sn.WaitSynced(t)
	old := sn.KillMaster(t)
	promoted, took := sn.WaitForPromotion(t, old)
	if promoted != sn.Data[1] || Role(promoted) != "master" {
		t.Fatalf("promoted %s (role %s), want the replica", promoted.Addr(), Role(promoted))
	}
	t.Logf("promotion took %v", took)
	pctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		v, err := fc.Get(pctx, "k").Result()
		if err == nil {
			if v != "v" {
				t.Fatalf("GET after failover = %q", v)
			}
			break
		}
		if pctx.Err() != nil {
			t.Fatalf("the failover client did not follow: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	old.Restart(t)
	sn.waitFor(t, "the old master to rejoin as a replica", func(context.Context) error {
		if r := Role(old); r != "slave" {
			return fmt.Errorf("role %q", r)
		}
		return nil
	})
}

func TestProxyStallsAndResumes(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{AllowFake: true})
	p := NewProxy(t, s.Addr())
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	ctx := ctx(t)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	start := time.Now()
	err := c.Ping(ctx).Err()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("PING through a stalled proxy = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timed-out PING took %v", d)
	}
	p.Resume()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("PING after Resume: %v", err)
	}
	p.Close()
}

func TestParseClusterNodes(t *testing.T) {
	t.Parallel()
	out := "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461->-b2]\n" +
		"b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922 16000\n" +
		"c3 127.0.0.1:7002@17002 slave,fail a1 0 0 1 connected\n"
	for _, tc := range []struct {
		i      int
		addr   string
		master bool
		failed bool
		slots  int
		of     string
	}{
		{0, "127.0.0.1:7000", true, false, 5461, ""},
		{1, "127.0.0.1:7001", true, false, 5463, ""},
		{2, "127.0.0.1:7002", false, true, 0, "a1"},
	} {
		n := parseClusterNodes(out)[tc.i]
		if n.Addr != tc.addr || n.Master != tc.master || n.Failed != tc.failed || n.Slots != tc.slots || n.MasterID != tc.of {
			t.Errorf("node %d = %+v", tc.i, n)
		}
	}
}
