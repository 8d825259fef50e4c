package conformance

import (
	"net/http"
	"strings"
	"testing"
)

// testVisitor: a visitor without a cookie reads without creating anything, and the routes that need
// a user answer 401.
func (s *suite) testVisitor(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance visitor")

	r := c.get("/api/session")
	var v sessionView
	decodeExact(t, r, &v, sessionViewKeys...)
	want(t, r, http.StatusOK)
	if v.Authenticated || v.User != "" || v.Level != "user" || v.ElevatedUntil != nil || v.CSRF != "" || len(v.Fields) != 0 {
		t.Errorf("%v; want an anonymous, empty session at level user, elevated_until null", r)
	}
	noSetCookie(t, r)

	r = c.get("/")
	want(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /: Content-Type %q; want text/html", ct)
	}
	noSetCookie(t, r)

	wantJSON(t, c.get("/api/sessions"), http.StatusUnauthorized, nil)
	for _, path := range []string{"/api/elevate", "/api/logout-others", "/api/logout-all", "/api/sessions/revoke"} {
		r := c.postToken(path, form("handle", strings.Repeat("a", 64)), "")
		wantJSON(t, r, http.StatusUnauthorized, nil)
		noSetCookie(t, r)
	}
	r = c.postToken("/api/logout", nil, "")
	wantJSON(t, r, http.StatusOK, nil)
	if sc := sessionSetCookie(r.Header); sc != nil && !cleared(sc) {
		t.Errorf("POST /api/logout without a session set a cookie: %v", sc)
	}

	if keys := h.keys("*"); len(keys) != 0 {
		t.Errorf("a visitor's reads left keys in Redis: %v", keys)
	}
	if c.cookie() != "" {
		t.Errorf("a visitor's reads left a cookie")
	}
}

// noSetCookie fails the test when r sets a session cookie.
func noSetCookie(t testing.TB, r *response) {
	t.Helper()
	if sc := sessionSetCookie(r.Header); sc != nil {
		t.Errorf("%v: Set-Cookie %v; want none", r, sc)
	}
}
