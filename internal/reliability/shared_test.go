package reliability

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// roundRobin is a loopback load balancer: each request goes to the next live backend, and a backend
// that refuses a connection is taken out of the rotation and the request retried on another, as a
// load balancer's passive health check would.
type roundRobin struct {
	backends []*url.URL
	next     atomic.Int64
	mu       sync.Mutex
	down     map[int]bool
	retried  atomic.Int64
}

// ServeHTTP forwards r to a live backend.
func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for range 2 * len(rr.backends) { // every backend, whatever the other requests do to next
		i := int(rr.next.Add(1)-1) % len(rr.backends)
		rr.mu.Lock()
		down := rr.down[i]
		rr.mu.Unlock()
		if down {
			continue
		}
		failed := false
		p := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(rr.backends[i]) },
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				failed = true
			},
		}
		p.ServeHTTP(w, r)
		if !failed {
			return
		}
		// The backend is gone: the request (small, idempotent or never delivered) goes to another.
		rr.mu.Lock()
		rr.down[i] = true
		rr.mu.Unlock()
		rr.retried.Add(1)
	}
	http.Error(w, "no backend", http.StatusBadGateway)
}

// TestReliabilitySharedNotSticky runs two app instances on one Redis behind a round-robin proxy, so
// consecutive requests of one browser land on different instances, with 1,000 logged-in users, and
// kills one instance mid-run: no session may be lost and nobody logged out.
func TestReliabilitySharedNotSticky(t *testing.T) {
	long(t)
	srv := redistest.Start(t, redistest.Options{})
	var apps []*app
	rr := &roundRobin{down: map[int]bool{}}
	for range 2 {
		rdb := redis.NewClient(redisOptions(srv.Addr()))
		t.Cleanup(func() { _ = rdb.Close() })
		a := newApp(t, rdb, store.Options{})
		apps = append(apps, a)
		u, _ := url.Parse(a.srv.URL)
		rr.backends = append(rr.backends, u)
	}
	front := &http.Server{Handler: rr}
	lb := newListener(t)
	go func() { _ = front.Serve(lb) }()
	t.Cleanup(func() { _ = front.Close() })
	base := "http://" + lb.Addr().String()

	us := users(t, base, "h", 1000)
	incs := make([]atomic.Int64, len(us))
	var tl tally
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wg := load(ctx, us, 16, &tl, incs)
	const killAfter = 2 * time.Second
	time.Sleep(killAfter)
	// A crash: connections cut, listener closed, no graceful drain.
	apps[1].srv.CloseClientConnections()
	apps[1].srv.Listener.Close()
	time.Sleep(3 * time.Second)
	cancel()
	wg.Wait()
	lostSessions := lost(t, us, 10*time.Second)
	lostIncs := lostIncrements(t, us, incs)
	f := tl.figures()
	f["users"], f["instances"], f["killed_after_ms"] = len(us), 2, killAfter.Milliseconds()
	f["sessions_lost"], f["acknowledged_increments_lost"], f["requests_retried_on_other_instance"] = lostSessions, lostIncs, rr.retried.Load()
	report(t, "shared-two-instances", f)
	if lostSessions != 0 || lostIncs != 0 || tl.logouts.Load() != 0 || tl.cookieChanges.Load() != 0 {
		t.Errorf("%d sessions lost, %d increments lost, %d logouts, %d cookie overwrites",
			lostSessions, lostIncs, tl.logouts.Load(), tl.cookieChanges.Load())
	}
}
