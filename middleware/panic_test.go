package middleware_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
)

// A panicking handler's pending changes (Set, Delete) are never committed, and no cookie goes out.
// Only what had to reach Redis at once to return a result is there: an Increment's or an Update's own
// field — and nothing else that was pending when it ran.
func TestPanickingHandlerKeepsOnlyWhatItsIncrementOrUpdateCommitted(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	must := func(err error) {
		if err != nil {
			panic(fmt.Sprint("unexpected: ", err))
		}
	}
	steps := map[string]func(s *middleware.Session){
		"set":    func(s *middleware.Session) { must(s.Set("a", "pending")) },
		"delete": func(s *middleware.Session) { must(s.Delete("before")) },
		"incr": func(s *middleware.Session) {
			_, err := s.Increment("n", 1)
			must(err)
		},
		"set-n": func(s *middleware.Session) { must(s.Set("n", 5)) },
		"update": func(s *middleware.Session) {
			_, err := middleware.Update(s, "u", func(cur string, _ bool) (string, error) { return cur + "x", nil })
			must(err)
		},
	}
	inner := http.NewServeMux()
	inner.Handle("/", app())
	inner.HandleFunc("POST /steps", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		for name := range strings.SplitSeq(r.FormValue("do"), ",") {
			steps[name](s)
		}
		panic("boom")
	})
	recovered := make(chan any, 1)
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				recovered <- v
				http.Error(w, "recovered", http.StatusInternalServerError)
			}
		}()
		e.m.Handler(inner).ServeHTTP(w, r)
	}))

	tests := []struct {
		do   string
		want map[string]string // the application fields in Redis afterwards
	}{
		{"set", map[string]string{"before": `"1"`}},
		{"set,delete", map[string]string{"before": `"1"`}},
		{"set,incr", map[string]string{"before": `"1"`, "n": "1"}},
		{"set,delete,incr", map[string]string{"before": `"1"`, "n": "1"}},
		{"set,update", map[string]string{"before": `"1"`, "u": `"x"`}},
		{"incr,set", map[string]string{"before": `"1"`, "n": "1"}},
		// A Set of the counter itself is folded into the increment: the two are one change of n.
		{"set,set-n,incr", map[string]string{"before": `"1"`, "n": "6"}},
	}
	for _, tt := range tests {
		t.Run(tt.do, func(t *testing.T) {
			b := newBrowser(t, srv)
			mustOK(t, "session", b.post("/set"+q("key", "before", "value", "1")))
			id := b.cookie()
			r := b.post("/steps" + q("do", tt.do))
			if v := <-recovered; v != "boom" {
				t.Fatalf("recovered %v, want boom", v)
			}
			if r.status != http.StatusInternalServerError {
				t.Errorf("status %d, want the recoverer's 500", r.status)
			}
			if c := r.setCookie(); c != nil || b.cookie() != id {
				t.Errorf("the panicking request touched the cookie: %v", c)
			}
			got := e.mustLoad(id).Fields
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("fields after the panic %v, want %v", got, tt.want)
			}
		})
	}

	// A visitor's Increment has to create the session to count: it holds the counter alone, and
	// its cookie never reaches the client, so it idles out unused.
	t.Run("visitor: set,incr", func(t *testing.T) {
		before := e.sessionKeys()
		b := newBrowser(t, srv)
		r := b.post("/steps" + q("do", "set,incr"))
		<-recovered
		if c := r.setCookie(); c != nil {
			t.Errorf("a cookie went out: %v", c)
		}
		var added []string
		for _, k := range e.sessionKeys() {
			if !slices.Contains(before, k) {
				added = append(added, k)
			}
		}
		if len(added) != 1 {
			t.Fatalf("sessions added %q, want the one the increment created", added)
		}
		v, err := e.admin.HMGet(ctxT(t), added[0], "a", "n").Result()
		if err != nil {
			t.Fatal(err)
		}
		if v[0] != nil || v[1] != "1" {
			t.Errorf("the new session holds a = %v, n = %v; want no a, n = 1", v[0], v[1])
		}
	})
}

// sessionKeys lists the session keys in Redis.
func (e *env) sessionKeys() []string {
	e.tb.Helper()
	var keys []string
	iter := e.admin.Scan(ctxT(e.tb), 0, "session:*", 100).Iterator()
	for iter.Next(ctxT(e.tb)) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		e.tb.Fatalf("SCAN: %v", err)
	}
	return keys
}
