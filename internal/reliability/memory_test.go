package reliability

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// memoryLimit is the maxmemory of the memory-pressure scenarios: room for a few thousand sessions.
const memoryLimit = "4mb"

// fill logs in browsers of users u0..u(n-1) (each user devices times) until 50 logins were refused or
// total logins were attempted, and returns the browsers that logged in, the failed logins' statuses,
// and how many of the refused logins failed with an error naming the OOM. A 503 (Redis did not answer
// within the deadline, as on a loaded machine) is counted in failures but is no refusal: it does not
// end the fill.
func fill(a *app, devices, total int) (in []*user, failures map[int]int, oom int) {
	var mu sync.Mutex
	failures = map[int]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range 8 {
		wg.Go(func() {
			for refused.Load() < 50 {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				u := &user{name: fmt.Sprintf("m%d", i/devices), base: a.srv.URL}
				r := u.do(http.MethodPost, "/login", url.Values{"user": {u.name}})
				mu.Lock()
				if r.status == http.StatusOK && r.setCookie != nil {
					u.cookie = r.setCookie.Value
					in = append(in, u)
				} else {
					failures[r.status]++
					if r.status != http.StatusServiceUnavailable {
						refused.Add(1)
						if strings.Contains(r.errText, "OOM") {
							oom++
						}
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return in, failures, oom
}

// TestReliabilityMemoryNoEviction fills a Redis with maxmemory and noeviction with logins: once it is
// full, new logins must fail with the error handler's answer naming the OOM, and every session
// created before must still be intact and readable, and can log out.
func TestReliabilityMemoryNoEviction(t *testing.T) {
	if testing.Short() {
		t.Skip("fills Redis up")
	}
	srv := redistest.Start(t, redistest.Options{MaxMemory: memoryLimit, MaxMemoryPolicy: "noeviction"})
	rdb := redis.NewClient(redisOptions(srv.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	a := newApp(t, rdb, store.Options{})
	in, failures, oom := fill(a, 1, 100000)
	loginErr := a.lastError()
	if len(in) == 0 {
		t.Fatalf("no login succeeded: %v (%s)", failures, loginErr)
	}
	// Refused logins: every failure but the 503s, which are slow answers on a loaded machine.
	refused := 0
	for status, n := range failures {
		if status != http.StatusServiceUnavailable {
			refused += n
		}
	}
	ctx := context.Background()
	keys := rdb.DBSize(ctx).Val()
	// Every session must still be there: lost retries an answer that is not a 200 (a 503 says
	// nothing about the session) and counts those that answer without their user.
	reads := len(in)
	intact := reads - lost(t, in, 30*time.Second)
	var writesOK, writesFailed int
	for _, u := range in {
		if w := u.do(http.MethodPost, "/incr", nil); w.status == http.StatusOK {
			writesOK++
		} else {
			writesFailed++
		}
	}
	// Logout must work on a full Redis: a refusal fails, a 503 (slow answer) is retried.
	var logoutStatus int
	waitUntil(30*time.Second, func() bool {
		logoutStatus = in[0].do(http.MethodPost, "/logout", nil).status
		return logoutStatus != http.StatusServiceUnavailable
	})
	logoutOK := logoutStatus == http.StatusOK
	report(t, "memory-noeviction", map[string]any{
		"maxmemory": memoryLimit, "sessions_created": len(in), "keys": keys, "failed_logins_by_status": failures,
		"login_error": loginErr, "refused_logins_naming_oom": oom, "existing_sessions_intact": intact, "existing_sessions_checked": reads,
		"writes_to_existing_ok": writesOK, "writes_to_existing_failed": writesFailed, "logout_when_full_ok": logoutOK,
	})
	if refused == 0 {
		t.Fatalf("Redis never filled up (failed logins %v)", failures)
	}
	if oom != refused {
		t.Errorf("%d of %d refused logins failed with an error naming the OOM (last error %q)", oom, refused, loginErr)
	}
	if intact != len(in) {
		t.Errorf("%d of %d existing sessions are intact after the fill", intact, len(in))
	}
	if !logoutOK {
		t.Error("logout failed on a full Redis")
	}
}

// TestReliabilityMemoryVolatileLRU logs in more than twice as many browsers than a Redis with maxmemory and
// volatile-lru holds, five per user, then measures how many sessions survive, how many index
// members point at evicted sessions, and whether logout everywhere still reaches every surviving
// session of a user.
func TestReliabilityMemoryVolatileLRU(t *testing.T) {
	if testing.Short() {
		t.Skip("fills Redis up")
	}
	srv := redistest.Start(t, redistest.Options{MaxMemory: memoryLimit, MaxMemoryPolicy: "volatile-lru"})
	rdb := redis.NewClient(redisOptions(srv.Addr()))
	t.Cleanup(func() { _ = rdb.Close() })
	a := newApp(t, rdb, store.Options{})
	const devices = 5
	in, failures, _ := fill(a, devices, 12000)
	ctx := context.Background()
	info := rdb.Info(ctx, "stats").Val()
	evicted := infoValue(info, "evicted_keys")

	byUser := map[string][]*user{}
	alive := 0
	for _, u := range in {
		if r := u.do(http.MethodGet, "/me", nil); r.status == http.StatusOK && r.me.User == u.name {
			byUser[u.name] = append(byUser[u.name], u)
			alive++
		}
	}
	indexes, missed, evictedMeanwhile := 0, 0, 0
	for name, us := range byUser {
		if rdb.Exists(ctx, a.store.IndexKey(name)).Val() == 1 {
			indexes++
		}
		r := us[0].do(http.MethodPost, "/logout-all", nil)
		switch {
		case r.status == http.StatusUnauthorized:
			evictedMeanwhile++ // the session itself went between the check and the logout
			continue
		case r.status != http.StatusOK:
			t.Errorf("logout-all for %s: %d", name, r.status)
			continue
		}
		for _, u := range us[1:] {
			if r := u.do(http.MethodGet, "/me", nil); r.status == http.StatusOK && r.me.User == u.name {
				missed++
			}
		}
	}
	report(t, "memory-volatile-lru", map[string]any{
		"maxmemory": memoryLimit, "logins": len(in), "failed_logins_by_status": failures, "evicted_keys": evicted,
		"sessions_alive_after_fill": alive, "users_with_sessions_left": len(byUser), "users_whose_index_survived": indexes,
		"sessions_logout_all_missed": missed, "logout_all_callers_evicted_meanwhile": evictedMeanwhile,
	})
	// Eviction makes room instead of refusing writes, so no login may fail for lack of memory (a 500
	// naming OOM). A 503 is Redis answering too slowly for the request deadline on a loaded machine
	// while it evicts, which is not what this scenario is about; a handful is tolerated.
	for status, n := range failures {
		if status != http.StatusServiceUnavailable || n > len(in)/100 {
			t.Errorf("logins failed under volatile-lru: %v (%s)", failures, a.lastError())
			break
		}
	}
	if alive == len(in) {
		t.Error("nothing was evicted; the scenario proves nothing")
	}
}

// infoValue returns the value of "name:value" in an INFO reply.
func infoValue(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
