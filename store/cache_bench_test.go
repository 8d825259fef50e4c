package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// cpuTime returns the CPU time this process and the Redis server behind admin have used so far. On a
// machine shared with other work, wall time per operation swings with the neighbours' load; CPU time
// per operation measures the work an operation costs, which is what batching saves.
func cpuTime(b *testing.B, admin *redis.Client) (self, server time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	info, err := admin.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			server += time.Duration(f * float64(time.Second))
		}
	}
	return self, server
}

// runConcurrently runs b.N calls of op spread over g goroutines (not GOMAXPROCS multiples, as
// RunParallel would), each goroutine with its own index, and reports the CPU time per call of this
// process (client-cpu-µs/op) and of Redis (redis-cpu-µs/op) besides the wall time.
func runConcurrently(b *testing.B, admin *redis.Client, g int, op func(worker int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	self0, server0 := cpuTime(b, admin)
	b.ResetTimer()
	defer func() {
		self1, server1 := cpuTime(b, admin)
		n := float64(b.N)
		b.ReportMetric(float64((self1-self0).Microseconds())/n, "client-cpu-µs/op")
		b.ReportMetric(float64((server1-server0).Microseconds())/n, "redis-cpu-µs/op")
	}()
	for w := range g {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := op(w); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
}

// BenchmarkWritePath compares the ways a commit can reach Redis, at several numbers of concurrent
// requests: every write sent directly, every write through go-redis' autopipeliner, and the store's
// default, which uses the autopipeliner only when another write is in flight. ns/op is wall time
// per commit, so its inverse is throughput.
func BenchmarkWritePath(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		min  int64
	}{{"direct", 0}, {"autopipeline", 1}, {"adaptive", store.AutopipelineMin}} {
		for _, g := range []int{1, 4, 16, 64, 256} {
			b.Run(fmt.Sprintf("%s/conc=%d", mode.name, g), func(b *testing.B) {
				rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 64})
				defer rdb.Close()
				st, err := store.New(ctx, rdb, store.Options{SkipChecks: true})
				if err != nil {
					b.Fatal(err)
				}
				st.RouteWritesForTest(mode.min)
				ids := make([]string, g)
				for i := range ids {
					if ids[i], _, err = st.Create(ctx, store.NewSession{}); err != nil {
						b.Fatal(err)
					}
				}
				set := store.Changes{Set: map[string]string{"theme": `"dark"`}}
				runConcurrently(b, rdb, g, func(w int) error {
					_, err := st.Commit(ctx, ids[w], set)
					return err
				})
			})
		}
	}
}

// BenchmarkLoad compares loads with and without the client-side cache, each worker on its own
// session.
func BenchmarkLoad(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	admin := srv.Client(b)
	ctx := context.Background()
	for _, cached := range []bool{false, true} {
		for _, g := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/conc=%d", map[bool]string{false: "uncached", true: "cached"}[cached], g), func(b *testing.B) {
				var st *store.Store
				if cached {
					_, st = cachedStore(b, &redis.Options{Addr: srv.Addr()}, store.Options{}, store.CacheOptions{})
				} else {
					rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
					b.Cleanup(func() { _ = rdb.Close() })
					var err error
					if st, err = store.New(ctx, rdb, store.Options{SkipChecks: true}); err != nil {
						b.Fatal(err)
					}
				}
				ids := make([]string, g)
				for i := range ids {
					var err error
					if ids[i], _, err = st.Create(ctx, typicalSession(i)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				runConcurrently(b, admin, g, func(w int) error {
					_, err := st.Load(ctx, ids[w])
					return err
				})
			})
		}
	}
}
