package conformance

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/store"
)

// redisTimeout bounds one inspection of Redis.
const redisTimeout = 10 * time.Second

// suite is what the subtests of one Run share: the way to start the app and one Redis, a single
// server or a cluster.
type suite struct {
	starter Starter
	redis   target
	env     map[string]string // variables every app of the suite gets, before a test's own
}

// topology returns the kind of Redis the suite runs on; subtests that need a Redis of their own
// start one of the same kind.
func (s *suite) topology() topology { return s.redis.topology() }

// harness is one app on its own key prefix of a Redis the test can inspect.
type harness struct {
	t   *testing.T
	app *Instance
	// rdb inspects the app's Redis: a *redis.Client for one server, a *redis.ClusterClient for a
	// cluster, which routes every single-key command to the master of its slot.
	rdb    redis.UniversalClient
	prefix string

	mu      sync.Mutex
	cookies map[string]bool // every session cookie value a response carried
}

// start starts an app on the suite's Redis with its own SESSION_PREFIX, plain-http cookies and a free
// port; env adds or overrides variables. At the end of the test it checks the key invariants.
func (s *suite) start(t *testing.T, env map[string]string) *harness {
	t.Helper()
	all := maps.Clone(s.env)
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, env)
	return startOn(t, s.starter, s.redis, all)
}

// startOn is start on a Redis of the test's choosing, without the suite's variables.
func startOn(t *testing.T, st Starter, tg target, env map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, rdb: tg.client(t), prefix: randomPrefix(t), cookies: map[string]bool{}}
	full := tg.withEnv(map[string]string{
		"ADDR":           "127.0.0.1:0",
		"COOKIE_SECURE":  "false",
		"SESSION_PREFIX": h.prefix,
	})
	maps.Copy(full, env)
	h.app = st.Start(t, full)
	t.Cleanup(h.checkInvariants)
	return h
}

// randomPrefix returns a fresh key prefix such as "ct3f9a2c1d:".
func randomPrefix(t testing.TB) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "ct" + hex.EncodeToString(b[:]) + ":"
}

// ctx returns a context for one Redis inspection.
func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	h.t.Cleanup(cancel)
	return ctx
}

// sessionKey is the Redis key of the session with the given (unsigned) ID: the prefix, "session:"
// and the hex SHA-256 of the ID, as DESIGN.md lays out.
func (h *harness) sessionKey(id string) string { return h.prefix + "session:" + handleOf(id) }

// userKey is the Redis key of a user's session index.
func (h *harness) userKey(uid string) string { return h.prefix + "user:" + uid + ":sessions" }

// handleOf is a session's handle: the hex SHA-256 of its ID.
func handleOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// keys returns every key under the harness' prefix that matches pattern (e.g. "session:*"), sorted:
// SCAN walks the one server or every master of a cluster, each of which holds only its own slots.
func (h *harness) keys(pattern string) []string {
	h.t.Helper()
	var mu sync.Mutex
	var out []string
	err := eachMaster(h.ctx(), h.rdb, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, h.prefix+pattern, 100).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	})
	if err != nil {
		h.t.Fatalf("SCAN %s%s: %v", h.prefix, pattern, err)
	}
	slices.Sort(out)
	return out
}

// exists reports whether key exists.
func (h *harness) exists(key string) bool {
	h.t.Helper()
	n, err := h.rdb.Exists(h.ctx(), key).Result()
	if err != nil {
		h.t.Fatalf("EXISTS: %v", err)
	}
	return n == 1
}

// pttl returns key's remaining TTL, or go-redis' -1 (no TTL) or -2 (no key) nanoseconds.
func (h *harness) pttl(key string) time.Duration {
	h.t.Helper()
	d, err := h.rdb.PTTL(h.ctx(), key).Result()
	if err != nil {
		h.t.Fatalf("PTTL: %v", err)
	}
	return d
}

// oldKeyDead reports whether the session key of an ID that a rotation (a login or an elevation)
// replaced is dead: gone, or kept a moment marked rotated (its _rot field set) with at most
// store.RotationGrace left to live, during which the old ID reads as no session and every write with
// it answers 409.
func (h *harness) oldKeyDead(id string) bool {
	h.t.Helper()
	key := h.sessionKey(id)
	m := h.hash(key)
	if len(m) == 0 {
		return true
	}
	if _, ok := m["_rot"]; !ok {
		return false
	}
	d := h.pttl(key)
	return d != -1 && d <= store.RotationGrace // -2ns: expired since the HGETALL
}

// liveSessions returns, sorted, the handles of user uid's sessions that Redis holds live: session
// keys under the prefix whose _uid is uid, neither marked rotated (_rot) nor tombstones (_dead).
func (h *harness) liveSessions(uid string) []string {
	h.t.Helper()
	var out []string
	for _, key := range h.keys("session:*") {
		v, err := h.rdb.HMGet(h.ctx(), key, "_uid", "_rot", "_dead").Result()
		if err != nil {
			h.t.Fatalf("HMGET %s: %v", key, err)
		}
		if v[0] == uid && v[1] == nil && v[2] == nil {
			out = append(out, strings.TrimPrefix(key, h.prefix+"session:"))
		}
	}
	return out
}

// hash returns the fields of the hash at key.
func (h *harness) hash(key string) map[string]string {
	h.t.Helper()
	m, err := h.rdb.HGetAll(h.ctx(), key).Result()
	if err != nil {
		h.t.Fatalf("HGETALL: %v", err)
	}
	return m
}

// members returns the members of the sorted set at key.
func (h *harness) members(key string) []string {
	h.t.Helper()
	m, err := h.rdb.ZRange(h.ctx(), key, 0, -1).Result()
	if err != nil {
		h.t.Fatalf("ZRANGE: %v", err)
	}
	return m
}

// sawCookie records a session cookie value a response carried.
func (h *harness) sawCookie(v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cookies[v] = true
}

// checkInvariants checks every key under the prefix: it has a TTL, and neither its name nor its
// contents hold a session cookie value (the raw ID when cookies are unsigned) that a response carried.
func (h *harness) checkInvariants() {
	t := h.t
	if t.Failed() {
		return
	}
	h.mu.Lock()
	cookies := make([]string, 0, len(h.cookies))
	for c := range h.cookies {
		cookies = append(cookies, c)
	}
	h.mu.Unlock()
	for _, key := range h.keys("*") {
		if d := h.pttl(key); d == -1 { // go-redis passes Redis' -1, "no TTL", through as -1ns
			t.Errorf("key %s has no TTL", key)
		}
		text := key + "\n" + h.contents(key)
		for _, c := range cookies {
			if strings.Contains(text, c) {
				t.Errorf("key %s holds a session cookie value (a raw session ID) in its name or contents", key)
			}
		}
	}
}

// contents returns everything stored at key as text.
func (h *harness) contents(key string) string {
	ctx := h.ctx()
	typ, err := h.rdb.Type(ctx, key).Result()
	if err != nil {
		h.t.Errorf("TYPE %s: %v", key, err)
		return ""
	}
	var parts []string
	switch typ {
	case "none":
	case "hash":
		for k, v := range h.hash(key) {
			parts = append(parts, k, v)
		}
	case "zset":
		parts = h.members(key)
	case "string":
		v, _ := h.rdb.Get(ctx, key).Result()
		parts = []string{v}
	default:
		h.t.Errorf("key %s has the unexpected type %s", key, typ)
	}
	return strings.Join(parts, "\n")
}
