package main

import (
	"os"
	"strings"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// aclLine returns the line of docs/operations.md that defines ACL user name, with its password
// replaced by "pw".
func aclLine(t *testing.T, doc, name string) string {
	t.Helper()
	for line := range strings.Lines(doc) {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "user "+name+" on >"); ok {
			_, rules, _ := strings.Cut(rest, " ")
			return "user " + name + " on >pw " + rules
		}
	}
	t.Fatalf("docs/operations.md defines no ACL user %q", name)
	return ""
}

// TestOperationsDocACLsWork keeps docs/operations.md honest: its application user line is what
// store.ACLRules returns, and its sessionctl user can run every command, doctor's checks included,
// while neither may run a destructive command.
func TestOperationsDocACLsWork(t *testing.T) {
	raw, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	app := aclLine(t, doc, "app")
	if want := "user app on >pw " + store.ACLRules(""); app != want {
		t.Errorf("docs/operations.md's app user is\n%s\nbut store.ACLRules gives\n%s", app, want)
	}
	op := aclLine(t, doc, "sessionctl")

	srv := redistest.Start(t, redistest.Options{AOF: true, MaxMemory: "64mb", ACL: []string{app, op}})
	st := newStore(t, srv, "")
	someSessions(t, srv, st)
	anns := create(t, st, "ann", nil)
	lost := create(t, st, "bob", nil)
	srv.Client(t).ZRem(t.Context(), st.IndexKey("bob"), lost)

	url := "redis://sessionctl:pw@" + srv.Addr() + "/0"
	r := sessionctlURL(t, url, "doctor", "--acl-user", "app", "--json")
	d := decode[doctorJSON](t, r)
	for _, f := range d.Findings {
		want := "ok"
		if f.Check == "unindexed" {
			want = "error"
		}
		if f.Severity != want {
			t.Errorf("doctor as the documented operator: %s is %s (%s), want %s", f.Check, f.Severity, f.Message, want)
		}
	}
	for _, args := range [][]string{
		{"list", "--user", "ann"},
		{"show", "--handle", anns},
		{"stats"},
		{"repair-index", "--yes"},
		{"revoke", "--handle", anns, "--user", "ann"},
		{"revoke", "--user", "ann", "--yes"},
	} {
		if r := sessionctlURL(t, url, args...); r.code != exitOK {
			t.Errorf("%v as the documented operator: exit %d: %s", args, r.code, r.stderr)
		}
	}
	// The operator user cannot run destructive commands either.
	d = decode[doctorJSON](t, sessionctlURL(t, url, "doctor", "--acl-user", "sessionctl", "--json"))
	if sev, msg, _ := d.find(t, "acl"); sev != "ok" {
		t.Errorf("the documented operator user: acl %s (%s)", sev, msg)
	}
}
