package conformance

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"
)

// handlePattern is the shape of a session handle: a hex SHA-256.
var handlePattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// deviceView is one entry of GET /api/sessions.
type deviceView struct {
	Handle    string `json:"handle"`
	Created   string `json:"created"`
	LastSeen  string `json:"last_seen"`
	UserAgent string `json:"user_agent"`
	IP        string `json:"ip"`
	Current   bool   `json:"current"`
}

// devices reads GET /api/sessions, checking its status and the exact shape of every entry.
func (c *client) devices() []deviceView {
	t := c.h.t
	t.Helper()
	r := c.get("/api/sessions")
	var raw []map[string]json.RawMessage
	wantJSON(t, r, http.StatusOK, &raw)
	for _, m := range raw {
		assertKeys(t, r, m, []string{"handle", "created", "last_seen", "user_agent", "ip", "current"})
	}
	var out []deviceView
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("%v: %v", r, err)
	}
	return out
}

// testSessions: the device list shows the user's live sessions, each with its handle, times, device
// and address, this one marked current; a handle is not a usable session ID.
func (s *suite) testSessions(t *testing.T) {
	h := s.start(t, nil)
	start := time.Now().Add(-time.Minute)
	one, two := h.client("conformance device one"), h.client("conformance device two")
	id1, id2 := one.login("alice"), two.login("alice")
	h.client("conformance bob").login("bob")

	ds := one.devices()
	if len(ds) != 2 {
		t.Fatalf("%d devices; want alice's 2: %+v", len(ds), ds)
	}
	agents := map[string]string{handleOf(id1): "conformance device one", handleOf(id2): "conformance device two"}
	for _, d := range ds {
		if !handlePattern.MatchString(d.Handle) {
			t.Errorf("handle %q is not 64 hex digits", d.Handle)
		}
		ua, ok := agents[d.Handle]
		if !ok {
			t.Errorf("handle %s is none of alice's sessions", d.Handle)
		}
		if d.UserAgent != ua || d.IP != "127.0.0.1" || d.Current != (d.Handle == handleOf(id1)) {
			t.Errorf("device %+v; want user_agent %q, ip 127.0.0.1, current only for this session", d, ua)
		}
		for name, v := range map[string]string{"created": d.Created, "last_seen": d.LastSeen} {
			ts, err := time.Parse(time.RFC3339, v)
			if err != nil || ts.Before(start) || ts.After(time.Now().Add(time.Minute)) {
				t.Errorf("%s %q is not a recent RFC 3339 time", name, v)
			}
		}
	}
	got := two.devices()
	cur := slices.IndexFunc(got, func(d deviceView) bool { return d.Current })
	if len(got) != 2 || cur < 0 || got[cur].Handle != handleOf(id2) {
		t.Errorf("the second device's list %+v; want 2 entries with its own marked current", got)
	}

	forged := h.client("conformance handle as cookie")
	forged.setCookie(ds[0].Handle)
	if v := forged.session(); v.Authenticated {
		t.Error("a handle used as a session cookie reads the session")
	}
	anon := h.client("conformance anonymous")
	wantJSON(t, anon.postToken("/api/set", form("key", "k", "value", "v"), ""), http.StatusOK, nil)
	wantJSON(t, anon.get("/api/sessions"), http.StatusUnauthorized, nil)
}

// testRevoke: a user revokes one of their own sessions by handle; any other handle answers 404.
func (s *suite) testRevoke(t *testing.T) {
	h := s.start(t, nil)
	one, two, bob := h.client("conformance device one"), h.client("conformance device two"), h.client("conformance bob")
	id1, id2 := one.login("alice"), two.login("alice")
	bob.login("bob")

	wantJSON(t, one.post("/api/sessions/revoke", form("handle", handleOf(id2))), http.StatusOK, nil)
	if two.session().Authenticated {
		t.Error("the revoked device is still signed in")
	}
	if h.exists(h.sessionKey(id2)) || slices.Contains(h.members(h.userKey("alice")), handleOf(id2)) {
		t.Error("the revoked session is still in Redis or in the index")
	}
	if ds := one.devices(); len(ds) != 1 || !ds[0].Current {
		t.Errorf("devices after revoke %+v; want only this one", ds)
	}

	for name, handle := range map[string]string{
		"already revoked": handleOf(id2),
		"malformed":       "not-a-handle",
		"empty":           "",
		"unknown":         handleOf("no such session"),
	} {
		if r := one.post("/api/sessions/revoke", form("handle", handle)); r.Status != http.StatusNotFound {
			t.Errorf("%s handle: %v; want 404", name, r)
		}
	}
	if r := bob.post("/api/sessions/revoke", form("handle", handleOf(id1))); r.Status != http.StatusNotFound {
		t.Errorf("bob revoking alice's session: %v; want 404", r)
	}
	if !one.session().Authenticated {
		t.Fatal("another user's revoke destroyed alice's session")
	}

	r := one.post("/api/sessions/revoke", form("handle", handleOf(id1)))
	wantJSON(t, r, http.StatusOK, nil)
	if !cleared(sessionSetCookie(r.Header)) || one.session().Authenticated {
		t.Errorf("%v: revoking this very session should clear its cookie and end it", r)
	}
	wantJSON(t, h.client("conformance nobody").postToken("/api/sessions/revoke", form("handle", handleOf(id1)), ""), http.StatusUnauthorized, nil)
}
