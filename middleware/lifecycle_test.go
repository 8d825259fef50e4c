package middleware_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

func TestLifecycleEventsAreLoggedWithAKeyedHash(t *testing.T) {
	logKey := bytes.Repeat([]byte{5}, 32)
	e := newEnv(t, config{mw: middleware.Options{LogKey: logKey}})
	srv := e.serve(app())
	b := newBrowser(t, srv)
	mustOK(t, "login", b.post("/login"+q("user", "kim")))
	first := mustOK(t, "handle", b.get("/handle")).body
	mustOK(t, "elevate", b.post("/elevate"))
	second := mustOK(t, "handle", b.get("/handle")).body
	id := b.cookie()
	mustOK(t, "logout", b.post("/logout"))

	logs := e.logs.String()
	for _, want := range []string{"session created", "session rotated", "session destroyed", "user=kim"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{id, first, second} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("log contains an ID or a handle (%.12s…)", secret)
		}
	}
	// The same key names the same session the same way on every node: another Manager with the key
	// logs the rotation's new session under the name this one used.
	other := newEnv(t, config{mw: middleware.Options{LogKey: logKey}})
	st := other.store
	ctx := context.Background()
	id2, _, err := st.Create(ctx, store.NewSession{Meta: store.Meta{UserID: "kim"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.m.EndUserSessions(ctx, "kim"); err != nil {
		t.Fatal(err)
	}
	name := func(logs string) []string {
		var out []string
		for _, line := range strings.Split(logs, "\n") {
			if i := strings.Index(line, "session="); i >= 0 && strings.Contains(line, "destroyed") {
				out = append(out, strings.Fields(line[i:])[0])
			}
		}
		return out
	}
	if got := name(other.logs.String()); len(got) != 1 || strings.Contains(got[0], store.Handle(id2)) || len(got[0]) != len("session=")+24 {
		t.Errorf("destroy logged as %v", got)
	}
}

func TestLockingAUserOutEndsEverySession(t *testing.T) {
	var mu sync.Mutex
	destroyed := map[string]bool{}
	e := newEnv(t, config{mw: middleware.Options{OnDestroy: func(_ context.Context, ev middleware.Event) {
		mu.Lock()
		defer mu.Unlock()
		destroyed[ev.Handle] = true
	}}})
	srv := e.serve(app())
	var devices []*browser
	var handles []string
	for range 3 {
		b := newBrowser(t, srv)
		mustOK(t, "login", b.post("/login"+q("user", "lee")))
		devices = append(devices, b)
		handles = append(handles, mustOK(t, "handle", b.get("/handle")).body)
	}
	bystander := newBrowser(t, srv)
	mustOK(t, "login", bystander.post("/login"+q("user", "max")))

	n, err := e.m.EndUserSessions(context.Background(), "lee")
	if err != nil || n != 3 {
		t.Fatalf("EndUserSessions = %d, %v; want 3", n, err)
	}
	for i, b := range devices {
		if who := b.get("/whoami").body; who != "/" {
			t.Errorf("device %d still signed in as %q", i, who)
		}
		if !destroyed[handles[i]] {
			t.Errorf("OnDestroy missed device %d", i)
		}
	}
	if who := bystander.get("/whoami").body; who != "max/" {
		t.Errorf("another user's session was touched: %q", who)
	}
	if n, err := e.m.EndUserSessions(context.Background(), "lee"); err != nil || n != 0 {
		t.Errorf("second EndUserSessions = %d, %v", n, err)
	}
}
