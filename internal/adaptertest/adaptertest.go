// Package adaptertest holds what the tests of the framework adapters share: a real redis-server with
// a Manager on it, an HTTP client that reports the session cookie, and the checks every adapter must
// pass against a test app with the routes below.
//
// The test app of each framework serves, on top of the Manager's middleware:
//
//	GET  /whoami          "user=<user id> k=<field k>", read only (it never creates a session)
//	GET  /write/{writer}  Set("k", writer) (or, with ?login=1, Login(User) then that Set) and then
//	                      answers with the named writer of the framework
//	GET  /panic           Set("k", "panic") and then panics (a recovery middleware runs outside)
//	POST /csrf            answers "ran": the Manager has CSRF on, so a request without the token never
//	                      gets here
package adaptertest

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// User is the user the test apps log in.
const User = "alice"

// Env is a redis-server of the test's own and a Manager on it.
type Env struct {
	// Redis is the test's own redis-server.
	Redis *redistest.Server
	// RDB is a client of Redis, for inspecting it.
	RDB *redis.Client
	// Manager is the Manager the test app wraps its router with.
	Manager *middleware.Manager
}

// Start starts a redis-server for t and a Manager on it with CSRF checks on and a cookie that plain
// HTTP test servers can carry.
func Start(t *testing.T) *Env {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client(t)
	st, err := store.New(context.Background(), rdb, store.Options{SkipChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := middleware.New(st, middleware.Options{Cookie: cookie.Options{Insecure: true}, CSRF: true})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Redis: srv, RDB: rdb, Manager: m}
}

// SessionKeys returns how many session keys Redis holds.
func (e *Env) SessionKeys(t *testing.T) int {
	t.Helper()
	n := 0
	it := e.RDB.Scan(context.Background(), 0, "session:*", 100).Iterator()
	for it.Next(context.Background()) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// Response is what Do received.
type Response struct {
	// Status is the response's status code.
	Status int
	// Header holds the response's headers.
	Header http.Header
	// Body is the response's body.
	Body string
	// Cookie is the session cookie the response set, nil when it set none.
	Cookie *http.Cookie
}

// Do sends a request carrying the session cookie c (none when nil) and returns the response; it does
// not follow redirects.
func Do(t *testing.T, method, url string, c *http.Cookie) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	for _, ck := range resp.Cookies() {
		if ck.Name == "session" {
			out.Cookie = ck
		}
	}
	return out
}

// Whoami returns the /whoami body for the session cookie c.
func Whoami(t *testing.T, base string, c *http.Cookie) string {
	t.Helper()
	r := Do(t, http.MethodGet, base+"/whoami", c)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /whoami: %d %q", r.Status, r.Body)
	}
	if r.Cookie != nil {
		t.Errorf("GET /whoami set a cookie: %v", r.Cookie)
	}
	return r.Body
}

// Writer names a writer route of the test app and the status it answers with.
type Writer struct {
	// Name is the {writer} part of the route.
	Name string
	// Status is the status the route answers with.
	Status int
}

// CheckWriters checks every writer route: the session it wrote is committed and its cookie set
// before the headers went out, for a new session and for a login, which rotates the ID.
func CheckWriters(t *testing.T, e *Env, base string, writers []Writer) {
	for _, w := range writers {
		t.Run(w.Name, func(t *testing.T) {
			anon := Do(t, http.MethodGet, base+"/write/"+w.Name, nil)
			if anon.Status != w.Status {
				t.Fatalf("new session: status %d, want %d (body %q)", anon.Status, w.Status, anon.Body)
			}
			if anon.Cookie == nil || anon.Cookie.Value == "" {
				t.Fatalf("new session: no Set-Cookie in %v", anon.Header)
			}
			if got, want := Whoami(t, base, anon.Cookie), "user= k="+w.Name; got != want {
				t.Errorf("new session: whoami %q, want %q", got, want)
			}

			login := Do(t, http.MethodGet, base+"/write/"+w.Name+"?login=1", anon.Cookie)
			if login.Status != w.Status {
				t.Fatalf("login: status %d, want %d (body %q)", login.Status, w.Status, login.Body)
			}
			if login.Cookie == nil || login.Cookie.Value == "" {
				t.Fatalf("login: no Set-Cookie in %v", login.Header)
			}
			if login.Cookie.Value == anon.Cookie.Value {
				t.Fatal("login kept the session ID")
			}
			if got, want := Whoami(t, base, login.Cookie), "user="+User+" k="+w.Name; got != want {
				t.Errorf("login: whoami %q, want %q", got, want)
			}
			if got := Whoami(t, base, anon.Cookie); got != "user= k=" {
				t.Errorf("the ID before login still works: whoami %q", got)
			}
		})
	}
}

// CheckPanic checks that a panicking handler commits nothing: no cookie, no new session, and an
// existing session's fields unchanged. A writer route named "String" must exist. The recovery
// middleware must answer 500.
func CheckPanic(t *testing.T, e *Env, base string) {
	t.Helper()
	before := e.SessionKeys(t)
	r := Do(t, http.MethodGet, base+"/panic", nil)
	if r.Status != http.StatusInternalServerError || r.Cookie != nil {
		t.Fatalf("panic without a session: %d, cookie %v; want 500 and no cookie", r.Status, r.Cookie)
	}
	if n := e.SessionKeys(t); n != before {
		t.Fatalf("panic without a session: %d session keys, want %d", n, before)
	}

	s := Do(t, http.MethodGet, base+"/write/String", nil)
	if s.Cookie == nil {
		t.Fatal("no session cookie from /write/String")
	}
	r = Do(t, http.MethodGet, base+"/panic", s.Cookie)
	if r.Status != http.StatusInternalServerError || r.Cookie != nil {
		t.Fatalf("panic with a session: %d, cookie %v; want 500 and no cookie", r.Status, r.Cookie)
	}
	if got := Whoami(t, base, s.Cookie); got != "user= k=String" {
		t.Errorf("the panicking handler's Set was committed: whoami %q", got)
	}
}

// CheckRedisDown logs in, stops Redis and checks that /whoami then answers 503 with no cookie, not the
// handler's response.
func CheckRedisDown(t *testing.T, e *Env, base string) Response {
	t.Helper()
	login := Do(t, http.MethodGet, base+"/write/String?login=1", nil)
	if login.Cookie == nil {
		t.Fatal("no session cookie from login")
	}
	e.Redis.Stop(t)
	r := Do(t, http.MethodGet, base+"/whoami", login.Cookie)
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("Redis down: status %d, want 503", r.Status)
	}
	if r.Cookie != nil {
		t.Errorf("Redis down: the response set a cookie: %v", r.Cookie)
	}
	if strings.Contains(r.Body, "user=") {
		t.Errorf("Redis down: the handler's body went out: %q", r.Body)
	}
	return r
}

// CheckCSRF checks that an unsafe request without the CSRF token is refused with 403 before the
// handler runs.
func CheckCSRF(t *testing.T, e *Env, base string) Response {
	t.Helper()
	s := Do(t, http.MethodGet, base+"/write/String", nil)
	if s.Cookie == nil {
		t.Fatal("no session cookie from /write/String")
	}
	r := Do(t, http.MethodPost, base+"/csrf", s.Cookie)
	if r.Status != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: status %d, want 403", r.Status)
	}
	if strings.Contains(r.Body, "ran") {
		t.Errorf("POST without the CSRF token reached the handler: %q", r.Body)
	}
	return r
}

// AnswerHijacked answers a hijacked connection with 200 "ok", the headers h (where the session's
// Set-Cookie must already be) and Connection: close, then closes it, as a WebSocket handshake copies
// the response headers into its own answer.
func AnswerHijacked(conn net.Conn, rw *bufio.ReadWriter, h http.Header, err error) {
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n")
	_ = h.Write(rw)
	_, _ = rw.WriteString("\r\nok")
	_ = rw.Flush()
}
