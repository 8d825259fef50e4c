package conformance

import (
	"net/http"
	"slices"
	"testing"
)

// destroyed posts a logout route and returns the count it answers.
func (c *client) destroyed(path string) (int, *response) {
	t := c.h.t
	t.Helper()
	r := c.post(path, nil)
	want(t, r, http.StatusOK)
	var v struct {
		Destroyed int `json:"destroyed"`
	}
	decodeExact(t, r, &v, "destroyed")
	return v.Destroyed, r
}

// testLogout: logout destroys this session only, clears the cookie, and the old ID stays dead.
func (s *suite) testLogout(t *testing.T) {
	h := s.start(t, nil)
	one, two := h.client("conformance device one"), h.client("conformance device two")
	id1 := one.login("alice")
	two.login("alice")

	r := one.post("/api/logout", nil)
	wantJSON(t, r, http.StatusOK, nil)
	if !cleared(sessionSetCookie(r.Header)) {
		t.Errorf("%v: Set-Cookie %q; want the cookie cleared", r, r.Header.Values("Set-Cookie"))
	}
	if one.cookie() != "" || one.session().Authenticated {
		t.Error("still signed in after logout")
	}
	if h.exists(h.sessionKey(id1)) || slices.Contains(h.members(h.userKey("alice")), handleOf(id1)) {
		t.Error("the session is still in Redis or in the index after logout")
	}
	if !two.session().Authenticated {
		t.Error("logout ended the user's other session too")
	}
	replay := h.client("conformance replay")
	replay.setCookie(id1)
	if replay.session().Authenticated {
		t.Error("the logged-out ID still reads the session")
	}
}

// testLogoutOthers: logout-others destroys the user's other sessions and reports how many.
func (s *suite) testLogoutOthers(t *testing.T) {
	h := s.start(t, nil)
	one, two, three, bob := h.client("conformance one"), h.client("conformance two"), h.client("conformance three"), h.client("conformance bob")
	id1 := one.login("alice")
	two.login("alice")
	three.login("alice")
	bob.login("bob")

	if n, r := one.destroyed("/api/logout-others"); n != 2 {
		t.Errorf("%v; want destroyed 2", r)
	}
	if !one.session().Authenticated || two.session().Authenticated || three.session().Authenticated {
		t.Error("want only the requesting device signed in")
	}
	if !bob.session().Authenticated {
		t.Error("logout-others ended another user's session")
	}
	if m := h.members(h.userKey("alice")); !slices.Equal(m, []string{handleOf(id1)}) {
		t.Errorf("alice's index holds %v; want only this session", m)
	}
	if n, r := one.destroyed("/api/logout-others"); n != 0 {
		t.Errorf("%v; want destroyed 0 the second time", r)
	}
	wantJSON(t, h.client("conformance nobody").postToken("/api/logout-others", nil, ""), http.StatusUnauthorized, nil)
}

// testLogoutAll: logout-all destroys every session of the user, this one too, and clears the cookie.
func (s *suite) testLogoutAll(t *testing.T) {
	h := s.start(t, nil)
	one, two, bob := h.client("conformance one"), h.client("conformance two"), h.client("conformance bob")
	id1, id2 := one.login("alice"), two.login("alice")
	bob.login("bob")

	n, r := one.destroyed("/api/logout-all")
	if n != 2 {
		t.Errorf("%v; want destroyed 2", r)
	}
	if !cleared(sessionSetCookie(r.Header)) {
		t.Errorf("%v: want the cookie cleared", r)
	}
	if one.session().Authenticated || two.session().Authenticated {
		t.Error("a session of the user survived logout-all")
	}
	if h.exists(h.sessionKey(id1)) || h.exists(h.sessionKey(id2)) || len(h.members(h.userKey("alice"))) != 0 {
		t.Error("alice's sessions or index entries are still in Redis")
	}
	if !bob.session().Authenticated {
		t.Error("logout-all ended another user's session")
	}
	wantJSON(t, one.postToken("/api/logout-all", nil, ""), http.StatusUnauthorized, nil)
}
