package cookie

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
)

// Fixed test material. testID is a canonical ID (last character's spare bits are zero).
const (
	testID  = "q7Fh3vK9xWm2LpR8tYb4NcZ0dJs6GeUaXo1iVw5Hk_A"
	testID2 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

var (
	keyA = bytes.Repeat([]byte("a"), 32)
	keyB = bytes.Repeat([]byte("b"), 48)
	keyC = bytes.Repeat([]byte("c"), 32)
)

func mustNew(t testing.TB, o Options) *Codec {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return c
}

func mustEncode(t testing.TB, c *Codec, id string) string {
	t.Helper()
	v, err := c.Encode(id)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return v
}

func TestTestIDsAreValid(t *testing.T) {
	for _, id := range []string{testID, testID2} {
		if !ValidID(id) {
			t.Fatalf("test fixture %q is not a ValidID", id)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := mustNew(t, Options{})
	if got := c.Name(); got != "__Host-session" {
		t.Errorf("Name() = %q, want %q", got, "__Host-session")
	}
	if got := mustNew(t, Options{Insecure: true}).Name(); got != "session" {
		t.Errorf("Insecure: Name() = %q, want %q (browsers refuse __Host- without Secure)", got, "session")
	}
	if got := mustNew(t, Options{Path: "/app"}).Name(); got != "session" {
		t.Errorf("Path /app: Name() = %q, want %q", got, "session")
	}
	o := c.Options()
	if o.Name != "__Host-session" || o.Path != "/" || o.Domain != "" || o.Insecure || o.AllowScript ||
		o.SameSite != http.SameSiteLaxMode || o.Partitioned || o.Persist || o.HashKeys != nil {
		t.Errorf("Options() = %+v, want defaults applied", o)
	}

	ck, err := c.Cookie(testID, time.Time{})
	if err != nil {
		t.Fatalf("Cookie: %v", err)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"Name __Host-session", ck.Name == "__Host-session"},
		{"Value is the bare id", ck.Value == testID},
		{"Secure", ck.Secure},
		{"HttpOnly", ck.HttpOnly},
		{"SameSite Lax", ck.SameSite == http.SameSiteLaxMode},
		{"Path /", ck.Path == "/"},
		{"host-only (no Domain)", ck.Domain == ""},
		{"browser-session (no MaxAge)", ck.MaxAge == 0},
		{"no Expires", ck.Expires.IsZero()},
		{"not Partitioned", !ck.Partitioned},
	}
	for _, chk := range checks {
		if !chk.ok {
			t.Errorf("default cookie: want %s; got %+v", chk.what, ck)
		}
	}
	want := "__Host-session=" + testID + "; Path=/; HttpOnly; Secure; SameSite=Lax"
	if got := ck.String(); got != want {
		t.Errorf("Set-Cookie = %q, want %q", got, want)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		msg  string // substring of the error
	}{
		{"__Host- without Secure", Options{Name: "__Host-s", Insecure: true}, "__Host- prefix requires Secure"},
		{"__Host- lowercase without Secure", Options{Name: "__host-s", Insecure: true}, "__Host- prefix requires Secure"},
		{"__Host- with Domain", Options{Name: "__Host-s", Domain: "example.com"}, "__Host- prefix forbids a Domain"},
		{"__Host- with Path", Options{Name: "__Host-s", Path: "/app"}, `__Host- prefix requires Path "/"`},
		{"__Secure- without Secure", Options{Name: "__Secure-s", Insecure: true}, "__Secure- prefix requires Secure"},
		{"__SECURE- without Secure", Options{Name: "__SECURE-s", Insecure: true}, "__Secure- prefix requires Secure"},
		{"SameSite None without Secure", Options{SameSite: http.SameSiteNoneMode, Insecure: true}, "SameSite=None requires Secure"},
		{"unknown SameSite", Options{SameSite: 99}, "unknown SameSite"},
		{"negative SameSite", Options{SameSite: -1}, "unknown SameSite"},
		{"Partitioned without Secure", Options{Partitioned: true, Insecure: true}, "Partitioned requires Secure"},
		{"name with space", Options{Name: "my session"}, "not a valid cookie name"},
		{"name with semicolon", Options{Name: "a;b"}, "not a valid cookie name"},
		{"name with equals", Options{Name: "a=b"}, "not a valid cookie name"},
		{"name with quote", Options{Name: `a"b`}, "not a valid cookie name"},
		{"name with slash", Options{Name: "a/b"}, "not a valid cookie name"},
		{"name with brace", Options{Name: "{a}"}, "not a valid cookie name"},
		{"name with NUL", Options{Name: "a\x00"}, "not a valid cookie name"},
		{"name with newline", Options{Name: "a\nb"}, "not a valid cookie name"},
		{"name with DEL", Options{Name: "a\x7f"}, "not a valid cookie name"},
		{"name non-ASCII", Options{Name: "séssion"}, "not a valid cookie name"},
		{"short hash key", Options{HashKeys: [][]byte{keyA[:31]}}, "hash key 0 is 31 bytes"},
		{"short second hash key", Options{HashKeys: [][]byte{keyA, keyC[:16]}}, "hash key 1 is 16 bytes"},
		{"empty hash key", Options{HashKeys: [][]byte{{}}}, "hash key 0 is 0 bytes"},
		{"path with semicolon", Options{Path: "/a;b"}, "path"},
		{"path with newline", Options{Path: "/a\nb"}, "path"},
		{"path with CR", Options{Path: "/a\r"}, "path"},
		{"path with NUL", Options{Path: "/\x00"}, "path"},
		{"path with tab", Options{Path: "/\t"}, "path"},
		{"path with DEL", Options{Path: "/\x7f"}, "path"},
		{"path non-ASCII", Options{Path: "/é"}, "path"},
		{"path relative", Options{Path: "app"}, `must start with "/"`},
		{"path too long", Options{Path: "/" + strings.Repeat("a", maxPathLen)}, "path is"},
		{"domain with space", Options{Domain: "exa mple.com"}, "domain"},
		{"domain with semicolon", Options{Domain: "example.com;x=y"}, "domain"},
		{"domain label starts with dash", Options{Domain: "-a.example.com"}, "domain"},
		{"domain label ends with dash", Options{Domain: "a-.example.com"}, "domain"},
		{"domain empty label", Options{Domain: "a..com"}, "domain"},
		{"domain trailing dot", Options{Domain: "example.com."}, "domain"},
		{"domain only a dot", Options{Domain: "."}, "domain"},
		{"domain underscore", Options{Domain: "a_b.example.com"}, "domain"},
		{"domain IPv4", Options{Domain: "192.168.0.1"}, "domain"},
		{"domain IPv6", Options{Domain: "::1"}, "domain"},
		{"domain port", Options{Domain: "example.com:8080"}, "domain"},
		{"domain long label", Options{Domain: strings.Repeat("a", 64) + ".com"}, "domain"},
		{"domain too long", Options{Domain: strings.Repeat("abcdefghi.", 26) + "com"}, "domain"},
		{"domain non-ASCII", Options{Domain: "exämple.com"}, "domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if err == nil {
				t.Fatalf("New(%+v) = %+v, want an error", tt.opts, c.Options())
			}
			if c != nil {
				t.Errorf("New returned a Codec along with error %v", err)
			}
			if !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("error %v does not wrap ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestNewRefusalDoesNotLeakKey(t *testing.T) {
	secret := []byte("TOP-SECRET-KEY-MATERIAL")
	_, err := New(Options{HashKeys: [][]byte{secret}})
	if err == nil {
		t.Fatal("short key accepted")
	}
	if strings.Contains(err.Error(), string(secret)) {
		t.Errorf("error %q contains the key", err)
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // the Set-Cookie line for testID without Persist
	}{
		{"__Host- secure", Options{Name: "__Host-sid"},
			"__Host-sid=" + testID + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"__Secure- with Domain and Path", Options{Name: "__Secure-sid", Domain: "example.com", Path: "/app"},
			"__Secure-sid=" + testID + "; Path=/app; Domain=example.com; HttpOnly; Secure; SameSite=Lax"},
		{"leading-dot Domain", Options{Domain: ".Sub.Example.com"},
			"session=" + testID + "; Path=/; Domain=Sub.Example.com; HttpOnly; Secure; SameSite=Lax"},
		{"single-label Domain", Options{Domain: "localhost", Insecure: true},
			"session=" + testID + "; Path=/; Domain=localhost; HttpOnly; SameSite=Lax"},
		{"plain-http development", Options{Insecure: true, AllowScript: true},
			"session=" + testID + "; Path=/; SameSite=Lax"},
		{"SameSite None secure", Options{SameSite: http.SameSiteNoneMode},
			"__Host-session=" + testID + "; Path=/; HttpOnly; Secure; SameSite=None"},
		{"SameSite Strict", Options{SameSite: http.SameSiteStrictMode},
			"__Host-session=" + testID + "; Path=/; HttpOnly; Secure; SameSite=Strict"},
		{"SameSite browser default", Options{SameSite: http.SameSiteDefaultMode},
			"__Host-session=" + testID + "; Path=/; HttpOnly; Secure"},
		{"Partitioned", Options{Partitioned: true, SameSite: http.SameSiteNoneMode},
			"__Host-session=" + testID + "; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"},
		{"token punctuation in name", Options{Name: "my-app.sid_1!#$%&'*+^`|~"},
			"my-app.sid_1!#$%&'*+^`|~=" + testID + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, tt.opts)
			ck, err := c.Cookie(testID, time.Time{})
			if err != nil {
				t.Fatalf("Cookie: %v", err)
			}
			if got := ck.String(); got != tt.want {
				t.Errorf("Set-Cookie = %q\nwant          %q", got, tt.want)
			}
			if err := ck.Valid(); err != nil {
				t.Errorf("net/http says the cookie is invalid: %v", err)
			}
		})
	}
}

func TestKeysAreCopied(t *testing.T) {
	key := append([]byte(nil), keyA...)
	keys := [][]byte{key}
	c := mustNew(t, Options{Name: "session", HashKeys: keys})
	v := mustEncode(t, c, testID)

	key[0] ^= 0xff // the caller reuses its buffer
	keys[0] = keyC
	got := c.Options().HashKeys
	got[0][0] ^= 0xff // a caller scribbles on what Options returned

	if id, ok := c.Parse(v); !ok || id != testID {
		t.Fatalf("Parse after caller mutations = %q, %v; want the id", id, ok)
	}
	if !bytes.Equal(c.Options().HashKeys[0], keyA) {
		t.Error("Options().HashKeys no longer reports the key New was given")
	}
}

func TestCookiePersist(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name        string
		expires     time.Time
		wantMaxAge  int
		wantExpires time.Time
		wantErr     error
	}{
		{"one hour", now.Add(time.Hour), 3600, now.Add(time.Hour), nil},
		{"fraction rounds up", now.Add(1500 * time.Millisecond), 2, now.Add(1500 * time.Millisecond), nil},
		{"sub-second is not zero", now.Add(time.Millisecond), 1, now.Add(time.Millisecond), nil},
		{"other time zone", now.Add(24 * time.Hour).In(time.FixedZone("X", 5*3600)), 86400, now.Add(24 * time.Hour), nil},
		{"capped at 400 days", now.Add(500 * 24 * time.Hour), 400 * 86400, now.Add(400 * 24 * time.Hour), nil},
		{"far future capped", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 400 * 86400, now.Add(400 * 24 * time.Hour), nil},
		{"deadline now", now, 0, time.Time{}, ErrExpired},
		{"deadline passed", now.Add(-time.Second), 0, time.Time{}, ErrExpired},
		{"no deadline", time.Time{}, 0, time.Time{}, ErrExpired},
	}
	for _, keys := range [][][]byte{nil, {keyA}} {
		c := mustNew(t, Options{Name: "session", Persist: true, HashKeys: keys})
		c.now = func() time.Time { return now }
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ck, err := c.Cookie(testID, tt.expires)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) || ck != nil {
						t.Fatalf("Cookie = %v, %v; want nil, %v", ck, err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Cookie: %v", err)
				}
				if ck.MaxAge != tt.wantMaxAge {
					t.Errorf("MaxAge = %d, want %d", ck.MaxAge, tt.wantMaxAge)
				}
				if !ck.Expires.Equal(tt.wantExpires) || ck.Expires.Location() != time.UTC {
					t.Errorf("Expires = %v, want %v in UTC", ck.Expires, tt.wantExpires)
				}
				if id, ok := c.Parse(ck.Value); !ok || id != testID {
					t.Errorf("Parse(Cookie().Value) = %q, %v", id, ok)
				}
				if err := ck.Valid(); err != nil {
					t.Errorf("net/http says the cookie is invalid: %v", err)
				}
			})
		}
	}
}

func TestCookieWithoutPersistIgnoresExpires(t *testing.T) {
	c := mustNew(t, Options{Name: "session"})
	for _, exp := range []time.Time{{}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)} {
		ck, err := c.Cookie(testID, exp)
		if err != nil {
			t.Fatalf("Cookie(%v): %v", exp, err)
		}
		if ck.MaxAge != 0 || !ck.Expires.IsZero() {
			t.Errorf("Cookie(%v) has MaxAge %d Expires %v; want a browser-session cookie", exp, ck.MaxAge, ck.Expires)
		}
	}
}

func TestClear(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"defaults", Options{},
			"__Host-session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax"},
		{"custom", Options{Name: "__Secure-s", Path: "/app", Domain: "example.com", SameSite: http.SameSiteNoneMode, Partitioned: true, Persist: true, HashKeys: [][]byte{keyA}},
			"__Secure-s=; Path=/app; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=None; Partitioned"},
		{"insecure dev", Options{Insecure: true, AllowScript: true, SameSite: http.SameSiteStrictMode},
			"session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; SameSite=Strict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, tt.opts)
			clr := c.Clear()
			if clr.Value != "" || clr.MaxAge >= 0 {
				t.Errorf("Clear() = %+v; want empty value and MaxAge < 0", clr)
			}
			set, err := c.Cookie(testID, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatalf("Cookie: %v", err)
			}
			if clr.Name != set.Name || clr.Path != set.Path || clr.Domain != set.Domain || clr.Secure != set.Secure ||
				clr.HttpOnly != set.HttpOnly || clr.SameSite != set.SameSite || clr.Partitioned != set.Partitioned {
				t.Errorf("Clear() = %+v does not match Cookie() = %+v", clr, set)
			}
			if got := clr.String(); got != tt.want {
				t.Errorf("Set-Cookie = %q\nwant          %q", got, tt.want)
			}
			if c.Clear() == clr {
				t.Error("Clear returns a shared *http.Cookie")
			}
		})
	}
}

func TestEncodeRefusesInvalidID(t *testing.T) {
	for _, keys := range [][][]byte{nil, {keyA}} {
		c := mustNew(t, Options{Name: "session", HashKeys: keys})
		for _, id := range []string{"", "short", testID + "A", testID[:42] + "B", testID[:42] + "+", strings.Repeat("A", 42) + "="} {
			if v, err := c.Encode(id); !errors.Is(err, ErrInvalidID) || v != "" {
				t.Errorf("Encode(%q) = %q, %v; want ErrInvalidID", id, v, err)
			}
			if ck, err := c.Cookie(id, time.Now().Add(time.Hour)); !errors.Is(err, ErrInvalidID) || ck != nil {
				t.Errorf("Cookie(%q) = %v, %v; want ErrInvalidID", id, ck, err)
			}
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{testID, true},
		{testID2, true},
		{strings.Repeat("_", 42) + "w", true}, // 'w' = 48, low bits zero
		{strings.Repeat("-", 42) + "E", true},
		{"", false},
		{testID[:42], false},                   // too short
		{testID + "A", false},                  // too long
		{testID + "=", false},                  // padded
		{strings.Repeat("A", 42) + "B", false}, // non-canonical: spare bits set
		{strings.Repeat("A", 42) + "_", false},
		{strings.Repeat("A", 42) + "+", false}, // standard base64 alphabet
		{"+" + testID[1:], false},
		{"/" + testID[1:], false},
		{"." + testID[1:], false},
		{" " + testID[1:], false},
		{"\x00" + testID[1:], false},
		{"é" + testID[2:], false},
		{strings.Repeat("A", 40) + "AA=", false},
		{strings.Repeat("A", 44), false}, // std base64 of 33 bytes
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestRead(t *testing.T) {
	bare := mustNew(t, Options{Name: "session"})
	signedA := mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyA}})
	rotated := mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyB, keyA}}) // B signs, B and A verify
	onlyB := mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyB}})
	otherName := mustNew(t, Options{Name: "other", HashKeys: [][]byte{keyA}})

	byA := mustEncode(t, signedA, testID)
	byB := mustEncode(t, rotated, testID)
	byC := mustEncode(t, mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyC}}), testID)
	byAOtherName := mustEncode(t, otherName, testID)

	// A MAC-valid value whose payload is not a session ID.
	rawSC := securecookie.New(keyA, nil).SetSerializer(securecookie.NopEncoder{})
	notAnID, err := rawSC.Encode("session", []byte("definitely-not-a-session-id"))
	if err != nil {
		t.Fatal(err)
	}
	// securecookie's default gob serializer and timestamp check: a value from an app sharing
	// the key but not the format must not be accepted.
	gobbed, err := securecookie.New(keyA, nil).Encode("session", testID)
	if err != nil {
		t.Fatal(err)
	}

	// Change one character in the middle of the value (away from the trailing padding).
	forged := []byte(byA)
	if mid := len(forged) / 2; forged[mid] == 'A' {
		forged[mid] = 'B'
	} else {
		forged[mid] = 'A'
	}

	tests := []struct {
		name   string
		codec  *Codec
		header string // the Cookie request header; "" for none
		want   string
	}{
		{"bare valid", bare, "session=" + testID, testID},
		{"bare no cookie header", bare, "", ""},
		{"bare other cookie only", bare, "other=" + testID, ""},
		{"bare name differs in case", bare, "Session=" + testID, ""},
		{"bare among others", bare, "a=1; session=" + testID + "; b=2", testID},
		{"bare empty value", bare, "session=", ""},
		{"bare too short", bare, "session=" + testID[:42], ""},
		{"bare too long", bare, "session=" + testID + "A", ""},
		{"bare very long", bare, "session=" + strings.Repeat("A", 8000), ""},
		{"bare padded", bare, "session=" + testID + "=", ""},
		{"bare std base64 padded", bare, "session=" + strings.Repeat("A", 43) + "=", ""},
		{"bare bad charset", bare, "session=" + "+" + testID[1:], ""},
		{"bare slash", bare, "session=" + "/" + testID[1:], ""},
		{"bare non-canonical", bare, "session=" + strings.Repeat("A", 42) + "B", ""},
		{"bare quoted", bare, `session="` + testID + `"`, ""},
		{"bare garbage", bare, "session=%00%ff<script>", ""},
		{"bare signed value", bare, "session=" + byA, ""},
		{"bare first of two valid", bare, "session=" + testID + "; session=" + testID2, testID},
		{"bare first invalid second valid", bare, "session=junk; session=" + testID2, testID2},
		{"bare all invalid", bare, "session=junk; session=" + testID + "=", ""},

		{"signed valid", signedA, "session=" + byA, testID},
		{"signed bare id refused", signedA, "session=" + testID, ""},
		{"signed forged signature", signedA, "session=" + string(forged), ""},
		{"signed by unknown key", signedA, "session=" + byC, ""},
		{"signed for another cookie name", signedA, "session=" + byAOtherName, ""},
		{"signed truncated", signedA, "session=" + byA[:len(byA)-4], ""},
		{"signed extended", signedA, "session=" + byA + "AAAA", ""},
		{"signed too long", signedA, "session=" + strings.Repeat("A", maxSignedLen+1), ""},
		{"signed bad charset", signedA, "session=" + strings.Replace(byA, byA[:1], ".", 1), ""},
		{"signed garbage", signedA, "session=" + strings.Repeat("A", 140), ""},
		{"signed payload not an id", signedA, "session=" + notAnID, ""},
		{"signed gob payload", signedA, "session=" + gobbed, ""},
		{"signed quoted", signedA, `session="` + byA + `"`, ""},
		{"signed forged then valid", signedA, "session=" + byC + "; session=" + byA, testID},

		{"rotation: old key still verifies", rotated, "session=" + byA, testID},
		{"rotation: new key verifies", rotated, "session=" + byB, testID},
		{"rotation: retired key refused", onlyB, "session=" + byA, ""},
		{"rotation: unknown key refused", rotated, "session=" + byC, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				r.Header.Set("Cookie", tt.header)
			}
			if got := tt.codec.Read(r); got != tt.want {
				t.Errorf("Read(Cookie: %q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}

	if got := bare.Read(nil); got != "" {
		t.Errorf("Read(nil) = %q", got)
	}
}

func TestRotationEncodesWithFirstKey(t *testing.T) {
	rotated := mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyB, keyA}})
	onlyA := mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyA}})
	onlyB := mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyB}})
	v := mustEncode(t, rotated, testID)
	if _, ok := onlyA.Parse(v); ok {
		t.Error("a value from the rotated codec verifies with the old key alone: it was not signed with the first key")
	}
	if id, ok := onlyB.Parse(v); !ok || id != testID {
		t.Errorf("onlyB.Parse = %q, %v; want the id", id, ok)
	}
}

func TestSignedLengthBounds(t *testing.T) {
	c := mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyB, keyA}})
	v := mustEncode(t, c, testID)
	if len(v) < minSignedLen || len(v) > maxSignedLen {
		t.Fatalf("a fresh signed value is %d bytes, outside [%d, %d]", len(v), minSignedLen, maxSignedLen)
	}
	// Values outside the bounds or with foreign bytes are refused before any base64 or HMAC
	// work, which would allocate.
	for _, v := range []string{
		strings.Repeat("A", maxSignedLen+1),
		strings.Repeat("A", 1<<16),
		strings.Repeat("A", minSignedLen-1),
		strings.Repeat("A", 100) + "." + strings.Repeat("A", 39),
	} {
		allocs := testing.AllocsPerRun(20, func() {
			if _, ok := c.Parse(v); ok {
				t.Fatalf("Parse accepted a %d-byte value", len(v))
			}
		})
		if allocs != 0 {
			t.Errorf("Parse of a %d-byte invalid value allocated %.0f times: it decoded before checking", len(v), allocs)
		}
	}
}

// signByHand builds a securecookie value ("ts|base64url(payload)|mac", base64url-encoded) with a
// chosen timestamp, which securecookie itself does not let a caller pick.
func signByHand(key []byte, name string, ts int64, payload string) string {
	body := fmt.Sprintf("%d|%s", ts, base64.URLEncoding.EncodeToString([]byte(payload)))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(name + "|" + body))
	return base64.URLEncoding.EncodeToString(append([]byte(body+"|"), mac.Sum(nil)...))
}

func TestSignedTimestampNotChecked(t *testing.T) {
	c := mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyA}})
	// The hand-signer agrees with securecookie: a current timestamp verifies.
	if id, ok := c.Parse(signByHand(keyA, "session", time.Now().Unix(), testID)); !ok || id != testID {
		t.Fatalf("hand-signed value refused: %q, %v", id, ok)
	}
	// Session lifetime is the store's business: a cookie signed long ago (past securecookie's
	// default 30-day MaxAge) or with the shortest timestamp still carries its ID.
	for _, ts := range []int64{time.Now().Add(-365 * 24 * time.Hour).Unix(), 1, 0} {
		v := signByHand(keyA, "session", ts, testID)
		if id, ok := c.Parse(v); !ok || id != testID {
			t.Errorf("value signed at %d (%d bytes) refused: %q, %v", ts, len(v), id, ok)
		}
	}
	// A wrong key, name or payload still fails.
	for _, v := range []string{
		signByHand(keyC, "session", 1, testID),
		signByHand(keyA, "other", 1, testID),
		signByHand(keyA, "session", 1, testID+"A"),
		signByHand(keyA, "session", 1, ""),
	} {
		if id, ok := c.Parse(v); ok {
			t.Errorf("Parse(%q) = %q, want refusal", v, id)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	c := mustNew(t, Options{Name: "session", Persist: true, HashKeys: [][]byte{keyB, keyA}})
	old := mustEncode(t, mustNew(t, Options{Name: "session", HashKeys: [][]byte{keyA}}), testID2)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				ck, err := c.Cookie(testID, time.Now().Add(time.Hour))
				if err != nil {
					t.Error(err)
					return
				}
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.AddCookie(ck)
				if got := c.Read(r); got != testID {
					t.Errorf("Read = %q", got)
					return
				}
				if id, ok := c.Parse(old); !ok || id != testID2 {
					t.Errorf("Parse(old) = %q, %v", id, ok)
					return
				}
				_ = c.Clear()
				_ = c.Options()
			}
		})
	}
	wg.Wait()
}

// FuzzParse feeds arbitrary cookie values to a bare and a signed (rotated) Codec. Parse must never
// panic, must only accept values that yield a ValidID, and must round-trip every ValidID.
func FuzzParse(f *testing.F) {
	bare := mustNew(f, Options{Name: "session"})
	signed := mustNew(f, Options{Name: "session", HashKeys: [][]byte{keyB, keyA}}) // seeds are signed with keyA
	f.Add(testID)
	f.Add(mustEncode(f, signed, testID))
	f.Fuzz(func(t *testing.T, value string) {
		id, ok := bare.Parse(value)
		if ok != (id != "") {
			t.Fatalf("bare.Parse(%q) = %q, %v: ok and id disagree", value, id, ok)
		}
		if ok && (!ValidID(id) || id != value) {
			t.Fatalf("bare.Parse(%q) accepted %q", value, id)
		}

		sid, sok := signed.Parse(value)
		if sok != (sid != "") {
			t.Fatalf("signed.Parse(%q) = %q, %v: ok and id disagree", value, sid, sok)
		}
		if sok && (!ValidID(sid) || len(value) > maxSignedLen) {
			t.Fatalf("signed.Parse(%q) accepted %q", value, sid)
		}
		if sok && ok {
			t.Fatalf("%q is accepted both bare and signed", value)
		}

		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", "session="+value)
		for _, c := range []*Codec{bare, signed} {
			if got := c.Read(r); got != "" && !ValidID(got) {
				t.Fatalf("Read(session=%q) = %q, not a ValidID", value, got)
			}
		}

		if ValidID(value) {
			if !ok {
				t.Fatalf("bare.Parse refused ValidID %q", value)
			}
			v, err := signed.Encode(value)
			if err != nil {
				t.Fatalf("signed.Encode(%q): %v", value, err)
			}
			if got, ok := signed.Parse(v); !ok || got != value {
				t.Fatalf("signed round trip of %q = %q, %v", value, got, ok)
			}
		}
	})
}
