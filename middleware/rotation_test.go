package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
)

// tabs returns n browsers that all carry the session cookie id, as tabs that share one cookie but
// whose requests left before any of them saw a response.
func tabs(t *testing.T, like *browser, n int, id string) []*browser {
	t.Helper()
	out := make([]*browser, n)
	for i := range out {
		out[i] = newBrowserLike(t, like)
		out[i].setCookie(id)
	}
	return out
}

// newBrowserLike returns a browser with an empty jar on the same server as b.
func newBrowserLike(t *testing.T, b *browser) *browser {
	t.Helper()
	nb := *b
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	nb.jar = jar
	client := *b.client
	client.Jar = jar
	nb.client = &client
	return &nb
}

func TestConcurrentRotationsOfOneCookieLeaveOneLiveSession(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{}})
	srv := e.serve(app())
	for _, route := range []string{"/elevate", "/login" + q("user", "kai")} {
		for round := range 10 {
			b := newBrowser(t, srv)
			mustOK(t, "login", b.post("/login"+q("user", "kai")))
			mustOK(t, "cart", b.post("/set"+q("key", "cart", "value", "1")))
			ts := tabs(t, b, 6, b.cookie())
			res := make([]*response, len(ts))
			var wg sync.WaitGroup
			for i, tab := range ts {
				wg.Go(func() { res[i] = tab.post(route) })
			}
			wg.Wait()
			wins, winner := 0, -1
			for i, r := range res {
				switch {
				case r.status == http.StatusOK && r.setCookie() != nil:
					wins, winner = wins+1, i
				case r.status == http.StatusConflict && r.setCookie() == nil:
				default:
					t.Errorf("%s round %d: a losing rotation answered %d %q, Set-Cookie %v", route, round, r.status, r.body, r.setCookie())
				}
			}
			if wins != 1 {
				t.Fatalf("%s round %d: %d of %d concurrent rotations of one cookie won, want 1", route, round, wins, len(ts))
			}
			list, err := e.store.List(ctxT(t), "kai")
			if err != nil || len(list) != round+1 {
				// Each round's browser is another device: round+1 live sessions, one per device.
				t.Fatalf("%s round %d: %d live sessions of kai, want %d: %v", route, round, len(list), round+1, err)
			}
			if got := mustOK(t, "cart", ts[winner].get("/get"+q("key", "cart"))).body; got != "1" {
				t.Errorf("%s round %d: the winning rotation lost the cart: %q", route, round, got)
			}
		}
		if _, err := e.store.DestroyUser(ctxT(t), "kai"); err != nil {
			t.Fatal(err)
		}
	}
}

// Logout everywhere racing elevations of the same cookie: once it has answered, the user has no
// live session, whatever the elevations did.
func TestLogoutAllRacingElevationsLeavesNoSession(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{}})
	srv := e.serve(app())
	answered := 0
	for round := range 20 {
		uid := fmt.Sprint("lea", round)
		b := newBrowser(t, srv)
		mustOK(t, "login", b.post("/login"+q("user", uid)))
		ts := tabs(t, b, 4, b.cookie())
		res := make([]*response, len(ts))
		var wg sync.WaitGroup
		for i, tab := range ts {
			route := "/elevate"
			if i == 0 {
				route = "/logout-all"
			}
			wg.Go(func() { res[i] = tab.post(route) })
		}
		wg.Wait()
		if res[0].status != http.StatusOK {
			// An elevation rotated the cookie first: this logout found no session to log out of.
			if res[0].status != http.StatusUnauthorized && res[0].status != http.StatusConflict {
				t.Errorf("round %d: logout-all answered %d %q", round, res[0].status, res[0].body)
			}
			continue
		}
		answered++
		if list, err := e.store.List(ctxT(t), uid); err != nil || len(list) != 0 {
			t.Errorf("round %d: logout-all answered, yet %d sessions of the user live on: %v", round, len(list), err)
		}
		for i, r := range res[1:] {
			if r.status == http.StatusOK {
				if who := ts[i+1].get("/whoami").body; who != "/" {
					t.Errorf("round %d: an elevation's new cookie still works after logout-all: %q", round, who)
				}
			}
		}
	}
	if answered == 0 {
		t.Fatal("logout-all never answered first: the race was not exercised")
	}
}

// A tab whose request carries the ID another tab rotated a moment ago neither reaches the new session
// nor replaces its cookie.
func TestAStragglingTabNeitherReachesNorReplacesTheNewSession(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{}})
	srv := e.serve(app())
	a := newBrowser(t, srv)
	mustOK(t, "cart", a.post("/set"+q("key", "cart", "value", "teapot")))
	old := a.cookie()
	straggler := tabs(t, a, 1, old)[0]
	mustOK(t, "login", a.post("/login"+q("user", "sam")))
	w := straggler.post("/set" + q("key", "late", "value", "1"))
	if w.status != http.StatusConflict || w.setCookie() != nil {
		t.Errorf("write with the rotated ID: %d, Set-Cookie %v; want 409 and no cookie", w.status, w.setCookie())
	}
	inc := straggler.post("/incr" + q("key", "n"))
	if inc.status != http.StatusConflict || inc.setCookie() != nil {
		t.Errorf("increment with the rotated ID: %d, Set-Cookie %v; want 409 and no cookie", inc.status, inc.setCookie())
	}
	r := straggler.get("/whoami")
	if r.status != http.StatusOK || r.body != "/" || r.setCookie() != nil {
		t.Errorf("read with the rotated ID: %d %q, Set-Cookie %v; want no session and no cookie", r.status, r.body, r.setCookie())
	}
	if el := straggler.post("/elevate"); el.status != http.StatusConflict || el.setCookie() != nil {
		t.Errorf("elevation with the rotated ID: %d, Set-Cookie %v", el.status, el.setCookie())
	}
	if got := mustOK(t, "fields", a.get("/get"+q("key", "late"))).body; got != "" {
		t.Errorf("the straggler's write reached the new session: %q", got)
	}
	if got := mustOK(t, "cart", a.get("/get"+q("key", "cart"))).body; got != "teapot" {
		t.Errorf("the new session lost the cart: %q", got)
	}
	if who := a.get("/whoami").body; who != "sam/" {
		t.Errorf("the new session after the straggler: %q", who)
	}
	// A logout from the straggler is a logout: it ends the session its ID was rotated into.
	if r := straggler.post("/logout"); r.status != http.StatusOK {
		t.Errorf("logout with the rotated ID: %d %q", r.status, r.body)
	}
	if who := a.get("/whoami").body; who != "/" {
		t.Errorf("the rotated session survived a logout of its old ID: %q", who)
	}
}

func TestSetLevelWithoutASessionCreatesNothing(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{}})
	srv := e.serve(app())
	visitor := newBrowser(t, srv)
	if r := visitor.post("/elevate"); r.status != http.StatusUnauthorized || r.setCookie() != nil {
		t.Errorf("a visitor's elevation: %d, Set-Cookie %v", r.status, r.setCookie())
	}
	anon := newBrowser(t, srv)
	mustOK(t, "anonymous", anon.post("/set"+q("key", "a", "value", "1")))
	if r := anon.post("/elevate"); r.status != http.StatusUnauthorized || r.setCookie() != nil {
		t.Errorf("an anonymous session's elevation: %d, Set-Cookie %v", r.status, r.setCookie())
	}
	gone := newBrowser(t, srv)
	mustOK(t, "login", gone.post("/login"+q("user", "gus")))
	stale := tabs(t, gone, 1, gone.cookie())[0]
	mustOK(t, "logout", gone.post("/logout"))
	if r := stale.post("/elevate"); r.status != http.StatusUnauthorized || r.setCookie() != nil {
		t.Errorf("elevation of a logged-out session: %d, Set-Cookie %v", r.status, r.setCookie())
	}
	if list, err := e.store.List(ctxT(t), "gus"); err != nil || len(list) != 0 {
		t.Errorf("gus has %d sessions after logging out and a stale elevation: %v", len(list), err)
	}
}

// A login or elevation on a request that has not read its session costs at most two round trips and
// reads the session once: a login (its user known, nothing pending) is one script that copies the
// hash server-side, plus the read of the new session in the same pipeline; an elevation, whose user
// only the old session knows, is the first step on the old key, then the new key and its index entry.
func TestARotationCostsAtMostTwoRoundTrips(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{}})
	srv := e.serve(app())
	warm := newBrowser(t, srv)
	mustOK(t, "warm", warm.post("/set"+q("key", "a", "value", "1")))
	mustOK(t, "warm login", warm.post("/login"+q("user", "w")))
	mustOK(t, "warm elevate", warm.post("/elevate"))
	b := newBrowser(t, srv)
	mustOK(t, "anonymous", b.post("/set"+q("key", "a", "value", "1")))
	for _, tc := range []struct {
		route          string
		trips, hgetall int64
	}{{"/login" + q("user", "rt"), 1, 0}, {"/elevate", 2, 1}} {
		c := e.measure(func() { mustOK(t, tc.route, b.post(tc.route)) })
		if c.trips != tc.trips || c.hgetall != tc.hgetall {
			t.Errorf("%s: %d round trips, %d HGETALLs; want %d and %d", tc.route, c.trips, c.hgetall, tc.trips, tc.hgetall)
		}
	}
}

// A login copies the fields server-side without reading them; a handler that reads a field after
// its Login still sees every field, its own pending ones and other tabs' writes included.
func TestFieldsReadAfterALoginInTheSameRequestAreAllThere(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /login-and-read", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		if err := s.Login("reader"); err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		n, err := s.Increment("logins", 1)
		if err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		fmt.Fprintf(w, "%s %s %d %v", s.GetString("cart"), s.GetString("other_tab"), n, s.Keys())
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "cart", b.post("/set"+q("key", "cart", "value", "teapot")))
	other := tabs(t, b, 1, b.cookie())[0]
	mustOK(t, "other tab", other.post("/set"+q("key", "other_tab", "value", "1")))
	if got := mustOK(t, "login", b.post("/login-and-read")).body; got != "teapot 1 1 [cart logins other_tab]" {
		t.Errorf("fields after a login in the same request: %q", got)
	}
}
