package middleware_test

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// cacheDirectives parses the Cache-Control field lines of h into lower-case directive names and their
// values (unquoted), as RFC 9111 section 5.2 reads them: lists across lines, case-insensitive names,
// quoted strings that may hold commas. Field names are matched case-insensitively, so a line a handler
// put into the map under a non-canonical key counts too.
func cacheDirectives(h http.Header) map[string]string {
	out := map[string]string{}
	for name, lines := range h {
		if !strings.EqualFold(name, "Cache-Control") {
			continue
		}
		for _, line := range lines {
			for len(line) > 0 {
				var item string
				item, line = nextListItem(line)
				k, v, _ := strings.Cut(item, "=")
				k = strings.ToLower(strings.TrimSpace(k))
				if k == "" {
					continue
				}
				v = strings.TrimSpace(v)
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = strings.ReplaceAll(v[1:len(v)-1], `\`, "")
				}
				out[k] = v
			}
		}
	}
	return out
}

// nextListItem splits off the first comma-separated item of s, leaving commas inside quotes alone.
func nextListItem(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// sharedStorable reports whether a shared cache may store a response with headers h (RFC 9111
// sections 3 and 5.2.2): not when no-store or an unqualified private is present. It errs towards
// storable: a response without either may be stored under heuristic freshness, and a qualified
// private="field" only keeps the named fields out. why says which directives decided.
func sharedStorable(h http.Header) (ok bool, why string) {
	d := cacheDirectives(h)
	if _, ok := d["no-store"]; ok {
		return false, "no-store"
	}
	if v, ok := d["private"]; ok && v == "" {
		return false, "private"
	}
	return true, fmt.Sprintf("Cache-Control %q", h.Values("Cache-Control"))
}

// The helper itself reads Cache-Control as RFC 9111 does, so that the tests below can trust it.
func TestSharedStorableReadsCacheControlAsRFC9111Says(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  bool
	}{
		{"no field at all (heuristic freshness)", nil, true},
		{"public with max-age", []string{"public, max-age=3600"}, true},
		{"s-maxage", []string{"s-maxage=600"}, true},
		{"no-store", []string{"no-store"}, false},
		{"no-store in upper case", []string{"NO-STORE"}, false},
		{"no-store after public, on a second line", []string{"public, max-age=3600", "no-store"}, false},
		{"private", []string{"private, max-age=60"}, false},
		{"qualified private keeps only the field out", []string{`private="Set-Cookie", max-age=60`}, true},
		{"a comma inside a quoted value", []string{`no-cache="Set-Cookie, X-Foo", public`}, true},
		{"no-cache only revalidates", []string{"no-cache"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range tt.lines {
				h.Add("Cache-Control", l)
			}
			if got, why := sharedStorable(h); got != tt.want {
				t.Errorf("sharedStorable(%q) = %t (%s), want %t", tt.lines, got, why, tt.want)
			}
		})
	}
}

// publicCaching is what a handler sets to make its page cacheable by every shared cache: CDNs
// included, through the targeted fields of RFC 9213 and the older Surrogate-Control.
func publicCaching(h http.Header) {
	h.Set("Cache-Control", "public, max-age=3600, s-maxage=3600")
	h["cache-control"] = []string{"public"} // a non-canonical key goes out on the wire as it is
	h.Set("CDN-Cache-Control", "max-age=3600")
	h.Set("Cloudflare-CDN-Cache-Control", "max-age=3600")
	h.Set("Surrogate-Control", "max-age=3600")
	h.Set("Expires", "Thu, 01 Jan 2099 00:00:00 GMT")
}

// assertNotSharedStorable fails the test unless a response whose headers are h is kept out of every
// shared cache: not storable under Cache-Control, and no CDN-targeted field left to override it.
func assertNotSharedStorable(t *testing.T, h http.Header) {
	t.Helper()
	if ok, why := sharedStorable(h); ok {
		t.Errorf("a shared cache may store this response: %s", why)
	}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if n := strings.ToLower(name); n == "surrogate-control" || strings.HasSuffix(n, "cdn-cache-control") {
			t.Errorf("%s: %q is left to override Cache-Control in a CDN", name, h[name])
		}
	}
}

// A response that carries a new, rotated or cleared session cookie is never storable by a shared
// cache, whatever caching the handler asked for before writing and however it ends the response: a
// CDN that kept it would hand one user's session ID (or another user's logout) to everyone.
func TestSessionCookieResponsesAreNeverStorableBySharedCaches(t *testing.T) {
	actions := []struct {
		name    string
		prepare func(b *browser) // the state before the request
		act     func(s *middleware.Session) error
		cookie  string // "set" for a new ID, "clear" for a cleared cookie
	}{
		{"creates a session", nil, func(s *middleware.Session) error { return s.Set("cart", "teapot") }, "set"},
		{"creates one by Increment", nil, func(s *middleware.Session) error { _, err := s.Increment("n", 1); return err }, "set"},
		{"creates one by Update", nil, func(s *middleware.Session) error {
			_, err := middleware.Update(s, "n", func(n int, _ bool) (int, error) { return n + 1, nil })
			return err
		}, "set"},
		{"logs in", nil, func(s *middleware.Session) error { return s.Login("alice") }, "set"},
		{"elevates", func(b *browser) { mustOK(b.tb, "login", b.post("/login"+q("user", "alice"))) },
			func(s *middleware.Session) error { return s.SetLevel(middleware.LevelElevated) }, "set"},
		{"logs out", func(b *browser) { mustOK(b.tb, "login", b.post("/login"+q("user", "alice"))) },
			func(s *middleware.Session) error { return s.Logout() }, "clear"},
		{"logs out a stale cookie", func(b *browser) { b.setCookie(strings.Repeat("A", 43)) },
			func(s *middleware.Session) error { return s.Logout() }, "clear"},
	}
	endings := []struct {
		name string
		end  func(w http.ResponseWriter)
	}{
		{"writes", func(w http.ResponseWriter) { fmt.Fprint(w, "page") }},
		{"writes a status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }},
		{"flushes", func(w http.ResponseWriter) { w.(http.Flusher).Flush() }},
		{"copies (ReadFrom)", func(w http.ResponseWriter) { _, _ = io.Copy(w, strings.NewReader("page")) }},
		{"returns without writing", func(w http.ResponseWriter) {}},
	}
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /cached", func(w http.ResponseWriter, r *http.Request) {
		publicCaching(w.Header())
		a, _ := strconv.Atoi(r.FormValue("action"))
		en, _ := strconv.Atoi(r.FormValue("ending"))
		if err := actions[a].act(middleware.Get(r)); err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		endings[en].end(w)
	})
	srv := e.serve(mux)
	for i, a := range actions {
		for j, en := range endings {
			t.Run(a.name+", "+en.name, func(t *testing.T) {
				b := newBrowser(t, srv)
				if a.prepare != nil {
					a.prepare(b)
				}
				r := mustOK(t, "cached", b.post("/cached"+q("action", strconv.Itoa(i), "ending", strconv.Itoa(j))))
				c := r.setCookie()
				switch {
				case c == nil:
					t.Fatalf("no session cookie in the response: %v", r.header)
				case a.cookie == "set" && c.Value == "", a.cookie == "clear" && c.Value != "":
					t.Fatalf("Set-Cookie %q, want the cookie to be %sed", c.String(), a.cookie)
				}
				assertNotSharedStorable(t, r.header)
				if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Cookie") {
					t.Errorf("Vary %q lacks Cookie", r.header.Values("Vary"))
				}
			})
		}
	}
}

// A handler may ask for public caching of a response that only reads its session (its own choice,
// e.g. a page the session merely personalises through client script): without a session cookie in
// the response, its Cache-Control is left as it is.
func TestHandlersCachingIsKeptWhenNoSessionCookieGoesOut(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("GET /cached", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		_ = middleware.Get(r).GetString("a")
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "session", b.post("/set"+q("key", "a", "value", "1")))
	r := mustOK(t, "cached", b.get("/cached"))
	if r.setCookie() != nil {
		t.Fatalf("a read set a cookie: %v", r.setCookie())
	}
	if got := r.header.Get("Cache-Control"); got != "public, max-age=60" {
		t.Errorf("Cache-Control %q, want the handler's", got)
	}
}

// When the error handler answers instead of the handler, nothing of the handler's headers survives
// (neither its public caching nor a cookie of a rotation it made), and the error response is not
// storable by a shared cache either: it is about one user's session.
func TestErrorHandlerResponsesAreNeverStorableBySharedCaches(t *testing.T) {
	e := newEnv(t, config{
		mw:    middleware.Options{CSRF: true},
		store: store.Options{MaxFields: 2},
		redis: redistest.Options{AllowFake: true},
	})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /login-then-too-many", func(w http.ResponseWriter, r *http.Request) {
		publicCaching(w.Header())
		s := middleware.Get(r)
		if err := s.Login("alice"); err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		for i := range 3 {
			_ = s.Set(fmt.Sprint("f", i), i) // over MaxFields: the commit before the headers fails
		}
		fmt.Fprint(w, "never sent")
	})
	srv := e.serve(mux)

	t.Run("a failed commit after a login", func(t *testing.T) {
		b := newBrowser(t, srv)
		r := b.post("/login-then-too-many")
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d %q, want 413 from the error handler", r.status, r.body)
		}
		if c := r.setCookie(); c != nil {
			t.Errorf("the error response set a cookie: %q", c.String())
		}
		assertNotSharedStorable(t, r.header)
	})
	t.Run("a refused CSRF check", func(t *testing.T) {
		b := newBrowser(t, srv)
		mustOK(t, "session", b.post("/set"+q("key", "a", "value", "1")))
		r := b.post("/set" + q("key", "a", "value", "forged"))
		if r.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", r.status)
		}
		assertNotSharedStorable(t, r.header)
	})
}

// A handler that hijacks the connection writes its own response; the headers it is given to send
// (as a WebSocket library copies them into its handshake) already carry the new cookie and are not
// storable by a shared cache.
func TestHijackedResponseHeadersAreNeverStorableBySharedCaches(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	srv := e.serveFunc(func(w http.ResponseWriter, r *http.Request) {
		publicCaching(w.Header())
		if err := middleware.Get(r).Set("ws", "1"); err != nil {
			panic(err)
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		fmt.Fprint(rw, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n")
		_ = w.Header().Write(rw)
		fmt.Fprint(rw, "\r\nok")
		_ = rw.Flush()
	})
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, bufio.NewReader(resp.Body))
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no session cookie in the hijacked response's headers %v", resp.Header)
	}
	assertNotSharedStorable(t, resp.Header)
}
