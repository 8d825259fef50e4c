package main

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// doctorJSON is doctor's --json output.
type doctorJSON struct {
	Server   string `json:"server"`
	Worst    string `json:"worst"`
	Findings []struct {
		Check    string         `json:"check"`
		Severity string         `json:"severity"`
		Message  string         `json:"message"`
		Fix      string         `json:"fix"`
		Details  map[string]any `json:"details"`
	} `json:"findings"`
}

// find returns the finding of check, failing the test when there is none.
func (d doctorJSON) find(t *testing.T, check string) (severity, message, fix string) {
	t.Helper()
	for _, f := range d.Findings {
		if f.Check == check {
			return f.Severity, f.Message, f.Fix
		}
	}
	t.Fatalf("no %q finding in %+v", check, d.Findings)
	return "", "", ""
}

// healthy is a session instance configured as docs/operations.md says, with a least-privilege
// application user "app" and an over-privileged user "wide".
func healthy() redistest.Options {
	return redistest.Options{
		AOF: true, MaxMemory: "64mb", MaxMemoryPolicy: "noeviction",
		ACL: []string{appACL(""), "user wide on >pw ~* +@all"},
	}
}

// someSessions creates what an application would: signed-in and anonymous sessions.
func someSessions(t *testing.T, srv *redistest.Server, st *store.Store) {
	for _, uid := range []string{"ann", "ann", "bob", ""} {
		create(t, st, uid, map[string]string{"cart": `["x"]`})
	}
}

func TestDoctor(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		ro     func(*redistest.Options)
		setup  func(t *testing.T, srv *redistest.Server, st *store.Store)
		args   []string
		code   int
		want   map[string]string // check → severity; every other finding must be ok
		substr map[string]string // check → text its message must contain
	}{
		{
			name: "healthy server", code: exitOK,
			substr: map[string]string{"acl": "may not run FLUSHALL", "persistence": "everysec", "sessions": "4 sessions"},
		},
		{
			name: "allkeys-lru evicts sessions silently",
			ro:   func(o *redistest.Options) { o.MaxMemoryPolicy = "allkeys-lru" },
			code: exitError, want: map[string]string{"eviction-policy": "error"},
			substr: map[string]string{"eviction-policy": "allkeys-lru"},
		},
		{
			name: "volatile-lru may evict sessions",
			ro:   func(o *redistest.Options) { o.MaxMemoryPolicy = "volatile-lru" },
			code: exitWarning, want: map[string]string{"eviction-policy": "warning"},
		},
		{
			name: "no persistence",
			ro:   func(o *redistest.Options) { o.AOF = false },
			code: exitWarning, want: map[string]string{"persistence": "warning"},
			substr: map[string]string{"persistence": "logs every user out"},
		},
		{
			name: "RDB only is acceptable",
			ro:   func(o *redistest.Options) { o.AOF, o.RDB = false, true },
			code: exitOK, substr: map[string]string{"persistence": "RDB snapshots are on"},
		},
		{
			name: "appendfsync no",
			ro:   func(o *redistest.Options) { o.AppendFsync = "no" },
			code: exitWarning, want: map[string]string{"persistence": "warning"},
		},
		{
			name: "CONFIG renamed: cannot verify",
			ro:   func(o *redistest.Options) { o.RenameConfig = true },
			code: exitWarning, want: map[string]string{"persistence": "warning"},
			substr: map[string]string{"persistence": "could not be verified", "eviction-policy": "read from INFO"},
		},
		{
			name: "a session key without a TTL",
			setup: func(t *testing.T, srv *redistest.Server, st *store.Store) {
				someSessions(t, srv, st)
				srv.Client(t).HSet(ctx, st.SessionKey(store.Handle("forever")), "x", "1")
			},
			code: exitError, want: map[string]string{"session-ttl": "error"},
			substr: map[string]string{"session-ttl": "1 of 5 session keys have no TTL"},
		},
		{
			name: "a dangling index member",
			setup: func(t *testing.T, srv *redistest.Server, st *store.Store) {
				someSessions(t, srv, st)
				h := create(t, st, "cy", nil)
				srv.Client(t).Del(ctx, st.SessionKey(h)) // a crash between delete and unindex
			},
			code: exitWarning, want: map[string]string{"index": "warning"},
			substr: map[string]string{"index": "1 of 4 members"},
		},
		{
			name: "a session missing from its user's index",
			setup: func(t *testing.T, srv *redistest.Server, st *store.Store) {
				someSessions(t, srv, st)
				h := create(t, st, "dee", nil)
				srv.Client(t).ZRem(ctx, st.IndexKey("dee"), h) // a crash between create and index
			},
			code: exitError, want: map[string]string{"unindexed": "error"},
		},
		{
			name: "an application user allowed FLUSHALL",
			args: []string{"--acl-user", "wide"},
			code: exitWarning, want: map[string]string{"acl": "warning"},
			substr: map[string]string{"acl": "FLUSHALL, FLUSHDB, KEYS, CONFIG SET"},
		},
		{
			name: "an application user with +@all -@dangerous",
			ro: func(o *redistest.Options) {
				o.ACL = append(o.ACL, "user legacy on >pw ~session:* ~user:* +@all -@dangerous")
			},
			args: []string{"--acl-user", "legacy"},
			code: exitOK, substr: map[string]string{"acl": "CONFIG GET is denied"},
		},
		{
			name: "an application user lacking a command the store needs",
			ro: func(o *redistest.Options) {
				o.ACL = append(o.ACL, "user narrow on >pw ~session:* ~user:* -@all +hgetall +evalsha +eval")
			},
			args: []string{"--acl-user", "narrow"},
			code: exitError, want: map[string]string{"acl-store": "error"},
			substr: map[string]string{"acl-store": "HSET"},
		},
		{
			name: "an ACL user that does not exist",
			args: []string{"--acl-user", "nobody"},
			code: exitError, want: map[string]string{"acl": "error"},
		},
		{
			name: "checking the connected administrator",
			args: []string{"--acl-user", ""},
			code: exitWarning, want: map[string]string{"acl": "warning"},
			substr: map[string]string{"acl": "--acl-user"},
		},
		{
			name: "memory nearly full, and a write refused",
			ro:   func(o *redistest.Options) { o.MaxMemory = "512kb" },
			setup: func(t *testing.T, srv *redistest.Server, st *store.Store) {
				if _, _, err := st.Create(ctx, store.NewSession{}); err == nil || !strings.Contains(err.Error(), "OOM") {
					t.Fatalf("Create over maxmemory = %v, want an OOM error", err)
				}
			},
			code: exitError, want: map[string]string{"memory": "error", "evictions": "warning"},
			substr: map[string]string{"evictions": "refused with OOM"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ro := healthy()
			if tc.ro != nil {
				tc.ro(&ro)
			}
			srv := redistest.Start(t, ro)
			st := newStore(t, srv, "")
			setup := tc.setup
			if setup == nil {
				setup = someSessions
			}
			setup(t, srv, st)
			args := append([]string{"doctor", "--json", "--acl-user", "app"}, tc.args...)
			r := sessionctl(t, srv, args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			d := decode[doctorJSON](t, r)
			for _, f := range d.Findings {
				want, ok := tc.want[f.Check]
				if !ok {
					want = "ok"
				}
				if f.Severity != want {
					t.Errorf("%s: %s (%s), want %s", f.Check, f.Severity, f.Message, want)
				}
				if f.Severity != "ok" && f.Fix == "" {
					t.Errorf("%s: %s without a fix", f.Check, f.Severity)
				}
			}
			for check := range tc.want {
				d.find(t, check)
			}
			for check, sub := range tc.substr {
				if _, msg, _ := d.find(t, check); !strings.Contains(msg, sub) {
					t.Errorf("%s: %q lacks %q", check, msg, sub)
				}
			}
		})
	}
}

func TestDoctorAsTheLeastPrivilegeUserCannotVerifyButSaysSo(t *testing.T) {
	srv := redistest.Start(t, healthy())
	someSessions(t, srv, newStore(t, srv, ""))
	r := sessionctlURL(t, "redis://app:pw@"+srv.Addr()+"/0", "doctor", "--json")
	if r.code != exitWarning {
		t.Errorf("exit %d, want %d\n%s%s", r.code, exitWarning, r.stdout, r.stderr)
	}
	d := decode[doctorJSON](t, r)
	sev, msg, fix := d.find(t, "acl")
	if sev != "warning" || !strings.Contains(msg, "unknown") || !strings.Contains(fix, "--acl-user app") {
		t.Errorf("acl: %s %q (fix %q)", sev, msg, fix)
	}
	// CONFIG GET is granted to the application, so the policy is still verified.
	if sev, _, _ := d.find(t, "eviction-policy"); sev != "ok" {
		t.Errorf("eviction-policy: %s", sev)
	}
	for _, f := range d.Findings {
		if f.Severity == "error" {
			t.Errorf("%s: error %q; a check that cannot be made is a warning", f.Check, f.Message)
		}
	}
}

func TestDoctorOnAReplica(t *testing.T) {
	master := redistest.Start(t, healthy())
	_, port, err := net.SplitHostPort(master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	replica := redistest.Start(t, redistest.Options{AOF: true, MaxMemory: "64mb", Args: []string{"--replicaof", "127.0.0.1", port}})
	r := sessionctl(t, replica, "doctor", "--json")
	d := decode[doctorJSON](t, r)
	sev, msg, fix := d.find(t, "replication")
	if sev != "warning" || !strings.Contains(msg, "replica of 127.0.0.1:"+port) || !strings.Contains(fix, "master") {
		t.Errorf("replication: %s %q (fix %q)", sev, msg, fix)
	}
	if r.code == exitOK {
		t.Errorf("exit 0 on a replica")
	}
}

func TestDoctorCannotReachRedis(t *testing.T) {
	// A port that was free a moment ago; never the machine's own Redis on 6379.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := sessionctlURL(t, "redis://"+addr+"/0", "doctor")
	if r.code != exitError {
		t.Errorf("exit %d, want %d", r.code, exitError)
	}
	mustContain(t, r.stdout, "ERROR", "server", "cannot reach Redis at "+addr, "fix:")
}

func TestDoctorTextOutput(t *testing.T) {
	ro := healthy()
	ro.MaxMemoryPolicy = "volatile-lru"
	srv := redistest.Start(t, ro)
	someSessions(t, srv, newStore(t, srv, "app:"))
	r := sessionctl(t, srv, "--prefix", "app:", "doctor", "--acl-user", "wide")
	if r.code != exitWarning {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustContain(t, r.stdout, `key prefix "app:"`, "WARNING  eviction-policy", "volatile-lru", "fix: Keep sessions on a Redis of their own",
		"ACL SETUSER wide reset on >PASSWORD resetkeys ~app:session:* ~app:user:*", "OK       sessions", "4 sessions", "warning(s)")
	if r.stderr != "" {
		t.Errorf("stderr (no progress off a terminal): %q", r.stderr)
	}
}
