package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

const (
	// requestTimeout is the app's per-request deadline: every request must end within it, plus
	// slack, whatever Redis does.
	requestTimeout = 2 * time.Second
	// redisTimeout is the go-redis dial, read, write and pool timeout of the apps under test.
	redisTimeout = 500 * time.Millisecond
	// slack is what a loaded two-core machine may add to requestTimeout: with other builds, fuzzers
	// and tests competing for both cores and the race detector on, answers that met no fault at all
	// were seen to take 2.2s, and one login more than 6s.
	slack = 4 * time.Second
	// clientTimeout bounds the wait of a user for an answer: a guard against a hang, far beyond
	// requestTimeout + slack. A slow answer is counted as slow (tally.slow), not lost to a timeout.
	clientTimeout = 30 * time.Second
	// cookieName is the session cookie of the test app (plain HTTP on loopback).
	cookieName = "session"
)

// long skips a scenario unless RELIABILITY is set to a true value, as `make reliability` does.
func long(t *testing.T) {
	t.Helper()
	if ok, _ := strconv.ParseBool(os.Getenv("RELIABILITY")); !ok {
		t.Skip("a long reliability scenario; run it with RELIABILITY=1 or make reliability")
	}
}

// redisOptions are the go-redis timeouts every app under test uses: bounded dials, reads, writes and
// pool waits, honouring request deadlines, and no retries that would stretch a request past them.
func redisOptions(addr string) *redis.Options {
	return &redis.Options{Addr: addr, DialTimeout: redisTimeout, ReadTimeout: redisTimeout,
		WriteTimeout: redisTimeout, PoolTimeout: redisTimeout, ContextTimeoutEnabled: true, MaxRetries: -1}
}

// clusterOptions are redisOptions for a cluster client. Redirections (MOVED, ASK) are followed, and
// one retry lets a command find a slot's new owner after a migration or failover.
func clusterOptions(addrs []string) *redis.ClusterOptions {
	return &redis.ClusterOptions{Addrs: addrs, DialTimeout: redisTimeout, ReadTimeout: redisTimeout,
		WriteTimeout: redisTimeout, PoolTimeout: redisTimeout, ContextTimeoutEnabled: true, MaxRetries: 1,
		MaxRedirects: 8}
}

// failoverOptions are redisOptions for a Sentinel client.
func failoverOptions(master string, sentinels []string) *redis.FailoverOptions {
	return &redis.FailoverOptions{MasterName: master, SentinelAddrs: sentinels, DialTimeout: redisTimeout,
		ReadTimeout: redisTimeout, WriteTimeout: redisTimeout, PoolTimeout: redisTimeout,
		ContextTimeoutEnabled: true, MaxRetries: -1}
}

// app is one instance of the test app: a store on rdb, the session middleware, a few routes, and an
// httptest server in front.
type app struct {
	srv     *httptest.Server
	store   *store.Store
	mu      sync.Mutex
	lastErr string // the last error the error handler or a route answered
}

// newApp starts an app on rdb with store options so (checks skipped unless so says otherwise). The
// server is closed when the test ends.
func newApp(t *testing.T, rdb redis.UniversalClient, so store.Options) *app {
	t.Helper()
	so.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.New(ctx, rdb, so)
	if err != nil {
		t.Fatalf("store.New: %v", err)
	}
	a := &app{store: st}
	m, err := middleware.New(st, middleware.Options{
		IdleTimeout:     so.IdleTimeout,
		AbsoluteTimeout: so.AbsoluteTimeout,
		Cookie:          cookie.Options{Insecure: true},
		Logger:          slog.New(slog.DiscardHandler),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			code := middleware.ErrorStatus(err)
			a.mu.Lock()
			a.lastErr = err.Error()
			a.mu.Unlock()
			w.Header().Set("X-Error-Handler", "1")
			w.Header().Set("X-Error", err.Error())
			http.Error(w, http.StatusText(code), code)
		},
	})
	if err != nil {
		t.Fatalf("middleware.New: %v", err)
	}
	a.srv = httptest.NewServer(withDeadline(m.Handler(a.routes())))
	t.Cleanup(a.srv.Close)
	return a
}

// withDeadline gives every request requestTimeout: the context the session middleware hands to
// Redis.
func withDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// me is what GET /me answers.
type me struct {
	User    string `json:"user"`
	N       int64  `json:"n"`
	Devices int    `json:"devices,omitempty"`
}

// fail answers an error a route met with the status the middleware maps it to, marked and counted
// like the error handler's answers, with the error's text in X-Error (as the error handler does); it
// remembers the last error text for reports.
func (a *app) fail(w http.ResponseWriter, err error) {
	code := middleware.ErrorStatus(err)
	a.mu.Lock()
	a.lastErr = err.Error()
	a.mu.Unlock()
	w.Header().Set("X-Error-Handler", "1")
	w.Header().Set("X-Error", err.Error())
	http.Error(w, http.StatusText(code), code)
}

// lastError returns the text of the last error a route met.
func (a *app) lastError() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastErr
}

// quietLogger drops go-redis' own log lines (failed dials during outages), which would drown the
// scenarios' figures.
type quietLogger struct{}

// Printf discards the line.
func (quietLogger) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietLogger{}) }

// routes are the test app's routes: login, me, incr, devices, logout, logout-all.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		if err := s.Err(); err != nil {
			a.fail(w, err)
			return
		}
		if err := s.Login(r.PostFormValue("user")); err != nil {
			a.fail(w, err)
			return
		}
		writeJSON(w, me{User: s.UserID()})
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		if err := s.Err(); err != nil {
			a.fail(w, err)
			return
		}
		writeJSON(w, me{User: s.UserID(), N: s.GetInt("n")})
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		if err := s.Err(); err != nil {
			a.fail(w, err)
			return
		}
		n, err := s.Increment("n", 1)
		if err != nil {
			a.fail(w, err)
			return
		}
		writeJSON(w, me{User: s.UserID(), N: n})
	})
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		ds, err := s.Sessions()
		if err != nil {
			a.fail(w, err)
			return
		}
		writeJSON(w, me{User: s.UserID(), N: s.GetInt("n"), Devices: len(ds)})
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := middleware.Get(r).Logout(); err != nil {
			a.fail(w, err)
			return
		}
		writeJSON(w, me{})
	})
	mux.HandleFunc("POST /logout-all", func(w http.ResponseWriter, r *http.Request) {
		n, err := middleware.Get(r).LogoutAll()
		if err != nil {
			a.fail(w, err)
			return
		}
		writeJSON(w, me{Devices: n})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// httpClient is shared by the scenarios' users: no cookie jar (users keep their cookie themselves,
// to see every Set-Cookie) and a bounded wait for answers.
var httpClient = &http.Client{
	Timeout:   clientTimeout,
	Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512},
}

// user is one browser: a user name and the session cookie it holds.
type user struct {
	name   string
	cookie string // the session cookie value, "" before login
	base   string // the app (or proxy) URL
	// retries counts the failed logins users retried for this browser: each may have created a
	// session (and an index member) that the browser never got the cookie of.
	retries int
}

// result is one response as a user saw it.
type result struct {
	status    int
	me        me
	took      time.Duration
	setCookie *http.Cookie // the session cookie the response set, if any
	byHandler bool         // the error handler (or fail) answered
	errText   string       // the error the handler answered (X-Error), "" for none
	err       error        // transport error: no response at all
}

// do sends one request as u and returns what came back; it updates nothing.
func (u *user) do(method, path string, form url.Values) result {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.base+path, body)
	if err != nil {
		return result{err: err}
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if u.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: u.cookie})
	}
	start := time.Now()
	resp, err := httpClient.Do(req)
	if err != nil {
		return result{err: err, took: time.Since(start)}
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, took: time.Since(start), byHandler: resp.Header.Get("X-Error-Handler") != "",
		errText: resp.Header.Get("X-Error")}
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			r.setCookie = c
		}
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &r.me); err != nil {
			r.err = fmt.Errorf("decoding %q: %w", b, err)
		}
	}
	return r
}

// login logs u in and keeps the new cookie.
func (u *user) login() error {
	r := u.do(http.MethodPost, "/login", url.Values{"user": {u.name}})
	if r.err != nil || r.status != http.StatusOK || r.setCookie == nil || r.me.User != u.name {
		return fmt.Errorf("login %s: status %d, cookie %v, err %v", u.name, r.status, r.setCookie != nil, r.err)
	}
	u.cookie = r.setCookie.Value
	return nil
}

// tally counts what a load saw. Every field is updated atomically.
type tally struct {
	ok, failed, byHandler, transport atomic.Int64
	// logouts are 200 answers that no longer knew the user: a session lost or logged out.
	logouts atomic.Int64
	// cookieChanges are responses that set or cleared the session cookie outside login and logout.
	cookieChanges atomic.Int64
	// slow are requests that took longer than requestTimeout + slack.
	slow    atomic.Int64
	maxTook atomic.Int64 // nanoseconds

	mu       sync.Mutex
	statuses map[int]int // failed requests by status
}

// record counts r for a request by u that expected u's session to be there.
func (tl *tally) record(u *user, r result) {
	if d := int64(r.took); d > tl.maxTook.Load() {
		tl.maxTook.Store(d) // racy maximum: good enough for a figure
	}
	if r.took > requestTimeout+slack {
		tl.slow.Add(1)
	}
	switch {
	case r.err != nil && r.status == 0:
		tl.transport.Add(1)
		return
	case r.status == http.StatusOK:
		tl.ok.Add(1)
		if r.me.User != u.name {
			tl.logouts.Add(1)
		}
	default:
		tl.failed.Add(1)
		tl.mu.Lock()
		if tl.statuses == nil {
			tl.statuses = map[int]int{}
		}
		tl.statuses[r.status]++
		tl.mu.Unlock()
		if r.byHandler {
			tl.byHandler.Add(1)
		}
	}
	if r.setCookie != nil {
		tl.cookieChanges.Add(1)
	}
}

// figures returns the tally as report fields.
func (tl *tally) figures() map[string]any {
	tl.mu.Lock()
	statuses := map[string]int{}
	for k, v := range tl.statuses {
		statuses[strconv.Itoa(k)] = v
	}
	tl.mu.Unlock()
	return map[string]any{
		"failed_by_status":        statuses,
		"requests_ok":             tl.ok.Load(),
		"requests_failed":         tl.failed.Load(),
		"failed_by_error_handler": tl.byHandler.Load(),
		"transport_errors":        tl.transport.Load(),
		"unexpected_logouts":      tl.logouts.Load(),
		"cookie_overwrites":       tl.cookieChanges.Load(),
		"slow_requests":           tl.slow.Load(),
		"max_request_ms":          time.Duration(tl.maxTook.Load()).Milliseconds(),
	}
}

// users logs in n users named prefix0..prefix(n-1) on base, with at most 16 logins at a time. Logging
// in is the scenarios' setup, not what they measure: a failed login (a 503 or a timeout on a loaded
// machine) is retried, and counted in the user's retries, until a minute passes without any login
// succeeding.
func users(t *testing.T, base, prefix string, n int) []*user {
	t.Helper()
	us := make([]*user, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var lastOK atomic.Int64 // unix nanoseconds of the last successful login
	lastOK.Store(time.Now().UnixNano())
	var firstErr atomic.Pointer[error]
	for i := range us {
		us[i] = &user{name: fmt.Sprintf("%s%d", prefix, i), base: base}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for firstErr.Load() == nil {
				err := us[i].login()
				if err == nil {
					lastOK.Store(time.Now().UnixNano())
					return
				}
				if time.Since(time.Unix(0, lastOK.Load())) > time.Minute {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				us[i].retries++
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		t.Fatalf("logging in %d users: %v", n, *p)
	}
	return us
}

// load runs workers goroutines that send GET /me and POST /incr as the users, round robin, until
// ctx ends, and counts what they see in tl. Each user's successful increments are counted in incs.
func load(ctx context.Context, us []*user, workers int, tl *tally, incs []atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)-1) % len(us)
				u := us[i]
				if i%2 == 0 {
					tl.record(u, u.do(http.MethodGet, "/me", nil))
					continue
				}
				r := u.do(http.MethodPost, "/incr", nil)
				tl.record(u, r)
				if r.status == http.StatusOK && incs != nil {
					incs[i].Add(1)
				}
			}
		})
	}
	return &wg
}

// lost checks every user's session with GET /me and returns how many sessions are gone: answered
// without their user. A failed answer (a 503 says nothing about the session) is retried until within
// has passed without any 200, so that a slow moment of a loaded machine late in a long list still gets
// the whole wait, while an app that stays down ends the check after within.
func lost(t *testing.T, us []*user, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	n := 0
	for _, u := range us {
		for {
			r := u.do(http.MethodGet, "/me", nil)
			if r.status == http.StatusOK {
				deadline = time.Now().Add(within)
				if r.me.User != u.name {
					n++
				}
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("user %s: no answer by the deadline (status %d, %v)", u.name, r.status, r.err)
				n++
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return n
}

// report logs a scenario's figures and, when RELIABILITY_OUT names a file, appends them to it as one
// JSON line.
func report(t *testing.T, scenario string, figures map[string]any) {
	t.Helper()
	figures["scenario"] = scenario
	b, err := json.Marshal(figures)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	t.Logf("RESULT %s", b)
	path := os.Getenv("RELIABILITY_OUT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("report: %v", err)
		return
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Errorf("report: %v", err)
	}
}

// waitUntil polls cond every 50ms until it holds or d passes; it reports whether cond held.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
