package main

import (
	"bufio"
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

func TestList(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "p:")
	a := create(t, st, "ann", nil)
	b := create(t, st, "ann", nil)
	create(t, st, "bob", nil)
	// A user agent is the client's to choose: control characters must not reach the terminal.
	if _, _, err := st.Create(context.Background(), store.NewSession{Meta: store.Meta{UserID: "ann", UserAgent: "evil\x1b[2J"}}); err != nil {
		t.Fatal(err)
	}

	r := sessionctl(t, srv, "list", "--user", "ann", "--prefix", "p:")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, r.stdout, "HANDLE", a, b, "192.0.2.7", "Mozilla/5.0 test", `"evil\x1b[2J"`)
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("a raw escape character reached the output: %q", r.stdout)
	}

	r = sessionctl(t, srv, "--prefix", "p:", "--json", "list", "--user", "ann")
	list := decode[[]sessionJSON](t, r)
	if len(list) != 3 || list[0].UserID != "ann" || list[0].Created == nil || list[0].IdleTimeoutMS != store.DefaultIdleTimeout.Milliseconds() {
		t.Errorf("JSON list = %+v", list)
	}
	if r := sessionctl(t, srv, "--json", "--prefix", "p:", "list", "--user", "nobody"); strings.TrimSpace(r.stdout) != "[]" || r.code != exitOK {
		t.Errorf("empty JSON list = %q, exit %d", r.stdout, r.code)
	}
	if r := sessionctl(t, srv, "--prefix", "p:", "list", "--user", "nobody"); !strings.Contains(r.stdout, "no live sessions") {
		t.Errorf("empty list = %q", r.stdout)
	}
	// Without the prefix, the keys are not found: the flag is honoured.
	if r := sessionctl(t, srv, "--json", "list", "--user", "ann"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("list without the prefix = %q", r.stdout)
	}
}

func TestShowPrintsFieldNamesAndSizesButNeverValues(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "")
	const secret = `"4111-1111-1111-1111"`
	_, rec, err := st.Create(context.Background(), store.NewSession{
		Meta:   store.Meta{UserID: "ann", Level: "elevated", CSRFToken: "csrf-secret", UserAgent: "ua", RemoteAddr: "192.0.2.9"},
		Fields: map[string]string{"card": secret, "theme": `"dark"`},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"show", "--handle", rec.Handle}, {"show", "--json", "--handle", rec.Handle}} {
		r := sessionctl(t, srv, args...)
		if r.code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		for _, leak := range []string{"4111", "dark", "csrf-secret"} {
			if strings.Contains(r.stdout, leak) {
				t.Errorf("%v printed %q:\n%s", args, leak, r.stdout)
			}
		}
		mustContain(t, r.stdout, "card", "theme", "ann", "elevated", "192.0.2.9")
	}
	r := sessionctl(t, srv, "--json", "show", "--handle", rec.Handle)
	v := decode[struct {
		sessionJSON
		TTLMS        int64 `json:"ttl_ms"`
		CSRFTokenSet bool  `json:"csrf_token_set"`
		Corrupt      bool  `json:"corrupt"`
		Fields       []struct {
			Name  string `json:"name"`
			Bytes int64  `json:"bytes"`
		} `json:"fields"`
	}](t, r)
	if v.TTLMS <= 0 || !v.CSRFTokenSet || v.Corrupt || len(v.Fields) != 2 || v.Fields[0].Name != "card" || v.Fields[0].Bytes != int64(len(secret)) {
		t.Errorf("show JSON = %+v", v)
	}

	if r := sessionctl(t, srv, "show", "--handle", store.Handle("gone")); r.code != exitError || !strings.Contains(r.stderr, "no session with handle") {
		t.Errorf("show of a missing session: exit %d, %q", r.code, r.stderr)
	}
	if r := sessionctl(t, srv, "show", "--handle", "xyz"); r.code != exitError || !strings.Contains(r.stderr, "invalid session handle") {
		t.Errorf("show of a malformed handle: exit %d, %q", r.code, r.stderr)
	}
	if r := sessionctl(t, srv, "show"); r.code != exitError || !strings.Contains(r.stderr, "--handle is required") {
		t.Errorf("show without --handle: exit %d, %q", r.code, r.stderr)
	}
}

func TestRevokeAUsersSessionsNeedsYes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "")
	a := create(t, st, "ann", nil)
	b := create(t, st, "ann", nil)
	bob := create(t, st, "bob", nil)

	r := sessionctl(t, srv, "revoke", "--user", "ann")
	if r.code != exitNeedsYes {
		t.Fatalf("revoke without --yes: exit %d, want %d", r.code, exitNeedsYes)
	}
	mustContain(t, r.stdout, "would revoke 2 session(s) of user ann", a, b, "Nothing was revoked", "--yes")
	if list, _ := st.List(context.Background(), "ann"); len(list) != 2 {
		t.Fatalf("a dry run revoked sessions: %d left", len(list))
	}

	r = sessionctl(t, srv, "revoke", "--user", "ann", "--yes", "--json")
	if r.code != exitOK {
		t.Fatalf("revoke --yes: exit %d: %s", r.code, r.stderr)
	}
	res := decode[struct {
		Applied bool     `json:"applied"`
		Planned []string `json:"planned"`
		Revoked int      `json:"revoked"`
	}](t, r)
	if !res.Applied || res.Revoked != 2 || len(res.Planned) != 2 {
		t.Errorf("revoke JSON = %+v", res)
	}
	if list, _ := st.List(context.Background(), "ann"); len(list) != 0 {
		t.Errorf("%d sessions of ann survived", len(list))
	}
	if list, _ := st.List(context.Background(), "bob"); len(list) != 1 || list[0].Handle != bob {
		t.Errorf("bob's session was touched: %v", list)
	}
	if r := sessionctl(t, srv, "revoke", "--user", "ann", "--yes"); r.code != exitOK || !strings.Contains(r.stdout, "no live sessions") {
		t.Errorf("revoking a user without sessions: exit %d, %q", r.code, r.stdout)
	}
}

func TestRevokeAllButOne(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "")
	keep := create(t, st, "ann", nil)
	create(t, st, "ann", nil)
	create(t, st, "ann", nil)

	// A mistyped --except must not turn into "revoke everything".
	r := sessionctl(t, srv, "revoke", "--user", "ann", "--except", store.Handle("typo"), "--yes")
	if r.code != exitError || !strings.Contains(r.stderr, "nothing was revoked") {
		t.Errorf("--except of a foreign handle: exit %d, %q", r.code, r.stderr)
	}
	if r := sessionctl(t, srv, "revoke", "--user", "ann", "--except", keep); r.code != exitNeedsYes || !strings.Contains(r.stdout, "would revoke 2") {
		t.Errorf("dry run: exit %d, %q", r.code, r.stdout)
	}
	r = sessionctl(t, srv, "revoke", "--user", "ann", "--except", keep, "--yes")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustContain(t, r.stdout, "revoked 2 session(s) of user ann", "kept session "+keep)
	if list, _ := st.List(context.Background(), "ann"); len(list) != 1 || list[0].Handle != keep {
		t.Errorf("left: %v", list)
	}
}

func TestRevokeOneSession(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "")
	a := create(t, st, "ann", nil)
	b := create(t, st, "ann", nil)
	anon := create(t, st, "", nil)

	// One session needs no --yes.
	r := sessionctl(t, srv, "revoke", "--handle", a)
	if r.code != exitOK || !strings.Contains(r.stdout, "revoked session "+a+" of user ann") {
		t.Fatalf("exit %d: %q %q", r.code, r.stdout, r.stderr)
	}
	if n, _ := srv.Client(t).ZCard(context.Background(), st.IndexKey("ann")).Result(); n != 1 {
		t.Errorf("index has %d members, want 1: revoke must unindex", n)
	}
	// With --user, another user's session is refused.
	if r := sessionctl(t, srv, "revoke", "--handle", b, "--user", "bob"); r.code != exitError || !strings.Contains(r.stderr, "belongs to user bob") {
		t.Errorf("revoke of another user's session: exit %d, %q", r.code, r.stderr)
	}
	if r := sessionctl(t, srv, "--json", "revoke", "--handle", b, "--user", "ann"); r.code != exitOK || !strings.Contains(r.stdout, `"revoked"`) {
		t.Errorf("revoke --user --handle: exit %d, %q", r.code, r.stdout)
	}
	if r := sessionctl(t, srv, "revoke", "--handle", anon); r.code != exitOK || !strings.Contains(r.stdout, "anonymous") {
		t.Errorf("revoke of an anonymous session: exit %d, %q", r.code, r.stdout)
	}
	if r := sessionctl(t, srv, "revoke", "--handle", a); r.code != exitError || !strings.Contains(r.stderr, "no session with handle") {
		t.Errorf("second revoke: exit %d, %q", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"revoke"},
		{"revoke", "--handle", "nothex"},
		{"revoke", "--handle", a, "--except", b},
		{"revoke", "--user", "ann", "--except", "short"},
	} {
		if r := sessionctl(t, srv, args...); r.code != exitError || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestStats(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "")
	for _, uid := range []string{"ann", "ann", "bob", "", ""} {
		create(t, st, uid, map[string]string{"x": strings.Repeat("y", 100)})
	}
	srv.Client(t).HSet(context.Background(), st.SessionKey(store.Handle("stray")), "x", "1")

	r := sessionctl(t, srv, "stats", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	s := decode[struct {
		Sessions         int   `json:"sessions"`
		SessionsComplete bool  `json:"sessions_complete"`
		WithoutTTL       int   `json:"without_ttl"`
		Indexes          int   `json:"indexes"`
		IndexMembers     int64 `json:"index_members"`
		AvgBytes         int64 `json:"avg_bytes"`
		EstimateBytes    int64 `json:"estimate_bytes"`
		TTL              []struct {
			Label string `json:"label"`
			Count int    `json:"count"`
		} `json:"ttl"`
	}](t, r)
	if s.Sessions != 6 || !s.SessionsComplete || s.WithoutTTL != 1 || s.Indexes != 2 || s.IndexMembers != 3 || s.AvgBytes <= 100 || s.EstimateBytes != 6*s.AvgBytes {
		t.Errorf("stats = %+v", s)
	}
	// Default idle timeout 30 minutes: every TTL is in the 15m-30m bucket.
	i := slices.IndexFunc(s.TTL, func(b struct {
		Label string `json:"label"`
		Count int    `json:"count"`
	}) bool {
		return b.Label == "15m-30m"
	})
	if i < 0 || s.TTL[i].Count != 5 {
		t.Errorf("TTL distribution = %+v", s.TTL)
	}

	r = sessionctl(t, srv, "stats", "--limit", "2")
	mustContain(t, r.stdout, "sessions", "2 (at least: stopped at --limit)", "remaining TTL", "no TTL")
}

func TestRepairIndex(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "")
	rdb := srv.Client(t)
	ctx := context.Background()
	live := create(t, st, "ann", nil)
	dead := create(t, st, "ann", nil)
	lost := create(t, st, "bob", nil)
	rdb.Del(ctx, st.SessionKey(dead))       // dangling member in ann's index
	rdb.ZRem(ctx, st.IndexKey("bob"), lost) // bob's session escaped his index

	r := sessionctl(t, srv, "repair-index")
	if r.code != exitNeedsYes {
		t.Fatalf("dry run: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, r.stdout, "would remove 1 dangling member(s) from 1 user index(es)", "user ann: 1", "would re-index 1 session(s)", lost, "Nothing was changed")
	if n, _ := rdb.ZCard(ctx, st.IndexKey("ann")).Result(); n != 2 {
		t.Fatalf("the dry run changed ann's index: %d members", n)
	}

	r = sessionctl(t, srv, "repair-index", "--yes", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	p := decode[struct {
		Applied   bool `json:"applied"`
		Pruned    int  `json:"pruned"`
		Reindexed int  `json:"reindexed"`
	}](t, r)
	if !p.Applied || p.Pruned != 1 || p.Reindexed != 1 {
		t.Errorf("repair = %+v", p)
	}
	if m, _ := rdb.ZRange(ctx, st.IndexKey("ann"), 0, -1).Result(); !slices.Equal(m, []string{live}) {
		t.Errorf("ann's index = %v", m)
	}
	if list, _ := st.List(ctx, "bob"); len(list) != 1 || list[0].Handle != lost {
		t.Errorf("bob's sessions after repair = %v", list)
	}
	if r := sessionctl(t, srv, "repair-index"); r.code != exitOK || !strings.Contains(r.stdout, "nothing to repair") {
		t.Errorf("second run: exit %d, %q", r.code, r.stdout)
	}
	if r := sessionctl(t, srv, "doctor", "--acl-user", "default"); strings.Contains(r.stdout, "ERROR") {
		t.Errorf("doctor after repair:\n%s", r.stdout)
	}
}

func TestNothingDestructiveIsEverSent(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "")
	for range 3 {
		create(t, st, "ann", nil)
	}
	h := create(t, st, "bob", nil)
	srv.Client(t).Del(context.Background(), st.SessionKey(create(t, st, "cy", nil)))

	// MONITOR shows every command the server receives; a raw connection keeps the client out of it.
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	if l, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+OK") {
		t.Fatalf("MONITOR: %q, %v", l, err)
	}
	lines := make(chan string, 100000)
	go func() {
		defer close(lines)
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			lines <- l
		}
	}()

	for _, args := range [][]string{
		{"doctor", "--acl-user", "default"}, {"stats"}, {"list", "--user", "ann"}, {"show", "--handle", h},
		{"revoke", "--user", "ann"}, {"revoke", "--user", "ann", "--yes"}, {"revoke", "--handle", h},
		{"repair-index"}, {"repair-index", "--yes"},
	} {
		if r := sessionctl(t, srv, args...); r.code == exitError {
			t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	// A marker command ends the capture once everything before it has been seen.
	srv.Client(t).Echo(context.Background(), "sessionctl-test-done")
	seen := 0
	for l := range lines {
		if strings.Contains(l, "sessionctl-test-done") {
			break
		}
		seen++
		cmd := strings.ToUpper(l)
		for _, bad := range []string{`"FLUSHALL"`, `"FLUSHDB"`, `"KEYS"`, `"CONFIG" "SET"`, `"UNLINK"`} {
			if strings.Contains(cmd, bad) && !strings.Contains(cmd, `"DRYRUN"`) {
				t.Errorf("sessionctl sent %s", l)
			}
		}
		if _, args, ok := strings.Cut(cmd, `"DEL"`); ok && strings.ContainsAny(args, "*?[") {
			t.Errorf("sessionctl deleted by pattern: %s", l)
		}
	}
	if seen < 50 {
		t.Errorf("MONITOR saw only %d commands", seen)
	}
}

func TestGlobalFlagsAndUsage(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := newStore(t, srv, "")
	create(t, st, "ann", nil)

	// REDIS_URL is the default server.
	t.Setenv("REDIS_URL", srv.URL())
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"list", "--user", "ann", "--json"}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), `"user_id": "ann"`) {
		t.Errorf("REDIS_URL: exit %d, %q %q", code, out.String(), errOut.String())
	}

	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"help"}, exitOK, "Commands:", ""},
		{[]string{"help", "doctor"}, exitOK, "-acl-user", ""},
		{[]string{"doctor", "-h"}, exitOK, "", "-limit"},
		{[]string{}, exitError, "", "Usage:"},
		{[]string{"frobnicate"}, exitError, "", `unknown command "frobnicate"`},
		{[]string{"list"}, exitError, "", "--user is required"},
		{[]string{"list", "--user", "ann", "extra"}, exitError, "", `unexpected argument "extra"`},
		{[]string{"list", "--bogus"}, exitError, "", "flag provided but not defined"},
		{[]string{"doctor", "--limit", "-1"}, exitError, "", "must not be negative"},
		{[]string{"--prefix", "{x}", "stats"}, exitError, "", "hash tag"},
	} {
		var out, errOut strings.Builder
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errOut.String(), tc.stderr) {
			t.Errorf("%v: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", tc.args, code, tc.code, out.String(), tc.stdout, errOut.String(), tc.stderr)
		}
	}

	// A password in the URL is never printed, even in a parse error or in help.
	t.Setenv("REDIS_URL", "redis://app:s3cret@"+srv.Addr()+"/0")
	for _, args := range [][]string{{"help", "doctor"}, {"--redis-url", "redis://app:s3cret@host:notaport/0", "stats"}} {
		var out, errOut strings.Builder
		run(context.Background(), args, &out, &errOut)
		if strings.Contains(out.String()+errOut.String(), "s3cret") {
			t.Errorf("%v printed the password: %q %q", args, out.String(), errOut.String())
		}
	}
}
