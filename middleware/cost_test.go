package middleware_test

import (
	"testing"

	"github.com/redisession/redisession/internal/redistest"
)

// cost is what one request cost Redis: the store client's round trips and the commands the server
// executed (those inside scripts included), with a few of them by name.
type cost struct {
	trips, commands, hgetall, evalsha, eval int64
}

func (e *env) cost() cost {
	e.tb.Helper()
	return cost{e.trips.Load(), e.commandsExecuted(), e.calls("hgetall"), e.calls("evalsha"), e.calls("eval")}
}

func (c cost) minus(d cost) cost {
	return cost{c.trips - d.trips, c.commands - d.commands, c.hgetall - d.hgetall, c.evalsha - d.evalsha, c.eval - d.eval}
}

// measure returns what f cost Redis.
func (e *env) measure(f func()) cost {
	e.tb.Helper()
	before := e.cost()
	f()
	return e.cost().minus(before)
}

// A request that never touches its session, and a visitor without a cookie who only reads, send
// Redis nothing at all.
func TestUntouchedRequestsAndCookielessReadersSendRedisNothing(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{}})
	srv := e.serve(app())
	withSession := newBrowser(t, srv)
	mustOK(t, "session", withSession.post("/set"+q("key", "a", "value", "1")))
	visitor := newBrowser(t, srv)
	garbage := newBrowser(t, srv)
	garbage.setCookie("garbage")

	tests := []struct {
		name string
		b    *browser
		path string
	}{
		{"untouched, with a session", withSession, "/nothing"},
		{"untouched, visitor", visitor, "/nothing"},
		{"cookieless reader: field", visitor, "/get?key=a"},
		{"cookieless reader: all fields", visitor, "/fields"},
		{"cookieless reader: user", visitor, "/whoami"},
		{"cookieless reader: CSRF token", visitor, "/csrf"},
		{"malformed cookie, reader", garbage, "/get?key=a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.measure(func() {
				for range 5 {
					if r := mustOK(t, tt.path, tt.b.get(tt.path)); r.setCookie() != nil {
						t.Errorf("Set-Cookie %v", r.setCookie())
					}
				}
			})
			if c != (cost{}) {
				t.Errorf("5 requests cost %+v, want nothing", c)
			}
		})
	}
}

// A read costs one HGETALL; a write-only request one script call and no read; a read and a write in
// one request exactly one of each.
func TestRequestsCostOneRoundTripPerStep(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{}})
	b := newBrowser(t, e.serve(app()))
	// Create the session and load the commit script, so that no NOSCRIPT fallback is counted.
	mustOK(t, "create", b.post("/set"+q("key", "a", "value", "1")))
	mustOK(t, "commit", b.post("/set"+q("key", "a", "value", "2")))

	tests := []struct {
		name   string
		method string
		path   string
		want   cost // commands is checked only for being non-zero where trips are
	}{
		{"read-only", "GET", "/get?key=a", cost{trips: 1, hgetall: 1}},
		{"write-only", "POST", "/set?key=b&value=3", cost{trips: 1, evalsha: 1}},
		{"read then write", "POST", "/pop?key=b", cost{trips: 2, hgetall: 1, evalsha: 1}},
		{"increment", "POST", "/incr?key=n", cost{trips: 1, evalsha: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.measure(func() { mustOK(t, tt.path, b.do(tt.method, tt.path, nil, nil)) })
			got := c
			got.commands = 0
			if got != tt.want {
				t.Errorf("cost %+v, want %+v", c, tt.want)
			}
			if tt.want.trips > 0 && c.commands < tt.want.trips {
				t.Errorf("the server executed %d commands for %d round trips", c.commands, c.trips)
			}
		})
	}
}
