package store_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// startReplicated starts a master configured by ro and one replica of it, and returns once the
// replica has everything (WAIT 1 answers 1). Both are killed when the test ends.
func startReplicated(t testing.TB, ro redistest.Options) (master, replica *redistest.Server) {
	t.Helper()
	ro.AllowFake = false // the fallback has no replication
	// Redis 7 waits 5s before a diskless full sync for more replicas to join; one is all there is.
	ro.Args = append(append([]string(nil), ro.Args...), "--repl-diskless-sync-delay", "0")
	master = redistest.Start(t, ro)
	_, port, _ := net.SplitHostPort(master.Addr())
	rr := ro
	rr.Args = append(append([]string(nil), ro.Args...), "--replicaof", "127.0.0.1", port)
	replica = redistest.Start(t, rr)
	waitReplicaAck(t, master)
	return master, replica
}

// waitReplicaAck waits until the master's replica has acknowledged every write so far.
func waitReplicaAck(t testing.TB, master *redistest.Server) {
	t.Helper()
	c := master.Client(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := c.Wait(ctx, 1, 500*time.Millisecond).Result()
		cancel()
		if err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not catch up: WAIT 1 answered %d, %v", n, err)
		}
	}
}

// pauseServer stops the process of s with SIGSTOP (a replica that is connected but acknowledges
// nothing) and returns the function that resumes it; the test's end resumes it too.
func pauseServer(t *testing.T, s *redistest.Server) (resume func()) {
	t.Helper()
	pid := s.Pid()
	if pid == 0 {
		t.Fatal("pause: the server is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %d: %v", pid, err)
	}
	var once atomic.Bool
	resume = func() {
		if once.CompareAndSwap(false, true) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	return resume
}

func durLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newDurable returns a store on rdb that waits for replicas replicas on every destroy.
func newDurable(t *testing.T, rdb redis.UniversalClient, replicas int, timeout time.Duration) *store.Store {
	t.Helper()
	s, err := store.New(ctxT(t), rdb, store.Options{
		DurableDestroy: store.DurableOptions{Replicas: replicas, Timeout: timeout},
		SkipChecks:     true, DisableAutoPipeline: true, Logger: durLogger(),
	})
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	return s
}

// replicaReader returns a store that only reads, on a replica.
func replicaReader(t *testing.T, srv *redistest.Server) *store.Store {
	t.Helper()
	s, err := store.New(ctxT(t), srv.Client(t), store.Options{SkipChecks: true, Logger: durLogger()})
	if err != nil {
		t.Fatalf("store.New on the replica: %v", err)
	}
	return s
}

func durLogin(t *testing.T, s *store.Store, uid string) string {
	t.Helper()
	id, _, err := s.Create(ctxT(t), store.NewSession{Meta: store.Meta{UserID: uid}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return id
}

// durDead fails unless the session with the given ID is gone as r reads it.
func durDead(t *testing.T, r *store.Store, where, id string) {
	t.Helper()
	if _, err := r.Load(ctxT(t), id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: a destroyed session loads with %v, want ErrNotFound", where, err)
	}
}

func durAlive(t *testing.T, r *store.Store, where, id string) {
	t.Helper()
	if _, err := r.Load(ctxT(t), id); err != nil {
		t.Errorf("%s: a session that should live loads with %v", where, err)
	}
}

// Every durable destroy returns only once the replica has it: the replica is read right after each
// call, with no wait, and already has every destroyed session dead and every other one alive. The
// store runs as the least-privilege ACL user, so the fence and WAIT are within store.ACLRules.
func TestDurableDestroyIsOnTheReplicaWhenItReturns(t *testing.T) {
	master, replica := startReplicated(t, redistest.Options{ACL: []string{"user app on >pw " + store.ACLRules("")}})
	st := newDurable(t, master.ClientAs(t, "app", "pw"), 1, 5*time.Second)
	rep := replicaReader(t, replica)
	ctx := ctxT(t)

	anon, err := func() (string, error) {
		id, _, err := st.Create(ctx, store.NewSession{})
		return id, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	u := []string{durLogin(t, st, "u"), durLogin(t, st, "u"), durLogin(t, st, "u"), durLogin(t, st, "u")}
	v := []string{durLogin(t, st, "v"), durLogin(t, st, "v")}
	waitReplicaAck(t, master)
	for _, id := range append(append([]string{anon}, u...), v...) {
		durAlive(t, rep, "before", id)
	}

	if err := st.Destroy(ctx, anon); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	durDead(t, rep, "logout", anon)
	if err := st.Revoke(ctx, "u", store.Handle(u[0])); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	durDead(t, rep, "revoke", u[0])
	if owner, err := st.DestroyHandle(ctx, store.Handle(u[1])); err != nil || owner != "u" {
		t.Fatalf("DestroyHandle: %q, %v", owner, err)
	}
	durDead(t, rep, "operator revoke", u[1])
	if n, err := st.DestroyOthers(ctx, "u", u[2]); err != nil || n != 1 {
		t.Fatalf("DestroyOthers: %d, %v", n, err)
	}
	durDead(t, rep, "logout of the other devices", u[3])
	durAlive(t, rep, "the device kept by DestroyOthers", u[2])
	if hs, err := st.DestroyUserHandles(ctx, "v", ""); err != nil || len(hs) != 2 {
		t.Fatalf("DestroyUserHandles: %v, %v", hs, err)
	}
	durDead(t, rep, "lockout", v[0])
	durDead(t, rep, "lockout", v[1])
	if n, err := st.DestroyUser(ctx, "u"); err != nil || n != 1 {
		t.Fatalf("DestroyUser: %d, %v", n, err)
	}
	durDead(t, rep, "logout everywhere", u[2])
	// A revoke of a session that is gone still answers ErrNotFound.
	if err := st.Revoke(ctx, "u", store.Handle(u[0])); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Revoke of a destroyed session: %v, want ErrNotFound", err)
	}
	if n := redistest.CommandCalls(t, master.Client(t), "wait"); n < 7 {
		t.Errorf("%d WAIT calls for 7 durable destroys", n)
	}
}

// With the replica paused, a durable destroy returns ErrNotDurable after the timeout, yet the
// session is gone on the master; a retry while the replica is still paused fails the same way, also
// from another app node that finds the session already gone (its fence covers the earlier destroy),
// and once the replica is back a retry succeeds with the replica holding the session dead.
func TestDurableDestroyWithoutReplicaAckIsNotDurable(t *testing.T) {
	master, replica := startReplicated(t, redistest.Options{})
	const timeout = 300 * time.Millisecond
	st := newDurable(t, master.Client(t), 1, timeout)
	rep := replicaReader(t, replica)
	ctx := ctxT(t)
	id := durLogin(t, st, "u")
	other := durLogin(t, st, "u")
	waitReplicaAck(t, master)

	resume := pauseServer(t, replica)
	notDurable := func(what string, err error) {
		t.Helper()
		t.Logf("DEBUG %s: %v", what, err)
		if !errors.Is(err, store.ErrNotDurable) {
			t.Fatalf("%s with the replica paused: %v, want ErrNotDurable", what, err)
		}
	}
	start := time.Now()
	err := st.Destroy(ctx, id)
	took := time.Since(start)
	notDurable("Destroy", err)
	if !strings.Contains(err.Error(), "0 of 1 replica") {
		t.Errorf("the error does not say how many replicas acknowledged: %v", err)
	}
	if took < timeout || took > timeout+5*time.Second {
		t.Errorf("Destroy took %v with a %v timeout", took, timeout)
	}
	durDead(t, st, "the master after an unacknowledged logout", id)

	// Retries go through another app node: a fresh connection that wrote nothing yet, so only the
	// fence's own write can make its WAIT cover the first attempt's delete.
	st2 := newDurable(t, master.Client(t), 1, timeout)
	notDurable("a retried Destroy", st2.Destroy(ctx, id))
	notDurable("Revoke of the destroyed session", newDurable(t, master.Client(t), 1, timeout).Revoke(ctx, "u", store.Handle(id)))
	n, err := st.DestroyUser(ctx, "u")
	notDurable("DestroyUser", err)
	if n != 1 {
		t.Errorf("DestroyUser destroyed %d sessions, want 1 (it reports them with ErrNotDurable)", n)
	}
	durDead(t, st, "the master after an unacknowledged logout everywhere", other)
	// The retry finds the index empty and no session to fence: the fence key stands in for them.
	n, err = newDurable(t, master.Client(t), 1, timeout).DestroyUser(ctx, "u")
	notDurable("a retried DestroyUser", err)
	if n != 0 {
		t.Errorf("the retried DestroyUser destroyed %d sessions", n)
	}

	resume()
	if err := st.Destroy(ctx, id); err != nil {
		t.Fatalf("Destroy with the replica back: %v", err)
	}
	if n, err := st.DestroyUser(ctx, "u"); err != nil || n != 0 {
		t.Fatalf("DestroyUser with the replica back: %d, %v", n, err)
	}
	durDead(t, rep, "the replica after the retries", id)
	durDead(t, rep, "the replica after the retries", other)
}

// A destroy whose session is live again when the fence reaches the master (a failover lost the
// destroy with the old master) is not reported durable, whatever the replicas acknowledge; a retry
// destroys it. The loss is simulated by restoring the key right after destroy.lua deleted it.
func TestDurableDestroyNoticesADestroyLostInAFailover(t *testing.T) {
	master, _ := startReplicated(t, redistest.Options{})
	app := master.Client(t)
	admin := master.Client(t)
	st := newDurable(t, app, 1, 5*time.Second)
	ctx := ctxT(t)
	id := durLogin(t, st, "u")
	key := st.SessionKey(store.Handle(id))
	dump, err := admin.Dump(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("destroy.lua")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(src)
	destroySHA := hex.EncodeToString(sum[:])
	var armed atomic.Bool
	armed.Store(true)
	app.AddHook(destroyHook{after: func(ctx context.Context, cmd redis.Cmder, err error) {
		a := cmd.Args()
		if len(a) < 4 || err != nil || !armed.Load() {
			return
		}
		name, _ := a[0].(string)
		script, _ := a[1].(string)
		if k, _ := a[3].(string); k != key || !(strings.EqualFold(name, "evalsha") && script == destroySHA ||
			strings.EqualFold(name, "eval") && script == string(src)) {
			return
		}
		armed.Store(false)
		if err := admin.RestoreReplace(ctx, key, time.Hour, dump).Err(); err != nil {
			t.Errorf("RESTORE: %v", err)
		}
	}})

	err = st.Destroy(ctx, id)
	if !errors.Is(err, store.ErrNotDurable) || !strings.Contains(err.Error(), "live again") {
		t.Fatalf("Destroy whose delete was lost: %v, want ErrNotDurable saying the session is live again", err)
	}
	if armed.Load() {
		t.Fatal("the hook never saw destroy.lua")
	}
	durAlive(t, st, "the lost destroy", id)
	if err := st.Destroy(ctx, id); err != nil {
		t.Fatalf("the retried Destroy: %v", err)
	}
	durDead(t, st, "after the retry", id)
}

// destroyHook is a go-redis hook that calls after once each command has its reply.
type destroyHook struct {
	after func(context.Context, redis.Cmder, error)
}

func (destroyHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h destroyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.after(ctx, cmd, err)
		return err
	}
}

func (destroyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// The zero Options send no WAIT; asking for a replica a server does not have fails every destroy,
// after the timeout, with the session gone on the master.
func TestDurableDestroyIsOffByDefault(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx := ctxT(t)
	plain, err := store.New(ctx, srv.Client(t), store.Options{SkipChecks: true, Logger: durLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if d := plain.Options().DurableDestroy; d != (store.DurableOptions{}) {
		t.Errorf("default DurableDestroy = %+v, want the zero value", d)
	}
	id := durLogin(t, plain, "u")
	if err := plain.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.DestroyUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if srv.IsFake() {
		return
	}
	if n := redistest.CommandCalls(t, srv.Client(t), "wait"); n != 0 {
		t.Errorf("%d WAIT calls without DurableDestroy", n)
	}
	lonely := newDurable(t, srv.Client(t), 1, 50*time.Millisecond)
	id = durLogin(t, lonely, "u")
	if err := lonely.Destroy(ctx, id); !errors.Is(err, store.ErrNotDurable) {
		t.Errorf("Destroy waiting for a replica the server does not have: %v, want ErrNotDurable", err)
	}
	durDead(t, lonely, "the master", id)
}

func TestDurableOptionsAreChecked(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	newWith := func(rdb redis.UniversalClient, d store.DurableOptions) (*store.Store, error) {
		return store.New(ctx, rdb, store.Options{DurableDestroy: d, SkipChecks: true, Logger: durLogger()})
	}
	for _, d := range []store.DurableOptions{
		{Replicas: -1}, {Replicas: 1, Timeout: -time.Second}, {Replicas: 1, Timeout: 500 * time.Microsecond},
	} {
		if _, err := newWith(srv.Client(t), d); !errors.Is(err, store.ErrInvalidOptions) {
			t.Errorf("DurableDestroy %+v: %v, want ErrInvalidOptions", d, err)
		}
	}
	s, err := newWith(srv.Client(t), store.DurableOptions{Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Options().DurableDestroy; got != (store.DurableOptions{Replicas: 2, Timeout: store.DefaultDurableTimeout}) {
		t.Errorf("DurableDestroy with defaults = %+v", got)
	}
	// A Ring has no connection a WAIT could follow the writes on: refused at New, not at logout.
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": srv.Addr()}})
	t.Cleanup(func() { _ = ring.Close() })
	if _, err := newWith(ring, store.DurableOptions{Replicas: 1}); !errors.Is(err, store.ErrInvalidOptions) {
		t.Errorf("DurableDestroy on a Ring: %v, want ErrInvalidOptions", err)
	}
}

// On a Cluster, each master that holds a destroyed session fences it and waits for its own replica.
func TestDurableDestroyOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a six-node Redis Cluster")
	}
	c := redistest.StartCluster(t, 3, 1)
	st := newDurable(t, c.Client(t), 1, 5*time.Second)
	ctx := ctxT(t)
	var ids []string
	masters := map[string]bool{}
	for len(ids) < 12 {
		id := durLogin(t, st, "spread")
		ids = append(ids, id)
		masters[c.MasterOf(t, st.SessionKey(store.Handle(id))).Addr()] = true
	}
	if len(masters) < 2 {
		t.Fatalf("12 sessions on %d masters", len(masters))
	}
	before := redistest.CommandCalls(t, c.Client(t), "wait")
	if err := st.Destroy(ctx, ids[0]); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	n, err := st.DestroyUser(ctx, "spread")
	if err != nil || n != len(ids)-1 {
		t.Fatalf("DestroyUser: %d, %v", n, err)
	}
	for _, id := range ids {
		durDead(t, st, "cluster", id)
	}
	if got := redistest.CommandCalls(t, c.Client(t), "wait") - before; got < int64(1+len(masters)) {
		t.Errorf("%d WAIT calls for a logout and a logout everywhere over %d masters", got, len(masters))
	}
}

// BenchmarkDurableDestroy measures a logout with and without DurableDestroy against a master with
// one replica on loopback: the durable one adds the fence and WAIT round trips.
func BenchmarkDurableDestroy(b *testing.B) {
	for _, durable := range []bool{false, true} {
		name := "plain"
		if durable {
			name = "durable"
		}
		b.Run(name, func(b *testing.B) {
			master, _ := startReplicated(b, redistest.Options{})
			d := store.DurableOptions{}
			if durable {
				d = store.DurableOptions{Replicas: 1, Timeout: time.Second}
			}
			st, err := store.New(context.Background(), master.Client(b), store.Options{DurableDestroy: d, SkipChecks: true, Logger: durLogger()})
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, b.N)
			for i := range ids {
				if ids[i], _, err = st.Create(context.Background(), store.NewSession{Meta: store.Meta{UserID: "u"}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if err := st.Destroy(context.Background(), ids[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
