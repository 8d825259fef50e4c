package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// Logout destroys the session in Redis and clears the cookie; the old ID is worth nothing afterwards.
func TestLogoutDestroysTheSessionAndClearsTheCookie(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	id := b.cookie()
	r := mustOK(t, "logout", b.post("/logout"))
	c := r.setCookie()
	if c == nil || c.Value != "" || c.MaxAge >= 0 {
		t.Errorf("logout Set-Cookie %q, want a clearing cookie", r.header.Get("Set-Cookie"))
	}
	if b.cookie() != "" {
		t.Error("the browser still holds the cookie")
	}
	if e.exists(id) {
		t.Error("the session outlived its logout")
	}
	if list, _ := e.store.List(ctxT(t), "alice"); len(list) != 0 {
		t.Errorf("alice's index still lists %v", list)
	}
	b.setCookie(id)
	if who := mustOK(t, "replay", b.get("/whoami")).body; who != "/" {
		t.Errorf("the logged-out ID still reads as %q", who)
	}
}

// Logging out with a cookie whose session is already gone (expired, logged out elsewhere) still
// clears the cookie, so the browser stops presenting a dead ID.
func TestLogoutWithAStaleCookieClearsIt(t *testing.T) {
	e := newEnv(t, config{mw: middleware.Options{ClearSiteData: true}, redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	if err := e.store.Destroy(ctxT(t), b.cookie()); err != nil {
		t.Fatal(err)
	}
	r := mustOK(t, "logout", b.post("/logout"))
	if c := r.setCookie(); c == nil || c.MaxAge >= 0 || b.cookie() != "" {
		t.Errorf("logout with a stale cookie: Set-Cookie %q, the browser holds %q", r.header.Get("Set-Cookie"), b.cookie())
	}
	if r.header.Get("Clear-Site-Data") == "" {
		t.Error("no Clear-Site-Data")
	}
	// A cookie of the session's name that is not a session cookie at all is cleared too.
	b.setCookie("garbage")
	if r := mustOK(t, "logout with a malformed cookie", b.post("/logout")); r.setCookie() == nil || b.cookie() != "" {
		t.Errorf("logout with a malformed cookie: Set-Cookie %q, the browser holds %q", r.header.Get("Set-Cookie"), b.cookie())
	}
	// Without any cookie there is nothing to clear.
	if r := mustOK(t, "logout without a cookie", b.post("/logout")); r.setCookie() != nil {
		t.Errorf("logout without a cookie set one: %q", r.header.Get("Set-Cookie"))
	}
}

// Clear-Site-Data: "cookies" goes with a logout only when the option asks for it, and with nothing
// else.
func TestClearSiteDataOnLogout(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("ClearSiteData=", on), func(t *testing.T) {
			e := newEnv(t, config{mw: middleware.Options{ClearSiteData: on}, redis: redistest.Options{AllowFake: true}})
			b := newBrowser(t, e.serve(app()))
			for _, path := range []string{"/login" + q("user", "alice"), "/set" + q("key", "a", "value", "b")} {
				if r := mustOK(t, path, b.post(path)); r.header.Get("Clear-Site-Data") != "" {
					t.Errorf("POST %s sent Clear-Site-Data", path)
				}
			}
			r := mustOK(t, "logout", b.post("/logout"))
			want := ""
			if on {
				want = `"cookies"`
			}
			if got := r.header.Get("Clear-Site-Data"); got != want {
				t.Errorf("logout Clear-Site-Data = %q, want %q", got, want)
			}
		})
	}
}

// A user on three devices sees them in Sessions, can revoke one by handle (but never another user's
// session), log out the others, and then all.
func TestDeviceListRevokeLogoutOthersAndLogoutAll(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	revokeErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /revoke-checked", func(w http.ResponseWriter, r *http.Request) {
		revokeErr <- middleware.Get(r).Revoke(r.FormValue("handle"))
	})
	srv := e.serve(mux)
	devices := map[string]*browser{}
	for _, name := range []string{"laptop", "phone", "tablet"} {
		b := newBrowser(t, srv)
		b.agent = name
		mustOK(t, "login on "+name, b.post("/login"+q("user", "alice")))
		devices[name] = b
	}
	bob := newBrowser(t, srv)
	mustOK(t, "bob's login", bob.post("/login"+q("user", "bob")))
	bobHandle := mustOK(t, "bob's handle", bob.get("/handle")).body

	laptop := devices["laptop"]
	list := sortedLines(mustOK(t, "sessions", laptop.get("/sessions")).body)
	var want []string
	for name, b := range devices {
		want = append(want, fmt.Sprintf("%s %s %t", store.Handle(b.cookie()), name, name == "laptop"))
	}
	slices.Sort(want)
	if !slices.Equal(list, want) {
		t.Errorf("Sessions:\n%s\nwant\n%s", strings.Join(list, "\n"), strings.Join(want, "\n"))
	}
	for _, line := range list {
		for _, b := range devices {
			if strings.Contains(line, b.cookie()) {
				t.Error("the device list carries a session ID")
			}
		}
	}

	// Revoking bob's session from alice's: an error wrapping store.ErrNotFound (404), and bob is
	// still logged in.
	mustOK(t, "revoke bob's", laptop.post("/revoke-checked"+q("handle", bobHandle)))
	if err := <-revokeErr; !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Revoke(bob's handle) = %v, want an error wrapping store.ErrNotFound", err)
	}
	if r := laptop.post("/revoke" + q("handle", bobHandle)); r.status != http.StatusNotFound {
		t.Errorf("revoking another user's handle: %d %q, want 404", r.status, r.body)
	}
	if r := laptop.post("/revoke" + q("handle", "not-a-handle")); r.status != http.StatusNotFound {
		t.Errorf("revoking garbage: %d, want 404", r.status)
	}
	if who := mustOK(t, "bob", bob.get("/whoami")).body; who != "bob/" {
		t.Errorf("bob after alice's revoke attempt: %q", who)
	}

	// Revoking the tablet ends it.
	mustOK(t, "revoke tablet", laptop.post("/revoke"+q("handle", store.Handle(devices["tablet"].cookie()))))
	if who := mustOK(t, "tablet", devices["tablet"].get("/whoami")).body; who != "/" {
		t.Errorf("the revoked tablet still reads as %q", who)
	}

	// Logging out the others ends the phone and keeps the laptop.
	if n := mustOK(t, "logout others", laptop.post("/logout-others")).body; n != "1" {
		t.Errorf("LogoutOthers destroyed %s sessions, want 1", n)
	}
	if who := mustOK(t, "phone", devices["phone"].get("/whoami")).body; who != "/" {
		t.Errorf("the phone survived LogoutOthers: %q", who)
	}
	if who := mustOK(t, "laptop", laptop.get("/whoami")).body; who != "alice/" {
		t.Errorf("LogoutOthers logged out the laptop too: %q", who)
	}

	// Logging out everywhere ends the laptop and clears its cookie; bob is untouched.
	r := mustOK(t, "logout all", laptop.post("/logout-all"))
	if r.body != "1" || r.setCookie() == nil || laptop.cookie() != "" {
		t.Errorf("LogoutAll: %q, Set-Cookie %v", r.body, r.setCookie())
	}
	if list, _ := e.store.List(ctxT(t), "alice"); len(list) != 0 {
		t.Errorf("alice still has sessions: %v", list)
	}
	if who := mustOK(t, "bob", bob.get("/whoami")).body; who != "bob/" {
		t.Errorf("bob after alice's LogoutAll: %q", who)
	}
}

// The user-level operations need a logged-in user: 401 for an anonymous session or none.
func TestUserOperationsNeedAUser(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	srv := e.serve(app())
	for _, anonymous := range []bool{false, true} {
		b := newBrowser(t, srv)
		if anonymous {
			mustOK(t, "anonymous session", b.post("/set"+q("key", "a", "value", "1")))
		}
		for _, path := range []string{"/logout-all", "/logout-others", "/revoke" + q("handle", "x"), "/elevate"} {
			if r := b.post(path); r.status != http.StatusUnauthorized {
				t.Errorf("anonymous=%t: POST %s: %d, want 401", anonymous, path, r.status)
			}
		}
		if r := b.get("/sessions"); r.status != http.StatusUnauthorized {
			t.Errorf("anonymous=%t: GET /sessions: %d, want 401", anonymous, r.status)
		}
	}
}

// recorder collects hook events.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) hook(kind string) func(context.Context, middleware.Event) {
	return func(ctx context.Context, e middleware.Event) {
		if ctx == nil {
			panic("hook called without a context")
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, fmt.Sprintf("%s user=%s handle=%s old=%s", kind, e.UserID, e.Handle, e.OldHandle))
	}
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// The hooks hear of every session created, rotated and destroyed, by handle, never by ID.
func TestHooksReportLifecycleByHandle(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, config{mw: middleware.Options{
		OnCreate: rec.hook("create"), OnRotate: rec.hook("rotate"), OnDestroy: rec.hook("destroy"),
	}, redis: redistest.Options{AllowFake: true}})
	srv := e.serve(app())
	b := newBrowser(t, srv)
	ids := map[string]bool{}
	h := func(b *browser) string { ids[b.cookie()] = true; return store.Handle(b.cookie()) }
	var all []string
	expect := func(what string, want ...string) {
		t.Helper()
		got := rec.take()
		all = append(all, got...)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: events\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	mustOK(t, "anonymous write", b.post("/set"+q("key", "cart", "value", "1")))
	anon := h(b)
	expect("first write", "create user= handle="+anon+" old=")

	mustOK(t, "read", b.get("/get"+q("key", "cart")))
	mustOK(t, "write", b.post("/set"+q("key", "cart", "value", "2")))
	expect("reads and writes")

	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	expect("login", "rotate user=alice handle="+h(b)+" old="+anon)

	login := h(b)
	mustOK(t, "elevate", b.post("/elevate"))
	expect("elevation", "rotate user=alice handle="+h(b)+" old="+login)

	fresh := newBrowser(t, srv)
	mustOK(t, "login without a session", fresh.post("/login"+q("user", "alice")))
	expect("login of a visitor", "create user=alice handle="+h(fresh)+" old=")

	other := newBrowser(t, srv)
	mustOK(t, "third device", other.post("/login"+q("user", "alice")))
	rec.take()
	mustOK(t, "revoke", b.post("/revoke"+q("handle", h(other))))
	expect("revoke", "destroy user=alice handle="+h(other)+" old=")

	mustOK(t, "logout others", b.post("/logout-others"))
	expect("logout others", "destroy user=alice handle="+h(fresh)+" old=")

	mine := h(b)
	mustOK(t, "logout", b.post("/logout"))
	expect("logout", "destroy user=alice handle="+mine+" old=")

	devices := make([]*browser, 3)
	var want []string
	for i := range devices {
		devices[i] = newBrowser(t, srv)
		mustOK(t, "login", devices[i].post("/login"+q("user", "bob")))
		want = append(want, "destroy user=bob handle="+h(devices[i])+" old=")
	}
	rec.take()
	mustOK(t, "logout all", devices[0].post("/logout-all"))
	expect("logout all", want...)

	for _, ev := range all {
		for id := range ids {
			if id != "" && strings.Contains(ev, id) {
				t.Errorf("event %q carries a session ID", ev)
			}
		}
	}
}

// An elevated level has its own timeouts, recorded in the session beside the session's own: unused
// for the level's idle timeout, it lapses back to the ordinary level while the session stays, with
// its fields, under its own timeouts.
func TestAnElevatedLevelLapsesWhenIdleWhileTheSessionStays(t *testing.T) {
	const levelIdle = time.Second
	e := newEnv(t, config{
		mw:    middleware.Options{Levels: map[string]middleware.Timeouts{middleware.LevelElevated: {Idle: levelIdle, Absolute: time.Hour}}},
		redis: redistest.Options{},
	})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	mustOK(t, "cart", b.post("/set"+q("key", "cart", "value", "teapot")))
	login := e.mustLoad(b.cookie())
	start := time.Now()
	mustOK(t, "elevate", b.post("/elevate"))
	id := b.cookie()
	if id == "" || store.Handle(id) == login.Handle {
		t.Fatal("elevation did not rotate the ID")
	}
	rec := e.mustLoad(id)
	if rec.Meta.Level != middleware.LevelElevated || rec.Meta.LevelIdleTimeout != levelIdle || rec.Meta.IdleTimeout != 30*time.Minute {
		t.Errorf("elevated session: level %q, level idle %v, session idle %v", rec.Meta.Level, rec.Meta.LevelIdleTimeout, rec.Meta.IdleTimeout)
	}
	if !rec.Meta.AbsoluteDeadline.Equal(login.Meta.AbsoluteDeadline) || !rec.Meta.Created.Equal(login.Meta.Created) {
		t.Errorf("elevation moved the deadline (%v to %v) or the creation time", login.Meta.AbsoluteDeadline, rec.Meta.AbsoluteDeadline)
	}
	if until := rec.Meta.LevelExpires; until.Before(start) || until.After(time.Now().Add(levelIdle+100*time.Millisecond)) {
		t.Errorf("the level lapses at %v, want within %v of the elevation", until, levelIdle)
	}
	// Any request is use, which slides the level's idle timeout: stay away, then look once.
	time.Sleep(levelIdle / 2)
	if who := b.get("/whoami").body; who != "alice/elevated" && time.Since(start) < levelIdle {
		t.Errorf("the level lapsed before its idle timeout: %q", who)
	}
	time.Sleep(2*levelIdle + time.Second)
	if who := b.get("/whoami").body; who != "alice/" || b.cookie() != id {
		t.Errorf("after the level lapsed: %q (same session: %v), want the ordinary level of the same session", who, b.cookie() == id)
	}
	if got := b.get("/get" + q("key", "cart")).body; got != "teapot" {
		t.Errorf("the session lost its fields when the level lapsed: %q", got)
	}
	// A write after the lapse moves the last use: it must not bring the level back.
	mustOK(t, "write", b.post("/set"+q("key", "after", "value", "1")))
	if who := b.get("/whoami").body; who != "alice/" {
		t.Errorf("a write revived the lapsed level: %q", who)
	}
	if lvl := e.admin.HGet(ctxT(t), sessionKey(id), "_level").Val(); lvl != "" {
		t.Errorf("the write left the lapsed level %q in Redis", lvl)
	}
}

// A level whose lapse ends the session: its TTL never passes the level's idle deadline, and unused it
// ends the whole session.
func TestALevelThatEndsTheSessionEndsItWhenIdle(t *testing.T) {
	e := newEnv(t, config{
		mw: middleware.Options{Levels: map[string]middleware.Timeouts{
			middleware.LevelElevated: {Idle: time.Second, Absolute: time.Hour, OnExpiry: middleware.EndSession}}},
		redis: redistest.Options{},
	})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	start := time.Now()
	mustOK(t, "elevate", b.post("/elevate"))
	id := b.cookie()
	if ttl := e.admin.PTTL(ctxT(t), sessionKey(id)).Val(); ttl <= 0 || ttl > time.Second {
		t.Errorf("TTL of a session whose level ends it: %v, want at most the level's idle 1s", ttl)
	}
	if !eventually(10*time.Second, func() bool { return !e.exists(id) }) {
		t.Fatal("the unused elevated session did not end")
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the session ended after %v, before the level's idle timeout", d)
	}
	if who := mustOK(t, "after", b.get("/whoami")).body; who != "/" {
		t.Errorf("after the level ended the session: %q", who)
	}
}

// In constant use, the elevated level still lapses at its absolute timeout, counted from the
// elevation, and the session goes on with its fields; with EndSession the session ends there.
func TestElevatedAbsoluteTimeoutLapsesDuringUse(t *testing.T) {
	const idle, absolute = time.Second, 2500 * time.Millisecond
	for _, onExpiry := range []middleware.LevelExpiry{middleware.StepDown, middleware.EndSession} {
		t.Run(fmt.Sprint("ends=", onExpiry == middleware.EndSession), func(t *testing.T) {
			e := newEnv(t, config{
				mw:    middleware.Options{Levels: map[string]middleware.Timeouts{middleware.LevelElevated: {Idle: idle, Absolute: absolute, OnExpiry: onExpiry}}},
				redis: redistest.Options{},
			})
			b := newBrowser(t, e.serve(app()))
			mustOK(t, "login", b.post("/login"+q("user", "alice")))
			mustOK(t, "cart", b.post("/set"+q("key", "cart", "value", "teapot")))
			elevation := time.Now()
			mustOK(t, "elevate", b.post("/elevate"))
			id := b.cookie()
			rec := e.mustLoad(id)
			if d := rec.Meta.LevelDeadline.Sub(elevation); d > absolute+100*time.Millisecond {
				t.Errorf("level deadline %v after the elevation request, want at most %v", d, absolute)
			}
			// Write every 50ms (each write slides the idle timeouts) until the level is gone.
			var lastElevated time.Time
			for time.Since(elevation) < absolute+5*time.Second {
				mustOK(t, "write", b.post("/set"+q("key", "tick", "value", "x")))
				if b.cookie() != id || mustOK(t, "whoami", b.get("/whoami")).body != "alice/elevated" {
					break
				}
				lastElevated = time.Now()
				time.Sleep(50 * time.Millisecond)
			}
			if d := lastElevated.Sub(elevation); d < idle {
				t.Errorf("the level in constant use ended %v after the elevation, before its idle timeout %v", d, idle)
			}
			who := mustOK(t, "whoami", b.get("/whoami")).body
			if onExpiry == middleware.EndSession {
				if b.cookie() == id && who != "/" {
					t.Fatalf("the session outlived its level's %v absolute timeout in constant use: %q", absolute, who)
				}
				if e.usable(id) {
					t.Error("the session's key outlived its level's absolute deadline")
				}
				return
			}
			if who != "alice/" || b.cookie() != id {
				t.Fatalf("after the level's absolute timeout: %q (same session: %v), want the ordinary level", who, b.cookie() == id)
			}
			if got := b.get("/get" + q("key", "cart")).body; got != "teapot" {
				t.Errorf("the session lost its fields when the level lapsed: %q", got)
			}
		})
	}
}

// Stepping down and elevating again never extend the session's own deadline or idle timeout.
func TestStepDownAndReElevationNeverExtendTheSession(t *testing.T) {
	e := newEnv(t, config{
		mw:    middleware.Options{Levels: map[string]middleware.Timeouts{middleware.LevelElevated: {Idle: time.Hour, Absolute: 48 * time.Hour}}},
		redis: redistest.Options{AllowFake: true},
	})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /step-down", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).SetLevel(""); err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
		}
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	login := e.mustLoad(b.cookie())
	for i, step := range []string{"/elevate", "/step-down", "/elevate", "/step-down"} {
		mustOK(t, step, b.post(step))
		rec := e.mustLoad(b.cookie())
		if !rec.Meta.AbsoluteDeadline.Equal(login.Meta.AbsoluteDeadline) || rec.Meta.IdleTimeout != login.Meta.IdleTimeout {
			t.Errorf("step %d %s: deadline %v (was %v), idle %v (was %v)", i, step, rec.Meta.AbsoluteDeadline, login.Meta.AbsoluteDeadline, rec.Meta.IdleTimeout, login.Meta.IdleTimeout)
		}
		if rec.Meta.LevelDeadline.After(rec.Meta.AbsoluteDeadline) {
			t.Errorf("step %d %s: the level's deadline passes the session's", i, step)
		}
	}
	if who := b.get("/whoami").body; who != "alice/" {
		t.Errorf("after stepping down: %q", who)
	}
}

func TestSetLevelRefusesALevelNobodyConfigured(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /root", func(w http.ResponseWriter, r *http.Request) {
		err := middleware.Get(r).SetLevel("root")
		if !errors.Is(err, middleware.ErrUnknownLevel) {
			t.Errorf("SetLevel(\"root\") = %v, want ErrUnknownLevel", err)
		}
		http.Error(w, fmt.Sprint(err), middleware.ErrorStatus(err))
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	before := b.cookie()
	if r := b.post("/root"); r.status != http.StatusInternalServerError || r.setCookie() != nil {
		t.Errorf("unknown level: %d, Set-Cookie %v", r.status, r.setCookie())
	}
	if b.cookie() != before || b.get("/whoami").body != "alice/" {
		t.Error("an unknown level changed the session")
	}
}

// Elevation never moves a session's absolute deadline later, whatever the level's absolute timeout.
func TestElevationNeverExtendsTheAbsoluteDeadline(t *testing.T) {
	e := newEnv(t, config{
		mw: middleware.Options{AbsoluteTimeout: 3 * time.Second,
			Levels: map[string]middleware.Timeouts{middleware.LevelElevated: {Idle: time.Hour, Absolute: time.Hour}}},
		redis: redistest.Options{AllowFake: true},
	})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	login := e.mustLoad(b.cookie())
	mustOK(t, "elevate", b.post("/elevate"))
	elevated := e.mustLoad(b.cookie())
	if !elevated.Meta.AbsoluteDeadline.Equal(login.Meta.AbsoluteDeadline) {
		t.Errorf("deadline moved from %v to %v", login.Meta.AbsoluteDeadline, elevated.Meta.AbsoluteDeadline)
	}
	if elevated.Meta.Level != middleware.LevelElevated {
		t.Errorf("level %q", elevated.Meta.Level)
	}
}

// The default elevated level has 5 minutes idle and 15 minutes absolute; a new login returns the
// session to the ordinary level.
func TestLoginAfterElevationReturnsToTheOrdinaryLevel(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	mustOK(t, "elevate", b.post("/elevate"))
	if who := mustOK(t, "whoami", b.get("/whoami")).body; who != "alice/elevated" {
		t.Errorf("after elevation: %q", who)
	}
	rec := e.mustLoad(b.cookie())
	if rec.Meta.LevelIdleTimeout != middleware.DefaultElevatedIdleTimeout ||
		rec.Meta.LevelDeadline.After(time.Now().Add(middleware.DefaultElevatedAbsoluteTimeout)) || rec.Meta.IdleTimeout != 30*time.Minute {
		t.Errorf("default elevated timeouts: level idle %v, level deadline in %v, session idle %v",
			rec.Meta.LevelIdleTimeout, time.Until(rec.Meta.LevelDeadline), rec.Meta.IdleTimeout)
	}
	mustOK(t, "login again", b.post("/login"+q("user", "alice")))
	if who := mustOK(t, "whoami", b.get("/whoami")).body; who != "alice/" {
		t.Errorf("after a new login: %q", who)
	}
}

// Reads alone keep a session alive whose level has an idle timeout shorter than the store's refresh
// granularity: the TTL slides on reads at a granularity that fits the session's own idle timeout.
func TestReadsKeepAShortIdleSessionAlive(t *testing.T) {
	const idle = time.Second
	e := newEnv(t, config{
		mw:    middleware.Options{Levels: map[string]middleware.Timeouts{middleware.LevelElevated: {Idle: idle, Absolute: time.Hour}}},
		redis: redistest.Options{},
	})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	mustOK(t, "elevate", b.post("/elevate"))
	for start := time.Now(); time.Since(start) < 5*idle/2; time.Sleep(100 * time.Millisecond) {
		if who := mustOK(t, "read", b.get("/whoami")).body; who != "alice/elevated" {
			t.Fatalf("after %v of reads every 100ms the elevated session is gone (%q)", time.Since(start).Round(time.Millisecond), who)
		}
	}
}

// A persistent cookie lives exactly as long as the session can: Max-Age follows the absolute
// deadline, which an elevation keeps.
func TestPersistentCookieFollowsTheAbsoluteDeadline(t *testing.T) {
	e := newEnv(t, config{mw: middleware.Options{Cookie: cookie.Options{Persist: true}}, redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	near := func(got int, want time.Duration) bool {
		d := time.Duration(got)*time.Second - want
		return d > -5*time.Second && d <= time.Second
	}
	if c := mustOK(t, "login", b.post("/login"+q("user", "alice"))).setCookie(); c == nil || !near(c.MaxAge, 12*time.Hour) {
		t.Errorf("login cookie %v, want Max-Age of about 12h", c)
	}
	// The elevated level steps down by default: the session, and so its cookie, keep their deadline.
	if c := mustOK(t, "elevate", b.post("/elevate")).setCookie(); c == nil || !near(c.MaxAge, 12*time.Hour) {
		t.Errorf("elevated cookie %v, want Max-Age of about 12h", c)
	}
	if c := mustOK(t, "logout", b.post("/logout")).setCookie(); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout cookie %v, want it cleared", c)
	}
}

// What a session records about its device follows Options.Device and Options.ClientIP.
func TestDeviceInfo(t *testing.T) {
	fromHeader := func(r *http.Request) string { return r.Header.Get("X-Real-Ip") }
	long := strings.Repeat("é", 200) // 400 bytes: cut to at most 256 bytes of valid UTF-8
	tests := []struct {
		name          string
		device        middleware.DeviceInfo
		clientIP      func(*http.Request) string
		agent         string
		wantAgent     string
		wantAddr      string
		wantAddrOfIP6 string
	}{
		{"full", middleware.DeviceFull, nil, "laptop", "laptop", "127.0.0.1", ""},
		{"coarse", middleware.DeviceCoarse, nil, "laptop", "laptop", "127.0.0.0/24", ""},
		{"none", middleware.DeviceNone, nil, "laptop", "", "", ""},
		{"ClientIP from a trusted proxy, coarse", middleware.DeviceCoarse, fromHeader, "laptop", "laptop", "203.0.113.0/24", "2001:db8:1::/48"},
		{"long User-Agent", middleware.DeviceFull, nil, long, strings.Repeat("é", 128), "127.0.0.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, config{mw: middleware.Options{Device: tt.device, ClientIP: tt.clientIP}, redis: redistest.Options{AllowFake: true}})
			srv := e.serve(app())
			b := newBrowser(t, srv)
			b.agent = tt.agent
			mustOK(t, "login", b.do("POST", "/login?user=alice", nil, http.Header{"X-Real-Ip": {"203.0.113.9"}}))
			m := e.mustLoad(b.cookie()).Meta
			if m.UserAgent != tt.wantAgent || m.RemoteAddr != tt.wantAddr {
				t.Errorf("recorded %q from %q, want %q from %q", m.UserAgent, m.RemoteAddr, tt.wantAgent, tt.wantAddr)
			}
			if tt.wantAddrOfIP6 != "" {
				ip6 := newBrowser(t, srv)
				mustOK(t, "login", ip6.do("POST", "/login?user=bob", nil, http.Header{"X-Real-Ip": {"2001:db8:1:2::7"}}))
				if got := e.mustLoad(ip6.cookie()).Meta.RemoteAddr; got != tt.wantAddrOfIP6 {
					t.Errorf("IPv6 recorded as %q, want %q", got, tt.wantAddrOfIP6)
				}
			}
		})
	}
}
