package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// config is what a test varies about its environment. Zero values are the library's defaults, except
// that cookies are always Insecure (httptest servers speak plain http).
type config struct {
	mw    middleware.Options
	store store.Options
	redis redistest.Options
}

// env is one Manager on a redis-server the test started itself.
type env struct {
	tb    testing.TB
	srv   *redistest.Server
	rdb   *redis.Client // the store's client; every round trip it makes is counted in trips
	admin *redis.Client // a separate client for inspecting Redis, never counted
	store *store.Store
	m     *middleware.Manager
	logs  *syncBuffer // everything the Manager and the store logged, at debug level and up
	trips *atomic.Int64
}

// newEnv starts a redis-server (or the in-process fake where cfg.redis allows it), a store and a
// Manager on it. Logs of both go to e.logs.
func newEnv(tb testing.TB, cfg config) *env {
	tb.Helper()
	srv := redistest.Start(tb, cfg.redis)
	e := &env{tb: tb, srv: srv, rdb: srv.Client(tb), admin: srv.Client(tb), logs: &syncBuffer{}, trips: &atomic.Int64{}}
	e.rdb.AddHook(countingHook{e.trips})
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	so := cfg.store
	so.SkipChecks = true
	if so.Logger == nil {
		so.Logger = logger
	}
	st, err := store.New(context.Background(), e.rdb, so)
	if err != nil {
		tb.Fatalf("store.New: %v", err)
	}
	e.store = st
	mo := cfg.mw
	mo.Cookie.Insecure = true
	if mo.Logger == nil {
		mo.Logger = logger
	}
	if e.m, err = middleware.New(st, mo); err != nil {
		tb.Fatalf("middleware.New: %v", err)
	}
	return e
}

// serve starts an httptest server running h behind the Manager's Handler.
func (e *env) serve(h http.Handler) *httptest.Server {
	return startServer(e.tb, e.m.Handler(h))
}

// startServer starts an httptest server running h as it is, closed when the test ends.
func startServer(tb testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv
}

// serveFunc is serve for a handler function.
func (e *env) serveFunc(f http.HandlerFunc) *httptest.Server { return e.serve(f) }

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// sessionKey is where the session with the given ID lives in Redis (no prefix in these tests).
func sessionKey(id string) string { return "session:" + store.Handle(id) }

// exists reports whether the session key of id exists in Redis, whatever its contents.
// usable reports whether id names a session a request could still use: it exists and was not
// rotated away (a rotated key lives on for store.RotationGrace, refusing everything).
func (e *env) usable(id string) bool {
	e.tb.Helper()
	if !e.exists(id) {
		return false
	}
	_, err := e.store.Load(ctxT(e.tb), id)
	if errors.Is(err, store.ErrRotated) || errors.Is(err, store.ErrNotFound) {
		ttl := e.admin.PTTL(ctxT(e.tb), sessionKey(id)).Val()
		if ttl > store.RotationGrace {
			e.tb.Errorf("a rotated-away key lives %v, more than the grace period", ttl)
		}
		return false
	}
	return true
}

func (e *env) exists(id string) bool {
	e.tb.Helper()
	n, err := e.admin.Exists(ctxT(e.tb), sessionKey(id)).Result()
	if err != nil {
		e.tb.Fatalf("EXISTS: %v", err)
	}
	return n == 1
}

// load returns the live session with the given ID, or nil when there is none.
func (e *env) load(id string) *store.Record {
	e.tb.Helper()
	r, err := e.store.Load(ctxT(e.tb), id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidID) {
		return nil
	}
	if err != nil {
		e.tb.Fatalf("Load: %v", err)
	}
	return r
}

// mustLoad is load for a session that must exist.
func (e *env) mustLoad(id string) *store.Record {
	e.tb.Helper()
	r := e.load(id)
	if r == nil {
		e.tb.Fatalf("session %s… does not exist", id[:min(6, len(id))])
	}
	return r
}

// field returns the raw stored value of an application field of the session id, "" when absent.
func (e *env) field(id, name string) string {
	e.tb.Helper()
	r := e.load(id)
	if r == nil {
		return ""
	}
	return r.Fields[name]
}

// dbSize is the number of keys in Redis.
func (e *env) dbSize() int64 {
	e.tb.Helper()
	n, err := e.admin.DBSize(ctxT(e.tb)).Result()
	if err != nil {
		e.tb.Fatalf("DBSIZE: %v", err)
	}
	return n
}

// commandsExecuted is the number of commands the server has executed, from INFO commandstats,
// including those run inside scripts and excluding INFO itself (the admin client's own probe).
func (e *env) commandsExecuted() int64 {
	e.tb.Helper()
	info, err := e.admin.Info(ctxT(e.tb), "commandstats").Result()
	if err != nil {
		e.tb.Fatalf("INFO commandstats: %v", err)
	}
	var total int64
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok || strings.HasPrefix(rest, "info:") {
			continue
		}
		_, stats, _ := strings.Cut(rest, ":")
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		n, err := strconv.ParseInt(calls, 10, 64)
		if err != nil {
			e.tb.Fatalf("bad commandstats line %q", line)
		}
		total += n
	}
	return total
}

// calls is redistest.CommandCalls on the server: how often it has executed cmd.
func (e *env) calls(cmd string) int64 {
	e.tb.Helper()
	return redistest.CommandCalls(e.tb, e.admin, cmd)
}

// countingHook counts the round trips a go-redis client makes (a pipeline counts once).
type countingHook struct{ n *atomic.Int64 }

func (countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// browser is an HTTP client with a real cookie jar, like one browser profile. Its methods may be
// called from several goroutines (tabs); failures are reported with Errorf, never Fatal.
type browser struct {
	tb     testing.TB
	base   *url.URL
	jar    http.CookieJar
	client *http.Client
	agent  string
}

// newBrowser returns a browser with an empty cookie jar for srv.
func newBrowser(tb testing.TB, srv *httptest.Server) *browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	base, err := url.Parse(srv.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return &browser{tb: tb, base: base, jar: jar, client: &http.Client{
		Jar:       jar,
		Transport: srv.Client().Transport,
		Timeout:   30 * time.Second,
	}}
}

// response is what a browser received.
type response struct {
	status int
	body   string
	header http.Header
}

// setCookie returns the session cookie the response set, or nil.
func (r *response) setCookie() *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "session" {
			return c
		}
	}
	return nil
}

// do sends a request; form, when non-nil, is sent as an urlencoded body.
func (b *browser) do(method, path string, form url.Values, header http.Header) *response {
	b.tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base.String()+path, body)
	if err != nil {
		b.tb.Errorf("%s %s: %v", method, path, err)
		return &response{status: -1, header: http.Header{}}
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.agent != "" {
		req.Header.Set("User-Agent", b.agent)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.tb.Errorf("%s %s: %v", method, path, err)
		return &response{status: -1, header: http.Header{}}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.tb.Errorf("%s %s: reading the body: %v", method, path, err)
	}
	return &response{status: resp.StatusCode, body: string(data), header: resp.Header}
}

func (b *browser) get(path string) *response {
	b.tb.Helper()
	return b.do(http.MethodGet, path, nil, nil)
}

func (b *browser) post(path string) *response {
	b.tb.Helper()
	return b.do(http.MethodPost, path, nil, nil)
}

// cookie returns the session cookie's value in the jar, "" when there is none.
func (b *browser) cookie() string {
	for _, c := range b.jar.Cookies(b.base) {
		if c.Name == "session" {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a session cookie with the given value into the jar (a stale, forged or stolen one).
func (b *browser) setCookie(value string) {
	b.jar.SetCookies(b.base, []*http.Cookie{{Name: "session", Value: value, Path: "/"}})
}

// mustOK fails the test unless r has status 200.
func mustOK(tb testing.TB, what string, r *response) *response {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("%s: status %d, body %q", what, r.status, r.body)
	}
	return r
}

// app is the demo application most tests drive: one route per Session method, parameters in the
// query or form, answers in plain text. Errors are answered with middleware.ErrorStatus.
func app() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), middleware.ErrorStatus(err)) }
	mux.HandleFunc("GET /nothing", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello, whoever you are")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, middleware.Get(r).GetString(r.FormValue("key")))
	})
	mux.HandleFunc("GET /fields", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		for _, k := range s.Keys() {
			fmt.Fprintf(w, "%s=%s\n", k, s.GetString(k))
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).Set(r.FormValue("key"), r.FormValue("value")); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /delete", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).Delete(r.FormValue("key")); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		n, err := middleware.Get(r).Increment(r.FormValue("key"), 1)
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("POST /pop", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, middleware.Get(r).PopString(r.FormValue("key")))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).Login(r.FormValue("user")); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /elevate", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).SetLevel(middleware.LevelElevated); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		fmt.Fprintf(w, "%s/%s", s.UserID(), s.Level())
	})
	mux.HandleFunc("GET /csrf", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, middleware.Get(r).CSRFToken())
	})
	mux.HandleFunc("GET /handle", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, middleware.Get(r).Handle())
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).Logout(); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "bye")
	})
	mux.HandleFunc("POST /logout-all", func(w http.ResponseWriter, r *http.Request) {
		n, err := middleware.Get(r).LogoutAll()
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("POST /logout-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := middleware.Get(r).LogoutOthers()
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		list, err := middleware.Get(r).Sessions()
		if err != nil {
			fail(w, err)
			return
		}
		for _, d := range list {
			fmt.Fprintf(w, "%s %s %t\n", d.Handle, d.UserAgent, d.Current)
		}
	})
	mux.HandleFunc("POST /revoke", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).Revoke(r.FormValue("handle")); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	return mux
}

// q builds a query string: q("key", "a", "value", "1") is "?key=a&value=1".
func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

// sortedLines splits a body into its non-empty lines, sorted.
func sortedLines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// eventually polls cond until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signingKey is a 32-byte cookie signing key for tests.
var signingKey = []byte("0123456789abcdef0123456789abcdef")

// otherKey signs cookies the tests' Managers must reject.
var otherKey = []byte("fedcba9876543210fedcba9876543210")

// sign returns value signed as a session cookie with key.
func sign(tb testing.TB, key []byte, id string) string {
	tb.Helper()
	c, err := cookie.New(cookie.Options{Insecure: true, HashKeys: [][]byte{key}})
	if err != nil {
		tb.Fatal(err)
	}
	v, err := c.Encode(id)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
