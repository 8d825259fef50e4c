package reliability

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// defaultSoak is the soak's duration when RELIABILITY_SOAK is not set.
const defaultSoak = 30 * time.Second

// newListener listens on a free loopback port; it is closed when the test ends.
func newListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// TestReliabilitySoak runs steady load for RELIABILITY_SOAK (default 30s): users read, write, log
// out and log in again (visiting the device list, which prunes), or abandon sessions to a 3s idle
// timeout. Sampled every few seconds,
// the goroutines of the test process, the keys in Redis and the members of the user indexes must not
// grow beyond the live sessions.
func TestReliabilitySoak(t *testing.T) {
	long(t)
	d := defaultSoak
	if v := os.Getenv("RELIABILITY_SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("RELIABILITY_SOAK=%q: %v", v, err)
		}
	}
	srv := redistest.Start(t, redistest.Options{})
	rdb := redis.NewClient(redisOptions(srv.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	const idle = 3 * time.Second
	a := newApp(t, rdb, store.Options{IdleTimeout: idle})
	us := users(t, a.srv.URL, "k", 200)
	var tl tally
	// The users' load goes on while the abandoned sessions idle out after the churn stops.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	wg := load(loadCtx, us, 8, &tl, nil)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	// Churn: log out and back in, and leave abandoned sessions behind to idle out.
	var churned, abandoned atomic.Int64
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			u := &user{name: fmt.Sprintf("churn%d", i%50), base: a.srv.URL}
			if u.login() != nil {
				continue
			}
			// The device list prunes index members whose session idled out.
			u.do(http.MethodGet, "/devices", nil)
			if i%2 == 0 {
				u.do(http.MethodPost, "/logout", nil)
				churned.Add(1)
			} else {
				abandoned.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	type sample struct {
		goroutines int
		keys       int64
		members    int64
	}
	measure := func() sample {
		c := context.Background()
		var members int64
		iter := rdb.Scan(c, 0, a.store.IndexKey("*"), 500).Iterator()
		for iter.Next(c) {
			members += rdb.ZCard(c, iter.Val()).Val()
		}
		return sample{runtime.NumGoroutine(), rdb.DBSize(c).Val(), members}
	}
	var samples []sample
	tick := time.NewTicker(max(d/10, time.Second))
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			samples = append(samples, measure())
		}
	}
	// Abandoned sessions idle out; the keys left must be the live users' sessions and indexes, and
	// the churn users' indexes with the members not yet pruned.
	time.Sleep(idle + time.Second)
	stopLoad()
	wg.Wait()
	httpClient.CloseIdleConnections()
	end := measure()
	lostSessions := lost(t, us, 10*time.Second)
	f := tl.figures()
	first, peak := samples[0], sample{}
	for _, s := range samples {
		peak.goroutines, peak.keys, peak.members = max(peak.goroutines, s.goroutines), max(peak.keys, s.keys), max(peak.members, s.members)
	}
	f["duration_s"], f["users"], f["logins_logged_out"], f["logins_abandoned"] = d.Seconds(), len(us), churned.Load(), abandoned.Load()
	f["goroutines_first"], f["goroutines_peak"], f["goroutines_end"] = first.goroutines, peak.goroutines, end.goroutines
	f["keys_first"], f["keys_peak"], f["keys_end"] = first.keys, peak.keys, end.keys
	f["index_members_first"], f["index_members_peak"], f["index_members_end"] = first.members, peak.members, end.members
	f["sessions_lost"] = lostSessions
	report(t, "soak", f)
	// 200 users hold one session and one index each; 50 churn users an index each.
	if end.keys > int64(2*len(us))+50 {
		t.Errorf("%d keys at the end for %d live sessions", end.keys, len(us))
	}
	if end.members > int64(len(us))+2*50 {
		t.Errorf("%d index members at the end for %d live sessions", end.members, len(us))
	}
	if end.goroutines > first.goroutines+20 {
		t.Errorf("goroutines grew from %d to %d", first.goroutines, end.goroutines)
	}
	if lostSessions != 0 || tl.logouts.Load() != 0 {
		t.Errorf("%d sessions lost, %d logouts", lostSessions, tl.logouts.Load())
	}
}
