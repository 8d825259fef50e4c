package middleware_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
)

// Whatever way a handler ends its response, the fields it set before are committed and the new
// session's cookie is in the response headers.
func TestCommitBeforeHeadersWhateverTheHandlerWrites(t *testing.T) {
	tests := []struct {
		name   string
		status int
		write  func(w http.ResponseWriter, r *http.Request)
	}{
		{"writes the body first", http.StatusOK, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "body without WriteHeader")
		}},
		{"writes a status then the body", http.StatusCreated, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, "created")
		}},
		{"redirects", http.StatusSeeOther, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/next", http.StatusSeeOther)
		}},
		{"answers with http.Error", http.StatusTeapot, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "short and stout", http.StatusTeapot)
		}},
		{"flushes", http.StatusOK, func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "after the flush")
		}},
		{"flushes through http.ResponseController", http.StatusOK, func(w http.ResponseWriter, r *http.Request) {
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}},
		{"copies with io.Copy (ReadFrom)", http.StatusOK, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(w, io.LimitReader(strings.NewReader("copied body"), 100))
		}},
		{"returns without writing", http.StatusOK, func(w http.ResponseWriter, r *http.Request) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
			srv := e.serveFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := middleware.Get(r).Set("greeting", "hi"); err != nil {
					panic(err)
				}
				tt.write(w, r)
			})
			b := newBrowser(t, srv)
			b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			r := b.post("/")
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (body %q)", r.status, tt.status, r.body)
			}
			c := r.setCookie()
			if c == nil {
				t.Fatalf("no session cookie in the response headers %v", r.header)
			}
			if got := e.field(c.Value, "greeting"); got != `"hi"` {
				t.Errorf("stored greeting = %q, want %q", got, `"hi"`)
			}
		})
	}
}

// A redirect after a write (the post/redirect/get pattern) carries the new cookie, and the page the
// browser lands on sees the write.
func TestRedirectAfterWriteCarriesTheCookieToTheNextPage(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
		_ = middleware.Get(r).Set("cart", r.FormValue("item"))
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /cart", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "cart: ", middleware.Get(r).GetString("cart"))
	})
	b := newBrowser(t, e.serve(mux))
	r := b.post("/cart" + q("item", "teapot"))
	if r.status != http.StatusOK || r.body != "cart: teapot" {
		t.Fatalf("after the redirect: %d %q, want 200 %q", r.status, r.body, "cart: teapot")
	}
	if b.cookie() == "" {
		t.Fatal("the browser holds no session cookie")
	}
}

// A streaming handler's fields are in Redis, and its cookie in the headers, as soon as it flushes,
// while it is still streaming.
func TestStreamingCommitsAtTheFirstFlush(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	release := make(chan struct{})
	srv := e.serveFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = middleware.Get(r).Set("stream", "started")
		fmt.Fprintln(w, "first chunk")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(30 * time.Second):
		}
		fmt.Fprintln(w, "second chunk")
	})
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var id string
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			id = c.Value
		}
	}
	if id == "" {
		close(release)
		t.Fatalf("no session cookie in the streamed response's headers %v", resp.Header)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first chunk\n" {
		t.Errorf("first line %q, %v", line, err)
	}
	if got := e.field(id, "stream"); got != `"started"` {
		t.Errorf("while the handler still streams, stored stream = %q", got)
	}
	close(release)
}

// http.ResponseController reaches the real connection through Unwrap: deadlines can be set, and Flush
// commits first.
func TestResponseControllerWorksThroughTheWrapper(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	errs := make(chan error, 3)
	srv := e.serveFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		errs <- rc.SetReadDeadline(time.Now().Add(time.Minute))
		errs <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
		_ = middleware.Get(r).Set("rc", "yes")
		errs <- rc.Flush()
		fmt.Fprint(w, "done")
	})
	b := newBrowser(t, srv)
	r := mustOK(t, "request", b.get("/"))
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("ResponseController: %v (ErrNotSupported: %t)", err, errors.Is(err, http.ErrNotSupported))
		}
	}
	if r.setCookie() == nil || e.field(b.cookie(), "rc") != `"yes"` {
		t.Errorf("Set-Cookie %v, stored rc %q", r.setCookie(), e.field(b.cookie(), "rc"))
	}
}

// The wrapper keeps the optional interfaces of the writer it wraps.
func TestWrapperKeepsOptionalInterfaces(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	type report struct{ flusher, hijacker, readerFrom, unwrap bool }
	got := make(chan report, 1)
	srv := e.serveFunc(func(w http.ResponseWriter, r *http.Request) {
		_, f := w.(http.Flusher)
		_, h := w.(http.Hijacker)
		_, rf := w.(io.ReaderFrom)
		_, u := w.(interface{ Unwrap() http.ResponseWriter })
		got <- report{f, h, rf, u}
	})
	mustOK(t, "request", newBrowser(t, srv).get("/"))
	if r := <-got; r != (report{true, true, true, true}) {
		t.Errorf("flusher, hijacker, readerFrom, unwrap = %+v, want all true", r)
	}
}

// A handler that panics commits nothing: no cookie, no stored field, no new session; and the panic
// reaches the handler outside the middleware.
func TestPanickingHandlerCommitsNothingAndThePanicPropagates(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	recovered := make(chan any, 1)
	inner := http.NewServeMux()
	inner.Handle("/", app())
	inner.HandleFunc("POST /panic", func(w http.ResponseWriter, r *http.Request) {
		_ = middleware.Get(r).Set("half", "done")
		panic("boom")
	})
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				recovered <- v
				http.Error(w, "recovered", http.StatusInternalServerError)
			}
		}()
		e.m.Handler(inner).ServeHTTP(w, r)
	}))

	// A visitor without a session: nothing is created.
	visitor := newBrowser(t, srv)
	r := visitor.post("/panic")
	if v := <-recovered; v != "boom" {
		t.Errorf("recovered %v, want boom", v)
	}
	if r.status != http.StatusInternalServerError || r.setCookie() != nil {
		t.Errorf("status %d, Set-Cookie %v; want 500 from the recoverer and no cookie", r.status, r.setCookie())
	}
	if n := e.dbSize(); n != 0 {
		t.Errorf("%d keys in Redis after a panicking request of a visitor", n)
	}

	// A user with a session: the field is not written, the cookie is kept.
	user := newBrowser(t, srv)
	mustOK(t, "set", user.post("/set"+q("key", "before", "value", "1")))
	id := user.cookie()
	r = user.post("/panic")
	<-recovered
	if r.setCookie() != nil || user.cookie() != id {
		t.Errorf("the panicking request touched the cookie: %v", r.setCookie())
	}
	if rec := e.mustLoad(id); rec.Fields["half"] != "" || rec.Fields["before"] != `"1"` {
		t.Errorf("fields after the panic: %v", rec.Fields)
	}
}

// Fields changed after the headers went out are still committed when the handler returns.
func TestFieldsChangedAfterTheHeadersAreCommittedAtReturn(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	problems := make(chan string, 10)
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /late", func(w http.ResponseWriter, r *http.Request) {
		defer close(problems)
		s := middleware.Get(r)
		_ = s.Set("early", "1")
		fmt.Fprint(w, "headers are out")
		w.(http.Flusher).Flush()
		_ = s.Set("late", "2")
		_ = s.Delete("doomed")
		if n, err := s.Increment("count", 5); err != nil || n != 5 {
			problems <- fmt.Sprintf("Increment after the headers: %d, %v; want 5", n, err)
		}
		for k, want := range map[string]string{"early": "1", "late": "2", "doomed": ""} {
			if got := s.GetString(k); got != want {
				problems <- fmt.Sprintf("after the headers, %s reads back as %q, want %q", k, got, want)
			}
		}
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "set", b.post("/set"+q("key", "doomed", "value", "x")))
	mustOK(t, "late", b.post("/late"))
	for p := range problems {
		t.Error(p)
	}
	rec := e.mustLoad(b.cookie())
	want := map[string]string{"early": `"1"`, "late": `"2"`, "count": "5"}
	for k, v := range want {
		if rec.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, rec.Fields[k], v)
		}
	}
	if _, ok := rec.Fields["doomed"]; ok {
		t.Error("a delete after the headers was not committed")
	}
	if strings.Contains(e.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", e.logs)
	}
}

// A rotation once the headers are out cannot reach the client: Login returns ErrHeadersSent, logs
// it, and leaves the session as it was.
func TestRotationAfterTheHeadersIsRefusedAndLogged(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	loginErr := make(chan error, 1)
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /late-login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "too early")
		loginErr <- middleware.Get(r).Login("alice")
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "set", b.post("/set"+q("key", "k", "value", "v")))
	id := b.cookie()
	r := mustOK(t, "late login", b.post("/late-login"))
	if err := <-loginErr; !errors.Is(err, middleware.ErrHeadersSent) {
		t.Errorf("Login after the headers: %v, want ErrHeadersSent", err)
	}
	if r.setCookie() != nil || b.cookie() != id {
		t.Error("the cookie changed")
	}
	if rec := e.mustLoad(id); rec.Meta.UserID != "" {
		t.Errorf("the session was rotated to user %q anyway", rec.Meta.UserID)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "rotation after the response headers") {
		t.Errorf("the refused rotation was not logged as an error:\n%s", logs)
	}
}

// A visitor's first write after the headers cannot create a session (its cookie could not be sent):
// nothing is stored and the error is logged.
func TestNewSessionAfterTheHeadersIsNotCreatedAndLogged(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{AllowFake: true}})
	srv := e.serveFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "headers are out")
		_ = middleware.Get(r).Set("orphan", "1")
	})
	r := mustOK(t, "request", newBrowser(t, srv).get("/"))
	if r.setCookie() != nil {
		t.Error("a cookie was set after the headers")
	}
	if n := e.dbSize(); n != 0 {
		t.Errorf("%d keys stored for a session whose cookie never reached the client", n)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, middleware.ErrHeadersSent.Error()) {
		t.Errorf("not logged:\n%s", logs)
	}
}
