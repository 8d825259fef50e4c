package reliability

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// TestReliabilityOutageAndStall injects three faults while users read and write their sessions:
// Redis stopped, the connection to Redis stalled by a proxy that forwards nothing, and Redis itself
// busy in DEBUG SLEEP. Every request must end within the request deadline plus slack with the error
// handler's answer, no session may be lost or logged out, the app must recover by itself, and no
// goroutine may be left behind.
func TestReliabilityOutageAndStall(t *testing.T) {
	if testing.Short() {
		t.Skip("injects faults for several seconds")
	}
	ignore := goleak.IgnoreCurrent()
	srv := redistest.Start(t, redistest.Options{RDB: true, Args: []string{"--enable-debug-command", "yes"}})
	proxy := redistest.NewProxy(t, srv.Addr())
	rdb := redis.NewClient(redisOptions(proxy.Addr()))
	a := newApp(t, rdb, store.Options{})
	us := users(t, a.srv.URL, "o", 100)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})

	const faultFor = 3 * time.Second // longer than requestTimeout: only timeouts can end requests
	faults := []struct {
		name         string
		inject, heal func()
	}{
		{"stopped", func() { srv.Stop(t) }, func() { srv.Restart(t) }},
		{"stalled-proxy", proxy.Stall, proxy.Resume},
		{"debug-sleep", func() {
			go func() { _ = admin.Do(context.Background(), "DEBUG", "SLEEP", faultFor.Seconds()).Err() }()
		}, func() {}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			var tl tally
			ctx, cancel := context.WithCancel(context.Background())
			wg := load(ctx, us, 8, &tl, nil)
			time.Sleep(300 * time.Millisecond)
			f.inject()
			time.Sleep(faultFor)
			healed := time.Now()
			f.heal()
			back := waitUntil(30*time.Second, func() bool {
				r := us[1].do(http.MethodGet, "/me", nil)
				return r.status == http.StatusOK && r.me.User == us[1].name
			})
			recovery := time.Since(healed)
			time.Sleep(300 * time.Millisecond)
			cancel()
			wg.Wait()
			lostSessions := lost(t, us, 10*time.Second)
			fig := tl.figures()
			fig["users"], fig["fault_ms"], fig["recovery_after_heal_ms"] = len(us), faultFor.Milliseconds(), recovery.Milliseconds()
			fig["sessions_lost"], fig["request_deadline_ms"] = lostSessions, requestTimeout.Milliseconds()
			report(t, "outage-"+f.name, fig)
			if !back {
				t.Fatal("the app did not recover by itself within 30s")
			}
			if lostSessions != 0 || tl.logouts.Load() != 0 || tl.cookieChanges.Load() != 0 {
				t.Errorf("%d sessions lost, %d logouts, %d cookie overwrites", lostSessions, tl.logouts.Load(), tl.cookieChanges.Load())
			}
			if tl.failed.Load() == 0 {
				t.Error("no request failed: the fault was not felt")
			}
			if tl.failed.Load() != tl.byHandler.Load() || tl.transport.Load() != 0 {
				t.Errorf("%d failed, %d by the error handler, %d transport errors", tl.failed.Load(), tl.byHandler.Load(), tl.transport.Load())
			}
			if tl.slow.Load() != 0 {
				t.Errorf("%d requests took longer than %v (max %v)", tl.slow.Load(), requestTimeout+slack, time.Duration(tl.maxTook.Load()))
			}
		})
	}

	// Everything the test started is stopped; nothing of the app or the client may linger.
	a.srv.Close()
	_ = rdb.Close()
	_ = admin.Close()
	proxy.Close()
	httpClient.CloseIdleConnections()
	// The one goroutine that may remain reaps the redis-server process, which runs until cleanup.
	// Goroutines of closed connections end asynchronously, and goleak.Find retries for well under a
	// second: poll it for longer, as a loaded machine may need; a leaked goroutine stays.
	var leak error
	waitUntil(10*time.Second, func() bool {
		leak = goleak.Find(ignore, goleak.IgnoreAnyFunction("github.com/redisession/redisession/internal/redistest.(*Server).launch.func1"))
		return leak == nil
	})
	if leak != nil {
		t.Errorf("goroutines left behind: %v", leak)
	}
}
