package conformance

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
)

// failoverTimeout bounds how long the app may take to follow a Sentinel failover.
const failoverTimeout = 90 * time.Second

// Topologies runs the app on a Redis Cluster (REDIS_CLUSTER=true, the seeds as addr= parameters) and
// behind Sentinel (REDIS_SENTINEL_MASTER, the sentinels as addr= parameters), each with and without
// the client-side cache where that is allowed, and checks that sessions work there as on one server,
// across slots, and that the app follows a Sentinel failover without losing a replicated session.
// It starts its own cluster and sentinels, so it needs redis-server and redis-cli.
func Topologies(t *testing.T, st Starter) {
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		c := redistest.StartCluster(t, 3, 0)
		app := st.Start(t, map[string]string{
			"ADDR": "127.0.0.1:0", "COOKIE_SECURE": "false",
			"REDIS_URL": seedURL(c.Addrs()), "REDIS_CLUSTER": "true",
		})
		flows(t, app)
	})
	for _, cache := range []string{"false", "true"} {
		t.Run("Sentinel/SESSION_CLIENT_CACHE="+cache, func(t *testing.T) {
			t.Parallel()
			sn := redistest.StartSentinel(t, redistest.Options{})
			app := st.Start(t, map[string]string{
				"ADDR": "127.0.0.1:0", "COOKIE_SECURE": "false",
				"REDIS_URL": seedURL(sn.SentinelAddrs()), "REDIS_SENTINEL_MASTER": sn.MasterName,
				"SESSION_CLIENT_CACHE": cache,
			})
			c := flows(t, app)
			failover(t, sn, c)
		})
	}
}

// seedURL names the first address in the URL's host and the others as addr= parameters.
func seedURL(addrs []string) string {
	q := url.Values{}
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	return "redis://" + addrs[0] + "/?" + q.Encode()
}

// flows runs the core flows against app (two devices, fields, the device list, revoke, logout-all)
// and returns a client left signed in as alice with field k.
func flows(t *testing.T, app *Instance) *client {
	t.Helper()
	h := &harness{t: t, app: app, cookies: map[string]bool{}}
	one, two, users := h.client("conformance topology one"), h.client("conformance topology two"), []*client{}
	one.login("alice")
	two.login("alice")
	// Several users spread their indexes over the slots.
	for _, u := range []string{"bob", "carol", "dave", "erin"} {
		c := h.client("conformance topology " + u)
		c.login(u)
		users = append(users, c)
	}
	wantJSON(t, one.post("/api/set", form("key", "k", "value", "v")), http.StatusOK, nil)
	if n := one.incr("n"); n != 1 {
		t.Errorf("incr = %d; want 1", n)
	}
	if ds := one.devices(); len(ds) != 2 {
		t.Fatalf("devices %+v; want 2", ds)
	}
	wantJSON(t, one.post("/api/sessions/revoke", form("handle", handleOf(two.cookie()))), http.StatusOK, nil)
	if two.session().Authenticated {
		t.Error("the revoked device is still signed in")
	}
	for _, c := range users {
		if n, r := c.destroyed("/api/logout-all"); n != 1 {
			t.Errorf("%v; want destroyed 1", r)
		}
	}
	if v := one.session(); !v.Authenticated || string(v.Fields["k"]) != `"v"` {
		t.Errorf("after the flows: %+v; want alice with k", v)
	}
	wantJSON(t, one.get("/healthz"), http.StatusOK, nil)
	return one
}

// failover makes sure c's session reached the replica, kills the master, and waits until the app
// serves the session from the promoted replica.
func failover(t *testing.T, sn *redistest.Sentinel, c *client) {
	master := sn.Master(t)
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	if n, err := master.Client(t).Wait(ctx, 1, 5*time.Second).Result(); err != nil || n < 1 {
		t.Fatalf("WAIT for the replica: %d, %v", n, err)
	}
	master.Kill(t)
	deadline := time.Now().Add(failoverTimeout)
	for sn.Master(t) == master {
		if time.Now().After(deadline) {
			t.Fatalf("the sentinels did not promote the replica within %v", failoverTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The app may need a moment to drop its connections to the dead master.
	for {
		r, err := c.try(http.MethodGet, "/api/session", nil, nil)
		if err == nil && r.Status == http.StatusOK && strings.Contains(string(r.Body), `"authenticated":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app did not follow the failover within %v (last: %v %v)", failoverTimeout, r, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	wantJSON(t, c.post("/api/set", form("key", "after", "value", "failover")), http.StatusOK, nil)
	if v := c.session(); string(v.Fields["after"]) != `"failover"` || string(v.Fields["k"]) != `"v"` {
		t.Errorf("after the failover: fields %s; want k and after", v.Fields)
	}
}
