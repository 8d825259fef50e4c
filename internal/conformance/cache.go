package conformance

import (
	"net/http"
	"strings"
	"testing"
)

// testClientCache: with SESSION_CLIENT_CACHE=true the app starts, and a read that follows a write,
// a revoke or a logout never sees what was there before, even when the earlier read was cached. On a
// cluster, where go-redis has no client-side cache, the app refuses the variable instead, naming it
// and REDIS_CLUSTER.
func (s *suite) testClientCache(t *testing.T) {
	if s.topology() == cluster {
		env := s.redis.withEnv(map[string]string{"ADDR": "127.0.0.1:0", "COOKIE_SECURE": "false", "SESSION_CLIENT_CACHE": "true"})
		out := s.starter.Refuse(t, env)
		for _, name := range []string{"SESSION_CLIENT_CACHE", "REDIS_CLUSTER"} {
			if !strings.Contains(out, name) {
				t.Errorf("the refusal of the client-side cache on a cluster does not name %s:\n%s", name, out)
			}
		}
		return
	}
	h := s.start(t, map[string]string{"SESSION_CLIENT_CACHE": "true"})
	one, two := h.client("conformance cached one"), h.client("conformance cached two")
	one.login("alice")
	two.login("alice")

	for _, v := range []string{"first", "second", "third"} {
		wantJSON(t, one.post("/api/set", form("key", "k", "value", v)), http.StatusOK, nil)
		if got := string(one.session().Fields["k"]); got != `"`+v+`"` {
			t.Errorf("read after writing %q: k = %s", v, got)
		}
	}
	two.session() // the first read fills the cache, the second is served from it
	if !two.session().Authenticated {
		t.Fatal("the second device is not signed in")
	}
	wantJSON(t, one.post("/api/sessions/revoke", form("handle", handleOf(two.cookie()))), http.StatusOK, nil)
	if two.session().Authenticated {
		t.Error("a revoked session still reads as signed in (a stale cached read)")
	}
	id := one.cookie()
	one.session()
	wantJSON(t, one.post("/api/logout", nil), http.StatusOK, nil)
	replay := h.client("conformance cached replay")
	replay.setCookie(id)
	if replay.session().Authenticated {
		t.Error("a logged-out session still reads as signed in (a stale cached read)")
	}
}
