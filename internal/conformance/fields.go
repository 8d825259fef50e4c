package conformance

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// incr posts /api/incr and returns the value it answers.
func (c *client) incr(key string) int64 {
	t := c.h.t
	t.Helper()
	r := c.post("/api/incr", form("key", key))
	want(t, r, http.StatusOK)
	var v struct {
		Value int64 `json:"value"`
	}
	decodeExact(t, r, &v, "value")
	return v.Value
}

// testFields: set, incr and delete change exactly one field each, in the session and in Redis.
func (s *suite) testFields(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance fields")
	id := c.login("alice")
	key := h.sessionKey(id)

	wantJSON(t, c.post("/api/set", form("key", "greeting", "value", "hello")), http.StatusOK, nil)
	if v := c.session(); string(v.Fields["greeting"]) != `"hello"` {
		t.Errorf("fields %s; want greeting \"hello\"", v.Fields)
	}
	if got := h.hash(key)["greeting"]; !strings.Contains(got, "hello") {
		t.Errorf("Redis holds greeting = %q; want the value", got)
	}
	for want := int64(1); want <= 3; want++ {
		if got := c.incr("visits"); got != want {
			t.Errorf("incr visits = %d; want %d", got, want)
		}
	}
	if v := c.session(); string(v.Fields["visits"]) != "3" {
		t.Errorf("fields %s; want visits 3", v.Fields)
	}
	wantJSON(t, c.post("/api/incr", form("key", "greeting")), http.StatusBadRequest, nil)

	wantJSON(t, c.post("/api/delete", form("key", "greeting")), http.StatusOK, nil)
	wantJSON(t, c.post("/api/delete", form("key", "never-set")), http.StatusOK, nil)
	v := c.session()
	if _, ok := v.Fields["greeting"]; ok || string(v.Fields["visits"]) != "3" {
		t.Errorf("after delete: fields %s; want visits only", v.Fields)
	}
	if _, ok := h.hash(key)["greeting"]; ok {
		t.Error("the deleted field is still in Redis")
	}
	if c.cookie() != id {
		t.Error("field writes changed the session ID")
	}

	// A visitor's first write creates an anonymous session; increments work there too.
	anon := h.client("conformance anonymous")
	if r := anon.postToken("/api/incr", form("key", "n"), ""); r.Status != http.StatusOK || sessionSetCookie(r.Header) == nil {
		t.Errorf("%v: want 200 and a new session cookie", r)
	}
	if got := anon.incr("n"); got != 2 {
		t.Errorf("anonymous incr = %d; want 2", got)
	}
}

// testReservedFields: names in the reserved metadata namespace, and empty names, answer 400 and
// change nothing.
func (s *suite) testReservedFields(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance reserved")
	c.login("alice")
	before := c.session()
	for _, name := range []string{"_uid", "_abs", "_exp", "_csrf", "_level", "_", ""} {
		for _, route := range []string{"/api/set", "/api/incr", "/api/delete"} {
			r := c.postToken(route, form("key", name, "value", "bob"), before.CSRF)
			wantJSON(t, r, http.StatusBadRequest, nil)
		}
	}
	after := c.session()
	if after.User != "alice" || after.Level != "user" || after.CSRF != before.CSRF || len(after.Fields) != 0 {
		t.Errorf("after reserved writes: %+v; want the session unchanged", after)
	}
}

// testConcurrentWrites: increments from many tabs at once all count, and writes of different fields
// never overwrite each other.
func (s *suite) testConcurrentWrites(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance tabs")
	c.login("alice")
	token := c.session().CSRF
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			r, err := c.try(http.MethodPost, "/api/incr", form("key", "hits"), map[string]string{"X-CSRF-Token": token})
			if err == nil && r.Status != http.StatusOK {
				err = fmt.Errorf("%v", r)
			}
			errs <- err
		})
		wg.Go(func() {
			k := fmt.Sprintf("tab%d", i)
			r, err := c.try(http.MethodPost, "/api/set", form("key", k, "value", k), map[string]string{"X-CSRF-Token": token})
			if err == nil && r.Status != http.StatusOK {
				err = fmt.Errorf("%v", r)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	v := c.session()
	if got := string(v.Fields["hits"]); got != fmt.Sprint(n) {
		t.Errorf("hits = %s after %d concurrent increments", got, n)
	}
	for i := range n {
		k := fmt.Sprintf("tab%d", i)
		if got := string(v.Fields[k]); got != `"`+k+`"` {
			t.Errorf("%s = %s; want %q (a concurrent write lost it)", k, got, k)
		}
	}
}
