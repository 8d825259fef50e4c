package conformance

import (
	"net/http"
	"strings"
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

// The elevated level's timeouts in the tests that wait for it to lapse: real time, so short, but
// long against the gaps between one test's requests on a loaded machine, since any request is a use
// that slides the level's idle timeout.
const (
	levelIdle     = 5 * time.Second
	levelAbsolute = 10 * time.Second
	// lapseSlack is how long past the moment a level must have lapsed a test waits before it checks.
	lapseSlack = 2 * time.Second
	// usePeriod is the gap between the requests of a session in constant use.
	usePeriod = 500 * time.Millisecond
)

// elevatedSession checks that v is alice's session at level elevated with field k "v", and that
// elevated_until lies within the elevated idle timeout (idle) of [from, to], the span of the
// session's last use: at most the idle timeout ahead, and no earlier than the whole second it falls
// in.
func elevatedSession(t *testing.T, v sessionView, idle time.Duration, from, to time.Time) {
	t.Helper()
	if !v.Authenticated || v.User != "alice" || v.Level != "elevated" || string(v.Fields["k"]) != `"v"` {
		t.Fatalf("after elevation: %+v; want alice, level elevated, field k kept", v)
	}
	u := v.elevatedUntil()
	if u.Before(from.Add(idle).Truncate(time.Second)) || u.After(to.Add(idle)) {
		t.Errorf("elevated_until %s; want the elevated idle timeout, %v, from the last use (between %s and %s)",
			*v.ElevatedUntil, idle, from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))
	}
}

// steppedDown checks that v is alice's session, still signed in, at level user with elevated_until
// null and field k "v": the elevated level lapsed, and the session went on.
func steppedDown(t *testing.T, v sessionView, why string) {
	t.Helper()
	if !v.Authenticated || v.User != "alice" || v.Level != "user" || v.ElevatedUntil != nil || string(v.Fields["k"]) != `"v"` {
		t.Fatalf("%s: %+v; want alice still signed in, level user, elevated_until null, field k kept", why, v)
	}
}

// sessionLivesOn checks that the session with the given ID keeps its own 1h idle timeout in Redis:
// neither the elevated level nor its lapse shortens the key's life.
func (h *harness) sessionLivesOn(id string) {
	h.t.Helper()
	if d := h.pttl(h.sessionKey(id)); d <= 59*time.Minute || d > time.Hour {
		h.t.Errorf("session PTTL %v; want the session's own idle timeout, 1h, whatever its level", d)
	}
}

// pageShowsElevation checks whether the page (GET /) shows until when the elevated level lasts.
func (c *client) pageShowsElevation(shown bool) {
	t := c.h.t
	t.Helper()
	r := c.get("/")
	want(t, r, http.StatusOK)
	if got := strings.Contains(string(r.Body), `id="elevated-until"`); got != shown {
		t.Errorf("GET / shows the elevated level's end (id=\"elevated-until\"): %v; want %v", got, shown)
	}
}

// testElevate: elevation rotates the ID and keeps user and fields; the elevated level has its own
// idle timeout, shown in elevated_until, while the session keeps its own; left unused for longer than
// it, the level lapses and the session goes on at level user (SESSION_ELEVATED_ON_EXPIRY's default,
// step-down), and can be elevated again. Elevation needs a user.
func (s *suite) testElevate(t *testing.T) {
	h, c, id, used := s.elevatedAlice(t, "conformance elevate", "step-down")
	h.sessionLivesOn(id)

	// Unused for longer than the elevated idle timeout: no request at all while waiting, since any
	// would slide it.
	time.Sleep(time.Until(used.Add(levelIdle + lapseSlack)))
	steppedDown(t, c.session(), "after the elevated idle timeout passed unused")
	if c.cookie() != id {
		t.Error("the session cookie changed when the level lapsed; want the same session going on")
	}
	c.pageShowsElevation(false)
	wantJSON(t, c.post("/api/set", form("key", "k2", "value", "v2")), http.StatusOK, nil)
	h.sessionLivesOn(id)

	before := time.Now()
	c.elevate()
	v := c.session()
	elevatedSession(t, v, levelIdle, before, time.Now())
	if string(v.Fields["k2"]) != `"v2"` {
		t.Errorf("elevated again: %+v; want field k2 kept", v)
	}
	c.pageShowsElevation(true)

	wantJSON(t, h.client("conformance nobody").postToken("/api/elevate", nil, ""), http.StatusUnauthorized, nil)
	anon := h.client("conformance anonymous")
	wantJSON(t, anon.postToken("/api/set", form("key", "k", "value", "v"), ""), http.StatusOK, nil)
	wantJSON(t, anon.post("/api/elevate", nil), http.StatusUnauthorized, nil)
}

// testElevatedAbsolute: in constant use, which keeps sliding its idle timeout, the elevated level
// lapses at its absolute timeout counted from elevation (elevated_until never later), and the
// session goes on at level user with its fields, under its own timeouts.
func (s *suite) testElevatedAbsolute(t *testing.T) {
	h := s.start(t, map[string]string{
		"SESSION_IDLE_TIMEOUT":              "1h",
		"SESSION_ABSOLUTE_TIMEOUT":          "2h",
		"SESSION_ELEVATED_IDLE_TIMEOUT":     levelIdle.String(),
		"SESSION_ELEVATED_ABSOLUTE_TIMEOUT": levelAbsolute.String(),
	})
	c := h.client("conformance elevated absolute")
	c.login("alice")
	wantJSON(t, c.post("/api/set", form("key", "k", "value", "v")), http.StatusOK, nil)
	before := time.Now()
	id := c.elevate()
	// The level's absolute deadline lies between earliest and latest.
	earliest, latest := before.Add(levelAbsolute), time.Now().Add(levelAbsolute)
	lapsed := false
	for time.Now().Before(latest.Add(lapseSlack)) {
		v := c.session()
		at := time.Now()
		switch {
		case !v.Authenticated || v.User != "alice" || string(v.Fields["k"]) != `"v"`:
			t.Fatalf("in constant use %v after elevation: %+v; want alice with field k", at.Sub(before), v)
		case v.Level == "elevated" && lapsed:
			t.Fatalf("level elevated again %v after elevation, once it had lapsed", at.Sub(before))
		case v.Level == "elevated":
			if u := v.elevatedUntil(); u.After(latest) {
				t.Errorf("elevated_until %s is past the elevated absolute timeout, %v after elevation", *v.ElevatedUntil, levelAbsolute)
			}
		case at.Before(earliest.Add(-usePeriod)):
			t.Fatalf("level %q %v after elevation in constant use; want elevated until the elevated absolute timeout, %v (the elevated idle timeout, %v, slides with use)",
				v.Level, at.Sub(before), levelAbsolute, levelIdle)
		default:
			steppedDown(t, v, "in constant use past the elevated absolute timeout")
			lapsed = true
		}
		time.Sleep(usePeriod)
	}
	steppedDown(t, c.session(), "in constant use past the elevated absolute timeout")
	h.sessionLivesOn(id)
}

// testElevatedLapseEndsSession: with SESSION_ELEVATED_ON_EXPIRY=logout the session ends when the
// elevated level lapses, and its key lives no longer than the level.
func (s *suite) testElevatedLapseEndsSession(t *testing.T) {
	h, c, id, used := s.elevatedAlice(t, "conformance elevated logout", "logout")
	if d := h.pttl(h.sessionKey(id)); d <= 0 || d > levelIdle {
		t.Errorf("elevated session PTTL %v; want at most the elevated idle timeout, %v, when its lapse ends the session", d, levelIdle)
	}

	time.Sleep(time.Until(used.Add(levelIdle + lapseSlack)))
	if v := c.session(); v.Authenticated || v.User != "" || len(v.Fields) != 0 {
		t.Errorf("after the elevated idle timeout passed unused: %+v; want the session ended", v)
	}
	if h.exists(h.sessionKey(id)) {
		t.Error("the ended session's key still exists")
	}
}

// testElevationCapped: elevation never extends the session past its own absolute deadline, nor does
// the elevated level outlast it.
func (s *suite) testElevationCapped(t *testing.T) {
	h := s.start(t, map[string]string{
		"SESSION_IDLE_TIMEOUT":              "1h",
		"SESSION_ABSOLUTE_TIMEOUT":          "30s",
		"SESSION_ELEVATED_IDLE_TIMEOUT":     "1h",
		"SESSION_ELEVATED_ABSOLUTE_TIMEOUT": "1h",
	})
	c := h.client("conformance elevation cap")
	before := time.Now()
	c.login("alice")
	after := time.Now()
	id := c.elevate()
	if d := h.pttl(h.sessionKey(id)); d <= 0 || d > 30*time.Second {
		t.Errorf("elevated session PTTL %v; want at most the session's own 30s absolute timeout", d)
	}
	v := c.session()
	if v.Level != "elevated" {
		t.Fatalf("after elevation: %+v; want level elevated", v)
	}
	// The level's deadline is the session's own: 30s after login.
	if u := v.elevatedUntil(); u.Before(before.Add(30*time.Second).Truncate(time.Second)) || u.After(after.Add(30*time.Second)) {
		t.Errorf("elevated_until %s; want the session's own absolute deadline, 30s after login", *v.ElevatedUntil)
	}
}

// elevatedAlice starts an app whose elevated level lasts levelIdle unused (then does onExpiry), logs
// alice in with one field, elevates her and checks the elevated view. It returns the app, alice's
// client, the elevated session's ID and when it was last used.
func (s *suite) elevatedAlice(t *testing.T, agent, onExpiry string) (*harness, *client, string, time.Time) {
	t.Helper()
	h := s.start(t, map[string]string{
		"SESSION_IDLE_TIMEOUT":              "1h",
		"SESSION_ABSOLUTE_TIMEOUT":          "2h",
		"SESSION_ELEVATED_IDLE_TIMEOUT":     levelIdle.String(),
		"SESSION_ELEVATED_ABSOLUTE_TIMEOUT": "1h",
		"SESSION_ELEVATED_ON_EXPIRY":        onExpiry,
	})
	c := h.client(agent)
	c.login("alice")
	wantJSON(t, c.post("/api/set", form("key", "k", "value", "v")), http.StatusOK, nil)
	before := time.Now()
	id := c.elevate()
	v := c.session()
	used := time.Now()
	elevatedSession(t, v, levelIdle, before, used)
	return h, c, id, used
}
