package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

const sentinelMaster = "sessions"

// startSentinel starts one Redis Sentinel (quorum 1) monitoring the master at masterAddr and returns
// its address; it is killed when the test ends.
func startSentinel(t *testing.T, masterAddr string) string {
	t.Helper()
	if !redistest.Available() {
		t.Skip("needs redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	host, mport, _ := net.SplitHostPort(masterAddr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
logfile %s
sentinel monitor %s %s %s 1
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
`, port, dir, filepath.Join(dir, "sentinel.log"), sentinelMaster, host, mport, sentinelMaster, sentinelMaster)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer sc.Close()
	waitFor(t, 10*time.Second, "sentinel to answer", func() bool { return sc.Ping(context.Background()).Err() == nil })
	return addr
}

// waitFor polls cond every 20ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func role(c *redis.Client) string {
	info, err := c.Info(context.Background(), "replication").Result()
	if err != nil {
		return ""
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "role:"); ok {
			return v
		}
	}
	return ""
}

// TestCachedFailoverClientFollowsAFailover runs a store on NewCachedFailoverClient against a real
// Sentinel: loads are cached; after a failover, as soon as Sentinel announces the new master, no
// session cached from the old master is served and writes reach the new master, even before Sentinel
// demotes the old one.
func TestCachedFailoverClientFollowsAFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a Sentinel failover takes several seconds")
	}
	m1 := redistest.Start(t, redistest.Options{})
	_, port, _ := net.SplitHostPort(m1.Addr())
	m2 := redistest.Start(t, redistest.Options{Args: []string{"--replicaof", "127.0.0.1", port}})
	a1, a2 := m1.Client(t), m2.Client(t)
	waitFor(t, 10*time.Second, "the replica to sync", func() bool {
		info, _ := a2.Info(context.Background(), "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	})
	saddr := startSentinel(t, m1.Addr())
	sc := redis.NewSentinelClient(&redis.Options{Addr: saddr})
	t.Cleanup(func() { _ = sc.Close() })
	waitFor(t, 15*time.Second, "the sentinel to discover the replica", func() bool {
		rs, err := sc.Replicas(context.Background(), sentinelMaster).Result()
		return err == nil && len(rs) == 1 && !strings.Contains(rs[0]["flags"], "down")
	})

	rdb, err := store.NewCachedFailoverClient(&redis.FailoverOptions{MasterName: sentinelMaster, SentinelAddrs: []string{saddr}}, store.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	st, err := store.New(context.Background(), rdb, store.Options{ClientSideCache: true, SkipChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	id, _, err := st.Create(ctx, store.NewSession{Meta: store.Meta{UserID: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := a1.Exists(ctx, sessionKey(id)).Result(); n != 1 {
		t.Fatal("the session was not written to the master")
	}
	settle()
	loadHit(t, st, id)

	if err := sc.Failover(ctx, sentinelMaster).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "Sentinel to announce the new master", func() bool {
		hp, err := sc.GetMasterAddrByName(ctx, sentinelMaster).Result()
		return err == nil && len(hp) == 2 && net.JoinHostPort(hp[0], hp[1]) == m2.Addr()
	})
	switched := time.Now()
	// Another app node, already on the new master, logs the session out; the old master, not yet
	// reconfigured by Sentinel, still holds it.
	if err := a2.Del(ctx, sessionKey(id)).Err(); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := st.Load(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Since(switched) > store.DefaultCacheMaxStaleness {
			t.Fatalf("the session is still served %v after the failover (last error %v)", time.Since(switched), err)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("the logged-out session stopped being served %v after Sentinel announced the new master (old master's role: %s)", time.Since(switched), role(a1))

	id2, _, err := st.Create(ctx, store.NewSession{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := a2.Exists(ctx, sessionKey(id2)).Result(); n != 1 {
		t.Error("a session created after the failover is not on the new master")
	}
	settle()
	loadHit(t, st, id2)
}
