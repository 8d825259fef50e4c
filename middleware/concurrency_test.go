package middleware_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
)

// Eight tabs of one browser each write 50 different fields at the same time: every write is kept,
// because a commit writes only the fields its request changed.
func TestTabsWritingDifferentFieldsLoseNothing(t *testing.T) {
	const tabs, writes = 8, 50
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	id := b.cookie()

	var wg sync.WaitGroup
	for tab := range tabs {
		wg.Go(func() {
			for i := range writes {
				r := b.post("/set" + q("key", fmt.Sprintf("tab%d-%d", tab, i), "value", strconv.Itoa(i)))
				if r.status != http.StatusOK || r.setCookie() != nil {
					t.Errorf("tab %d write %d: %d, Set-Cookie %v", tab, i, r.status, r.setCookie())
					return
				}
			}
		})
	}
	wg.Wait()
	if b.cookie() != id {
		t.Fatal("the session ID changed")
	}
	fields := e.mustLoad(id).Fields
	if len(fields) != tabs*writes {
		t.Errorf("%d fields stored, want %d", len(fields), tabs*writes)
	}
	for tab := range tabs {
		for i := range writes {
			if got := fields[fmt.Sprintf("tab%d-%d", tab, i)]; got != strconv.Quote(strconv.Itoa(i)) {
				t.Errorf("tab%d-%d = %q", tab, i, got)
			}
		}
	}
}

// A logout in one tab racing writes from other tabs never brings the session back: after every
// round the logged-out session is gone, the user has no session left, and any write that lost the
// race started a fresh anonymous session that carries nothing of the old one.
func TestLogoutRacingWritesResurrectsNothing(t *testing.T) {
	const rounds, writers, writesEach = 30, 4, 3
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	srv := e.serve(app())
	var landed, lost atomic.Int64 // writes with the old cookie that went into the old session, or found it gone
	defer func() {
		t.Logf("writes with the logged-out cookie: %d before the logout, %d after it", landed.Load(), lost.Load())
	}()
	for round := range rounds {
		user := fmt.Sprint("user", round)
		b := newBrowser(t, srv)
		mustOK(t, "login", b.post("/login"+q("user", user)))
		mustOK(t, "secret", b.post("/set"+q("key", "secret", "value", "s3cr3t")))
		id := b.cookie()

		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			// Spread the logout over the writers' timeline from round to round.
			time.Sleep(time.Duration(round%5) * time.Millisecond)
			if r := b.post("/logout"); r.status != http.StatusOK {
				t.Errorf("round %d: logout %d %q", round, r.status, r.body)
			}
		})
		tabs := make([]*browser, writers)
		for w := range tabs {
			tabs[w] = newBrowser(t, srv)
			tabs[w].setCookie(id)
			wg.Go(func() {
				<-start
				for i := range writesEach {
					old := tabs[w].cookie() == id
					r := tabs[w].post("/set" + q("key", fmt.Sprintf("w%d-%d", w, i), "value", "x"))
					if r.status != http.StatusOK {
						t.Errorf("round %d: write %d %q", round, r.status, r.body)
					}
					switch {
					case old && r.setCookie() == nil:
						landed.Add(1)
					case old:
						lost.Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()

		if e.exists(id) {
			t.Fatalf("round %d: the logged-out session exists again: %v", round, e.admin.HGetAll(ctxT(t), sessionKey(id)).Val())
		}
		if list, err := e.store.List(ctxT(t), user); err != nil || len(list) != 0 {
			t.Fatalf("round %d: %s still has sessions %v (%v)", round, user, list, err)
		}
		for w, tab := range tabs {
			if c := tab.cookie(); c != id {
				rec := e.mustLoad(c)
				if rec.Meta.UserID != "" || rec.Fields["secret"] != "" {
					t.Errorf("round %d: tab %d's new session carries user %q, fields %v", round, w, rec.Meta.UserID, rec.Fields)
				}
			}
		}
	}
}

// Increments from many tabs at once all count, and each sees a distinct value.
func TestConcurrentIncrementsSumExactly(t *testing.T) {
	const tabs, each = 8, 25
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "session", b.post("/set"+q("key", "a", "value", "1")))
	var (
		mu   sync.Mutex
		seen []int
		wg   sync.WaitGroup
	)
	for range tabs {
		wg.Go(func() {
			for range each {
				r := b.post("/incr" + q("key", "hits"))
				n, err := strconv.Atoi(r.body)
				if r.status != http.StatusOK || err != nil {
					t.Errorf("incr: %d %q", r.status, r.body)
					return
				}
				mu.Lock()
				seen = append(seen, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got := e.field(b.cookie(), "hits"); got != strconv.Itoa(tabs*each) {
		t.Errorf("hits = %s, want %d", got, tabs*each)
	}
	slices.Sort(seen)
	for i, n := range seen {
		if n != i+1 {
			t.Fatalf("increments returned %v, want 1..%d each once", seen, tabs*each)
		}
	}
}

// Update's compare-and-set loses no update under contention: tabs appending to one list at the same
// time end up with every item exactly once.
func TestUpdateUnderContentionLosesNothing(t *testing.T) {
	const tabs, each = 6, 15
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /append", func(w http.ResponseWriter, r *http.Request) {
		item, _ := strconv.Atoi(r.FormValue("item"))
		list, err := middleware.Update(middleware.Get(r), "list", func(cur []int, ok bool) ([]int, error) {
			return append(cur, item), nil
		})
		if err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		fmt.Fprint(w, len(list))
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "session", b.post("/set"+q("key", "a", "value", "1")))
	var wg sync.WaitGroup
	for tab := range tabs {
		wg.Go(func() {
			for i := range each {
				if r := b.post("/append" + q("item", strconv.Itoa(tab*each+i))); r.status != http.StatusOK {
					t.Errorf("append: %d %q", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	var list []int
	if err := json.Unmarshal([]byte(e.field(b.cookie(), "list")), &list); err != nil {
		t.Fatal(err)
	}
	slices.Sort(list)
	if len(list) != tabs*each {
		t.Fatalf("%d items, want %d", len(list), tabs*each)
	}
	for i, n := range list {
		if n != i {
			t.Fatalf("items %v, want 0..%d each once", list, tabs*each-1)
		}
	}
}

// A handler may use its session from several goroutines at once.
func TestSessionIsSafeForTheHandlersGoroutines(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /fan-out", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 10 {
					_ = s.Set(fmt.Sprintf("g%d-%d", g, i), i)
					_ = s.GetString("a")
					_ = s.Keys()
					_ = s.Status()
				}
				_, _ = s.Increment("n", 1)
			})
		}
		wg.Wait()
		fmt.Fprint(w, len(s.Keys()))
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "session", b.post("/set"+q("key", "a", "value", "1")))
	if got := mustOK(t, "fan-out", b.post("/fan-out")).body; got != "42" {
		t.Errorf("%s keys, want 42", got)
	}
	if n := len(e.mustLoad(b.cookie()).Fields); n != 42 {
		t.Errorf("%d fields stored, want 42", n)
	}
}
