package conformance

import (
	"context"
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

// testRedisOutage: with Redis down, /healthz answers 503 and every request that needs a session 503,
// without touching the cookie (a blip logs nobody out); a visitor's reads still work; once Redis is
// back (with its data), the session is there again.
func (s *suite) testRedisOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{RDB: true})
	h := startOn(t, s.starter, srv, nil)
	c := h.client("conformance outage")
	c.login("alice")
	token := c.session().CSRF

	srv.Stop(t)
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

	srv.Restart(t)
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
// the client-side cache.
func (s *suite) testNoBackgroundTraffic(t *testing.T) {
	for _, cache := range []string{"false", "true"} {
		t.Run("SESSION_CLIENT_CACHE="+cache, func(t *testing.T) {
			t.Parallel()
			s.noBackgroundTraffic(t, map[string]string{"SESSION_CLIENT_CACHE": cache})
		})
	}
}

func (s *suite) noBackgroundTraffic(t *testing.T, env map[string]string) {
	srv := redistest.Start(t, redistest.Options{})
	h := startOn(t, s.starter, srv, env)
	c := h.client("conformance idle app")
	c.login("alice")
	c.incr("n")
	c.get("/healthz")

	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	processed := func() int64 {
		info, err := h.rdb.Info(ctx, "stats").Result()
		if err != nil {
			t.Fatalf("INFO stats: %v", err)
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("total_commands_processed %q: %v", v, err)
				}
				return n
			}
		}
		t.Fatal("INFO stats has no total_commands_processed")
		return 0
	}
	a := processed()
	b := processed()
	own := b - a // what one INFO of ours adds
	time.Sleep(3 * time.Second)
	if extra := processed() - b - own; extra != 0 {
		t.Errorf("the idle app sent Redis %d commands in 3s; want none", extra)
	}
}
