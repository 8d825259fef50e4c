package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// appACL is the least-privilege application user every test server has.
func appACL(prefix string) string { return "user app on >pw " + store.ACLRules(prefix) }

// result is one run of sessionctl.
type result struct {
	stdout, stderr string
	code           int
}

// sessionctl runs the CLI in-process against srv, with the given arguments after --redis-url.
func sessionctl(t *testing.T, srv *redistest.Server, args ...string) result {
	t.Helper()
	return sessionctlURL(t, srv.URL(), args...)
}

// sessionctlURL runs the CLI in-process with --redis-url url.
func sessionctlURL(t *testing.T, url string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, append([]string{"--redis-url", url}, args...), &out, &errOut)
	return result{out.String(), errOut.String(), code}
}

// newStore returns a store on srv for setting up sessions, as the application would.
func newStore(t *testing.T, srv *redistest.Server, prefix string) *store.Store {
	t.Helper()
	st, err := store.New(context.Background(), srv.Client(t), store.Options{Prefix: prefix, SkipChecks: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// create makes a session for uid ("" for anonymous) and returns its handle.
func create(t *testing.T, st *store.Store, uid string, fields map[string]string) string {
	t.Helper()
	_, rec, err := st.Create(context.Background(), store.NewSession{
		Meta:   store.Meta{UserID: uid, UserAgent: "Mozilla/5.0 test", RemoteAddr: "192.0.2.7"},
		Fields: fields,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec.Handle
}

// decode parses the JSON a command printed.
func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("output is not JSON: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return v
}

// mustContain fails unless s contains every one of want.
func mustContain(t *testing.T, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("output lacks %q:\n%s", w, s)
		}
	}
}
