package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ctx returns a context bounded by the test's deadline budget.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStartPingSetGet(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || strings.HasSuffix(s.Addr(), ":6379") {
		t.Fatalf("Addr = %q, want a free 127.0.0.1 port", s.Addr())
	}
	if want := "redis://" + s.Addr() + "/0"; s.URL() != want {
		t.Fatalf("URL = %q, want %q", s.URL(), want)
	}
	if s.IsFake() || s.Pid() <= 0 {
		t.Fatalf("IsFake = %v, Pid = %d; want a real process", s.IsFake(), s.Pid())
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "redis.conf")); err != nil {
		t.Fatalf("redis.conf in Dir: %v", err)
	}

	c := s.Client(t)
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	if err := c.Set(ctx(t), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx(t), "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
	// The server has no persistence by default.
	if info, err := c.Info(ctx(t), "persistence").Result(); err != nil ||
		!strings.Contains(info, "aof_enabled:0") || !strings.Contains(info, "rdb_changes_since_last_save") {
		t.Fatalf("INFO persistence: %v\n%s", err, info)
	}
	if save, err := c.ConfigGet(ctx(t), "save").Result(); err != nil || save["save"] != "" {
		t.Fatalf("CONFIG GET save = %v, %v; want empty", save, err)
	}

	opt, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatalf("ParseURL: %v", err)
	}
	u := redis.NewClient(opt)
	defer u.Close()
	if got, err := u.Get(ctx(t), "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET via URL = %q, %v; want v", got, err)
	}
}

func TestAOFStopRestart(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{AOF: true})
	c := s.Client(t)
	if fsync, err := c.ConfigGet(ctx(t), "appendfsync").Result(); err != nil || fsync["appendfsync"] != "everysec" {
		t.Fatalf("CONFIG GET appendfsync = %v, %v; want everysec", fsync, err)
	}
	if err := c.Set(ctx(t), "session:1", "alice", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	addr, pid := s.Addr(), s.Pid()

	s.Stop(t)
	if s.Pid() != 0 {
		t.Fatalf("Pid after Stop = %d, want 0", s.Pid())
	}
	if processAlive(pid) {
		t.Fatalf("pid %d still alive after Stop", pid)
	}
	if _, err := command(addr, time.Second, "PING"); !errors.Is(err, errDial) {
		t.Fatalf("PING after Stop err = %v, want a refused connection", err)
	}
	s.Stop(t) // stopping twice is harmless

	s.Restart(t)
	if s.Addr() != addr || s.Pid() <= 0 || s.Pid() == pid {
		t.Fatalf("after Restart Addr = %q (was %q), Pid = %d (was %d)", s.Addr(), addr, s.Pid(), pid)
	}
	if got, err := c.Get(ctx(t), "session:1").Result(); err != nil || got != "alice" {
		t.Fatalf("GET after Restart = %q, %v; want alice", got, err)
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{AOF: true, AppendFsync: "always"})
	c := s.Client(t)
	if err := c.Set(ctx(t), "session:2", "bob", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	pid := s.Pid()
	s.Kill(t)
	if processAlive(pid) {
		t.Fatalf("pid %d still alive after Kill", pid)
	}
	s.Kill(t) // killing twice is harmless

	s.Restart(t)
	// appendfsync always: the write survives even SIGKILL.
	if got, err := c.Get(ctx(t), "session:2").Result(); err != nil || got != "bob" {
		t.Fatalf("GET after Kill+Restart = %q, %v; want bob", got, err)
	}
	// Restart of a running server stops it first.
	s.Restart(t)
	if got, err := c.Get(ctx(t), "session:2").Result(); err != nil || got != "bob" {
		t.Fatalf("GET after second Restart = %q, %v; want bob", got, err)
	}
}

func TestRDBStopRestart(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{RDB: true})
	c := s.Client(t)
	if save, err := c.ConfigGet(ctx(t), "save").Result(); err != nil || save["save"] != "3600 1" {
		t.Fatalf("CONFIG GET save = %v, %v; want 3600 1", save, err)
	}
	if err := c.Set(ctx(t), "k", "rdb", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	s.Stop(t)
	if _, err := os.Stat(filepath.Join(s.Dir(), "dump.rdb")); err != nil {
		t.Fatalf("dump.rdb after Stop: %v", err)
	}
	s.Restart(t)
	if got, err := c.Get(ctx(t), "k").Result(); err != nil || got != "rdb" {
		t.Fatalf("GET after Restart = %q, %v; want rdb", got, err)
	}
}

func TestRenameConfig(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{RenameConfig: true})
	c := s.Client(t)
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	err := c.ConfigGet(ctx(t), "maxmemory").Err()
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unknown command") {
		t.Fatalf("CONFIG GET err = %v, want unknown command", err)
	}
	// Stop and Restart do not need CONFIG.
	s.Stop(t)
	s.Restart(t)
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
}

func TestACL(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{ACL: []string{"user app on >pw ~session:* ~user:* +@all -@dangerous"}})
	app := s.ClientAs(t, "app", "pw")
	if who, err := app.Do(ctx(t), "ACL", "WHOAMI").Text(); err != nil || who != "app" {
		t.Fatalf("ACL WHOAMI = %q, %v; want app", who, err)
	}
	if err := app.Set(ctx(t), "session:1", "x", 0).Err(); err != nil {
		t.Fatalf("SET session:1 as app: %v", err)
	}
	if err := app.Set(ctx(t), "other:1", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("SET other:1 as app err = %v, want NOPERM", err)
	}
	if err := app.FlushAll(ctx(t)).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("FLUSHALL as app err = %v, want NOPERM", err)
	}
	bad := s.ClientAs(t, "app", "wrong")
	if err := bad.Ping(ctx(t)).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("PING with a wrong password err = %v, want WRONGPASS", err)
	}
	// The default user keeps full access, so the harness itself still works.
	if got, err := s.Client(t).Get(ctx(t), "session:1").Result(); err != nil || got != "x" {
		t.Fatalf("GET as default = %q, %v; want x", got, err)
	}
	s.Stop(t)
	s.Restart(t)
	if err := app.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING as app after Restart: %v", err)
	}
}

func TestACLDefaultUserLockedOut(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{ACL: []string{
		"user default on >adminpw ~* &* +@all",
		"user app on >pw ~* +@all -@dangerous",
	}})
	if err := s.Client(t).Ping(ctx(t)).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without auth err = %v, want NOAUTH", err)
	}
	if err := s.ClientAs(t, "app", "pw").Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING as app: %v", err)
	}
	// SHUTDOWN is refused without auth, so Stop falls back to SIGTERM.
	s.Stop(t)
	s.Restart(t)
	if err := s.ClientAs(t, "default", "adminpw").Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING as default after Restart: %v", err)
	}
}

func TestMaxMemory(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{MaxMemory: "2mb", MaxMemoryPolicy: "allkeys-lru"})
	c := s.Client(t)
	got, err := c.ConfigGet(ctx(t), "maxmemory*").Result()
	if err != nil {
		t.Fatalf("CONFIG GET: %v", err)
	}
	if got["maxmemory"] != "2097152" || got["maxmemory-policy"] != "allkeys-lru" {
		t.Fatalf("CONFIG GET maxmemory* = %v; want 2097152 and allkeys-lru", got)
	}
	if got, err := Start(t, Options{}).Client(t).ConfigGet(ctx(t), "maxmemory*").Result(); err != nil ||
		got["maxmemory"] != "0" || got["maxmemory-policy"] != "noeviction" {
		t.Fatalf("default CONFIG GET maxmemory* = %v, %v; want 0 and noeviction", got, err)
	}
}

func TestArgs(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Args: []string{"--hz", "42"}})
	if got, err := s.Client(t).ConfigGet(ctx(t), "hz").Result(); err != nil || got["hz"] != "42" {
		t.Fatalf("CONFIG GET hz = %v, %v; want 42", got, err)
	}
}

func TestCommandCalls(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.Client(t)
	for _, cmd := range []string{"hgetall", "pexpireat", "evalsha"} {
		if n := CommandCalls(t, c, cmd); n != 0 {
			t.Fatalf("CommandCalls(%s) before use = %d, want 0", cmd, n)
		}
	}
	if err := c.HSet(ctx(t), "h", "f", "v").Err(); err != nil {
		t.Fatalf("HSET: %v", err)
	}
	for range 3 {
		if err := c.HGetAll(ctx(t), "h").Err(); err != nil {
			t.Fatalf("HGETALL: %v", err)
		}
	}
	for range 2 {
		if err := c.PExpireAt(ctx(t), "h", time.Now().Add(time.Hour)).Err(); err != nil {
			t.Fatalf("PEXPIREAT: %v", err)
		}
	}
	script := redis.NewScript(`return redis.call("HGET", KEYS[1], ARGV[1])`)
	for range 4 {
		if err := script.Run(ctx(t), c, []string{"h"}, "f").Err(); err != nil {
			t.Fatalf("script: %v", err)
		}
	}
	want := map[string]int64{"hgetall": 3, "HGETALL": 3, "pexpireat": 2, "hset": 1, "hget": 4, "flushall": 0}
	for cmd, n := range want {
		if got := CommandCalls(t, c, cmd); got != n {
			t.Errorf("CommandCalls(%s) = %d, want %d", cmd, got, n)
		}
	}
	// Script.Run tries EVALSHA first and falls back to EVAL once.
	if got := CommandCalls(t, c, "evalsha") + CommandCalls(t, c, "eval"); got != 5 {
		t.Errorf("evalsha+eval calls = %d, want 5 (4 EVALSHA + 1 EVAL)", got)
	}
}

func TestParseCommandCalls(t *testing.T) {
	t.Parallel()
	info := "# Commandstats\r\n" +
		"cmdstat_hgetall:calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_hget:calls=7,usec=1,usec_per_call=0.14,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=1,usec_per_call=0.50,rejected_calls=0,failed_calls=2\r\n"
	for name, want := range map[string]int64{"hgetall": 3, "hget": 7, "client|setinfo": 2, "get": 0, "hgetal": 0} {
		got, err := parseCommandCalls(info, name)
		if err != nil || got != want {
			t.Errorf("parseCommandCalls(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := parseCommandCalls("cmdstat_get:usec=1\r\n", "get"); err == nil {
		t.Error("parseCommandCalls without calls= succeeded")
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			c := s.Client(t)
			key := fmt.Sprintf("k%d", i)
			if s.Pid() <= 0 || s.Addr() == "" || s.URL() == "" || s.Dir() == "" {
				errs <- errors.New("accessor returned a zero value")
				return
			}
			if err := c.Set(context.Background(), key, i, 0).Err(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.Client(t).DBSize(ctx(t)).Val(); n != 8 {
		t.Fatalf("DBSIZE = %d, want 8", n)
	}
}

func TestCleanupKillsProcess(t *testing.T) {
	t.Parallel()
	var pid int
	var dir string
	t.Run("inner", func(t *testing.T) {
		s := Start(t, Options{AOF: true})
		pid, dir = s.Pid(), s.Dir()
	})
	if pid <= 0 {
		t.Fatal("inner test did not start a server")
	}
	if processAlive(pid) {
		t.Fatalf("pid %d still alive after its test ended", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir %s still exists after its test ended: %v", dir, err)
	}
}

func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	r := &recordTB{TB: t}
	r.run(func() { Start(r, Options{MaxMemoryPolicy: "no-such-policy"}) })
	t.Logf("Start failure message:\n%s", r.fatal)
	if !strings.Contains(r.fatal, "no-such-policy") || !strings.Contains(r.fatal, "last lines of") {
		t.Fatalf("Fatal message lacks the log tail:\n%s", r.fatal)
	}
}

func TestArgsMustNotMovePort(t *testing.T) {
	t.Parallel()
	r := &recordTB{TB: t}
	r.run(func() { Start(r, Options{Args: []string{"--port", "6379"}}) })
	if !strings.Contains(r.fatal, "--port") {
		t.Fatalf("Fatal = %q, want a complaint about --port", r.fatal)
	}
}

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		ci, req string
		want    bool
	}{
		{"", "", false},
		{"true", "", true},
		{"1", "", true},
		{"false", "", false},
		{"FALSE", "", false},
		{"0", "", false},
		{"", "1", true},
		{"", "0", false},
		{"false", "1", true},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv("REDIS_REQUIRED", tc.req)
		if got := Required(); got != tc.want {
			t.Errorf("Required() with CI=%q REDIS_REQUIRED=%q = %v, want %v", tc.ci, tc.req, got, tc.want)
		}
	}
}

// withoutRedisServer hides redis-server from PATH for the rest of the test.
func withoutRedisServer(t *testing.T, ci, required string) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", ci)
	t.Setenv("REDIS_REQUIRED", required)
	if Available() {
		t.Fatal("redis-server still found with an empty PATH")
	}
}

func TestMissingServerFailsWhenRequired(t *testing.T) {
	withoutRedisServer(t, "true", "")
	r := &recordTB{TB: t}
	r.run(func() { Start(r, Options{AllowFake: true}) })
	if !strings.Contains(r.fatal, "redis-server not found on PATH; CI requires it: apt-get install -y redis-server") {
		t.Fatalf("Fatal = %q", r.fatal)
	}
}

func TestMissingServerSkips(t *testing.T) {
	withoutRedisServer(t, "", "")
	r := &recordTB{TB: t}
	r.run(func() { Start(r, Options{}) })
	if r.fatal != "" || !strings.Contains(r.skip, "not found on PATH") {
		t.Fatalf("fatal = %q, skip = %q; want a skip", r.fatal, r.skip)
	}
}

func TestMissingServerFake(t *testing.T) {
	withoutRedisServer(t, "false", "0")
	var s *Server
	r := &recordTB{TB: t}
	r.run(func() { s = Start(r, Options{AllowFake: true}) })
	if s == nil || !s.IsFake() || s.Pid() != 0 {
		t.Fatalf("Start = %+v (fatal %q, skip %q); want the fake", s, r.fatal, r.skip)
	}
	c := s.Client(t)
	if err := c.Set(ctx(t), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on fake: %v", err)
	}
	if got, err := c.Get(ctx(t), "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET on fake = %q, %v", got, err)
	}
	for name, op := range map[string]func(testing.TB){"Stop": s.Stop, "Kill": s.Kill, "Restart": s.Restart} {
		r := &recordTB{TB: t}
		r.run(func() { op(r) })
		if r.skip == "" {
			t.Errorf("%s on the fake did not skip", name)
		}
	}
	// Server-specific options cannot be faked.
	r = &recordTB{TB: t}
	r.run(func() { Start(r, Options{AllowFake: true, AOF: true}) })
	if !strings.Contains(r.skip, "AOF") {
		t.Fatalf("skip = %q, want it to name AOF", r.skip)
	}
}

// processAlive reports whether pid names a live process.
func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// recordTB records Fatal and Skip calls instead of ending the test; run
// executes the code under test on a goroutine those calls can stop.
type recordTB struct {
	testing.TB
	mu          sync.Mutex
	fatal, skip string
}

func (r *recordTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func (r *recordTB) stop(dst *string, msg string) {
	r.mu.Lock()
	*dst = msg
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordTB) Fatal(args ...any)                 { r.stop(&r.fatal, fmt.Sprint(args...)) }
func (r *recordTB) Fatalf(format string, args ...any) { r.stop(&r.fatal, fmt.Sprintf(format, args...)) }
func (r *recordTB) FailNow()                          { r.stop(&r.fatal, "FailNow") }
func (r *recordTB) Skip(args ...any)                  { r.stop(&r.skip, fmt.Sprint(args...)) }
func (r *recordTB) Skipf(format string, args ...any)  { r.stop(&r.skip, fmt.Sprintf(format, args...)) }
func (r *recordTB) SkipNow()                          { r.stop(&r.skip, "SkipNow") }

func TestLaunchReportsTakenPort(t *testing.T) {
	t.Parallel()
	other := Start(t, Options{}) // a redis-server that already owns the port
	s := &Server{dir: t.TempDir(), port: other.port, addr: other.Addr()}
	if err := os.WriteFile(filepath.Join(s.dir, confName), []byte(s.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.launch()
	if !errors.Is(err, errAddrInUse) {
		t.Fatalf("launch on a taken port err = %v, want errAddrInUse", err)
	}
	if s.Pid() != 0 {
		t.Fatalf("Pid after a failed launch = %d, want 0", s.Pid())
	}
	if err := other.Client(t).Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("the port's owner was disturbed: %v", err)
	}
}
