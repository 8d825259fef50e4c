package reliability

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// TestReliabilityClusterDevices logs one user in from several browsers on a 3-master, 3-replica
// cluster, so that its sessions and its index sit on different masters, and checks login, rotation
// (a second login), the device list, a logout of one device and logout everywhere over HTTP.
func TestReliabilityClusterDevices(t *testing.T) {
	long(t)
	c := redistest.StartCluster(t, 3, 1)
	rdb := c.ClientWith(t, clusterOptions(nil))
	a := newApp(t, rdb, store.Options{})
	const browsers = 8
	us := make([]*user, browsers)
	masters := map[string]bool{}
	for i := range us {
		us[i] = &user{name: "dora", base: a.srv.URL}
		if err := us[i].login(); err != nil {
			t.Fatal(err)
		}
		masters[c.MasterOf(t, a.store.SessionKey(store.Handle(us[i].cookie))).Addr()] = true
	}
	indexOn := c.MasterOf(t, a.store.IndexKey("dora")).Addr()
	elsewhere := len(masters)
	if masters[indexOn] {
		elsewhere--
	}
	if elsewhere == 0 {
		t.Fatal("every session landed with the index; the scenario proves nothing")
	}
	// A second login on the same browser rotates its ID.
	old := us[0].cookie
	if err := us[0].login(); err != nil || us[0].cookie == old {
		t.Fatalf("rotation: %v (cookie changed: %v)", err, us[0].cookie != old)
	}
	stale := &user{name: "dora", base: a.srv.URL, cookie: old}
	if r := stale.do(http.MethodGet, "/me", nil); r.status != http.StatusOK || r.me.User != "" {
		t.Errorf("the rotated-away ID still works: %+v", r)
	}
	if r := us[1].do(http.MethodGet, "/devices", nil); r.me.Devices != browsers {
		t.Errorf("device list shows %d devices, want %d (status %d)", r.me.Devices, browsers, r.status)
	}
	if r := us[2].do(http.MethodPost, "/logout", nil); r.status != http.StatusOK {
		t.Fatalf("logout: %d", r.status)
	}
	if r := us[1].do(http.MethodGet, "/devices", nil); r.me.Devices != browsers-1 {
		t.Errorf("after one logout the device list shows %d devices, want %d", r.me.Devices, browsers-1)
	}
	r := us[1].do(http.MethodPost, "/logout-all", nil)
	if r.status != http.StatusOK || r.me.Devices != browsers-1 {
		t.Fatalf("logout-all: status %d, destroyed %d, want %d", r.status, r.me.Devices, browsers-1)
	}
	survivors := 0
	for _, u := range us {
		if r := u.do(http.MethodGet, "/me", nil); r.me.User != "" {
			survivors++
		}
	}
	if survivors != 0 {
		t.Errorf("%d sessions survived logout everywhere", survivors)
	}
	// No session and no index may be left. What may remain for a while are the marks a rotation and
	// a destroy leave behind (the rotated-away ID, for store.RotationGrace; tombstones, for three
	// times that), which expire by themselves: any other key, or one that would outlive them, leaks.
	ctx := context.Background()
	var keys []string
	var mu sync.Mutex
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		iter := m.Scan(ctx, 0, "*", 500).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	})
	if err != nil {
		t.Fatalf("scanning the masters: %v", err)
	}
	marks := 0
	for _, k := range keys {
		switch ttl := rdb.PTTL(ctx, k).Val(); {
		case ttl == -2: // expired meanwhile
		case ttl > 0 && ttl <= 3*store.RotationGrace:
			marks++
		default:
			t.Errorf("key %s left after logout everywhere, with TTL %v: only marks expiring within %v may remain", k, ttl, 3*store.RotationGrace)
		}
	}
	report(t, "cluster-devices", map[string]any{
		"masters": 3, "replicas": 3, "browsers": browsers, "session_masters": len(masters),
		"sessions_not_on_index_master": elsewhere, "survivors_of_logout_all": survivors,
		"keys_left_after_logout_all": len(keys), "short_lived_marks_left": marks,
	})
}

// TestReliabilityClusterReshard moves slots between masters with redis-cli --cluster reshard while
// users read and write their sessions, and checks that no session and no acknowledged increment is
// lost.
func TestReliabilityClusterReshard(t *testing.T) {
	long(t)
	c := redistest.StartCluster(t, 3, 1)
	rdb := c.ClientWith(t, clusterOptions(nil))
	a := newApp(t, rdb, store.Options{})
	us := users(t, a.srv.URL, "r", 500)
	incs := make([]atomic.Int64, len(us))
	var tl tally
	ctx, cancel := context.WithCancel(context.Background())
	wg := load(ctx, us, 8, &tl, incs)

	masters := c.Masters(t)
	start := time.Now()
	const slots = 1000
	moves := [][2]int{{0, 1}, {1, 2}, {2, 0}}
	for _, m := range moves {
		c.Reshard(t, masters[m[0]], masters[m[1]], slots)
	}
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	cancel()
	wg.Wait()

	lostSessions := lost(t, us, 30*time.Second)
	lostIncs := lostIncrements(t, us, incs)
	f := tl.figures()
	f["users"], f["slots_moved"], f["reshards"] = len(us), slots*len(moves), len(moves)
	f["reshard_ms"], f["sessions_lost"], f["acknowledged_increments_lost"] = took.Milliseconds(), lostSessions, lostIncs
	report(t, "cluster-reshard", f)
	if lostSessions != 0 || lostIncs != 0 || tl.logouts.Load() != 0 || tl.cookieChanges.Load() != 0 {
		t.Errorf("reshard lost %d sessions and %d increments, %d logouts, %d cookie overwrites",
			lostSessions, lostIncs, tl.logouts.Load(), tl.cookieChanges.Load())
	}
}

// lostIncrements reads every user's counter and returns how many acknowledged increments are
// missing from it.
func lostIncrements(t *testing.T, us []*user, incs []atomic.Int64) int64 {
	t.Helper()
	var missing int64
	for i, u := range us {
		r := u.do(http.MethodGet, "/me", nil)
		if r.status != http.StatusOK {
			t.Errorf("user %s: %d", u.name, r.status)
			continue
		}
		if d := incs[i].Load() - r.me.N; d > 0 {
			missing += d
		}
	}
	return missing
}
