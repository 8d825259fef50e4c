package conformance

import (
	"net/http"
	"testing"
	"time"
)

// elevate posts /api/elevate, checks the rotation, and returns the new session cookie's value.
func (c *client) elevate() string {
	t := c.h.t
	t.Helper()
	old := c.cookie()
	r := c.post("/api/elevate", nil)
	wantJSON(t, r, http.StatusOK, nil)
	sc := sessionSetCookie(r.Header)
	if sc == nil || sc.Value == "" || sc.Value == old {
		t.Fatalf("%v: Set-Cookie %v; want a new session ID", r, sc)
	}
	if !c.h.oldKeyDead(old) {
		t.Error("the session key of the ID before elevation is still live (neither gone nor marked rotated with a short TTL)")
	}
	return sc.Value
}

// testElevate: elevation rotates the ID, keeps user and fields, and applies the elevated idle timeout;
// it needs a user.
func (s *suite) testElevate(t *testing.T) {
	h := s.start(t, map[string]string{
		"SESSION_IDLE_TIMEOUT":              "1h",
		"SESSION_ABSOLUTE_TIMEOUT":          "2h",
		"SESSION_ELEVATED_IDLE_TIMEOUT":     "90s",
		"SESSION_ELEVATED_ABSOLUTE_TIMEOUT": "10m",
	})
	c := h.client("conformance elevate")
	c.login("alice")
	wantJSON(t, c.post("/api/set", form("key", "k", "value", "v")), http.StatusOK, nil)
	id := c.elevate()
	if d := h.pttl(h.sessionKey(id)); d <= 60*time.Second || d > 90*time.Second {
		t.Errorf("elevated session PTTL %v; want the elevated idle timeout, 90s", d)
	}
	v := c.session()
	if !v.Authenticated || v.User != "alice" || v.Level != "elevated" || string(v.Fields["k"]) != `"v"` {
		t.Errorf("after elevation: %+v; want alice, level elevated, field k kept", v)
	}

	wantJSON(t, h.client("conformance nobody").postToken("/api/elevate", nil, ""), http.StatusUnauthorized, nil)
	anon := h.client("conformance anonymous")
	wantJSON(t, anon.postToken("/api/set", form("key", "k", "value", "v"), ""), http.StatusOK, nil)
	wantJSON(t, anon.post("/api/elevate", nil), http.StatusUnauthorized, nil)
}

// testElevatedAbsolute: the elevated absolute timeout caps the TTL, counted from elevation.
func (s *suite) testElevatedAbsolute(t *testing.T) {
	h := s.start(t, map[string]string{
		"SESSION_IDLE_TIMEOUT":              "1h",
		"SESSION_ABSOLUTE_TIMEOUT":          "2h",
		"SESSION_ELEVATED_IDLE_TIMEOUT":     "1h",
		"SESSION_ELEVATED_ABSOLUTE_TIMEOUT": "20s",
	})
	c := h.client("conformance elevated absolute")
	c.login("alice")
	id := c.elevate()
	if d := h.pttl(h.sessionKey(id)); d <= 5*time.Second || d > 20*time.Second {
		t.Errorf("elevated session PTTL %v; want at most the elevated absolute timeout, 20s", d)
	}
}

// testElevationCapped: elevation never extends the session past its own absolute deadline.
func (s *suite) testElevationCapped(t *testing.T) {
	h := s.start(t, map[string]string{
		"SESSION_IDLE_TIMEOUT":              "1h",
		"SESSION_ABSOLUTE_TIMEOUT":          "30s",
		"SESSION_ELEVATED_IDLE_TIMEOUT":     "1h",
		"SESSION_ELEVATED_ABSOLUTE_TIMEOUT": "1h",
	})
	c := h.client("conformance elevation cap")
	c.login("alice")
	id := c.elevate()
	if d := h.pttl(h.sessionKey(id)); d <= 0 || d > 30*time.Second {
		t.Errorf("elevated session PTTL %v; want at most the session's own 30s absolute timeout", d)
	}
}
