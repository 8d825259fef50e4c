package conformance

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
)

// The races below count outcomes; they never time anything. Their rounds are few: the suite runs
// for every example, three times each (single server, client-side cache, cluster).
const (
	raceTabs         = 6  // concurrent rotations of one session per round
	raceRounds       = 10 // rounds of the rotation races
	logoutRaceRounds = 20 // rounds of logout-all racing elevations
	racingElevations = 3  // elevations racing one logout in a round
)

// call is one request of a race.
type call struct {
	method, path string
	form         url.Values
	token        string // X-CSRF-Token, none when ""
}

// elevateCall and loginCall are the two rotations of the contract.
func elevateCall(token string) call { return call{http.MethodPost, "/api/elevate", nil, token} }
func loginCall(user string) call    { return call{http.MethodPost, "/api/login", form("user", user), ""} }

// repeat returns n copies of c.
func repeat(n int, c call) []call {
	out := make([]call, n)
	for i := range out {
		out[i] = c
	}
	return out
}

// tab returns a new client whose jar holds the session cookie id: a tab of a browser whose request
// went out with that cookie.
func (h *harness) tab(id string) *client {
	c := h.client("conformance tab")
	c.setCookie(id)
	return c
}

// race sends every call at once, each from a tab of its own holding the session cookie id (the tabs
// of one browser that all sent their request before any answer came back), and returns the tabs,
// whose jars then hold whatever cookie their answer set, and the answers, in the calls' order.
func (h *harness) race(id string, calls []call) ([]*client, []*response) {
	h.t.Helper()
	tabs := make([]*client, len(calls))
	for i := range tabs {
		tabs[i] = h.tab(id)
	}
	res := make([]*response, len(calls))
	errs := make([]error, len(calls))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			var hdr map[string]string
			if c.token != "" {
				hdr = map[string]string{"X-CSRF-Token": c.token}
			}
			f := c.form
			if f == nil && c.method == http.MethodPost {
				f = url.Values{}
			}
			<-start
			res[i], errs[i] = tabs[i].try(c.method, c.path, f, hdr)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			h.t.Fatalf("%s %s: %v", calls[i].method, calls[i].path, err)
		}
	}
	return tabs, res
}

// rotationWinners checks the answers of rotations (logins, elevations) that raced on the session
// cookie old and returns the indexes of the winners. A winner answers 200 with a new session cookie;
// every other answer must be 409 or 401 in JSON and set no session cookie at all: neither a new one nor
// a cleared one, either of which would replace the winner's cookie in the browser.
func rotationWinners(t *testing.T, old string, res []*response) []int {
	t.Helper()
	var won []int
	for i, r := range res {
		sc := sessionSetCookie(r.Header)
		switch r.Status {
		case http.StatusOK:
			if sc == nil || sc.Value == "" || sc.Value == old || cleared(sc) {
				t.Errorf("%v: a rotation answered 200 with Set-Cookie %v; want a new session ID", r, sc)
				continue
			}
			won = append(won, i)
		case http.StatusConflict, http.StatusUnauthorized:
			if sc != nil {
				t.Errorf("%v: a losing rotation set the session cookie %q; want no Set-Cookie", r, r.Header.Values("Set-Cookie"))
			}
			if !isJSON(r) {
				t.Errorf("%v: want a JSON error", r)
			}
		default:
			t.Errorf("%v; want 200 for the one winner, 409 (or 401) for the others", r)
		}
	}
	return won
}

// oneWinner is rotationWinners for a race with exactly one winner, whose index it returns.
func oneWinner(t *testing.T, old string, res []*response) int {
	t.Helper()
	won := rotationWinners(t, old, res)
	if len(won) != 1 {
		t.Fatalf("%d of %d concurrent rotations of one session won (answered 200 with a new cookie); want exactly 1", len(won), len(res))
	}
	return won[0]
}

// seesNoSession checks that c's cookie, the ID of a session rotated away a moment ago, reads as no
// session and that the read sets no session cookie: it must not clear the cookie the winner set.
func (c *client) seesNoSession(what string) {
	t := c.h.t
	t.Helper()
	r := c.get("/api/session")
	var v sessionView
	want(t, r, http.StatusOK)
	decodeExact(t, r, &v, sessionViewKeys...)
	if v.Authenticated || v.User != "" || v.CSRF != "" || len(v.Fields) != 0 {
		t.Errorf("%s: %v; want no session", what, r)
	}
	if sc := sessionSetCookie(r.Header); sc != nil {
		t.Errorf("%s: %v: Set-Cookie %q; want none", what, r, r.Header.Values("Set-Cookie"))
	}
}

// signedOut checks that the session cookie id reads as no authenticated session and that the read
// hands out no new session.
func (h *harness) signedOut(id, what string) {
	h.t.Helper()
	r := h.tab(id).get("/api/session")
	var v sessionView
	want(h.t, r, http.StatusOK)
	decodeExact(h.t, r, &v, sessionViewKeys...)
	if v.Authenticated || v.User != "" {
		h.t.Errorf("%s: %v; want no authenticated session", what, r)
	}
	if sc := sessionSetCookie(r.Header); sc != nil && !cleared(sc) {
		h.t.Errorf("%s: %v: a read set the session cookie %v", what, r, sc)
	}
}

// onlySession checks that user's one live session is the one c holds: the device list c sees has
// exactly one entry, c's own, and Redis holds no other live session of the user.
func (c *client) onlySession(user string) {
	t := c.h.t
	t.Helper()
	id := c.cookie()
	if ds := c.devices(); len(ds) != 1 || ds[0].Handle != handleOf(id) || !ds[0].Current {
		t.Errorf("%s's device list %+v; want exactly one entry, this session", user, ds)
	}
	if live := c.h.liveSessions(user); !slices.Equal(live, []string{handleOf(id)}) {
		t.Errorf("%s has %d live sessions in Redis; want exactly 1, this one", user, len(live))
	}
}

// checkRotatedFrom checks the state after a race on the session cookie old that winner won: the
// winner holds the user's one session, and old is dead and reads as no session.
func (h *harness) checkRotatedFrom(old string, winner *client, user string) {
	h.t.Helper()
	winner.onlySession(user)
	if !h.oldKeyDead(old) {
		h.t.Error("the session key of the ID before the rotation is still live")
	}
	h.tab(old).seesNoSession("the ID before the rotation")
}

// testConcurrentElevations: of six tabs elevating one session at once exactly one wins; the others
// answer 409 (or 401) and set no cookie, so one session never becomes two live IDs. Each round
// elevates the previous round's winner.
func (s *suite) testConcurrentElevations(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance tabs")
	c.login("alice")
	wantJSON(t, c.post("/api/set", form("key", "k", "value", "v")), http.StatusOK, nil)
	token := c.session().CSRF // elevation keeps the CSRF token: it serves every round
	id := c.cookie()
	for range raceRounds {
		tabs, res := h.race(id, repeat(raceTabs, elevateCall(token)))
		w := tabs[oneWinner(t, id, res)]
		h.checkRotatedFrom(id, w, "alice")
		id, c = w.cookie(), w
	}
	if v := c.session(); !v.Authenticated || v.User != "alice" || v.Level != "elevated" || string(v.Fields["k"]) != `"v"` {
		t.Errorf("after the races: %+v; want alice, level elevated, field k kept", v)
	}
}

// testConcurrentLogins: of six tabs logging one session in at once exactly one wins, the others answer
// 409 (or 401) with no cookie, and the anonymous session's cart passes to the winner once. Each round
// logs the previous round's winner in again.
func (s *suite) testConcurrentLogins(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance tabs")
	wantJSON(t, c.postToken("/api/set", form("key", "cart", "value", "3 books"), ""), http.StatusOK, nil)
	id := c.cookie()
	for range raceRounds {
		tabs, res := h.race(id, repeat(raceTabs, loginCall("alice")))
		w := tabs[oneWinner(t, id, res)]
		h.checkRotatedFrom(id, w, "alice")
		id, c = w.cookie(), w
	}
	if v := c.session(); !v.Authenticated || v.User != "alice" || len(v.Fields) != 1 || string(v.Fields["cart"]) != `"3 books"` {
		t.Errorf("after the races: %+v; want alice with the cart and nothing else", v)
	}
}

// testLogoutAllRacingElevations: logout-all and elevations of one session sent at once. When
// logout-all answers 200, nothing of the user survives it: no elevation brings the session back under
// a new ID. When an elevation rotated the session first, logout-all, carrying the rotated-away ID,
// answers 401 and clears no cookie, and the one winner's session is the user's only one.
func (s *suite) testLogoutAllRacingElevations(t *testing.T) {
	h := s.start(t, nil)
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes over %d rounds: %v", logoutRaceRounds, outcomes) }()
	for round := range logoutRaceRounds {
		user := fmt.Sprintf("racer%d", round)
		c := h.client("conformance logout-all race")
		id := c.login(user)
		token := c.session().CSRF
		calls := append([]call{{http.MethodPost, "/api/logout-all", nil, token}}, repeat(racingElevations, elevateCall(token))...)
		tabs, res := h.race(id, calls)
		won := rotationWinners(t, id, res[1:])
		outcomes[fmt.Sprintf("logout-all %d, %d elevation won", res[0].Status, len(won))]++
		if len(won) > 1 {
			t.Errorf("%d of %d concurrent elevations of one session won; want at most 1", len(won), racingElevations)
		}
		switch la := res[0]; la.Status {
		case http.StatusOK:
			if !cleared(sessionSetCookie(la.Header)) {
				t.Errorf("%v: want the cookie cleared", la)
			}
			h.signedOut(id, "the logged-out ID")
			for _, i := range won {
				h.signedOut(tabs[1+i].cookie(), "an elevation that raced logout-all")
			}
			fresh := h.client("conformance fresh login")
			fresh.login(user)
			fresh.onlySession(user)
		case http.StatusUnauthorized:
			if sc := sessionSetCookie(la.Header); sc != nil {
				t.Errorf("%v: logout-all with a rotated-away ID set the cookie %v; want no Set-Cookie", la, sc)
			}
			if len(won) != 1 {
				t.Fatalf("logout-all saw no session, yet %d elevations won; want exactly 1", len(won))
			}
			h.checkRotatedFrom(id, tabs[1+won[0]], user)
		default:
			t.Fatalf("%v; want 200, or 401 when an elevation rotated the session first", la)
		}
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
	}
}

// testStragglingTab: tabs A and B share a cookie; A logs in (then elevates), moving the session to a
// new ID. B, whose requests still carry the old ID, neither reaches the new session nor replaces its
// cookie: every write and rotation answers 409 and sets no cookie, a read sees no session.
func (s *suite) testStragglingTab(t *testing.T) {
	h := s.start(t, nil)
	a := h.client("conformance tab a")
	wantJSON(t, a.postToken("/api/set", form("key", "cart", "value", "3 books"), ""), http.StatusOK, nil)
	token := a.session().CSRF
	for _, step := range []struct {
		name   string
		rotate func() string
	}{
		{"login", func() string { return a.login("alice") }},
		{"elevation", a.elevate},
	} {
		old := a.cookie()
		b := h.tab(old)
		id := step.rotate()
		if !h.oldKeyDead(old) {
			t.Errorf("after the %s the old session key is still live", step.name)
		}
		for _, c := range []call{
			{http.MethodPost, "/api/set", form("key", "stray", "value", "b"), token},
			{http.MethodPost, "/api/incr", form("key", "hits"), token},
			{http.MethodPost, "/api/delete", form("key", "cart"), token},
			elevateCall(token),
			loginCall("alice"),
		} {
			r := b.postToken(c.path, c.form, c.token)
			want(t, r, http.StatusConflict)
			if !isJSON(r) {
				t.Errorf("%v: want a JSON error", r)
			}
			if sc := sessionSetCookie(r.Header); sc != nil {
				t.Errorf("after the %s, %v: Set-Cookie %q; want none", step.name, r, r.Header.Values("Set-Cookie"))
			}
			if b.cookie() != old {
				t.Fatalf("after the %s, %v changed the straggling tab's cookie", step.name, r)
			}
		}
		b.seesNoSession("the straggling tab after the " + step.name)

		if a.cookie() != id {
			t.Fatalf("tab A's cookie changed after the %s", step.name)
		}
		v := a.session()
		if !v.Authenticated || v.User != "alice" || len(v.Fields) != 1 || string(v.Fields["cart"]) != `"3 books"` {
			t.Errorf("tab A after the %s and the straggler's writes: %+v; want alice with the cart alone", step.name, v)
		}
		a.onlySession("alice")
		token = v.CSRF
	}
	if v := a.session(); v.Level != "elevated" {
		t.Errorf("tab A at level %q; want elevated", v.Level)
	}
}

// testLogoutRacingRotation: a logout carrying the ID of a session rotated a moment ago ends the session
// it was rotated into; and a logout sent at once with rotations of the same cookie leaves no session
// alive but, at most, a fresh login's: none carries anything of the logged-out session.
func (s *suite) testLogoutRacingRotation(t *testing.T) {
	h := s.start(t, nil)

	// In turn: tab A elevates, then tab B logs out with the ID from before the elevation.
	a := h.client("conformance tab a")
	a.login("alice")
	old := a.cookie()
	b := h.tab(old)
	token := a.session().CSRF
	a.elevate()
	r := b.postToken("/api/logout", nil, token)
	wantJSON(t, r, http.StatusOK, nil)
	if !cleared(sessionSetCookie(r.Header)) {
		t.Errorf("%v: want the cookie cleared", r)
	}
	if a.session().Authenticated || len(h.liveSessions("alice")) != 0 {
		t.Error("a logout with the ID from before an elevation left the elevated session alive")
	}

	// At once: a logout and rotations of one cookie; odd rounds race a login too, which may start a
	// fresh session once the old one is gone, but never one holding the old session's fields.
	outcomes := map[string]int{}
	defer func() { t.Logf("outcomes over %d rounds: %v", raceRounds, outcomes) }()
	for round := range raceRounds {
		user := fmt.Sprintf("racer%d", round)
		c := h.client("conformance logout race")
		id := c.login(user)
		wantJSON(t, c.post("/api/set", form("key", "marker", "value", "old")), http.StatusOK, nil)
		tok := c.session().CSRF
		calls := append([]call{{http.MethodPost, "/api/logout", nil, tok}}, repeat(racingElevations, elevateCall(tok))...)
		if round%2 == 1 {
			calls[len(calls)-1] = loginCall(user)
		}
		tabs, res := h.race(id, calls)
		if lo := res[0]; lo.Status != http.StatusOK || !cleared(sessionSetCookie(lo.Header)) {
			t.Errorf("%v: want 200 with the cookie cleared", lo)
		}
		won := rotationWinners(t, id, res[1:])
		h.signedOut(id, "the logged-out ID")
		if n := len(slices.DeleteFunc(slices.Clone(won), func(i int) bool { return calls[1+i].path == "/api/login" })); n > 1 {
			t.Errorf("%d concurrent elevations of one session won; want at most 1", n)
		}
		var fresh []string
		for _, i := range won {
			tab, ck := tabs[1+i], tabs[1+i].cookie()
			if calls[1+i].path != "/api/login" {
				h.signedOut(ck, "an elevation that raced a logout")
				continue
			}
			if v := tab.session(); v.Authenticated {
				if len(v.Fields) != 0 {
					t.Errorf("a login that raced a logout brought the logged-out session back: %+v", v)
				}
				fresh = append(fresh, handleOf(ck))
			}
		}
		outcomes[fmt.Sprintf("%d rotations won, %d fresh logins alive", len(won), len(fresh))]++
		if live := h.liveSessions(user); !slices.Equal(live, fresh) {
			t.Errorf("%d live sessions of %s after a logout raced rotations; want %d (a fresh login's at most)", len(live), user, len(fresh))
		}
		if t.Failed() {
			t.Fatalf("round %d failed", round)
		}
	}
}
