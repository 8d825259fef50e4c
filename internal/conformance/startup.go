package conformance

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
)

// refusal is one configuration an app must refuse at start.
type refusal struct {
	name string
	env  map[string]string
	// want is what the message must name: the variable, the policy or the address.
	want string
	// secret must not appear in the message.
	secret string
}

// Startup checks the start-up contract against the app st starts: every invalid variable is refused
// with a message naming it (and never repeating a secret), a Redis whose maxmemory-policy is
// allkeys-* is refused naming the policy, an unreachable Redis naming its address; valid but unusual
// settings start, and with REDIS_URL empty the app runs on an embedded Redis and says so.
func Startup(t *testing.T, st Starter) { startup(t, st, single.start(t, redistest.Options{})) }

// startup is Startup with every app pointed at base, and the Redis of the policy cases of base's
// topology: on a cluster the app must find a risky policy on any master.
func startup(t *testing.T, st Starter, base target) {
	tp := base.topology()
	baseEnv := base.withEnv(map[string]string{"ADDR": "127.0.0.1:0", "COOKIE_SECURE": "false"})
	var short [16]byte
	_, _ = rand.Read(short[:])
	shortKey := base64.StdEncoding.EncodeToString(short[:])
	refusals := []refusal{
		{name: "ADDR", env: map[string]string{"ADDR": "no-port"}, want: "ADDR"},
		{name: "ADDR port", env: map[string]string{"ADDR": "127.0.0.1:99999"}, want: "ADDR"},
		{name: "REDIS_URL scheme", env: map[string]string{"REDIS_URL": "http://127.0.0.1:6379"}, want: "REDIS_URL"},
		{name: "REDIS_URL port", env: map[string]string{"REDIS_URL": "redis://app:hunter2secret@127.0.0.1:port"}, want: "REDIS_URL", secret: "hunter2secret"},
		{name: "REDIS_URL option", env: map[string]string{"REDIS_URL": withQuery(t, base.env()["REDIS_URL"], "no_such_option", "1")}, want: "REDIS_URL"},
		{name: "REDIS_CLUSTER", env: map[string]string{"REDIS_CLUSTER": "maybe"}, want: "REDIS_CLUSTER"},
		{name: "REDIS_CLUSTER without REDIS_URL", env: map[string]string{"REDIS_URL": "", "REDIS_CLUSTER": "true"}, want: "REDIS_CLUSTER"},
		{name: "REDIS_SENTINEL_MASTER without REDIS_URL", env: map[string]string{"REDIS_URL": "", "REDIS_CLUSTER": "", "REDIS_SENTINEL_MASTER": "mymaster"}, want: "REDIS_SENTINEL_MASTER"},
		{name: "SESSION_CLIENT_CACHE", env: map[string]string{"SESSION_CLIENT_CACHE": "sometimes"}, want: "SESSION_CLIENT_CACHE"},
		{name: "SESSION_CLIENT_CACHE on Cluster", env: map[string]string{"SESSION_CLIENT_CACHE": "true", "REDIS_CLUSTER": "true"}, want: "SESSION_CLIENT_CACHE"},
		{name: "SESSION_PREFIX", env: map[string]string{"SESSION_PREFIX": "app{1}:"}, want: "SESSION_PREFIX"},
		{name: "SESSION_IDLE_TIMEOUT", env: map[string]string{"SESSION_IDLE_TIMEOUT": "30"}, want: "SESSION_IDLE_TIMEOUT"},
		{name: "SESSION_IDLE_TIMEOUT negative", env: map[string]string{"SESSION_IDLE_TIMEOUT": "-5m"}, want: "SESSION_IDLE_TIMEOUT"},
		{name: "SESSION_ABSOLUTE_TIMEOUT", env: map[string]string{"SESSION_ABSOLUTE_TIMEOUT": "soon"}, want: "SESSION_ABSOLUTE_TIMEOUT"},
		{name: "SESSION_ELEVATED_IDLE_TIMEOUT", env: map[string]string{"SESSION_ELEVATED_IDLE_TIMEOUT": "0s"}, want: "SESSION_ELEVATED_IDLE_TIMEOUT"},
		{name: "SESSION_ELEVATED_ABSOLUTE_TIMEOUT", env: map[string]string{"SESSION_ELEVATED_ABSOLUTE_TIMEOUT": "15 minutes"}, want: "SESSION_ELEVATED_ABSOLUTE_TIMEOUT"},
		{name: "SESSION_ELEVATED_ON_EXPIRY", env: map[string]string{"SESSION_ELEVATED_ON_EXPIRY": "sudo"}, want: "SESSION_ELEVATED_ON_EXPIRY"},
		{name: "COOKIE_SECURE", env: map[string]string{"COOKIE_SECURE": "perhaps"}, want: "COOKIE_SECURE"},
		{name: "SESSION_HASH_KEY not base64", env: map[string]string{"SESSION_HASH_KEY": "not*base64*at*all"}, want: "SESSION_HASH_KEY", secret: "not*base64*at*all"},
		{name: "SESSION_HASH_KEY short", env: map[string]string{"SESSION_HASH_KEY": shortKey}, want: "SESSION_HASH_KEY", secret: shortKey},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := maps.Clone(baseEnv)
			maps.Copy(env, tc.env)
			checkRefusal(t, st, env, tc.want, tc.secret)
		})
	}
	t.Run("ADDR in use", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		env := maps.Clone(baseEnv)
		env["ADDR"] = ln.Addr().String()
		checkRefusal(t, st, env, "ADDR", "")
	})
	t.Run("allkeys policy", func(t *testing.T) {
		t.Parallel()
		evicting := withPolicy(t, tp, "allkeys-lru")
		env := maps.Clone(baseEnv)
		maps.Copy(env, evicting.env())
		checkRefusal(t, st, env, "allkeys-lru", "")
	})
	t.Run("unreachable Redis", func(t *testing.T) {
		t.Parallel()
		addr := closedAddr(t)
		env := maps.Clone(baseEnv)
		env["REDIS_URL"] = "redis://" + addr + "/0"
		if tp == cluster {
			env["REDIS_URL"] = "redis://" + addr // a cluster has no databases to select
		}
		checkRefusal(t, st, env, addr, "")
	})
	t.Run("volatile policy starts", func(t *testing.T) {
		t.Parallel()
		h := startOn(t, st, withPolicy(t, tp, "volatile-lru"), nil)
		if !strings.Contains(h.app.Output(), "volatile-lru") {
			t.Errorf("no warning naming the volatile-lru policy in the log:\n%s", h.app.Output())
		}
		h.client("conformance volatile").login("alice")
	})
	t.Run("embedded Redis", func(t *testing.T) {
		t.Parallel()
		embedded(t, st, nil)
	})
	t.Run("embedded Redis ignores SESSION_CLIENT_CACHE", func(t *testing.T) {
		t.Parallel()
		embedded(t, st, map[string]string{"SESSION_CLIENT_CACHE": "true"})
	})
}

// withPolicy starts a Redis of topology tp whose maxmemory is 64mb with the given maxmemory-policy:
// one server configured so from the start, or a cluster of 3 masters where only one master, not the
// first seed, has it (set with CONFIG SET), so that the app must look at every master to find it.
// The cluster has no replicas: the policy that matters is the masters', and replicas would only make
// it slower to start.
func withPolicy(t *testing.T, tp topology, policy string) target {
	t.Helper()
	if tp == single {
		return single.start(t, redistest.Options{MaxMemory: "64mb", MaxMemoryPolicy: policy})
	}
	tg := target{cluster: redistest.StartCluster(t, clusterMasters, 0)}
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	m := tg.oneMaster(t)
	for _, kv := range [][2]string{{"maxmemory", "64mb"}, {"maxmemory-policy", policy}} {
		if err := m.Client(t).ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatalf("CONFIG SET %s %s on %s: %v", kv[0], kv[1], m.Addr(), err)
		}
	}
	return tg
}

// checkRefusal starts the app with env and checks that it refuses, naming want and not secret.
func checkRefusal(t *testing.T, st Starter, env map[string]string, want, secret string) {
	t.Helper()
	out := st.Refuse(t, env)
	if !strings.Contains(out, want) {
		t.Errorf("the refusal does not name %q:\n%s", want, out)
	}
	if secret != "" && strings.Contains(out, secret) {
		t.Errorf("the refusal repeats a secret:\n%s", out)
	}
}

// closedAddr returns a loopback address where nothing listens, for as long as the test runs: a
// socket bound to it and never listening holds the port, so that no server started meanwhile (other
// tests start redis-servers on free ports all the time) can take it, and a connection to it is
// refused at once.
func closedAddr(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

// embedded starts the app with REDIS_URL empty (and env) and checks that it says so and works.
func embedded(t *testing.T, st Starter, env map[string]string) {
	full := map[string]string{"ADDR": "127.0.0.1:0", "COOKIE_SECURE": "false"}
	maps.Copy(full, env)
	app := st.Start(t, full)
	if !strings.Contains(strings.ToLower(app.Output()), "embedded") {
		t.Errorf("the log does not announce the embedded Redis:\n%s", app.Output())
	}
	// No Redis to inspect: a harness without one.
	h := &harness{t: t, app: app, cookies: map[string]bool{}}
	c := h.client("conformance embedded")
	c.login("alice")
	wantJSON(t, c.post("/api/set", form("key", "k", "value", "v")), http.StatusOK, nil)
	if v := c.session(); !v.Authenticated || string(v.Fields["k"]) != `"v"` {
		t.Errorf("on the embedded Redis: %+v; want alice with field k", v)
	}
	wantJSON(t, c.get("/healthz"), http.StatusOK, nil)
	if ds := c.devices(); len(ds) != 1 || !ds[0].Current {
		t.Errorf("devices on the embedded Redis: %+v", ds)
	}
	wantJSON(t, c.post("/api/logout", nil), http.StatusOK, nil)
	if c.session().Authenticated {
		t.Error("still signed in after logout on the embedded Redis")
	}
}
