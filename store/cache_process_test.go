package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// helperEnv names the Redis address a helper process watches sessions on.
const helperEnv = "REDISESSION_CACHE_HELPER_ADDR"

// drainEnv, when set to a duration, is the helper's CacheOptions.DrainInterval, to measure its effect.
const drainEnv = "REDISESSION_CACHE_DRAIN_INTERVAL"

// TestClientCacheHelperProcess is the second app process of TestClientCacheCrossProcess, run as a
// child of the test binary: for every session ID it reads on stdin it caches the session, answers
// "ready", loads it every 100µs until a load reports it gone, and answers "gone <unix nanoseconds>".
func TestClientCacheHelperProcess(t *testing.T) {
	addr := os.Getenv(helperEnv)
	if addr == "" {
		t.Skip("the helper process of TestClientCacheCrossProcess")
	}
	drain, _ := time.ParseDuration(os.Getenv(drainEnv))
	_, st := cachedStore(t, &redis.Options{Addr: addr}, store.Options{}, store.CacheOptions{DrainInterval: drain})
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		id := in.Text()
		loadHit(t, st, id)
		fmt.Println("helper: ready")
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := st.Load(ctx, id)
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrRotated) {
				fmt.Printf("helper: gone %d\n", time.Now().UnixNano())
				break
			}
			if err != nil {
				fmt.Printf("helper: error %v\n", err)
				break
			}
			if time.Now().After(deadline) {
				fmt.Println("helper: timeout")
				break
			}
			time.Sleep(100 * time.Microsecond) // a busy app, not a spinning one
		}
	}
}

// helper is a running TestClientCacheHelperProcess.
type helper struct {
	stdin io.Writer
	out   *bufio.Scanner
}

func startHelper(t *testing.T, addr string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestClientCacheHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+addr)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return &helper{stdin: stdin, out: bufio.NewScanner(stdout)}
}

// next returns the helper's next protocol line, without its prefix.
func (h *helper) next(t *testing.T) string {
	t.Helper()
	for h.out.Scan() {
		if line, ok := strings.CutPrefix(h.out.Text(), "helper: "); ok {
			return line
		}
	}
	t.Fatalf("the helper process ended: %v", h.out.Err())
	return ""
}

// watch has the helper cache id, runs op, and returns how long after op returned the helper saw the
// session gone (negative when it saw that before op returned).
func (h *helper) watch(t *testing.T, id string, op func()) time.Duration {
	t.Helper()
	fmt.Fprintln(h.stdin, id)
	if got := h.next(t); got != "ready" {
		t.Fatalf("helper: %s", got)
	}
	op()
	done := time.Now()
	got := h.next(t)
	ns, ok := strings.CutPrefix(got, "gone ")
	if !ok {
		t.Fatalf("helper: %s", got)
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(0, n).Sub(done)
}

// TestClientCacheCrossProcess measures how long after one app process logs a session out (logout,
// logout everywhere, revoke, rotation) another app process, which had the session in its own
// client-side cache, stops serving it. The figures are in docs/client-cache.md.
func TestClientCacheCrossProcess(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	_, st := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{})
	h := startHelper(t, srv.Addr())
	if d := os.Getenv(drainEnv); d != "" {
		t.Logf("the watching process drains idle connections every %s", d)
	}
	ctx := ctxT(t)
	logouts := 1000
	others := 100
	if testing.Short() {
		logouts, others = 50, 10
	}
	newSession := func(uid string) string {
		id, _, err := st.Create(ctx, store.NewSession{Meta: store.Meta{UserID: uid}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	check := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []struct {
		name string
		n    int
		run  func(uid, id string)
	}{
		{"logout", logouts, func(_, id string) { check(st.Destroy(ctx, id)) }},
		{"logout everywhere", others, func(uid, _ string) { _, err := st.DestroyUser(ctx, uid); check(err) }},
		{"revoke", others, func(uid, id string) { check(st.Revoke(ctx, uid, store.Handle(id))) }},
		{"rotation", others, func(uid, id string) {
			_, _, err := st.Rotate(ctx, id, store.NewSession{Meta: store.Meta{UserID: uid}}, store.Changes{})
			check(err)
		}},
	} {
		lat := make([]time.Duration, 0, op.n)
		early := 0
		for i := range op.n {
			uid := fmt.Sprintf("u%d", i)
			id := newSession(uid)
			d := h.watch(t, id, func() { op.run(uid, id) })
			if d < 0 {
				early++
				d = 0
			}
			lat = append(lat, d)
		}
		p50, p99, maxD := percentiles(lat)
		t.Logf("%-18s n=%4d  p50 %8v  p99 %8v  max %8v  (seen before the call returned: %d)", op.name, op.n, p50, p99, maxD, early)
		if maxD > store.DefaultCacheMaxStaleness {
			t.Errorf("%s: another process served the session %v after it ended, beyond MaxStaleness", op.name, maxD)
		}
	}
}
