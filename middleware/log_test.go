package middleware_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
)

// A full flow — visit, login, elevation, device list, revoke, logout, the errors that can only be
// logged, and Redis going away — logs at debug level, yet the log never contains a cookie value nor
// a raw session ID.
func TestLogsNeverContainCookieValuesOrSessionIDs(t *testing.T) {
	e := newEnv(t, config{mw: middleware.Options{Cookie: cookie.Options{HashKeys: [][]byte{signingKey}}}, redis: redistest.Options{}})
	mux := http.NewServeMux()
	mux.Handle("/", app())
	mux.HandleFunc("POST /late", func(w http.ResponseWriter, r *http.Request) {
		s := middleware.Get(r)
		fmt.Fprint(w, "headers out")
		_ = s.Set("late", "1") // committed at return, or logged when Redis is down
		_ = s.Login("mallory") // refused and logged: the headers are out
	})
	srv := e.serve(mux)
	codec, err := cookie.New(cookie.Options{Insecure: true, HashKeys: [][]byte{signingKey}})
	if err != nil {
		t.Fatal(err)
	}

	secrets := map[string]bool{}
	track := func(b *browser, r *response) *response {
		t.Helper()
		for _, v := range []string{b.cookie(), func() string {
			if c := r.setCookie(); c != nil {
				return c.Value
			}
			return ""
		}()} {
			if v == "" {
				continue
			}
			secrets[v] = true
			if id, ok := codec.Parse(v); ok {
				secrets[id] = true
			}
		}
		return r
	}
	laptop, phone, visitor := newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv)
	laptop.agent, phone.agent = "laptop", "phone"
	steps := []struct {
		b            *browser
		method, path string
	}{
		{laptop, "POST", "/set?key=cart&value=teapot"},
		{laptop, "GET", "/get?key=cart"},
		{laptop, "POST", "/login?user=alice"},
		{phone, "POST", "/login?user=alice"},
		{laptop, "POST", "/elevate"},
		{laptop, "POST", "/incr?key=n"},
		{laptop, "GET", "/sessions"},
		{laptop, "POST", "/late"},
		{visitor, "POST", "/late"},
		{phone, "POST", "/logout-others"},
		{laptop, "GET", "/whoami"},
		{laptop, "POST", "/login?user=alice"},
		{laptop, "POST", "/logout-all"},
		{phone, "POST", "/login?user=alice"},
	}
	for _, s := range steps {
		track(s.b, s.b.do(s.method, s.path, nil, nil))
	}
	// Stolen, stale and forged cookies are logged no more than good ones.
	for _, v := range []string{sign(t, otherKey, strings.Repeat("A", 43)), strings.Repeat("A", 43)} {
		visitor.setCookie(v)
		secrets[v] = true
		track(visitor, visitor.get("/get?key=cart"))
	}

	e.srv.Stop(t)
	track(phone, phone.get("/get?key=cart"))
	track(phone, phone.post("/late"))
	track(phone, phone.post("/logout"))

	logs := e.logs.String()
	if len(secrets) < 6 {
		t.Fatalf("the flow produced only %d cookie values and IDs", len(secrets))
	}
	if n := strings.Count(logs, "level=ERROR"); n < 3 {
		t.Errorf("only %d errors logged; the flow should have logged at least 3:\n%s", n, logs)
	}
	for s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log contains a cookie value or session ID %s…", s[:8])
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("log:\n%s", logs)
	}
}
