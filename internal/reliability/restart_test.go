package reliability

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// TestReliabilityRestart restarts a Redis with appendonly yes and appendfsync everysec while users
// log in, read and write: gracefully (SHUTDOWN, which fsyncs the AOF) and with kill -9. A graceful
// restart must lose no acknowledged login or increment; after kill -9 the scenario measures what was
// lost and how old the lost writes were (at most about a second is expected).
func TestReliabilityRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts Redis under load")
	}
	for _, tc := range []struct {
		name     string
		graceful bool
	}{{"graceful", true}, {"kill-9", false}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{AOF: true, AppendFsync: "everysec"})
			rdb := redis.NewClient(redisOptions(srv.Addr()))
			t.Cleanup(func() { _ = rdb.Close() })
			a := newApp(t, rdb, store.Options{})
			us := users(t, a.srv.URL, "p", 200)
			incs := make([]atomic.Int64, len(us))
			var tl tally
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			wg := load(ctx, us, 6, &tl, incs)
			// New logins keep coming; each acknowledged one is remembered with its time.
			var mu sync.Mutex
			type login struct {
				u  *user
				at time.Time
			}
			var logins []login
			var lwg sync.WaitGroup
			lwg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					u := &user{name: fmt.Sprintf("new%d", i), base: a.srv.URL}
					if u.login() == nil {
						mu.Lock()
						logins = append(logins, login{u, time.Now()})
						mu.Unlock()
					}
				}
			})
			time.Sleep(1500 * time.Millisecond)
			faultAt := time.Now()
			if tc.graceful {
				srv.Restart(t)
			} else {
				srv.Kill(t)
				srv.Restart(t)
			}
			down := time.Since(faultAt)
			time.Sleep(time.Second)
			cancel()
			wg.Wait()
			lwg.Wait()

			lostSessions := lost(t, us, 10*time.Second)
			lostIncs := lostIncrements(t, us, incs)
			mu.Lock()
			lostLogins, oldest := 0, time.Duration(0)
			for _, l := range logins {
				r := l.u.do(http.MethodGet, "/me", nil)
				if r.status == http.StatusOK && r.me.User == l.u.name {
					continue
				}
				lostLogins++
				if age := faultAt.Sub(l.at); age > oldest {
					oldest = age
				}
			}
			f := tl.figures()
			f["users"], f["logins_acknowledged"], f["logins_lost"] = len(us), len(logins), lostLogins
			mu.Unlock()
			f["oldest_lost_write_before_fault_ms"], f["down_ms"] = oldest.Milliseconds(), down.Milliseconds()
			f["sessions_lost"], f["acknowledged_increments_lost"] = lostSessions, lostIncs
			report(t, "restart-"+tc.name, f)
			if tl.logouts.Load() != 0 || tl.cookieChanges.Load() != 0 {
				t.Errorf("%d logouts, %d cookie overwrites", tl.logouts.Load(), tl.cookieChanges.Load())
			}
			if tc.graceful && (lostSessions != 0 || lostIncs != 0 || lostLogins != 0) {
				t.Errorf("a graceful restart lost %d sessions, %d increments, %d new logins", lostSessions, lostIncs, lostLogins)
			}
			if !tc.graceful && oldest > 3*time.Second {
				t.Errorf("kill -9 lost a write acknowledged %v before the kill; everysec should bound it near 1s", oldest)
			}
		})
	}
}
