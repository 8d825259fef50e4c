package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
)

// testHealth: /healthz answers {"ok":true} and touches no session.
func (s *suite) testHealth(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance health")
	r := c.get("/healthz")
	var v struct {
		OK bool `json:"ok"`
	}
	want(t, r, http.StatusOK)
	decodeExact(t, r, &v, "ok")
	if !v.OK {
		t.Errorf("%v; want {\"ok\":true}", r)
	}
	noSetCookie(t, r)
}

// testRedisOutage: with Redis down (the server, or every node of a cluster), /healthz answers 503 and
// every request that needs a session 503, without touching the cookie (a blip logs nobody out); a
// visitor's reads still work; once Redis is back (with its data), the session is there again.
func (s *suite) testRedisOutage(t *testing.T) {
	tg := s.topology().start(t, redistest.Options{RDB: true})
	h := startOn(t, s.starter, tg, nil)
	c := h.client("conformance outage")
	c.login("alice")
	token := c.session().CSRF

	tg.stop(t)
	if r := c.get("/healthz"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("%v; want 503 with Redis down", r)
	}
	for _, r := range []*response{
		c.get("/api/session"),
		c.get("/api/sessions"),
		c.postToken("/api/set", form("key", "k", "value", "v"), token),
		c.postToken("/api/logout", nil, token),
	} {
		if r.Status != http.StatusServiceUnavailable || !isJSON(r) {
			t.Errorf("%v (Content-Type %q); want a JSON 503 with Redis down", r, r.Header.Get("Content-Type"))
		}
		noSetCookie(t, r)
	}
	if r := c.get("/"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("%v; want 503 with Redis down", r)
	}
	visitor := h.client("conformance outage visitor")
	if r := visitor.get("/api/session"); r.Status != http.StatusOK {
		t.Errorf("a visitor's read needs no Redis: %v; want 200", r)
	}

	tg.restart(t)
	deadline := time.Now().Add(30 * time.Second)
	for c.get("/healthz").Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/healthz did not recover after Redis came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v := c.session(); !v.Authenticated || v.CSRF != token {
		t.Errorf("after the outage: %+v; want the same session back", v)
	}
}

// testNoBackgroundTraffic: an idle app sends Redis nothing: no pings, no polling, with or without
// the client-side cache (which a cluster refuses: see testClientCache).
func (s *suite) testNoBackgroundTraffic(t *testing.T) {
	for _, cache := range []string{"false", "true"} {
		t.Run("SESSION_CLIENT_CACHE="+cache, func(t *testing.T) {
			t.Parallel()
			if cache == "true" && s.topology() == cluster {
				t.Skip("SESSION_CLIENT_CACHE=true is refused on a Redis Cluster by design (go-redis has no client-side cache there); the ClientCache subtest checks the refusal")
			}
			s.noBackgroundTraffic(t, map[string]string{"SESSION_CLIENT_CACHE": cache})
		})
	}
}

// noBackgroundTraffic counts the commands Redis processes while the app started with env idles: on a
// Redis of its own, so that no other test's traffic counts; on a cluster, summed over the masters,
// the only nodes the app sends commands to (it does not read from replicas). The REPLCONF ACK a
// replica sends its master every second is replication, not the app: it is left out.
func (s *suite) noBackgroundTraffic(t *testing.T, env map[string]string) {
	tg := s.topology().start(t, redistest.Options{})
	h := startOn(t, s.starter, tg, env)
	c := h.client("conformance idle app")
	c.login("alice")
	c.incr("n")
	c.get("/healthz")

	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	// The masters, found once: ForEachMaster would send CLUSTER SLOTS to some node every time.
	masters, err := masterClients(ctx, h.rdb)
	if err != nil {
		t.Fatalf("listing the masters: %v", err)
	}
	processed := func() int64 {
		var total int64
		for _, m := range masters {
			info, err := m.Info(ctx, "stats", "commandstats").Result()
			if err != nil {
				t.Fatalf("INFO stats commandstats on %s: %v", m.Options().Addr, err)
			}
			n, err := commandsProcessed(info)
			if err != nil {
				t.Fatalf("INFO of %s: %v", m.Options().Addr, err)
			}
			total += n
		}
		return total
	}
	a := processed()
	b := processed()
	own := b - a // what one INFO of ours adds
	time.Sleep(3 * time.Second)
	if extra := processed() - b - own; extra != 0 {
		t.Errorf("the idle app sent Redis %d commands in 3s; want none", extra)
	}
}

// commandsProcessed reads, from one server's INFO stats and commandstats, total_commands_processed
// less the REPLCONF commands (replication acknowledgements from its replicas).
func commandsProcessed(info string) (int64, error) {
	var total, replconf int64
	found := false
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("total_commands_processed %q: %w", v, err)
			}
			total, found = n, true
		}
		if v, ok := strings.CutPrefix(line, "cmdstat_replconf:calls="); ok {
			v, _, _ = strings.Cut(v, ",")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cmdstat_replconf calls %q: %w", v, err)
			}
			replconf = n
		}
	}
	if !found {
		return 0, errors.New("no total_commands_processed in INFO stats")
	}
	return total - replconf, nil
}
