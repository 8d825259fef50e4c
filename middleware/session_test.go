package middleware_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisession/redisession/codec"
	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// A visitor without a cookie who only reads gets no session, no cookie and nothing in Redis.
func TestReadOnlyVisitorGetsNoCookie(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	for _, path := range []string{"/get" + q("key", "cart"), "/fields", "/whoami", "/csrf", "/handle"} {
		r := mustOK(t, path, b.get(path))
		if r.setCookie() != nil {
			t.Errorf("GET %s set a cookie: %v", path, r.setCookie())
		}
		if r.body != "" && r.body != "/" {
			t.Errorf("GET %s answered %q for a visitor without a session", path, r.body)
		}
	}
	if n := e.dbSize(); n != 0 {
		t.Errorf("%d keys in Redis after read-only visits", n)
	}
}

// The first write gives a visitor a session: a fresh, well-formed ID in an HttpOnly, SameSite=Lax
// cookie, and the field in Redis; later requests carry the cookie and see the field.
func TestFirstWriteCreatesASession(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	r := mustOK(t, "set", b.post("/set"+q("key", "theme", "value", "dark")))
	c := r.setCookie()
	if c == nil {
		t.Fatal("no cookie after the first write")
	}
	if !cookie.ValidID(c.Value) || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie %q: want a valid ID, HttpOnly, SameSite=Lax, Path=/", r.header.Get("Set-Cookie"))
	}
	if got := mustOK(t, "get", b.get("/get"+q("key", "theme"))); got.body != "dark" || got.setCookie() != nil {
		t.Errorf("read back %q (Set-Cookie %v), want dark and no new cookie", got.body, got.setCookie())
	}
	if r := mustOK(t, "second set", b.post("/set"+q("key", "lang", "value", "en"))); r.setCookie() != nil {
		t.Errorf("a write to an existing session set a cookie again: %v", r.setCookie())
	}
	if got := e.mustLoad(c.Value).Fields; len(got) != 2 || got["theme"] != `"dark"` || got["lang"] != `"en"` {
		t.Errorf("stored fields %v", got)
	}
}

// A cookie that names no live session — unknown, logged out, expired, malformed, forged, or a bare ID
// where signed cookies are expected — is never adopted: a read sees an empty session and gets no
// cookie; a write gets a new session under a new ID; the ID in the cookie stays dead.
func TestUnknownCookiesAreNeverAdopted(t *testing.T) {
	tests := []struct {
		name   string
		signed bool
		// cookie returns the cookie value to present; live is the ID of a live session it must
		// not reach, "" when there is none.
		cookie func(t *testing.T, e *env) (value, live string)
	}{
		{"unknown well-formed ID", false, func(t *testing.T, e *env) (string, string) {
			id, _ := store.NewID()
			return id, ""
		}},
		{"logged-out session", false, func(t *testing.T, e *env) (string, string) {
			id := e.newSession(t, "alice")
			if err := e.store.Destroy(ctxT(t), id); err != nil {
				t.Fatal(err)
			}
			return id, ""
		}},
		{"expired session", false, func(t *testing.T, e *env) (string, string) {
			if e.srv.IsFake() {
				t.Skip("miniredis expires keys only when told to")
			}
			id, _, err := e.store.Create(ctxT(t), store.NewSession{IdleTimeout: 50 * time.Millisecond,
				Fields: map[string]string{"secret": `"s3cr3t"`}})
			if err != nil {
				t.Fatal(err)
			}
			if !eventually(10*time.Second, func() bool { return !e.exists(id) }) {
				t.Fatal("the session did not expire")
			}
			return id, ""
		}},
		{"malformed value", false, func(t *testing.T, e *env) (string, string) {
			return "not-a-session-id", ""
		}},
		{"ID with a foreign character", false, func(t *testing.T, e *env) (string, string) {
			id := e.newSession(t, "alice")
			return id[:42] + "*", id
		}},
		{"signed with an unknown key", true, func(t *testing.T, e *env) (string, string) {
			id := e.newSession(t, "alice")
			return sign(t, otherKey, id), id
		}},
		{"bare ID of a live session where signed cookies are expected", true, func(t *testing.T, e *env) (string, string) {
			id := e.newSession(t, "alice")
			return id, id
		}},
		{"tampered signature", true, func(t *testing.T, e *env) (string, string) {
			id := e.newSession(t, "alice")
			v := []byte(sign(t, signingKey, id))
			v[len(v)/2] ^= 1
			return string(v), id
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config{redis: redistest.Options{AllowFake: true}}
			if tt.signed {
				cfg.mw.Cookie.HashKeys = [][]byte{signingKey}
			}
			e := newEnv(t, cfg)
			b := newBrowser(t, e.serve(app()))
			value, live := tt.cookie(t, e)
			b.setCookie(value)
			before := e.dbSize()

			r := mustOK(t, "read", b.get("/get"+q("key", "secret")))
			if r.body != "" || r.setCookie() != nil {
				t.Errorf("read: body %q, Set-Cookie %v; want an empty session and no cookie", r.body, r.setCookie())
			}
			if who := mustOK(t, "whoami", b.get("/whoami")).body; who != "/" {
				t.Errorf("whoami = %q, want an anonymous visitor", who)
			}
			if n := e.dbSize(); n != before {
				t.Errorf("reads changed the number of keys from %d to %d", before, n)
			}

			r = mustOK(t, "write", b.post("/set"+q("key", "secret", "value", "mine")))
			c := r.setCookie()
			if c == nil || c.Value == value {
				t.Fatalf("write: Set-Cookie %v; want a new cookie", c)
			}
			if got := mustOK(t, "read back", b.get("/get"+q("key", "secret"))).body; got != "mine" {
				t.Errorf("the new session reads %q", got)
			}
			if live == "" && cookie.ValidID(value) && e.exists(value) {
				t.Error("the presented ID now names a session in Redis")
			}
			if live != "" {
				if rec := e.mustLoad(live); rec.Fields["secret"] != `"s3cr3t"` {
					t.Errorf("the write reached the live session behind the cookie: %v", rec.Fields)
				}
			}
		})
	}
}

// newSession stores a session for uid directly and returns its ID.
func (e *env) newSession(t *testing.T, uid string) string {
	t.Helper()
	id, _, err := e.store.Create(ctxT(t), store.NewSession{Meta: store.Meta{UserID: uid},
		Fields: map[string]string{"secret": `"s3cr3t"`}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Login moves the session to a new ID and the user's index, keeps an anonymous cart, and a write in
// the same request lands in the new session; the old ID is dead at once.
func TestLoginThenWrite(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /login-and-greet", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		if err := s.Login("alice"); err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		_ = s.Set("greeting", "welcome back")
		fmt.Fprint(w, s.UserID())
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "cart", b.post("/set"+q("key", "cart", "value", "teapot")))
	anon := b.cookie()
	r := mustOK(t, "login", b.post("/login-and-greet"))
	if r.body != "alice" {
		t.Errorf("UserID after Login = %q", r.body)
	}
	id := b.cookie()
	if r.setCookie() == nil || id == anon {
		t.Fatal("Login did not send a new cookie")
	}
	if e.usable(anon) {
		t.Error("the anonymous session outlived the login")
	}
	rec := e.mustLoad(id)
	if rec.Meta.UserID != "alice" || rec.Fields["cart"] != `"teapot"` || rec.Fields["greeting"] != `"welcome back"` {
		t.Errorf("after login: user %q, fields %v", rec.Meta.UserID, rec.Fields)
	}
	list, err := e.store.List(ctxT(t), "alice")
	if err != nil || len(list) != 1 || list[0].Handle != store.Handle(id) {
		t.Errorf("alice's index: %v, %v", list, err)
	}
	// The old cookie, replayed by an attacker who planted it, is worth nothing.
	old := newBrowser(t, e.serve(app()))
	old.setCookie(anon)
	if who := mustOK(t, "old cookie", old.get("/whoami")).body; who != "/" {
		t.Errorf("the pre-login ID still works: %q", who)
	}
}

// Logging in as another user over a session that belongs to someone else carries nothing over.
func TestLoginAsAnotherUserStartsAfresh(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "login alice", b.post("/login"+q("user", "alice")))
	mustOK(t, "alice's field", b.post("/set"+q("key", "private", "value", "alice's")))
	alice := b.cookie()
	mustOK(t, "login bob", b.post("/login"+q("user", "bob")))
	if rec := e.mustLoad(b.cookie()); rec.Meta.UserID != "bob" || len(rec.Fields) != 0 {
		t.Errorf("bob's session: user %q, fields %v", rec.Meta.UserID, rec.Fields)
	}
	if e.usable(alice) {
		t.Error("alice's session survived bob's login in the same browser")
	}
}

// Status says where the session stands at each step of a request.
func TestStatus(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	step := func(s *middleware.Session, do func() error) string {
		if err := do(); err != nil {
			return "error: " + err.Error()
		}
		return s.Status().String()
	}
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		var out []string
		out = append(out, s.Status().String())
		for _, action := range strings.Split(r.FormValue("do"), ",") {
			switch action {
			case "read":
				out = append(out, step(s, func() error { _ = s.GetString("x"); return s.Err() }))
			case "write":
				out = append(out, step(s, func() error { return s.Set("x", "1") }))
			case "flush":
				out = append(out, step(s, func() error { w.(http.Flusher).Flush(); return nil }))
			case "login":
				out = append(out, step(s, func() error { return s.Login("alice") }))
			case "logout":
				out = append(out, step(s, s.Logout))
			}
		}
		fmt.Fprint(w, strings.Join(out, " "))
	})
	b := newBrowser(t, e.serve(mux))
	check := func(do, want string) {
		t.Helper()
		if got := mustOK(t, do, b.get("/status"+q("do", do))).body; got != want {
			t.Errorf("statuses for %q: %q, want %q", do, got, want)
		}
	}
	check("read", "none none")
	check("write,flush", "none new new")
	check("read,write,flush", "none loaded modified modified")
	check("write,flush", "none modified modified")
	check("login", "none new")
	check("read,logout", "none loaded destroyed")
	check("login,logout,login", "none new destroyed new")
	check("logout", "none destroyed")
}

// Keys lists the field names, sorted, pending writes and deletes included.
func TestKeys(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /edit", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		_ = s.Set("c", 3)
		_ = s.Delete("a")
		_, _ = s.Increment("d", 1)
		fmt.Fprint(w, strings.Join(s.Keys(), ","))
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "a", b.post("/set"+q("key", "a", "value", "1")))
	mustOK(t, "b", b.post("/set"+q("key", "b", "value", "2")))
	if got := mustOK(t, "edit", b.post("/edit")).body; got != "b,c,d" {
		t.Errorf("Keys during the request = %q, want b,c,d", got)
	}
	if got := sortedLines(mustOK(t, "fields", b.get("/fields")).body); !slices.Equal(got, []string{"b=2", "c=", "d="}) {
		// c and d are not strings: GetString reads them as "".
		t.Errorf("fields on the next request = %q", got)
	}
	if got := e.mustLoad(b.cookie()).Fields; len(got) != 3 || got["c"] != "3" || got["d"] != "1" {
		t.Errorf("stored fields %v", got)
	}
}

// Pop reads a flash message once.
func TestPopReadsAFlashMessageOnce(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "flash", b.post("/set"+q("key", "flash", "value", "saved!")))
	if got := mustOK(t, "pop", b.post("/pop"+q("key", "flash"))).body; got != "saved!" {
		t.Errorf("first Pop = %q", got)
	}
	if got := mustOK(t, "pop again", b.post("/pop"+q("key", "flash"))).body; got != "" {
		t.Errorf("second Pop = %q, want nothing", got)
	}
	if _, ok := e.mustLoad(b.cookie()).Fields["flash"]; ok {
		t.Error("the popped field is still stored")
	}
}

// Typed getters and Get decode what Set stored, with the JSON and the CBOR codec alike.
func TestTypedValuesRoundTrip(t *testing.T) {
	type profile struct {
		Name string
		Tags []string
	}
	when := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []codec.Codec{codec.JSON{}, codec.CBOR{}} {
		t.Run(fmt.Sprintf("%T", c), func(t *testing.T) {
			e := newEnv(t, config{mw: middleware.Options{Codec: c}, redis: redistest.Options{AllowFake: true}})
			mux := http.NewServeMux()
			mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
				s := middleware.Get(r)
				for k, v := range map[string]any{"s": "text", "b": true, "f": 2.5, "i": int64(42), "t": when,
					"p": profile{"ann", []string{"x", "y"}}} {
					if err := s.Set(k, v); err != nil {
						t.Errorf("Set %s: %v", k, err)
					}
				}
			})
			mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
				s := middleware.Get(r)
				var p profile
				ok, err := s.Get("p", &p)
				fmt.Fprintf(w, "%s %t %v %d %s %v %t %v %t", s.GetString("s"), s.GetBool("b"), s.GetFloat("f"),
					s.GetInt("i"), s.GetTime("t").UTC().Format(time.RFC3339), p, ok, err, s.Has("missing"))
			})
			b := newBrowser(t, e.serve(mux))
			mustOK(t, "write", b.post("/write"))
			want := "text true 2.5 42 2030-01-02T03:04:05Z {ann [x y]} true <nil> false"
			if got := mustOK(t, "read", b.get("/read")).body; got != want {
				t.Errorf("read back %q, want %q", got, want)
			}
		})
	}
}

// Update on a request that has no session yet creates one, like any write.
func TestUpdateWithoutASessionCreatesOne(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	srv := e.serveFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := middleware.Update(middleware.Get(r), "n", func(cur int, ok bool) (int, error) {
			if ok {
				return cur * 2, nil
			}
			return 1, nil
		})
		if err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		fmt.Fprint(w, n)
	})
	b := newBrowser(t, srv)
	for _, want := range []string{"1", "2", "4"} {
		if got := mustOK(t, "update", b.get("/")).body; got != want {
			t.Errorf("Update = %q, want %q", got, want)
		}
	}
	if got := e.field(b.cookie(), "n"); got != "4" {
		t.Errorf("stored n = %q", got)
	}
}

// Update's function may refuse: nothing is written and its error is returned as is.
func TestUpdateFunctionErrorWritesNothing(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	errNo := errors.New("no, thanks")
	got := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /refuse", func(w http.ResponseWriter, r *http.Request) {
		_, err := middleware.Update(middleware.Get(r), "n", func(cur string, ok bool) (string, error) { return "x", errNo })
		got <- err
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "set", b.post("/set"+q("key", "n", "value", "kept")))
	mustOK(t, "refuse", b.post("/refuse"))
	if err := <-got; !errors.Is(err, errNo) {
		t.Errorf("Update returned %v", err)
	}
	if v := e.field(b.cookie(), "n"); v != `"kept"` {
		t.Errorf("n = %q", v)
	}
}

// Reserved and invalid field names are refused with 400, before anything is sent.
func TestReservedFieldNamesAreRefused(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))
	for _, path := range []string{"/set" + q("key", "_uid", "value", "mallory"), "/set" + q("key", ""),
		"/delete" + q("key", "_abs"), "/incr" + q("key", "_exp"), "/set" + q("key", strings.Repeat("k", 300))} {
		if r := b.post(path); r.status != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", path, r.status)
		}
	}
	if n := e.dbSize(); n != 0 {
		t.Errorf("%d keys written by refused requests", n)
	}
}

// Increment of a field that does not hold an integer fails with an error that maps to 400, and the
// failed increment is not left pending: a handler that handles the error answers as it likes, and
// the request's other writes are committed.
func TestIncrementOfANonIntegerFieldFailsAlone(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	incrErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /tolerant-incr", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		_, err := s.Increment("name", 1)
		incrErr <- err
		_ = s.Set("after", "yes")
		fmt.Fprint(w, "handled")
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "set", b.post("/set"+q("key", "name", "value", "alice")))
	if r := b.post("/incr" + q("key", "name")); r.status != http.StatusBadRequest {
		t.Errorf("incrementing a string: %d %q, want 400", r.status, r.body)
	}
	r := b.post("/tolerant-incr")
	if err := <-incrErr; !errors.Is(err, store.ErrNotInteger) {
		t.Errorf("Increment = %v, want ErrNotInteger", err)
	}
	if r.status != http.StatusOK || r.body != "handled" {
		t.Errorf("the handler's own answer was replaced: %d %q", r.status, r.body)
	}
	if rec := e.mustLoad(b.cookie()); rec.Fields["name"] != `"alice"` || rec.Fields["after"] != `"yes"` {
		t.Errorf("fields %v", rec.Fields)
	}
}
