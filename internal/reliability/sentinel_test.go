package reliability

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// TestReliabilitySentinelFailover kills the master of a Sentinel setup (a master, a replica, three
// sentinels) while users read and write their sessions through redis.NewFailoverClient. Requests
// during the failover must get the error handler's answer (503, never a logout or an overwritten
// cookie), and once the replica is promoted every session replicated before the kill must work again
// without restarting the app.
func TestReliabilitySentinelFailover(t *testing.T) {
	long(t)
	sn := redistest.StartSentinel(t, redistest.Options{})
	rdb := sn.FailoverClient(t, failoverOptions("", nil))
	a := newApp(t, rdb, store.Options{})
	us := users(t, a.srv.URL, "s", 300)
	incs := make([]atomic.Int64, len(us))
	var before tally
	ctx, cancel := context.WithCancel(context.Background())
	wg := load(ctx, us, 8, &before, incs)
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	sn.WaitSynced(t) // everything so far is on the replica: the failover must lose none of it

	var during tally
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	wg = load(ctx, us, 8, &during, nil)
	killed := time.Now()
	old := sn.KillMaster(t)
	_, promotion := sn.WaitForPromotion(t, old)
	// The app follows by itself: wait for the first request that succeeds.
	recovered := waitUntil(30*time.Second, func() bool {
		r := us[0].do(http.MethodGet, "/me", nil)
		return r.status == http.StatusOK && r.me.User == us[0].name
	})
	backAfter := time.Since(killed)
	time.Sleep(time.Second)
	cancel()
	wg.Wait()

	lostSessions := lost(t, us, 30*time.Second)
	lostIncs := lostIncrements(t, us, incs)
	f := during.figures()
	f["users"], f["promotion_ms"], f["app_back_after_kill_ms"] = len(us), promotion.Milliseconds(), backAfter.Milliseconds()
	f["sessions_lost"], f["replicated_increments_lost"], f["last_error"] = lostSessions, lostIncs, a.lastError()
	report(t, "sentinel-failover", f)
	if !recovered {
		t.Fatal("the app did not recover within 30s of the promotion")
	}
	if lostSessions != 0 || lostIncs != 0 {
		t.Errorf("the failover lost %d sessions and %d replicated increments", lostSessions, lostIncs)
	}
	if during.logouts.Load() != 0 || during.cookieChanges.Load() != 0 || during.transport.Load() != 0 {
		t.Errorf("during the failover: %d logouts, %d cookie overwrites, %d transport errors",
			during.logouts.Load(), during.cookieChanges.Load(), during.transport.Load())
	}
	if during.failed.Load() != during.byHandler.Load() {
		t.Errorf("%d failed requests, only %d answered by the error handler", during.failed.Load(), during.byHandler.Load())
	}
	if during.slow.Load() != 0 {
		t.Errorf("%d requests took longer than %v", during.slow.Load(), requestTimeout+slack)
	}
}
