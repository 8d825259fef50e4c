package reliability

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// durableTimeout is how long a durable logout waits for the replica's acknowledgement in these
// scenarios: well under the 2s request deadline, so that a logout the replica does not acknowledge
// ends in ErrNotDurable rather than in the deadline.
const durableTimeout = 500 * time.Millisecond

// TestReliabilitySentinelDurableLogout logs users out of a Sentinel setup (a master, a replica,
// three sentinels) and kills the master with SIGKILL, then checks on the promoted replica which
// logged-out sessions came back. Each variant runs with store.Options.DurableDestroy (WAIT for one
// replica) and without it:
//
//   - kill-at-once: the master is killed as soon as half of the logouts were acknowledged, with
//     the others in flight. Durable: no acknowledged logout may come back; then the old master is
//     restarted, Sentinel makes it the new master's replica, and every logout that failed must
//     succeed on retry. Plain: loopback replication is fast enough that a loss is rare; the
//     figure is reported, not asserted.
//   - lagging-replica: the replica replicates through a proxy that is stalled before the logouts,
//     like a replica that lags or a network that hangs (the replica is still connected, so
//     Sentinel still promotes it). Plain: every logout is acknowledged and every one comes back
//     after the failover, reported. Durable: every logout fails with ErrNotDurable (the master
//     applied it, the replica never acknowledged it); none is acknowledged, so none that came back
//     was promised.
//
// The durable variants assert that no acknowledged logout came back; the plain ones only report.
func TestReliabilitySentinelDurableLogout(t *testing.T) {
	long(t)
	for _, v := range []struct {
		name         string
		durable, lag bool
	}{
		{"kill-at-once/durable", true, false},
		{"kill-at-once/plain", false, false},
		{"lagging-replica/durable", true, true},
		{"lagging-replica/plain", false, true},
	} {
		t.Run(v.name, func(t *testing.T) { durableLogoutScenario(t, v.name, v.durable, v.lag) })
	}
}

func durableLogoutScenario(t *testing.T, name string, durable, lag bool) {
	start := time.Now()
	// Redis 7 delays a diskless full sync by 5s for more replicas to come; there is one.
	sn := redistest.StartSentinel(t, redistest.Options{Args: []string{"--repl-diskless-sync-delay", "0"}})
	rdb := sn.FailoverClient(t, failoverOptions("", nil))
	so := store.Options{}
	if durable {
		so.DurableDestroy = store.DurableOptions{Replicas: 1, Timeout: durableTimeout}
	}
	a := newApp(t, rdb, so)
	n := 200
	var proxy *redistest.Proxy
	if lag {
		n = 64 // a durable logout waits durableTimeout each: 4 rounds of 16
		// Sentinel sets a replica that follows another address right only after failover-timeout
		// (10s) since it noticed: far beyond this scenario's failover.
		proxy = redistest.NewProxy(t, sn.Data[0].Addr())
		host, port, _ := net.SplitHostPort(proxy.Addr())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := sn.Data[1].Client(t).Do(ctx, "REPLICAOF", host, port).Err()
		cancel()
		if err != nil {
			t.Fatalf("REPLICAOF through the proxy: %v", err)
		}
	}
	us := users(t, a.srv.URL, "d", n)
	// Every login is on the replica: a logout the failover loses brings its session back.
	sn.WaitSynced(t)
	if lag {
		proxy.Stall()
	}

	// Log everybody out, 16 at a time; kill the master once half are acknowledged (kill-at-once),
	// or once all have answered (lagging-replica).
	var (
		acked        = make([]atomic.Bool, n)
		ackedN       atomic.Int64
		ackedAtKill  int64
		latencyNanos atomic.Int64
		maxNanos     atomic.Int64
		mu           sync.Mutex
		statuses     = map[string]int{}
		half         = make(chan struct{})
		halfOnce     sync.Once
	)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				r := us[i].do(http.MethodPost, "/logout", nil)
				if r.status == http.StatusOK && r.err == nil {
					acked[i].Store(true)
					latencyNanos.Add(int64(r.took))
					if int64(r.took) > maxNanos.Load() {
						maxNanos.Store(int64(r.took)) // racy maximum: good enough for a figure
					}
					if !lag && ackedN.Add(1) >= int64(n/2) {
						halfOnce.Do(func() { close(half) })
					}
					continue
				}
				key := strconv.Itoa(r.status)
				if r.status == 0 {
					key = "transport"
				}
				mu.Lock()
				statuses[key]++
				mu.Unlock()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if lag {
		<-done
	} else {
		select {
		case <-half:
		case <-done: // fewer than half were acknowledged: kill now all the same
		}
	}
	ackedAtKill = int64(countTrue(acked))
	old := sn.KillMaster(t)
	<-done
	promoted, promotion := sn.WaitForPromotion(t, old)

	// Which sessions are alive on the promoted master, read directly.
	reader, err := store.New(context.Background(), promoted.Client(t), store.Options{SkipChecks: true, Logger: a.store.Options().Logger})
	if err != nil {
		t.Fatalf("store on the promoted master: %v", err)
	}
	alive := func(u *user) bool {
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := reader.Load(ctx, u.cookie)
			cancel()
			switch {
			case err == nil:
				return true
			case errors.Is(err, store.ErrNotFound):
				return false
			case attempt >= 20:
				t.Fatalf("reading %s's session on the promoted master: %v", u.name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ackedBack, failedBack, failed := 0, 0, 0
	for i, u := range us {
		back := alive(u)
		switch {
		case acked[i].Load() && back:
			ackedBack++
		case !acked[i].Load():
			failed++
			if back {
				failedBack++
			}
		}
	}
	// The app sees the same through the failover client: an acknowledged logout stays logged out.
	appBack := 0
	for i, u := range us {
		if !acked[i].Load() {
			continue
		}
		var r result
		if !waitUntil(30*time.Second, func() bool {
			r = u.do(http.MethodGet, "/me", nil)
			return r.status == http.StatusOK
		}) {
			t.Fatalf("the app did not answer %s within 30s of the promotion (status %d, %v)", u.name, r.status, r.err)
		}
		if r.me.User == u.name {
			appBack++
		}
	}

	f := map[string]any{
		"durable": durable, "lagging_replica": lag, "users": n,
		"logouts_acknowledged": countTrue(acked), "acknowledged_before_kill": ackedAtKill,
		"logouts_failed": failed, "failed_by_status": statuses,
		"acknowledged_logouts_back_after_failover": ackedBack, "acknowledged_logouts_back_via_app": appBack,
		"failed_logouts_whose_session_survived": failedBack, "promotion_ms": promotion.Milliseconds(),
		"last_error": a.lastError(),
	}
	if k := countTrue(acked); k > 0 {
		f["acknowledged_logout_mean_ms"] = float64(latencyNanos.Load()/int64(k)) / 1e6
		f["acknowledged_logout_max_ms"] = time.Duration(maxNanos.Load()).Milliseconds()
	}

	// Durable, the old master back: Sentinel makes it the new master's replica, and the logouts
	// that failed succeed when retried.
	if durable && !lag && failed > 0 {
		restarted := time.Now()
		old.Restart(t)
		retried, stillFailing := 0, 0
		for i, u := range us {
			if acked[i].Load() {
				continue
			}
			var r result
			if waitUntil(30*time.Second, func() bool {
				r = u.do(http.MethodPost, "/logout", nil)
				return r.status == http.StatusOK
			}) {
				retried++
			} else {
				stillFailing++
				t.Errorf("%s's logout still fails 30s after the old master's restart: %d %s", u.name, r.status, r.errText)
			}
		}
		survivors := 0
		for _, u := range us {
			if alive(u) {
				survivors++
			}
		}
		f["retried_logouts_ok"], f["retried_logouts_failing"] = retried, stillFailing
		f["logout_back_after_restart_ms"] = time.Since(restarted).Milliseconds()
		f["sessions_alive_after_retries"] = survivors
		if survivors != 0 {
			t.Errorf("%d sessions alive after every logout was retried to success", survivors)
		}
	}
	f["scenario_ms"] = time.Since(start).Milliseconds()
	report(t, "sentinel-durable-logout/"+name, f)

	if durable && (ackedBack != 0 || appBack != 0) {
		t.Errorf("durable logout: %d acknowledged logouts came back after the failover (%d as the app sees it)", ackedBack, appBack)
	}
	if durable && !lag && ackedAtKill == 0 {
		t.Errorf("no logout was acknowledged before the kill: the scenario proved nothing")
	}
}

func countTrue(bs []atomic.Bool) int {
	n := 0
	for i := range bs {
		if bs[i].Load() {
			n++
		}
	}
	return n
}
