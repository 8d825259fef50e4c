package conformance

import (
	"net/http"
	"net/url"
	"testing"
)

// testCSRF: every state-changing route but login refuses a request without the session's token (403)
// and changes nothing; the token passes in the X-CSRF-Token header or, for HTML forms, the
// csrf_token field; without a session there is nothing to protect.
func (s *suite) testCSRF(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance csrf victim")
	other := h.client("conformance csrf other device")
	c.login("alice")
	otherID := other.login("alice")
	token := c.session().CSRF

	routes := []struct {
		path string
		form url.Values
	}{
		{"/api/elevate", nil},
		{"/api/set", form("key", "k", "value", "v")},
		{"/api/incr", form("key", "n")},
		{"/api/delete", form("key", "k")},
		{"/api/logout", nil},
		{"/api/logout-others", nil},
		{"/api/logout-all", nil},
		{"/api/sessions/revoke", form("handle", handleOf(otherID))},
	}
	for _, rt := range routes {
		for _, bad := range []string{"", "wrong-" + token, token[:len(token)-1]} {
			if r := c.postToken(rt.path, rt.form, bad); r.Status != http.StatusForbidden || !isJSON(r) {
				t.Errorf("%v (Content-Type %q) with token %q; want a JSON 403", r, r.Header.Get("Content-Type"), bad)
			}
		}
	}
	if v := c.session(); !v.Authenticated || v.Level != "user" || len(v.Fields) != 0 || v.CSRF != token {
		t.Errorf("after refused requests: %+v; want the session unchanged", v)
	}
	if v := other.session(); !v.Authenticated {
		t.Error("a refused request destroyed the other device's session")
	}

	f := form("key", "via", "value", "form")
	f.Set("csrf_token", token)
	wantJSON(t, c.postToken("/api/set", f, ""), http.StatusOK, nil)
	wantJSON(t, c.postToken("/api/set", form("key", "via", "value", "header"), token), http.StatusOK, nil)
	if v := c.session(); string(v.Fields["via"]) != `"header"` {
		t.Errorf("fields %s; want via = header", v.Fields)
	}

	// Login needs no token, even with a session.
	wantJSON(t, c.postToken("/api/login", form("user", "alice"), ""), http.StatusOK, nil)

	// No session, nothing to protect.
	wantJSON(t, h.client("conformance newcomer").postToken("/api/set", form("key", "k", "value", "v"), ""), http.StatusOK, nil)
}
