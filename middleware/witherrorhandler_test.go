package middleware_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// TestWithErrorHandler checks that a handler from WithErrorHandler answers a request's failures in
// place of Options.ErrorHandler, on the writer beneath the session's, and that a nil one does not.
func TestWithErrorHandler(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st, err := store.New(context.Background(), srv.Client(t), store.Options{SkipChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := middleware.New(st, middleware.Options{
		Cookie: cookie.Options{Insecure: true},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "options")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		gotErr error
		gotReq *http.Request
	)
	override := func(w http.ResponseWriter, r *http.Request, err error) {
		mu.Lock()
		gotErr, gotReq = err, r
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "override")
	}
	app := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		if r.URL.Path == "/set" {
			_ = s.Set("k", "v")
		} else {
			_ = s.GetString("k")
		}
		_, _ = io.WriteString(w, "handler")
	}))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("override") {
		case "func":
			r = r.WithContext(middleware.WithErrorHandler(r.Context(), override))
		case "nil":
			r = r.WithContext(middleware.WithErrorHandler(r.Context(), nil))
		}
		app.ServeHTTP(w, r)
	})
	ts := httptest.NewServer(h)
	defer ts.Close()

	get := func(path string, c *http.Cookie) (int, string, *http.Response) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if c != nil {
			req.AddCookie(c)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp
	}
	_, _, resp := get("/set?override=func", nil)
	if len(resp.Cookies()) != 1 {
		t.Fatalf("no session cookie: %v", resp.Header)
	}
	sc := resp.Cookies()[0]
	mu.Lock()
	if gotErr != nil {
		t.Fatalf("the override ran for a request without failure: %v", gotErr)
	}
	mu.Unlock()

	srv.Stop(t)
	if code, body, _ := get("/read?override=func", sc); code != http.StatusTeapot || body != "override" {
		t.Errorf("with an override: %d %q, want 418 %q", code, body, "override")
	}
	mu.Lock()
	if !errors.Is(gotErr, middleware.ErrUnavailable) {
		t.Errorf("the override got %v, want ErrUnavailable", gotErr)
	}
	if gotReq == nil || middleware.Get(gotReq) == nil {
		t.Error("the override did not get the request with its session")
	}
	mu.Unlock()
	for _, path := range []string{"/read", "/read?override=nil"} {
		if code, body, _ := get(path, sc); code != http.StatusBadGateway || body != "options" {
			t.Errorf("%s: %d %q, want Options.ErrorHandler's 502 %q", path, code, body, "options")
		}
	}
}
