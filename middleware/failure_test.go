package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// When Redis is down, a request that needs its session gets 503 (or 500 for a failed write), never
// an empty session, and its cookie is left alone; requests that never touch the session, and
// visitors without one, are served. Once Redis is back, the same cookie is the same session: a Redis
// blip logs nobody out.
func TestRedisDownGives503AndLeavesTheCookieAlone(t *testing.T) {
	e := newEnv(t, config{redis: redistest.Options{RDB: true}}) // RDB: the data survives the restart
	srv := e.serve(app())
	b := newBrowser(t, srv)
	mustOK(t, "login", b.post("/login"+q("user", "alice")))
	mustOK(t, "set", b.post("/set"+q("key", "cart", "value", "teapot")))
	id := b.cookie()

	e.srv.Stop(t)

	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/get?key=cart", http.StatusServiceUnavailable},
		{"GET", "/whoami", http.StatusServiceUnavailable},
		{"GET", "/fields", http.StatusServiceUnavailable},
		{"POST", "/login?user=mallory", http.StatusServiceUnavailable},
		{"POST", "/logout", http.StatusServiceUnavailable},
		{"POST", "/incr?key=n", http.StatusServiceUnavailable},
		{"POST", "/set?key=cart&value=lost", http.StatusServiceUnavailable}, // a write-only commit that cannot reach Redis
		{"GET", "/nothing", http.StatusOK},
	}
	for _, tt := range tests {
		r := b.do(tt.method, tt.path, nil, nil)
		if r.status != tt.status {
			t.Errorf("Redis down: %s %s: %d %q, want %d", tt.method, tt.path, r.status, r.body, tt.status)
		}
		if c := r.setCookie(); c != nil {
			t.Errorf("Redis down: %s %s touched the cookie: %q", tt.method, tt.path, r.header.Get("Set-Cookie"))
		}
		if strings.Contains(r.body, "teapot") || strings.Contains(r.body, "alice") || strings.Contains(r.body, "127.0.0.1") {
			t.Errorf("Redis down: %s %s leaked %q", tt.method, tt.path, r.body)
		}
		if b.cookie() != id {
			t.Fatalf("Redis down: %s %s changed the browser's cookie", tt.method, tt.path)
		}
	}
	if r := newBrowser(t, srv).get("/get?key=cart"); r.status != http.StatusOK || r.setCookie() != nil {
		t.Errorf("Redis down: a visitor without a session got %d, Set-Cookie %v", r.status, r.setCookie())
	}

	e.srv.Restart(t)
	// go-redis' pool redials in the background after failed dials: give it a few seconds.
	var who *response
	eventually(15*time.Second, func() bool { who = b.get("/whoami"); return who.status == http.StatusOK })
	if who.status != http.StatusOK || who.body != "alice/" {
		t.Errorf("after Redis came back: %d %q, want alice", who.status, who.body)
	}
	if got := mustOK(t, "cart after the restart", b.get("/get"+q("key", "cart"))).body; got != "teapot" {
		t.Errorf("cart after Redis came back: %q", got)
	}
}

// The ErrorHandler option receives the failure, wrapping ErrUnavailable for a failed load.
func TestCustomErrorHandlerGetsTheFailure(t *testing.T) {
	got := make(chan error, 1)
	e := newEnv(t, config{mw: middleware.Options{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got <- err
		w.WriteHeader(http.StatusTeapot)
	}}, redis: redistest.Options{}})
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "set", b.post("/set"+q("key", "a", "value", "1")))
	e.srv.Stop(t)
	if r := b.get("/get?key=a"); r.status != http.StatusTeapot {
		t.Errorf("status %d, want the custom handler's 418", r.status)
	}
	if err := <-got; !errors.Is(err, middleware.ErrUnavailable) || middleware.ErrorStatus(err) != http.StatusServiceUnavailable {
		t.Errorf("ErrorHandler got %v, want ErrUnavailable", err)
	}
}

// Values over the store's limits are refused with 413 — from Set at once, or from the commit through
// the error handler — and nothing is written.
func TestTooLargeMapsTo413(t *testing.T) {
	e := newEnv(t, config{store: store.Options{MaxValueBytes: 64, MaxFields: 2}, redis: redistest.Options{AllowFake: true}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /many", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		for i := range 3 {
			if err := s.Set(fmt.Sprint("f", i), i); err != nil {
				panic(err)
			}
		}
		fmt.Fprint(w, "the commit is refused before this is written")
	})
	b := newBrowser(t, e.serve(mux))
	mustOK(t, "small", b.post("/set"+q("key", "small", "value", "ok")))
	id := b.cookie()

	r := b.post("/set" + q("key", "big", "value", strings.Repeat("x", 100)))
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a value over MaxValueBytes: %d, want 413", r.status)
	}
	r = b.post("/many")
	if r.status != http.StatusRequestEntityTooLarge || strings.Contains(r.body, "refused before") {
		t.Errorf("a commit over MaxFields: %d %q, want the error handler's 413", r.status, r.body)
	}
	if got := e.mustLoad(id).Fields; len(got) != 1 {
		t.Errorf("refused writes were stored: %v", got)
	}
	if err := fmt.Errorf("wrapped: %w", store.ErrTooLarge); middleware.ErrorStatus(err) != http.StatusRequestEntityTooLarge {
		t.Errorf("ErrorStatus(%v) = %d", err, middleware.ErrorStatus(err))
	}
}

// ErrorStatus maps every error the session machinery returns to its HTTP status.
// redisError is an error reply from Redis, as go-redis reports one.
type redisError string

func (e redisError) Error() string { return string(e) }
func (redisError) RedisError()     {}

func TestErrorStatus(t *testing.T) {
	for err, want := range map[error]int{
		store.ErrTooLarge:              http.StatusRequestEntityTooLarge,
		store.ErrReservedField:         http.StatusBadRequest,
		store.ErrInvalidChanges:        http.StatusBadRequest,
		store.ErrNotInteger:            http.StatusBadRequest,
		middleware.ErrCSRF:             http.StatusForbidden,
		middleware.ErrNotAuthenticated: http.StatusUnauthorized,
		store.ErrNotFound:              http.StatusNotFound,
		middleware.ErrUnavailable:      http.StatusServiceUnavailable,
		middleware.ErrCommit:           http.StatusInternalServerError,
		middleware.ErrHeadersSent:      http.StatusInternalServerError,
		errors.New("anything else"):    http.StatusInternalServerError,
		// A commit that failed because Redis was out of reach, or between masters, may succeed on a
		// retry: 503, like a failed load. Redis refusing the write itself stays a 500.
		fmt.Errorf("%w: %w", middleware.ErrCommit, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}):                   http.StatusServiceUnavailable,
		fmt.Errorf("%w: %w", middleware.ErrCommit, io.EOF):                                                                http.StatusServiceUnavailable,
		fmt.Errorf("%w: %w", middleware.ErrCommit, context.DeadlineExceeded):                                              http.StatusServiceUnavailable,
		fmt.Errorf("%w: %w", middleware.ErrCommit, redisError("READONLY You can't write against a read only replica.")):   http.StatusServiceUnavailable,
		fmt.Errorf("%w: %w", middleware.ErrCommit, redisError("LOADING Redis is loading the dataset in memory")):          http.StatusServiceUnavailable,
		fmt.Errorf("%w: %w", middleware.ErrCommit, redisError("CLUSTERDOWN The cluster is down")):                         http.StatusServiceUnavailable,
		fmt.Errorf("%w: %w", middleware.ErrCommit, redisError("OOM command not allowed when used memory > 'maxmemory'.")): http.StatusInternalServerError,
	} {
		if got := middleware.ErrorStatus(fmt.Errorf("context: %w", err)); got != want {
			t.Errorf("ErrorStatus(%v) = %d, want %d", err, got, want)
		}
	}
}

// middleware.New refuses every cookie configuration that cookie.New refuses (browsers would drop or
// mishandle the cookie), and timeouts that make no sense.
func TestNewRefusesBadOptions(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AllowFake: true})
	st, err := store.New(context.Background(), srv.Client(t), store.Options{SkipChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	short := []byte("too short")
	cookieTests := []struct {
		name string
		opts cookie.Options
	}{
		{"__Host- without Secure", cookie.Options{Name: "__Host-s", Insecure: true}},
		{"__Host- with a Domain", cookie.Options{Name: "__Host-s", Domain: "example.com"}},
		{"__Host- with a Path other than /", cookie.Options{Name: "__Host-s", Path: "/app"}},
		{"__Secure- without Secure", cookie.Options{Name: "__Secure-s", Insecure: true}},
		{"SameSite=None without Secure", cookie.Options{SameSite: http.SameSiteNoneMode, Insecure: true}},
		{"Partitioned without Secure", cookie.Options{Partitioned: true, Insecure: true}},
		{"unknown SameSite", cookie.Options{SameSite: 99}},
		{"name that is not a token", cookie.Options{Name: "my session"}},
		{"relative path", cookie.Options{Path: "app"}},
		{"path with a semicolon", cookie.Options{Path: "/a;b"}},
		{"IP address as Domain", cookie.Options{Domain: "192.168.0.1"}},
		{"malformed Domain", cookie.Options{Domain: "a..com"}},
		{"short hash key", cookie.Options{HashKeys: [][]byte{short}}},
	}
	for _, tt := range cookieTests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := middleware.New(st, middleware.Options{Cookie: tt.opts})
			if m != nil || !errors.Is(err, cookie.ErrInvalidOptions) {
				t.Errorf("New = %v, %v; want nil and an error wrapping cookie.ErrInvalidOptions", m, err)
			}
			if err != nil && strings.Contains(err.Error(), string(short)) {
				t.Errorf("the error %q shows the key", err)
			}
		})
	}
	otherTests := []struct {
		name string
		opts middleware.Options
	}{
		{"negative idle timeout", middleware.Options{IdleTimeout: -time.Second}},
		{"negative absolute timeout", middleware.Options{AbsoluteTimeout: -time.Second}},
		{"level without an idle timeout", middleware.Options{Levels: map[string]middleware.Timeouts{"elevated": {Absolute: time.Minute}}}},
		{"level without an absolute timeout", middleware.Options{Levels: map[string]middleware.Timeouts{"elevated": {Idle: time.Minute}}}},
		{"level without a name", middleware.Options{Levels: map[string]middleware.Timeouts{"": {Idle: time.Minute, Absolute: time.Hour}}}},
	}
	for _, tt := range otherTests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := middleware.New(st, tt.opts); m != nil || err == nil {
				t.Errorf("New = %v, %v; want an error", m, err)
			}
		})
	}
	if m, err := middleware.New(nil, middleware.Options{}); m != nil || err == nil {
		t.Errorf("New(nil store) = %v, %v; want an error", m, err)
	}
	if _, err := middleware.New(st, middleware.Options{Cookie: cookie.Options{Name: "__Host-session"}}); err != nil {
		t.Errorf("a correct __Host- cookie was refused: %v", err)
	}
}
