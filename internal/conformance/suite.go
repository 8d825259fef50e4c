package conformance

import (
	"testing"

	"github.com/redisession/redisession/internal/redistest"
)

// Run drives the whole contract against the app st starts, in parallel subtests: every route with
// its status codes and JSON shapes, the cookie, CSRF protection, rotation (one winner of concurrent
// rotations, a straggling tab's old ID refused, no logout undone by a rotation racing it), timeouts,
// the device list and revocation, the three logouts, the HTML page, Redis outages, the absence of
// background traffic, and the start-up refusals (see Startup). It starts its redis-servers with
// redistest, so it skips where none is installed, unless redistest.Required.
func Run(t *testing.T, st Starter) { runSuite(t, st, single, nil) }

// RunClientCache is Run with SESSION_CLIENT_CACHE=true for every app the suite starts: the whole
// contract holds when session reads may come from go-redis' client-side cache.
func RunClientCache(t *testing.T, st Starter) {
	runSuite(t, st, single, map[string]string{"SESSION_CLIENT_CACHE": "true"})
}

// RunCluster is Run against a real Redis Cluster of 3 masters with 1 replica each: every app the
// suite starts gets REDIS_CLUSTER=true and every node of the cluster in REDIS_URL, so it talks to
// Redis through go-redis' ClusterClient, and the suite inspects the keys there through a
// ClusterClient of its own, scanning every master. The keys of one test spread over all the slots:
// a session and its user's index usually sit on different masters.
//
// The subtests that need a Redis of their own start a cluster of their own: the outage stops and
// restarts every node of one, the absence of background traffic is counted over the masters of
// another, and each eviction-policy case sets its policy on one master of a cluster of 3 masters,
// where the app must find it. The client-side cache is refused on a cluster by design, so there the ClientCache subtest
// checks that the app refuses SESSION_CLIENT_CACHE=true with REDIS_CLUSTER=true, naming both
// variables, and the background-traffic variant with the cache skips, saying why.
//
// RunCluster needs redis-server and redis-cli: without them it skips, unless redistest.Required,
// where it fails.
func RunCluster(t *testing.T, st Starter) { runSuite(t, st, cluster, nil) }

func runSuite(t *testing.T, st Starter, tp topology, env map[string]string) {
	s := &suite{starter: st, redis: tp.start(t, redistest.Options{}), env: env}
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
		{"ElevatedLapseEndsSession", s.testElevatedLapseEndsSession},
		{"ElevationKeepsSessionDeadline", s.testElevationCapped},
		{"ConcurrentElevations", s.testConcurrentElevations},
		{"ConcurrentLogins", s.testConcurrentLogins},
		{"LogoutAllRacingElevations", s.testLogoutAllRacingElevations},
		{"StragglingTab", s.testStragglingTab},
		{"LogoutRacingRotation", s.testLogoutRacingRotation},
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
		if tp == single {
			Startup(t, st)
			return
		}
		// The refusals write nothing: they share the suite's cluster rather than start another.
		startup(t, st, s.redis)
	})
}
