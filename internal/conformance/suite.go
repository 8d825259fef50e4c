package conformance

import (
	"testing"

	"github.com/redisession/redisession/internal/redistest"
)

// Run drives the whole contract against the app st starts, in parallel subtests: every route with
// its status codes and JSON shapes, the cookie, CSRF protection, rotation, timeouts, the device list
// and revocation, the three logouts, the HTML page, Redis outages, the absence of background
// traffic, and the start-up refusals (see Startup). It starts its redis-servers with redistest, so
// it skips where none is installed, unless redistest.Required.
func Run(t *testing.T, st Starter) { runSuite(t, st, nil) }

// RunClientCache is Run with SESSION_CLIENT_CACHE=true for every app the suite starts: the whole
// contract holds when session reads may come from go-redis' client-side cache.
func RunClientCache(t *testing.T, st Starter) {
	runSuite(t, st, map[string]string{"SESSION_CLIENT_CACHE": "true"})
}

func runSuite(t *testing.T, st Starter, env map[string]string) {
	s := &suite{starter: st, redis: redistest.Start(t, redistest.Options{}), env: env}
	tests := []struct {
		name string
		f    func(*testing.T)
	}{
		{"Visitor", s.testVisitor},
		{"Login", s.testLogin},
		{"LoginRotatesAnonymousSession", s.testLoginRotation},
		{"LoginAsAnotherUser", s.testLoginOtherUser},
		{"CookieSecureByDefault", s.testCookieSecure},
		{"SignedCookie", s.testSignedCookie},
		{"StaleCookie", s.testStaleCookie},
		{"Fields", s.testFields},
		{"ReservedFields", s.testReservedFields},
		{"ConcurrentWrites", s.testConcurrentWrites},
		{"CSRF", s.testCSRF},
		{"Elevate", s.testElevate},
		{"ElevatedAbsoluteTimeout", s.testElevatedAbsolute},
		{"ElevationKeepsSessionDeadline", s.testElevationCapped},
		{"DefaultTimeouts", s.testDefaultTimeouts},
		{"IdleTimeout", s.testIdleTimeout},
		{"AbsoluteTimeout", s.testAbsoluteTimeout},
		{"Sessions", s.testSessions},
		{"Revoke", s.testRevoke},
		{"Logout", s.testLogout},
		{"LogoutOthers", s.testLogoutOthers},
		{"LogoutAll", s.testLogoutAll},
		{"Page", s.testPage},
		{"Health", s.testHealth},
		{"RedisOutage", s.testRedisOutage},
		{"NoBackgroundTraffic", s.testNoBackgroundTraffic},
		{"ClientCache", s.testClientCache},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t)
		})
	}
	t.Run("Startup", func(t *testing.T) {
		t.Parallel()
		Startup(t, st)
	})
}
