package conformance

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"
)

// bareID is the shape of an unsigned session cookie: 32 bytes, base64url without padding.
var bareID = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// login logs c in as user and returns the new session cookie's value.
func (c *client) login(user string) string {
	t := c.h.t
	t.Helper()
	r := c.postToken("/api/login", form("user", user), "")
	var v struct {
		User string `json:"user"`
	}
	want(t, r, http.StatusOK)
	decodeExact(t, r, &v, "user")
	if v.User != user {
		t.Fatalf("%v; want user %q", r, user)
	}
	sc := sessionSetCookie(r.Header)
	if sc == nil || sc.Value == "" || cleared(sc) {
		t.Fatalf("%v: no session cookie set", r)
	}
	if c.cookie() != sc.Value {
		t.Fatalf("the cookie jar did not take the session cookie %v", sc)
	}
	return sc.Value
}

// testLogin: login answers the user and a cookie with safe attributes, stores the session under the
// hash of its ID with a TTL, indexes it under the user, and logging in again rotates the ID.
func (s *suite) testLogin(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance login")
	r := c.postToken("/api/login", form("user", "alice"), "")
	want(t, r, http.StatusOK)
	sc := sessionSetCookie(r.Header)
	if sc == nil {
		t.Fatalf("%v: no Set-Cookie", r)
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Secure {
		t.Errorf("Set-Cookie %q; want HttpOnly, SameSite=Lax, Path=/ and, with COOKIE_SECURE=false, no Secure", r.Header.Get("Set-Cookie"))
	}
	id := sc.Value
	if !bareID.MatchString(id) {
		t.Fatalf("cookie value %q is not a 43-character base64url ID", id)
	}
	key := h.sessionKey(id)
	if d := h.pttl(key); d <= 0 || d > 30*time.Minute {
		t.Errorf("%s: PTTL %v; want within the default idle timeout of 30m", key, d)
	}
	idx := h.userKey("alice")
	if !slices.Contains(h.members(idx), handleOf(id)) {
		t.Errorf("the index %s does not hold the session's handle", idx)
	}
	if d := h.pttl(idx); d <= 0 {
		t.Errorf("the index %s has PTTL %v; want a TTL", idx, d)
	}
	v := c.session()
	if !v.Authenticated || v.User != "alice" || v.Level != "user" || v.CSRF == "" || len(v.Fields) != 0 {
		t.Errorf("after login: %+v; want alice at level user with a CSRF token and no fields", v)
	}

	// Login is exempt from the CSRF check, and a second login rotates the ID again.
	id2 := c.login("alice")
	if id2 == id {
		t.Fatal("logging in again kept the session ID")
	}
	if !h.oldKeyDead(id) {
		t.Error("the session key of the replaced ID is still live")
	}
	if m := h.members(idx); !slices.Contains(m, handleOf(id2)) || slices.Contains(m, handleOf(id)) {
		t.Errorf("the index holds %v; want the new handle and not the old one", m)
	}

	wantJSON(t, c.postToken("/api/login", form(), ""), http.StatusBadRequest, nil)
	wantJSON(t, c.postToken("/api/login", form("user", ""), ""), http.StatusBadRequest, nil)
}

// testLoginRotation: logging in moves an anonymous session to a new ID with its fields (a cart); the
// old ID is dead at once and never comes back.
func (s *suite) testLoginRotation(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance rotation")
	r := c.postToken("/api/set", form("key", "cart", "value", "3 books"), "")
	wantJSON(t, r, http.StatusOK, nil)
	anon := c.cookie()
	if anon == "" || sessionSetCookie(r.Header) == nil {
		t.Fatalf("%v: a first write set no cookie", r)
	}
	if v := c.session(); v.Authenticated || v.CSRF == "" || string(v.Fields["cart"]) != `"3 books"` {
		t.Fatalf("anonymous session %+v; want the cart and a CSRF token, no user", v)
	}

	id := c.login("alice")
	if id == anon {
		t.Fatal("login kept the anonymous session's ID (session fixation)")
	}
	if !h.oldKeyDead(anon) {
		t.Error("the anonymous session's key survived the login")
	}
	if v := c.session(); !v.Authenticated || string(v.Fields["cart"]) != `"3 books"` {
		t.Errorf("after login: %+v; want alice with the cart carried over", v)
	}

	replay := h.client("conformance attacker")
	replay.setCookie(anon)
	if v := replay.session(); v.Authenticated || len(v.Fields) != 0 {
		t.Errorf("the pre-login ID still reads a session: %+v", v)
	}
}

// testLoginOtherUser: logging in as another user keeps nothing of the previous user's session.
func (s *suite) testLoginOtherUser(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance shared computer")
	alice := c.login("alice")
	wantJSON(t, c.post("/api/set", form("key", "secret", "value", "alice's")), http.StatusOK, nil)
	c.login("bob")
	v := c.session()
	if v.User != "bob" || len(v.Fields) != 0 {
		t.Errorf("after bob's login: %+v; want bob with no fields of alice's", v)
	}
	if !h.oldKeyDead(alice) || slices.Contains(h.members(h.userKey("alice")), handleOf(alice)) {
		t.Error("alice's session survived bob's login on the same browser")
	}
}

// testCookieSecure: without COOKIE_SECURE the cookie carries Secure.
func (s *suite) testCookieSecure(t *testing.T) {
	h := s.start(t, map[string]string{"COOKIE_SECURE": ""})
	c := h.client("conformance secure")
	r := c.postToken("/api/login", form("user", "alice"), "")
	want(t, r, http.StatusOK)
	if sc := sessionSetCookie(r.Header); sc == nil || !sc.Secure {
		t.Errorf("Set-Cookie %q; want Secure by default", r.Header.Get("Set-Cookie"))
	}
}

// testSignedCookie: with SESSION_HASH_KEY the cookie is signed; a tampered one is never adopted.
func (s *suite) testSignedCookie(t *testing.T) {
	var key [32]byte
	_, _ = rand.Read(key[:])
	h := s.start(t, map[string]string{"SESSION_HASH_KEY": base64.StdEncoding.EncodeToString(key[:])})
	c := h.client("conformance signed")
	v := c.login("alice")
	if bareID.MatchString(v) {
		t.Errorf("cookie %q looks like a bare ID; want a signed value", v)
	}
	if s := c.session(); !s.Authenticated {
		t.Fatal("the signed cookie does not carry the session")
	}
	if n := len(h.keys("session:*")); n != 1 {
		t.Fatalf("%d session keys; want 1", n)
	}
	b := []byte(v)
	i := len(b) / 2
	b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
	forged := h.client("conformance forger")
	forged.setCookie(string(b))
	if s := forged.session(); s.Authenticated {
		t.Error("a tampered signed cookie was accepted")
	}
}

// testStaleCookie: a cookie whose session is gone (logged out, or never existed) reads as no session,
// and a write with it starts a new anonymous session under a new ID without recreating the old key.
func (s *suite) testStaleCookie(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance first tab")
	id := c.login("alice")
	wantJSON(t, c.post("/api/logout", nil), http.StatusOK, nil)

	var unknown [32]byte
	_, _ = rand.Read(unknown[:])
	for name, stale := range map[string]string{
		"logged out": id,
		"unknown":    base64.RawURLEncoding.EncodeToString(unknown[:]),
		"malformed":  "not-a-session-id",
	} {
		tab := h.client("conformance stale tab")
		tab.setCookie(stale)
		if v := tab.session(); v.Authenticated || v.CSRF != "" || len(v.Fields) != 0 {
			t.Errorf("%s cookie: %+v; want no session", name, v)
		}
		r := tab.postToken("/api/set", form("key", "k", "value", "v"), "")
		wantJSON(t, r, http.StatusOK, nil)
		sc := sessionSetCookie(r.Header)
		if sc == nil || sc.Value == stale || cleared(sc) {
			t.Errorf("%s cookie: a write answered Set-Cookie %v; want a new ID", name, sc)
		}
		if bareID.MatchString(stale) && h.exists(h.sessionKey(stale)) {
			t.Errorf("%s cookie: the write recreated the old session key", name)
		}
		if v := tab.session(); v.Authenticated || string(v.Fields["k"]) != `"v"` {
			t.Errorf("%s cookie: after the write %+v; want an anonymous session holding k", name, v)
		}

		// Logging out with a dead or malformed cookie clears it all the same.
		gone := h.client("conformance stale logout")
		gone.setCookie(stale)
		r = gone.postToken("/api/logout", nil, "")
		wantJSON(t, r, http.StatusOK, nil)
		if !cleared(sessionSetCookie(r.Header)) || gone.cookie() != "" {
			t.Errorf("%s cookie: %v; want the dead cookie cleared", name, r)
		}
	}
}
