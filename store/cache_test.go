package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// cachedStore returns a store that reads through a client-side cache bounded by co, and its client;
// both are closed when the test ends.
func cachedStore(t testing.TB, o *redis.Options, opts store.Options, co store.CacheOptions) (*redis.Client, *store.Store) {
	t.Helper()
	rdb, err := store.NewCachedClient(o, co)
	if err != nil {
		t.Fatalf("NewCachedClient: %v", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	opts.ClientSideCache = true
	opts.SkipChecks = true
	st, err := store.New(context.Background(), rdb, opts)
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	return rdb, st
}

func cacheStats(t testing.TB, st *store.Store) redis.CSCStats {
	t.Helper()
	s, ok := st.CacheStats()
	if !ok {
		t.Fatal("the store reads without a client-side cache")
	}
	return s
}

func hgetallCalls(t testing.TB, admin *redis.Client) int64 {
	t.Helper()
	return redistest.CommandCalls(t, admin, "hgetall")
}

// loadHit loads id twice, so that the second load comes from the cache, and fails unless it did.
func loadHit(t testing.TB, st *store.Store, id string) *store.Record {
	t.Helper()
	ctx := context.Background()
	for range 50 {
		before := cacheStats(t, st).Hits
		r, err := st.Load(ctx, id)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if cacheStats(t, st).Hits > before {
			return r
		}
	}
	t.Fatal("50 loads of one session and none was a cache hit")
	return nil
}

// settle waits for the invalidation messages that the store's own writes caused to arrive: a script
// that reads a key makes Redis track it for the writing connection, so the write's own invalidation
// follows its reply and would drop an entry cached right after it (a harmless extra miss, which
// tests that count round trips must not see).
func settle() { time.Sleep(50 * time.Millisecond) }

// sessionKey is the Redis key of the session with the given ID under the default prefix.
func sessionKey(id string) string { return "session:" + store.Handle(id) }

func TestClientCacheServesRepeatedLoadsWithoutARoundTrip(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	admin := srv.Client(t)
	_, st := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{})
	ctx := ctxT(t)
	id, _, err := st.Create(ctx, store.NewSession{Meta: store.Meta{UserID: "alice"}, Fields: map[string]string{"theme": `"dark"`}})
	if err != nil {
		t.Fatal(err)
	}
	settle()
	before, hits := hgetallCalls(t, admin), cacheStats(t, st).Hits
	for range 100 {
		r, err := st.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Fields["theme"] != `"dark"` || r.Meta.UserID != "alice" {
			t.Fatalf("record = %+v", r)
		}
	}
	if n := hgetallCalls(t, admin) - before; n != 1 {
		t.Errorf("100 loads sent %d HGETALLs, want 1", n)
	}
	if h := cacheStats(t, st).Hits - hits; h < 99 {
		t.Errorf("100 loads made %d cache hits, want 99", h)
	}
}

func TestClientCacheRefusals(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx := ctxT(t)
	newStore := func(rdb redis.UniversalClient, want bool) error {
		t.Cleanup(func() { _ = rdb.Close() })
		_, err := store.New(ctx, rdb, store.Options{SkipChecks: true, ClientSideCache: want})
		return err
	}
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	if err := newStore(cluster, true); !errors.Is(err, store.ErrClientCacheUnsupported) || !strings.Contains(err.Error(), "Cluster") {
		t.Errorf("Cluster client with ClientSideCache: %v, want a refusal naming Cluster", err)
	}
	if err := newStore(redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}}), false); err != nil {
		t.Errorf("Cluster client without ClientSideCache: %v", err)
	}
	if err := newStore(redis.NewClient(&redis.Options{Addr: srv.Addr()}), true); !errors.Is(err, store.ErrClientCacheUnsupported) {
		t.Errorf("plain client with ClientSideCache: %v, want ErrClientCacheUnsupported", err)
	}
	opaque := redis.NewClient(&redis.Options{Addr: srv.Addr(), ClientSideCacheConfig: &redis.ClientSideCacheConfig{MaxEntries: 10}})
	if err := newStore(opaque, false); !errors.Is(err, store.ErrClientCacheUnsupported) {
		t.Errorf("client caching through ClientSideCacheConfig: %v, want a refusal (read-your-writes cannot be kept)", err)
	}
	lc := redis.NewLocalCache(redis.CacheConfig{MaxEntries: 10})
	resp2 := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: 2, ClientSideCache: lc})
	if err := newStore(resp2, true); !errors.Is(err, store.ErrClientCacheUnsupported) || !strings.Contains(err.Error(), "RESP3") {
		t.Errorf("RESP2 client with ClientSideCache: %v, want a refusal naming RESP3", err)
	}
	for name, o := range map[string]*redis.Options{
		"RESP2": {Addr: srv.Addr(), Protocol: 2},
		"DB 1":  {Addr: srv.Addr(), DB: 1},
		"credentials provider": {Addr: srv.Addr(), CredentialsProvider: func() (string, string) {
			return "", ""
		}},
	} {
		if err := (store.CacheOptions{}).Apply(o); !errors.Is(err, store.ErrClientCacheUnsupported) {
			t.Errorf("Apply with %s: %v, want ErrClientCacheUnsupported", name, err)
		}
	}
	if err := (store.CacheOptions{MaxEntries: -1}).Apply(&redis.Options{}); !errors.Is(err, store.ErrInvalidOptions) {
		t.Errorf("negative MaxEntries: %v", err)
	}
	for name, uo := range map[string]*redis.UniversalOptions{
		"two addresses":   {Addrs: []string{srv.Addr(), srv.Addr()}},
		"IsClusterMode":   {Addrs: []string{srv.Addr()}, IsClusterMode: true},
		"replica reading": {Addrs: []string{srv.Addr()}, MasterName: "m", RouteRandomly: true},
	} {
		if _, err := store.NewCachedUniversalClient(uo, store.CacheOptions{}); !errors.Is(err, store.ErrClientCacheUnsupported) {
			t.Errorf("NewCachedUniversalClient with %s: %v, want ErrClientCacheUnsupported", name, err)
		}
	}
	rdb, err := store.NewCachedUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}}, store.CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := newStore(rdb, true); err != nil {
		t.Errorf("standalone NewCachedUniversalClient: %v", err)
	}
	if _, err := store.NewCachedFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"x:1"}, ReplicaOnly: true}, store.CacheOptions{}); !errors.Is(err, store.ErrClientCacheUnsupported) {
		t.Errorf("ReplicaOnly failover: %v", err)
	}
}

// TestClientCacheForgetReachesEntry proves that the store's own invalidation names the entry the
// way go-redis does (database and ACL user namespace): if go-redis changes its namespacing, this
// fails instead of read-your-writes silently breaking.
func TestClientCacheForgetReachesEntry(t *testing.T) {
	// The ACL user is the least-privilege one of ACLRules: the cache must work with its rights.
	srv := redistest.Start(t, redistest.Options{ACL: []string{"user app on >app-password " + store.ACLRules("")}})
	admin := srv.Client(t)
	for _, user := range []string{"", "app"} {
		t.Run("user="+user, func(t *testing.T) {
			o := &redis.Options{Addr: srv.Addr()}
			if user != "" {
				o.Username, o.Password = user, "app-password"
			}
			_, st := cachedStore(t, o, store.Options{}, store.CacheOptions{})
			id, _, err := st.Create(ctxT(t), store.NewSession{Fields: map[string]string{"a": "1"}})
			if err != nil {
				t.Fatal(err)
			}
			loadHit(t, st, id)
			before := hgetallCalls(t, admin)
			loadHit(t, st, id)
			if n := hgetallCalls(t, admin) - before; n != 0 {
				t.Fatalf("a cached load sent %d HGETALLs", n)
			}
			st.ForgetForTest(id)
			if _, err := st.Load(ctxT(t), id); err != nil {
				t.Fatal(err)
			}
			if n := hgetallCalls(t, admin) - before; n != 1 {
				t.Errorf("the load after forget sent %d HGETALLs, want 1: the store's invalidation missed the entry", n)
			}
		})
	}
}

// loadsPerWrite is how many loads each tab makes after each of its writes in readYourWrites.
const loadsPerWrite = 3

// readYourWrites runs tabs goroutines on one session, each committing its own field and then loading
// the session a few times, and counts the loads that missed a write committed (by any tab) before
// they started.
func readYourWrites(t *testing.T, st *store.Store, id string, tabs, rounds int) int64 {
	t.Helper()
	ctx := ctxT(t)
	committed := make([]atomic.Int64, tabs)
	var misses atomic.Int64
	var wg sync.WaitGroup
	for i := range tabs {
		wg.Go(func() {
			for r := int64(1); r <= int64(rounds); r++ {
				field := "tab" + strconv.Itoa(i)
				if _, err := st.Commit(ctx, id, store.Changes{Set: map[string]string{field: strconv.FormatInt(r, 10)}}); err != nil {
					t.Error(err)
					return
				}
				committed[i].Store(r)
				for range loadsPerWrite {
					want := make([]int64, tabs)
					for j := range want {
						want[j] = committed[j].Load()
					}
					rec, err := st.Load(ctx, id)
					if err != nil {
						t.Error(err)
						return
					}
					for j, w := range want {
						got, _ := strconv.ParseInt(rec.Fields["tab"+strconv.Itoa(j)], 10, 64)
						if got < w {
							misses.Add(1)
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	return misses.Load()
}

func TestClientCacheReadYourWritesAcrossTabs(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	const tabs, rounds = 8, 300
	_, st := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{})
	id, _, err := st.Create(ctxT(t), store.NewSession{})
	if err != nil {
		t.Fatal(err)
	}
	before := cacheStats(t, st).Hits
	loads := tabs * rounds * loadsPerWrite
	if misses := readYourWrites(t, st, id, tabs, rounds); misses != 0 {
		t.Errorf("%d of %d loads missed a write committed before them", misses, loads)
	}
	hits := cacheStats(t, st).Hits - before
	t.Logf("with the store's invalidation: 0 misses in %d loads, %d of them cache hits", loads, hits)
	if hits == 0 {
		t.Error("no load was a cache hit: the test did not exercise the cache")
	}

	// The same without the store's own invalidation, relying on Redis' invalidation messages alone:
	// logged, not asserted, because the race it shows is timing-dependent.
	_, raw := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{})
	raw.KeepCacheAfterWritesForTest()
	id2, _, err := raw.Create(ctxT(t), store.NewSession{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("without it: %d of %d loads missed a write committed before them", readYourWrites(t, raw, id2, tabs, rounds), loads)
}

// freezeProxy forwards TCP connections to a server and, once frozen, holds back everything the
// server sends, as a connection that stopped delivering without closing would (a half-open TCP
// connection, a stuck middlebox): invalidation messages then never arrive.
type freezeProxy struct {
	ln     net.Listener
	target string
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, target: target}
	t.Cleanup(p.close)
	go p.serve()
	return p
}

func (p *freezeProxy) Addr() string { return p.ln.Addr().String() }

func (p *freezeProxy) Freeze() { p.frozen.Store(true) }

func (p *freezeProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(u, c) }()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := u.Read(buf)
				if n > 0 && !p.frozen.Load() {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func (p *freezeProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

// TestClientCacheTimeoutsEndCachedSessionsOnTime: with every invalidation held back, a session that
// idles out or reaches its absolute deadline is refused by a load served from the cache, on time.
func TestClientCacheTimeoutsEndCachedSessionsOnTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		ns   store.NewSession
	}{
		{"idle timeout", store.NewSession{IdleTimeout: 400 * time.Millisecond}},
		{"absolute timeout", store.NewSession{IdleTimeout: time.Hour, AbsoluteTimeout: 400 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{})
			admin := srv.Client(t)
			proxy := newFreezeProxy(t, srv.Addr())
			_, st := cachedStore(t, &redis.Options{Addr: proxy.Addr(), ReadTimeout: 300 * time.Millisecond, MaxRetries: -1},
				store.Options{}, store.CacheOptions{MaxStaleness: time.Minute})
			id, _, err := st.Create(ctxT(t), tc.ns)
			if err != nil {
				t.Fatal(err)
			}
			rec := loadHit(t, st, id)
			end := rec.Meta.Expires
			if rec.Meta.AbsoluteDeadline.Before(end) {
				end = rec.Meta.AbsoluteDeadline
			}
			proxy.Freeze()
			calls, hits := hgetallCalls(t, admin), cacheStats(t, st).Hits
			var lastOK, refused time.Time
			for {
				now := time.Now()
				_, err := st.Load(ctxT(t), id)
				if errors.Is(err, store.ErrNotFound) {
					refused = time.Now()
					break
				}
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				lastOK = now
				if now.After(end.Add(time.Second)) {
					t.Fatal("the session is still served a second after its end")
				}
				time.Sleep(time.Millisecond)
			}
			if !lastOK.Before(end) {
				t.Errorf("a load started %v after the session's end (%v) was served", lastOK.Sub(end), end)
			}
			if d := refused.Sub(end); d > 50*time.Millisecond {
				t.Errorf("the session was refused %v after its end", d)
			}
			if n := hgetallCalls(t, admin) - calls; n != 0 {
				t.Errorf("%d HGETALLs reached Redis: the loads were not served from the cache", n)
			}
			if cacheStats(t, st).Hits == hits {
				t.Error("no cache hit while frozen")
			}
		})
	}
}

// TestClientCacheMaxStalenessBoundsLostInvalidations: when invalidations are lost (the connection
// that should carry them delivers nothing), a destroyed session is served from the cache for at most
// MaxStaleness after it was cached; after that a load goes to Redis, and fails rather than serve it.
func TestClientCacheMaxStalenessBoundsLostInvalidations(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	admin := srv.Client(t)
	proxy := newFreezeProxy(t, srv.Addr())
	const staleness = time.Second
	_, st := cachedStore(t, &redis.Options{Addr: proxy.Addr(), ReadTimeout: 300 * time.Millisecond, MaxRetries: -1},
		store.Options{}, store.CacheOptions{MaxStaleness: staleness})
	id, _, err := st.Create(ctxT(t), store.NewSession{})
	if err != nil {
		t.Fatal(err)
	}
	settle()
	st.ForgetForTest(id)
	if _, err := st.Load(ctxT(t), id); err != nil { // fills the cache
		t.Fatal(err)
	}
	cachedBy := time.Now()
	loadHit(t, st, id)
	proxy.Freeze()
	if err := admin.Del(ctxT(t), sessionKey(id)).Err(); err != nil { // another node's logout
		t.Fatal(err)
	}
	var lastServed time.Time
	for time.Since(cachedBy) < staleness+2*time.Second {
		start := time.Now()
		_, err := st.Load(ctxT(t), id)
		if err == nil {
			lastServed = start
		}
		time.Sleep(5 * time.Millisecond)
	}
	if lastServed.IsZero() {
		t.Fatal("the frozen cache never served the session: the test did not exercise the backstop")
	}
	if d := lastServed.Sub(cachedBy); d > staleness {
		t.Errorf("a destroyed session was served %v after it was cached, beyond MaxStaleness %v", d, staleness)
	}
	t.Logf("served stale for %v, bound %v", lastServed.Sub(cachedBy), staleness)
}

// clientKillTracking kills every connection of the server that has tracking on and returns how many.
func clientKillTracking(t *testing.T, admin *redis.Client) int {
	t.Helper()
	list, err := admin.ClientList(ctxT(t)).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(list) {
		var id, flags string
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(f, "flags="); ok {
				flags = v
			}
		}
		if strings.Contains(flags, "t") {
			if err := admin.ClientKillByFilter(ctxT(t), "ID", id).Err(); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	return n
}

// TestClientCacheLostTrackingConnection: after CLIENT KILL of the tracking connections, a write by
// another client reaches no invalidation, yet the cached session is refetched within the documented
// bound, because go-redis drops what a closed connection cached.
func TestClientCacheLostTrackingConnection(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	admin := srv.Client(t)
	_, st := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{})
	id, _, err := st.Create(ctxT(t), store.NewSession{Fields: map[string]string{"v": "old"}})
	if err != nil {
		t.Fatal(err)
	}
	loadHit(t, st, id)
	if n := clientKillTracking(t, admin); n == 0 {
		t.Fatal("no tracking connection to kill")
	}
	killed := time.Now()
	if err := admin.HSet(ctxT(t), sessionKey(id), "v", "new").Err(); err != nil {
		t.Fatal(err)
	}
	for {
		rec, err := st.Load(ctxT(t), id)
		if err == nil && rec.Fields["v"] == "new" {
			break
		}
		if time.Since(killed) > store.DefaultCacheMaxStaleness {
			t.Fatalf("the old value is still served %v after the tracking connection was killed", time.Since(killed))
		}
		time.Sleep(100 * time.Microsecond)
	}
	t.Logf("the killed connection's entries were dropped after %v", time.Since(killed))
}

// TestClientCacheRedisRestart: a session cached before Redis restarted without persistence is not
// served after the restart: the closed connections drop their entries.
func TestClientCacheRedisRestart(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	_, st := cachedStore(t, &redis.Options{Addr: srv.Addr(), MaxRetries: -1}, store.Options{}, store.CacheOptions{})
	id, _, err := st.Create(ctxT(t), store.NewSession{})
	if err != nil {
		t.Fatal(err)
	}
	loadHit(t, st, id)
	srv.Kill(t)
	killed := time.Now()
	var lastServed time.Time
	for time.Since(killed) < 500*time.Millisecond {
		start := time.Now()
		if _, err := st.Load(ctxT(t), id); err == nil {
			lastServed = start
		}
		time.Sleep(100 * time.Microsecond)
	}
	if d := lastServed.Sub(killed); !lastServed.IsZero() && d > 100*time.Millisecond {
		t.Errorf("the session was served from the cache %v after Redis died", d)
	}
	t.Logf("served for %v after Redis died", max(0, lastServed.Sub(killed)))
	srv.Restart(t)
	var err2 error
	for range 10 { // the first load may meet a connection that died with the old server
		if _, err2 = st.Load(ctxT(t), id); errors.Is(err2, store.ErrNotFound) {
			break
		}
		if err2 == nil {
			t.Fatal("the session was served after a restart without persistence")
		}
	}
	if !errors.Is(err2, store.ErrNotFound) {
		t.Errorf("after a restart without persistence: %v, want ErrNotFound", err2)
	}
}

// TestCachedReadsNeverWrite: cached loads send Redis nothing and extend nothing; refreshes and commits
// always go to Redis and never bring back a session destroyed elsewhere, even while this process
// still holds it in its cache.
func TestCachedReadsNeverWrite(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	admin := srv.Client(t)
	ctx := ctxT(t)
	_, st := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{RefreshGranularity: time.Millisecond}, store.CacheOptions{})
	id, _, err := st.Create(ctx, store.NewSession{Fields: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	key := sessionKey(id)
	settle()
	rec := loadHit(t, st, id)
	writes := func() int64 {
		return redistest.CommandCalls(t, admin, "evalsha") + redistest.CommandCalls(t, admin, "eval")
	}
	ttl0, _ := admin.PTTL(ctx, key).Result()
	hash0, _ := admin.HGetAll(ctx, key).Result()
	w0, r0 := writes(), hgetallCalls(t, admin)
	time.Sleep(20 * time.Millisecond)
	for range 200 {
		if _, err := st.Load(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if d := writes() - w0; d != 0 {
		t.Errorf("cached loads ran %d scripts", d)
	}
	if d := hgetallCalls(t, admin) - r0; d != 0 {
		t.Errorf("cached loads sent %d HGETALLs", d)
	}
	if ttl, _ := admin.PTTL(ctx, key).Result(); ttl >= ttl0 {
		t.Errorf("PTTL went from %v to %v over cached loads: extended", ttl0, ttl)
	}
	if hash, _ := admin.HGetAll(ctx, key).Result(); !maps2Equal(hash, hash0) {
		t.Errorf("the hash changed over cached loads: %v -> %v", hash0, hash)
	}
	if !st.NeedsRefresh(rec, time.Now()) {
		t.Fatal("the cached record does not need a refresh at 1ms granularity")
	}
	if _, err := st.Refresh(ctx, id); err != nil {
		t.Fatal(err)
	}
	if d := writes() - w0; d == 0 {
		t.Error("the refresh ran no script: refreshes must go to Redis")
	}

	// Another node logs the session out; this node still has it cached.
	loadHit(t, st, id)
	if err := admin.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Refresh(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh of a destroyed session: %v", err)
	}
	if _, err := st.Commit(ctx, id, store.Changes{Set: map[string]string{"b": "2"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("commit to a destroyed session: %v", err)
	}
	if _, err := st.CompareAndSet(ctx, id, "a", ptr("1"), ptr("3")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("compare-and-set on a destroyed session: %v", err)
	}
	if n, _ := admin.Exists(ctx, key).Result(); n != 0 {
		t.Error("the destroyed session was brought back")
	}
	if _, err := st.Load(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("load after the writes found it gone: %v", err)
	}
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// typicalSession is a logged-in session of a dozen fields, about 350 bytes in Redis.
func typicalSession(i int) store.NewSession {
	return store.NewSession{
		Meta: store.Meta{
			UserID:     fmt.Sprintf("user-%06d", i),
			UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
			RemoteAddr: "203.0.113.7",
			CSRFToken:  strings.Repeat("x", 43),
		},
		Fields: map[string]string{"theme": `"dark"`, "visits": "17", "cart": `[{"sku":"A-1","qty":2},{"sku":"B-22","qty":1}]`, "flash": `"Saved."`},
	}
}

// TestClientCacheMemoryPerSession measures the heap one cached session costs, checks that the
// cache's own estimate (which MaxBytes bounds) tracks it, and that both bounds hold.
func TestClientCacheMemoryPerSession(t *testing.T) {
	if testing.Short() {
		t.Skip("creates thousands of sessions")
	}
	srv := redistest.Start(t, redistest.Options{})
	ctx := ctxT(t)
	_, st := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{MaxEntries: 100_000, MaxBytes: 1 << 30})
	const n = 5000
	ids := make([]string, n)
	for i := range ids {
		var err error
		if ids[i], _, err = st.Create(ctx, typicalSession(i)); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, id := range ids {
		if _, err := st.Load(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	s := cacheStats(t, st)
	if s.Entries < n*9/10 {
		t.Fatalf("%d of %d sessions cached", s.Entries, n)
	}
	heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(s.Entries)
	est := float64(s.MemoryUsageBytes) / float64(s.Entries)
	t.Logf("per cached session: %.0f bytes of heap, %.0f estimated (MaxBytes counts the estimate)", heap, est)
	if est < 0.7*heap || est > 1.4*heap {
		t.Errorf("the estimate (%.0f) is off the measured heap (%.0f) by more than the calibration allows", est, heap)
	}
	runtime.KeepAlive(ids)

	// The bounds: entries, then bytes.
	_, small := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{MaxEntries: 100})
	for _, id := range ids[:500] {
		if _, err := small.Load(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if e := cacheStats(t, small).Entries; e > 100 || e == 0 {
		t.Errorf("MaxEntries 100: %d entries", e)
	}
	const maxBytes = 100 << 10
	_, tight := cachedStore(t, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{MaxBytes: maxBytes})
	for _, id := range ids[:500] {
		if _, err := tight.Load(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if s := cacheStats(t, tight); s.MemoryUsageBytes > maxBytes || s.Entries == 0 {
		t.Errorf("MaxBytes %d: %d bytes in %d entries", maxBytes, s.MemoryUsageBytes, s.Entries)
	}
}

// percentiles returns the p50, p99 and maximum of ds.
func percentiles(ds []time.Duration) (p50, p99, maxD time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}
