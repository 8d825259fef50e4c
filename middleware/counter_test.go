package middleware_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
)

// A field deleted earlier in the request is absent, so an Increment of it counts from 0 whatever Redis
// still holds, and the delete is not lost.
func TestIncrementAfterADeleteInTheSameRequestCountsFromZero(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /reset-and-count", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		_ = s.Delete("n")
		n, err := s.Increment("n", 2)
		if err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		fmt.Fprint(w, n, " ", s.GetInt("n"))
	})
	b := newBrowser(t, e.serve(mux))
	for range 5 {
		mustOK(t, "incr", b.post("/incr"+q("key", "n")))
	}
	if got := mustOK(t, "reset", b.post("/reset-and-count")).body; got != "2 2" {
		t.Errorf("Increment after Delete returned and read back %q, want 2 2", got)
	}
	if got := e.field(b.cookie(), "n"); got != "2" {
		t.Errorf("stored n = %q, want 2", got)
	}
}

// Increment and Update commit their own field only: the request's other pending changes are
// committed once, before the headers, in the usual commit.
func TestIncrementAndUpdateCommitTheirFieldAlone(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	seen := make(chan string, 2)
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /mixed", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		_ = s.Set("a", "pending")
		_ = s.Delete("gone")
		if _, err := s.Increment("n", 1); err != nil {
			panic(err)
		}
		seen <- e.field(requestCookie(r), "a") + "|" + e.field(requestCookie(r), "gone")
		if _, err := middleware.Update(s, "u", func(cur int, _ bool) (int, error) { return cur + 1, nil }); err != nil {
			panic(err)
		}
		seen <- e.field(requestCookie(r), "a") + "|" + e.field(requestCookie(r), "gone")
		fmt.Fprint(w, s.GetString("a"))
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "session", b.post("/set"+q("key", "gone", "value", "x")))
	if got := mustOK(t, "mixed", b.post("/mixed")).body; got != "pending" {
		t.Errorf("a reads back %q during the request", got)
	}
	for _, after := range []string{"Increment", "Update"} {
		if got := <-seen; got != `|"x"` {
			t.Errorf("after %s, Redis holds a|gone = %s; want the Set and the Delete still pending", after, got)
		}
	}
	rec := e.mustLoad(b.cookie())
	if rec.Fields["a"] != `"pending"` || rec.Fields["n"] != "1" || rec.Fields["u"] != "1" || rec.Fields["gone"] != "" {
		t.Errorf("fields after the request %v", rec.Fields)
	}
}

// requestCookie returns the session ID the request's cookie carries (tests run without signing keys).
func requestCookie(r *http.Request) string {
	c, err := r.Cookie("session")
	if err != nil {
		return ""
	}
	return c.Value
}
