package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// cachedManager returns a Manager whose store reads through a client-side cache on the server at
// addr (cached false: the same without the cache), and the store.
func cachedManager(tb testing.TB, addr string, cached bool) (*middleware.Manager, *store.Store) {
	tb.Helper()
	var rdb *redis.Client
	if cached {
		var err error
		if rdb, err = store.NewCachedClient(&redis.Options{Addr: addr}, store.CacheOptions{}); err != nil {
			tb.Fatal(err)
		}
	} else {
		rdb = redis.NewClient(&redis.Options{Addr: addr})
	}
	tb.Cleanup(func() { _ = rdb.Close() })
	st, err := store.New(context.Background(), rdb, store.Options{ClientSideCache: cached, SkipChecks: true})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := middleware.New(st, middleware.Options{Cookie: cookieForTests()})
	if err != nil {
		tb.Fatal(err)
	}
	return m, st
}

// TestClientCacheEightTabsReadTheirWrites: eight tabs of one browser write their own field and read
// the session back through an app whose store reads from the client-side cache; every read sees every
// write that was committed (its response received) before the read was sent, whichever tab made it.
func TestClientCacheEightTabsReadTheirWrites(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	m, st := cachedManager(t, srv.Addr(), true)
	const tabs, rounds = 8, 150
	mux := http.NewServeMux()
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("v"), 10, 64)
		if err := middleware.Get(r).Set("tab"+r.URL.Query().Get("tab"), n); err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
		}
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		for i := range tabs {
			fmt.Fprintf(w, "%d ", s.GetInt("tab"+strconv.Itoa(i)))
		}
	})
	hs := httptest.NewServer(m.Handler(mux))
	t.Cleanup(hs.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	do := func(method, path string) (string, error) {
		req, _ := http.NewRequest(method, hs.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, body)
		}
		return string(body), nil
	}
	if _, err := do(http.MethodPost, "/set?tab=0&v=0"); err != nil { // the session, and its cookie
		t.Fatal(err)
	}
	before, _ := st.CacheStats()
	committed := make([]atomic.Int64, tabs)
	var misses, reads atomic.Int64
	var wg sync.WaitGroup
	for i := range tabs {
		wg.Go(func() {
			for r := int64(1); r <= rounds; r++ {
				if _, err := do(http.MethodPost, fmt.Sprintf("/set?tab=%d&v=%d", i, r)); err != nil {
					t.Error(err)
					return
				}
				committed[i].Store(r)
				for range 2 {
					want := make([]int64, tabs)
					for j := range want {
						want[j] = committed[j].Load()
					}
					body, err := do(http.MethodGet, "/get")
					if err != nil {
						t.Error(err)
						return
					}
					reads.Add(1)
					for j, f := range strings.Fields(body) {
						if got, _ := strconv.ParseInt(f, 10, 64); got < want[j] {
							misses.Add(1)
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	after, _ := st.CacheStats()
	if misses.Load() != 0 {
		t.Errorf("%d of %d reads missed a write committed before them", misses.Load(), reads.Load())
	}
	if after.Hits == before.Hits {
		t.Error("no read was served from the cache: the test did not exercise it")
	}
	t.Logf("%d reads, 0 missed a committed write, %d served from the cache", reads.Load(), after.Hits-before.Hits)
}

// BenchmarkReadOnlyRequestClientCache compares a request that reads its session with and without the
// client-side cache, many requests in parallel.
func BenchmarkReadOnlyRequestClientCache(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, cached := range []bool{false, true} {
		b.Run(map[bool]string{false: "uncached", true: "cached"}[cached], func(b *testing.B) {
			m, _ := cachedManager(b, srv.Addr(), cached)
			setup := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := middleware.Get(r)
				_ = s.Set("user", "alice")
				_ = s.Set("theme", "dark")
			}))
			rec := httptest.NewRecorder()
			setup.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
			cookie := rec.Result().Cookies()[0]
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(middleware.Get(r).GetString("theme")))
			}))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.AddCookie(cookie)
				for pb.Next() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK || w.Body.String() != `dark` {
						b.Errorf("%d %q", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}
