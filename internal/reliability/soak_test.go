package reliability

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
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

// scanKeys returns the keys matching pattern, walked with SCAN. Unlike DBSIZE, SCAN leaves out keys
// whose TTL has passed but that Redis has not reclaimed yet, so the count does not depend on when
// Redis' active expiry runs.
func scanKeys(ctx context.Context, rdb *redis.Client, pattern string) ([]string, error) {
	var keys []string
	iter := rdb.Scan(ctx, 0, pattern, 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// churnName is the user name of churn user j.
func churnName(j int) string { return fmt.Sprintf("churn%d", j) }

// TestReliabilitySoak runs steady load for RELIABILITY_SOAK (default 30s) while churn users log in,
// visit the device list (which prunes) and log out, or abandon their sessions to a 3s idle timeout.
// Sampled every few seconds, and exactly at the end, the goroutines of the test process, the keys in
// Redis and the members of the user indexes must not grow beyond what the test itself left behind.
//
// Index members are scored by the session's absolute deadline, so the member of a session that idled
// out stays in its user's index until the device list (store.List) prunes it or that deadline (hours
// away) passes. How many such members exist when the churn stops depends on how many abandoned
// sessions were still alive at each churn user's last device list, that is on the machine's speed,
// so the end check does not bound them by a guess. It waits until every churn session is gone
// (checked, not slept); requires every index member left then to be either a live user's session or
// dangling in a churn user's index, and no more of them there than that user's logins that may have
// left one (abandoned ones, failed logins and failed logouts: none for a user whose logouts all
// succeeded); then lists every user's sessions with store.List, which must prune every dangling
// member, and requires exactly the live users' sessions and indexes to remain.
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
	// Two app instances on one Redis and one key prefix. On the first, sessions idle out after a
	// minute, far beyond any pause of a loaded machine between two requests of a user (or the checks at
	// the end): it serves the steady users and the churn users who log out, so none of their sessions
	// can idle out before its logout. On the second, sessions idle out after 3s: it serves the churn
	// users who abandon theirs.
	const idle, liveIdle = 3 * time.Second, time.Minute
	const churnUsers = 50 // churn user j logs out when j is even, abandons its session when j is odd
	a := newApp(t, rdb, store.Options{IdleTimeout: liveIdle})
	ch := newApp(t, rdb, store.Options{IdleTimeout: idle})
	us := users(t, a.srv.URL, "k", 200)
	var tl tally
	// The users' load goes on while the abandoned sessions idle out after the churn stops.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	wg := load(loadCtx, us, 8, &tl, nil)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	// Churn: log in and out, and leave abandoned sessions behind to idle out. Per churn user it
	// counts the logins that may have left an index member behind: abandoned ones, and those whose
	// login or first logout attempt failed (the session, or its index member, may be left or not).
	// Only the churn goroutine writes leftBy; it is read after cwg.Wait.
	var churned, abandoned, unconfirmed atomic.Int64
	leftBy := make([]int64, churnUsers)
	var cwg sync.WaitGroup
	cwg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			j := i % churnUsers
			u := &user{name: churnName(j), base: ch.srv.URL}
			if j%2 == 0 {
				u.base = a.srv.URL
			}
			if u.login() != nil {
				unconfirmed.Add(1)
				leftBy[j]++
				continue
			}
			// The device list prunes index members whose session idled out.
			u.do(http.MethodGet, "/devices", nil)
			if j%2 == 1 {
				abandoned.Add(1)
				leftBy[j]++
			} else if r := u.do(http.MethodPost, "/logout", nil); r.status == http.StatusOK {
				churned.Add(1) // the session existed (1 minute idle) and is destroyed and unindexed
			} else {
				// The failed logout may have deleted the session and not its member; retried until
				// the session is surely gone, so that it does not wait a minute to idle out.
				unconfirmed.Add(1)
				leftBy[j]++
				waitUntil(30*time.Second, func() bool { return u.do(http.MethodPost, "/logout", nil).status == http.StatusOK })
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
		keys, err := scanKeys(c, rdb, "*")
		if err != nil {
			t.Errorf("scanning keys: %v", err)
		}
		indexes, err := scanKeys(c, rdb, a.store.IndexKey("*"))
		if err != nil {
			t.Errorf("scanning indexes: %v", err)
		}
		var members int64
		for _, k := range indexes {
			members += rdb.ZCard(c, k).Val()
		}
		return sample{runtime.NumGoroutine(), int64(len(keys)), members}
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
	if len(samples) == 0 {
		samples = append(samples, measure())
	}
	cwg.Wait()

	// Every abandoned churn session idles out 3s after its last request, and the logged-out ones are
	// gone already; wait until Redis has none left (SCAN skips keys past their TTL), however long a
	// loaded machine took to finish the churn. Only a login that failed on the first app after
	// creating its session could take up to liveIdle.
	c := context.Background()
	liveSession := map[string]bool{}
	for _, u := range us {
		liveSession[a.store.SessionKey(store.Handle(u.cookie))] = true
	}
	var churnLeft int
	gone := waitUntil(liveIdle+time.Minute, func() bool {
		keys, err := scanKeys(c, rdb, a.store.SessionKey("*"))
		churnLeft = 0
		for _, k := range keys {
			if !liveSession[k] {
				churnLeft++
			}
		}
		return err == nil && churnLeft == 0
	})
	if !gone {
		t.Fatalf("%d churn sessions still exist %v after the churn stopped (idle timeouts %v and %v)", churnLeft, liveIdle+time.Minute, idle, liveIdle)
	}
	stopLoad()
	wg.Wait()
	lostSessions := lost(t, us, 30*time.Second)
	httpClient.CloseIdleConnections()

	// Before pruning: sort every key and every index member into what the test expects.
	liveIndex, churnIndex := map[string]*user{}, map[string]int{}
	for _, u := range us {
		liveIndex[a.store.IndexKey(u.name)] = u
	}
	for j := range churnUsers {
		churnIndex[a.store.IndexKey(churnName(j))] = j
	}
	keys, err := scanKeys(c, rdb, "*")
	if err != nil {
		t.Fatalf("scanning keys: %v", err)
	}
	var liveMembers, danglingMembers, churnIndexes int
	var unexpected []string
	for _, k := range keys {
		if liveSession[k] {
			continue
		}
		u, live := liveIndex[k]
		j, churn := churnIndex[k]
		if !live && !churn {
			unexpected = append(unexpected, k)
			continue
		}
		members, err := rdb.ZRange(c, k, 0, -1).Result()
		if err != nil {
			t.Fatalf("ZRANGE %s: %v", k, err)
		}
		var dangling int
		for _, h := range members {
			if rdb.Exists(c, a.store.SessionKey(h)).Val() == 0 {
				dangling++
			}
		}
		danglingMembers += dangling
		liveMembers += len(members) - dangling
		if live {
			// A steady user logged in once: its index holds its one session, and a dangling member
			// for each login of the setup that failed and was retried, if that one created a session.
			if !slices.Contains(members, store.Handle(u.cookie)) || len(members)-1 != dangling || dangling > u.retries {
				t.Errorf("the index of %s holds %d members, %d of them dangling; want its session and at most %d dangling",
					u.name, len(members), dangling, u.retries)
			}
			continue
		}
		churnIndexes++
		if dangling != len(members) || int64(len(members)) > leftBy[j] {
			t.Errorf("the index of %s holds %d members, %d of them dangling; its logins left at most %d behind, all gone",
				churnName(j), len(members), dangling, leftBy[j])
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("%d keys that are neither a live session nor an index: %.5q", len(unexpected), unexpected)
	}
	if liveMembers != len(us) {
		t.Errorf("%d index members point at a live session, want the %d live users' sessions", liveMembers, len(us))
	}
	beforePrune := measure()

	// The device list prunes every member whose session is gone: after one List per user, only the
	// live users' sessions and indexes may remain, whatever the churn left behind.
	for j := range churnUsers {
		infos, err := ch.store.List(c, churnName(j))
		if err != nil || len(infos) != 0 {
			t.Errorf("List(%s) after its sessions idled out: %d sessions, %v", churnName(j), len(infos), err)
		}
	}
	for _, u := range us {
		infos, err := a.store.List(c, u.name)
		if err != nil || len(infos) != 1 || infos[0].Handle != store.Handle(u.cookie) {
			t.Errorf("List(%s): %d sessions, want its one; %v", u.name, len(infos), err)
		}
	}
	end := measure()
	// Goroutines of closed connections end asynchronously: poll, a leak stays.
	waitUntil(10*time.Second, func() bool {
		end.goroutines = runtime.NumGoroutine()
		return end.goroutines <= samples[0].goroutines+20
	})

	f := tl.figures()
	first, peak := samples[0], sample{}
	for _, s := range samples {
		peak.goroutines, peak.keys, peak.members = max(peak.goroutines, s.goroutines), max(peak.keys, s.keys), max(peak.members, s.members)
	}
	f["duration_s"], f["users"], f["churn_users"] = d.Seconds(), len(us), churnUsers
	f["logins_logged_out"], f["logins_abandoned"], f["logins_unconfirmed"] = churned.Load(), abandoned.Load(), unconfirmed.Load()
	f["goroutines_first"], f["goroutines_peak"], f["goroutines_end"] = first.goroutines, peak.goroutines, end.goroutines
	f["keys_first"], f["keys_peak"], f["keys_before_prune"], f["keys_end"] = first.keys, peak.keys, beforePrune.keys, end.keys
	f["index_members_first"], f["index_members_peak"], f["index_members_end"] = first.members, peak.members, end.members
	f["index_members_before_prune"], f["index_members_dangling_before_prune"] = beforePrune.members, danglingMembers
	f["churn_indexes_before_prune"], f["sessions_lost"] = churnIndexes, lostSessions
	report(t, "soak", f)
	// 200 users hold one session and one index each, and nothing else is left.
	if end.keys != int64(2*len(us)) {
		t.Errorf("%d keys at the end, want %d: %d live sessions and their indexes", end.keys, 2*len(us), len(us))
	}
	if end.members != int64(len(us)) {
		t.Errorf("%d index members at the end (%d before the churn users' device lists, %d of them dangling), want the %d live sessions",
			end.members, beforePrune.members, danglingMembers, len(us))
	}
	if end.goroutines > first.goroutines+20 {
		t.Errorf("goroutines grew from %d to %d", first.goroutines, end.goroutines)
	}
	if lostSessions != 0 || tl.logouts.Load() != 0 {
		t.Errorf("%d sessions lost, %d logouts", lostSessions, tl.logouts.Load())
	}
}
