package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// cookieName is the session cookie's name over plain http (COOKIE_SECURE=false): the library's
// default. With Secure the library prefixes it (__Host-session); isSessionCookie knows both.
const cookieName = "session"

// isSessionCookie reports whether a cookie name is the session cookie's, prefixed or not.
func isSessionCookie(name string) bool {
	return name == cookieName || name == "__Host-"+cookieName || name == "__Secure-"+cookieName
}

// requestTimeout bounds one request.
const requestTimeout = 30 * time.Second

// client is one browser: a cookie jar and a User-Agent.
type client struct {
	h   *harness
	hc  *http.Client
	jar *cookiejar.Jar
	ua  string
}

// client returns a new browser with an empty cookie jar.
func (h *harness) client(ua string) *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &client{h: h, jar: jar, ua: ua, hc: &http.Client{
		Jar:     jar,
		Timeout: requestTimeout,
		// The contract has no redirects: show them rather than follow them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a complete HTTP response.
type response struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

func (r *response) String() string {
	return fmt.Sprintf("%s %s: %d %s", r.Method, r.Path, r.Status, bytes.TrimSpace(r.Body))
}

// try sends one request; form, when non-nil, is the urlencoded body; header adds headers. It is safe
// to call from any goroutine.
func (c *client) try(method, path string, form url.Values, header map[string]string) (*response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.h.app.URL+path, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", c.ua)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if sc := sessionSetCookie(res.Header); sc != nil && sc.Value != "" {
		c.h.sawCookie(sc.Value)
	}
	return &response{Method: method, Path: path, Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// do is try that fails the test on a transport error; call it from the test's goroutine.
func (c *client) do(method, path string, form url.Values, header map[string]string) *response {
	c.h.t.Helper()
	r, err := c.try(method, path, form, header)
	if err != nil {
		c.h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// get sends a GET.
func (c *client) get(path string) *response {
	c.h.t.Helper()
	return c.do(http.MethodGet, path, nil, nil)
}

// post sends a form with the session's CSRF token in X-CSRF-Token, read from GET /api/session first
// (none when there is no session).
func (c *client) post(path string, form url.Values) *response {
	c.h.t.Helper()
	return c.postToken(path, form, c.session().CSRF)
}

// postToken sends a form with token in X-CSRF-Token, or without the header when token is "".
func (c *client) postToken(path string, form url.Values, token string) *response {
	c.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	var hdr map[string]string
	if token != "" {
		hdr = map[string]string{"X-CSRF-Token": token}
	}
	return c.do(http.MethodPost, path, form, hdr)
}

// sessionView is the answer of GET /api/session.
type sessionView struct {
	Authenticated bool                       `json:"authenticated"`
	User          string                     `json:"user"`
	Level         string                     `json:"level"`
	ElevatedUntil *string                    `json:"elevated_until"` // nil for JSON null
	CSRF          string                     `json:"csrf"`
	Fields        map[string]json.RawMessage `json:"fields"`
}

// sessionViewKeys are the keys of GET /api/session's answer, exactly.
var sessionViewKeys = []string{"authenticated", "user", "level", "elevated_until", "csrf", "fields"}

// session reads GET /api/session, checking its status and exact shape.
func (c *client) session() sessionView {
	t := c.h.t
	t.Helper()
	r := c.get("/api/session")
	want(t, r, http.StatusOK)
	var v sessionView
	decodeExact(t, r, &v, sessionViewKeys...)
	if v.Fields == nil {
		t.Fatalf("%v: fields is not an object", r)
	}
	switch {
	case v.Level == "elevated" && v.ElevatedUntil == nil:
		t.Fatalf("%v: elevated_until is null at level elevated", r)
	case v.Level != "elevated" && v.ElevatedUntil != nil:
		t.Fatalf("%v: elevated_until is set at level %q; want null", r, v.Level)
	case v.ElevatedUntil != nil:
		if _, err := time.Parse(time.RFC3339, *v.ElevatedUntil); err != nil {
			t.Fatalf("%v: elevated_until is not RFC 3339: %v", r, err)
		}
	}
	return v
}

// elevatedUntil returns v's elevated_until as a time, the zero time for null.
func (v sessionView) elevatedUntil() time.Time {
	if v.ElevatedUntil == nil {
		return time.Time{}
	}
	u, _ := time.Parse(time.RFC3339, *v.ElevatedUntil) // session checked it
	return u
}

// cookie returns the session cookie the jar holds, or "".
func (c *client) cookie() string {
	u, _ := url.Parse(c.h.app.URL)
	for _, ck := range c.jar.Cookies(u) {
		if isSessionCookie(ck.Name) {
			return ck.Value
		}
	}
	return ""
}

// setCookie puts a session cookie with the given value into the jar, as a replayed or forged cookie,
// under the plain-http name.
func (c *client) setCookie(value string) {
	u, _ := url.Parse(c.h.app.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: value, Path: "/"}})
}

// sessionSetCookie returns the session cookie a response sets (or clears), or nil.
func sessionSetCookie(h http.Header) *http.Cookie {
	var found *http.Cookie
	for _, line := range h.Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && isSessionCookie(ck.Name) {
			found = ck
		}
	}
	return found
}

// cleared reports whether a Set-Cookie deletes the cookie.
func cleared(ck *http.Cookie) bool {
	return ck != nil && (ck.MaxAge < 0 || (!ck.Expires.IsZero() && ck.Expires.Before(time.Now())))
}

// want fails the test unless r has the given status.
func want(t testing.TB, r *response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%v; want status %d", r, status)
	}
}

// isJSON reports whether r is JSON: its Content-Type says so and its body parses.
func isJSON(r *response) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && json.Valid(r.Body)
}

// wantJSON checks r's status and that it is JSON, and decodes it into v when v is non-nil.
func wantJSON(t testing.TB, r *response, status int, v any) {
	t.Helper()
	want(t, r, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%v: Content-Type %q; want application/json", r, ct)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatalf("%v: %v", r, err)
		}
	}
}

// decodeExact decodes r's JSON object into v and checks that it has exactly the given keys.
func decodeExact(t testing.TB, r *response, v any, keys ...string) {
	t.Helper()
	wantJSON(t, r, r.Status, v)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%v: not a JSON object: %v", r, err)
	}
	assertKeys(t, r, m, keys)
}

// assertKeys checks that m has exactly keys.
func assertKeys(t testing.TB, r *response, m map[string]json.RawMessage, keys []string) {
	t.Helper()
	if len(m) != len(keys) {
		t.Fatalf("%v: keys %v; want exactly %v", r, keysOf(m), keys)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Fatalf("%v: key %q missing; want exactly %v", r, k, keys)
		}
	}
}

func keysOf(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// form builds url.Values from name, value pairs.
func form(pairs ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Set(pairs[i], pairs[i+1])
	}
	return v
}
