package middleware_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
)

// Responses that touch the session carry Cache-Control: no-store (unless the handler chose its own)
// and Vary: Cookie, so no shared cache serves one user's page to another; untouched responses stay
// cacheable.
func TestCachingHeaders(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("GET /own-cache-control", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		_ = middleware.Get(r).GetString("a")
	})
	srv := e.serve(mux)
	withSession := newBrowser(t, srv)
	mustOK(t, "session", withSession.post("/set"+q("key", "a", "value", "1")))
	visitor := newBrowser(t, srv)

	tests := []struct {
		name         string
		b            *browser
		method, path string
		cacheControl string // "" for none
		varyCookie   bool
	}{
		{"untouched, visitor", visitor, "GET", "/nothing", "", false},
		{"untouched, with a session", withSession, "GET", "/nothing", "", false},
		{"read, visitor", visitor, "GET", "/get?key=a", "no-store", true},
		{"read, with a session", withSession, "GET", "/get?key=a", "no-store", true},
		{"write-only, with a session", withSession, "POST", "/set?key=b&value=2", "no-store", true},
		{"first write, visitor", newBrowser(t, srv), "POST", "/set?key=b&value=2", "no-store", true},
		{"handler's own Cache-Control", withSession, "GET", "/own-cache-control", "private, max-age=60", true},
		{"logout", withSession, "POST", "/logout", "no-store", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustOK(t, tt.path, tt.b.do(tt.method, tt.path, nil, nil))
			if got := r.header.Get("Cache-Control"); got != tt.cacheControl {
				t.Errorf("Cache-Control %q, want %q", got, tt.cacheControl)
			}
			vary := strings.Join(r.header.Values("Vary"), ",")
			if has := slices.Contains(strings.Split(strings.ReplaceAll(vary, " ", ""), ","), "Cookie"); has != tt.varyCookie {
				t.Errorf("Vary %q, want Cookie in it: %t", vary, tt.varyCookie)
			}
			if tt.path == "/own-cache-control" && !strings.Contains(vary, "Accept-Encoding") {
				t.Errorf("the handler's Vary was dropped: %q", vary)
			}
		})
	}
}

// With the CSRF option, unsafe requests of a session must carry its token, in the X-CSRF-Token header
// or the csrf_token form field; safe methods, exempt routes and visitors without a session pass.
func TestCSRFProtection(t *testing.T) {
	e := newEnv(t, config{mw: middleware.Options{
		CSRF:       true,
		CSRFExempt: func(r *http.Request) bool { return r.URL.Path == "/login" },
	}, redis: redistest.Options{AllowFake: true}})
	b := newBrowser(t, e.serve(app()))

	// A visitor without a session is not blocked: there is nothing to forge.
	mustOK(t, "visitor's first write", b.post("/set"+q("key", "a", "value", "1")))
	token := mustOK(t, "token", b.get("/csrf")).body
	if len(token) < 32 {
		t.Fatalf("CSRF token %q is too short", token)
	}

	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		header http.Header
		status int
	}{
		{"no token", "POST", "/set?key=a&value=forged", nil, nil, http.StatusForbidden},
		{"wrong token in the header", "POST", "/set?key=a&value=forged", nil, http.Header{"X-Csrf-Token": {token + "x"}}, http.StatusForbidden},
		{"wrong token in the form", "POST", "/set", form("key", "a", "value", "forged", "csrf_token", strings.ToUpper(token)), nil, http.StatusForbidden},
		{"empty token", "POST", "/set?key=a&value=forged", nil, http.Header{"X-Csrf-Token": {""}}, http.StatusForbidden},
		{"DELETE without a token", "DELETE", "/set?key=a&value=forged", nil, nil, http.StatusForbidden},
		{"token in the header", "POST", "/set?key=a&value=header", nil, http.Header{"X-Csrf-Token": {token}}, http.StatusOK},
		{"token in the form", "POST", "/set", form("key", "a", "value", "form", "csrf_token", token), nil, http.StatusOK},
		{"GET needs no token", "GET", "/get?key=a", nil, nil, http.StatusOK},
		{"HEAD needs no token", "HEAD", "/get?key=a", nil, nil, http.StatusOK},
		{"exempt route", "POST", "/login?user=alice", nil, nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.field(b.cookie(), "a")
			r := b.do(tt.method, tt.path, tt.form, tt.header)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (body %q)", r.status, tt.status, r.body)
			}
			if tt.status == http.StatusForbidden {
				if r.setCookie() != nil {
					t.Error("a refused request set a cookie")
				}
				if after := e.field(b.cookie(), "a"); after != before {
					t.Errorf("a refused request wrote a = %q", after)
				}
			}
		})
	}
	if got := e.field(b.cookie(), "a"); got != `"form"` {
		t.Errorf("a = %q after the accepted writes", got)
	}
	// Login replaces the token: the old one no longer works.
	fresh := mustOK(t, "token after login", b.get("/csrf")).body
	if fresh == token || fresh == "" {
		t.Errorf("the CSRF token did not change at login")
	}
	if r := b.do("POST", "/set?key=a&value=old-token", nil, http.Header{"X-Csrf-Token": {token}}); r.status != http.StatusForbidden {
		t.Errorf("the pre-login token still works: %d", r.status)
	}
	// A stale cookie (the session is gone) is a visitor without a session: not blocked.
	mustOK(t, "logout", b.do("POST", "/logout", nil, http.Header{"X-Csrf-Token": {fresh}}))
	b.setCookie(strings.Repeat("A", 43))
	mustOK(t, "write with a stale cookie", b.post("/set"+q("key", "a", "value", "anew")))
}

// Without the option nothing is checked, and Session.CheckCSRF is there for handlers that check
// themselves.
func TestCheckCSRFByHand(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /guarded", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).CheckCSRF(r); err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
		}
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "visitor", b.post("/guarded"))
	mustOK(t, "unguarded write", b.post("/set"+q("key", "a", "value", "1")))
	if r := b.post("/guarded"); r.status != http.StatusForbidden {
		t.Errorf("without a token: %d, want 403", r.status)
	}
	token := mustOK(t, "token", b.get("/csrf")).body
	mustOK(t, "with the token", b.do("POST", "/guarded", nil, http.Header{"X-Csrf-Token": {token}}))
}
