package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
)

// benchSession returns a handler wrapped by a Manager on a fresh redis-server and a request carrying
// the cookie of a live session with a few fields.
func benchSession(b *testing.B, h http.HandlerFunc, method, target string) (http.Handler, *http.Request) {
	b.Helper()
	return benchSessionWith(b, config{redis: redistest.Options{}}, h, method, target)
}

// benchSessionWith is benchSession on an environment configured by cfg.
func benchSessionWith(b *testing.B, cfg config, h http.HandlerFunc, method, target string) (http.Handler, *http.Request) {
	b.Helper()
	e := newEnv(b, cfg)
	handler := e.m.Handler(h)
	setup := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		_ = s.Set("user", "alice")
		_ = s.Set("theme", "dark")
		_ = s.Set("cart", []string{"teapot", "cups"})
	}))
	rec := httptest.NewRecorder()
	setup.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("setup: cookies %v", cookies)
	}
	req := httptest.NewRequest(method, target, nil)
	req.AddCookie(cookies[0])
	// Warm up: the connection pool and the scripts.
	for range 3 {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("warm-up: %d %s", w.Code, w.Body)
		}
	}
	return handler, req
}

// readTheme reads one field of the session: one HGETALL.
func readTheme(w http.ResponseWriter, r *http.Request) {
	_, _ = w.Write([]byte(middleware.Get(r).GetString("theme")))
}

// writeTheme writes one field of the session without reading it: one script call.
func writeTheme(w http.ResponseWriter, r *http.Request) {
	_ = middleware.Get(r).Set("theme", "light")
	w.WriteHeader(http.StatusOK)
}

// serveLoop serves req with h b.N times, reporting allocations; want is the status each answer must
// have, 0 for any.
func serveLoop(b *testing.B, h http.Handler, req *http.Request, want int) {
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if want != 0 && w.Code != want {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// A request that reads one field of an existing session: one HGETALL.
func BenchmarkReadOnlyRequest(b *testing.B) {
	h, req := benchSession(b, readTheme, http.MethodGet, "/")
	serveLoop(b, h, req, http.StatusOK)
}

// A request that writes one field of an existing session without reading it: one script call.
func BenchmarkOneFieldWrite(b *testing.B) {
	h, req := benchSession(b, writeTheme, http.MethodPost, "/")
	serveLoop(b, h, req, http.StatusOK)
}

// A request that never touches its session: the middleware's own overhead.
func BenchmarkUntouchedRequest(b *testing.B) {
	h, req := benchSession(b, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}, http.MethodGet, "/")
	serveLoop(b, h, req, 0)
}
