package store_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// env is one store on a Redis server the test started itself.
type env struct {
	srv   *redistest.Server // nil when the suite runs on a cluster (see TestStoreSuiteOnCluster)
	rdb   redis.UniversalClient
	store *store.Store
	logs  *syncBuffer
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnv starts a fresh redis-server (or, locally without one, the in-process fake where allowed) and
// a store on it with opts (checks skipped unless the test is about them).
func newEnv(t *testing.T, opts store.Options, ro redistest.Options) *env {
	t.Helper()
	if onCluster != nil {
		return newClusterEnv(t, opts)
	}
	appClient := func(srv *redistest.Server) *redis.Client { return srv.Client(t) }
	if os.Getenv(aclEnv) != "" {
		// The suite re-run as a least-privilege user: the store gets only store.ACLRules, while the
		// test keeps an admin client to inspect Redis.
		ro.AllowFake = false
		ro.ACL = append(ro.ACL, "user app on >pw "+store.ACLRules(opts.Prefix))
		appClient = func(srv *redistest.Server) *redis.Client { return srv.ClientAs(t, "app", "pw") }
	}
	srv := redistest.Start(t, ro)
	rdb := srv.Client(t)
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := store.New(context.Background(), appClient(srv), opts)
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	return &env{srv: srv, rdb: rdb, store: s, logs: logs}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// create makes a session with fields and returns its ID.
func (e *env) create(t *testing.T, ns store.NewSession) string {
	t.Helper()
	id, _, err := e.store.Create(ctxT(t), ns)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return id
}

func (e *env) load(t *testing.T, id string) *store.Record {
	t.Helper()
	r, err := e.store.Load(ctxT(t), id)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

// assertAllKeysHaveTTL scans every key and fails on one without a TTL: the invariant that nothing the
// library writes can outlive its purpose.
func (e *env) assertAllKeysHaveTTL(t *testing.T) int {
	t.Helper()
	ctx := ctxT(t)
	n := 0
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, "*", 100).Iterator()
		for iter.Next(ctx) {
			n++
			ttl, err := c.PTTL(ctx, iter.Val()).Result()
			if err != nil {
				t.Fatalf("PTTL %s: %v", iter.Val(), err)
			}
			if ttl < 0 {
				t.Errorf("key %s has no TTL (PTTL %v)", iter.Val(), ttl)
			}
		}
		return iter.Err()
	}
	var err error
	if _, ok := e.rdb.(*redis.ClusterClient); ok {
		// One master at a time: n is not shared between goroutines.
		for _, m := range onCluster.Masters(t) {
			c := m.Client(t)
			if err = scan(ctx, c); err != nil {
				break
			}
		}
	} else {
		err = scan(ctx, e.rdb)
	}
	if err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return n
}

func ptr(s string) *string { return &s }
