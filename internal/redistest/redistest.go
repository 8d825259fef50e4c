package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

const (
	// serverBinary is the program Start runs, looked up on PATH.
	serverBinary = "redis-server"
	// installHint tells a CI maintainer how to get serverBinary.
	installHint = "apt-get install -y redis-server"

	// startTimeout bounds the wait for PING and for the data load after a start.
	startTimeout = 10 * time.Second
	// stopTimeout bounds a graceful shutdown, which may write an RDB file.
	stopTimeout = 30 * time.Second
	// killTimeout bounds the wait for the exit after SIGKILL.
	killTimeout = 10 * time.Second
	// probeTimeout bounds one readiness probe (dial, write and read).
	probeTimeout = time.Second
	// probeInterval is the pause between readiness probes.
	probeInterval = 20 * time.Millisecond
	// portAttempts is how many free ports Start tries when the bind fails.
	portAttempts = 5
	// machinePort is the port of the machine's own Redis, which is never used.
	machinePort = 6379
	// logTailLines is how many lines of each log a failure message shows.
	logTailLines = 30

	confName   = "redis.conf"
	logName    = "redis.log"
	outputName = "redis.out" // stdout and stderr; config errors go there
	aclName    = "users.acl"
)

// Options configure one redis-server started by Start.
//
// The zero value starts a server without persistence (save "" and appendonly
// no) and without a memory limit.
type Options struct {
	// AOF turns on the append-only file (appendonly yes).
	AOF bool
	// AppendFsync is the appendfsync policy: "always", "everysec" or "no".
	// Empty means "everysec" when AOF is on.
	AppendFsync string
	// RDB turns on RDB snapshotting (save "3600 1"), so that persistence
	// checks see RDB on and Stop writes a dump.rdb that Restart loads.
	RDB bool
	// MaxMemory is the maxmemory setting, e.g. "2mb". Empty means no limit.
	MaxMemory string
	// MaxMemoryPolicy is the maxmemory-policy setting, e.g. "allkeys-lru".
	// Empty keeps the server default (noeviction).
	MaxMemoryPolicy string
	// RenameConfig disables the CONFIG command (rename-command CONFIG ""),
	// like managed Redis offerings that forbid it.
	RenameConfig bool
	// ACL holds extra user lines for an aclfile, each like
	// "user app on >pw ~session:* ~user:* +@all -@dangerous". The default
	// user keeps full access unless a line redefines it.
	ACL []string
	// Args are extra command-line arguments appended verbatim after the
	// config file, e.g. []string{"--hz", "50"}. They must not override
	// port, bind, dir, logfile or daemonize, which redistest owns.
	Args []string
	// AllowFake declares that the test needs nothing server-specific: when
	// redis-server is not on PATH and Required reports false, Start returns
	// an in-process miniredis instead of skipping the test.
	AllowFake bool
}

// Server is one redis-server process started by Start, or the in-process
// miniredis fallback.
//
// Addr, URL, Dir, IsFake, Pid, Client and ClientAs may be called from any
// goroutine. Start, Stop, Kill and Restart report failures through t.Fatal
// and must therefore be called from the test's own goroutine.
type Server struct {
	addr string // fixed once Start returns; Restart reuses the port
	port int
	dir  string
	opts Options
	fake *miniredis.Miniredis
	// sentinelConf holds the sentinel directives of a Sentinel process (see sentinel.go); empty for a
	// data server.
	sentinelConf string

	opMu sync.Mutex // serializes Stop, Kill, Restart and the cleanup
	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once cmd.Wait has reaped the process
}

// exited reports whether the process has exited and been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Required reports whether tests must have a real redis-server: true when the
// environment variable CI is set to anything but "", "false" or "0", or when
// REDIS_REQUIRED is "1" (or another true value such as "true").
func Required() bool {
	ci := strings.TrimSpace(os.Getenv("CI"))
	if ci != "" && !strings.EqualFold(ci, "false") && ci != "0" {
		return true
	}
	req, err := strconv.ParseBool(strings.TrimSpace(os.Getenv("REDIS_REQUIRED")))
	return err == nil && req
}

// Available reports whether a redis-server executable is on PATH.
func Available() bool {
	_, err := exec.LookPath(serverBinary)
	return err == nil
}

// Start launches a redis-server configured by opts in a fresh t.TempDir() on
// a free port of 127.0.0.1 and returns once it answers PING and has loaded
// its data, waiting at most about ten seconds. A t.Cleanup kills the process
// and waits for it when the test ends.
//
// Without redis-server on PATH, Start fails the test when Required reports
// true, returns an in-process miniredis when opts.AllowFake is set, and skips
// the test otherwise.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if !Available() {
		switch {
		case Required():
			t.Fatalf("redistest: %s not found on PATH; CI requires it: %s", serverBinary, installHint)
		case opts.AllowFake:
			return startFake(t, opts)
		default:
			t.Skipf("redistest: %s not found on PATH, skipping (install it with %q; set CI=1 or REDIS_REQUIRED=1 to fail instead)", serverBinary, installHint)
		}
		return nil
	}
	if err := checkArgs(opts.Args); err != nil {
		t.Fatalf("redistest: %v", err)
	}

	s := &Server{dir: t.TempDir(), opts: opts}
	// Registered before the first launch, so that a failed start is cleaned up too.
	t.Cleanup(func() { s.cleanup(t) })
	if err := s.start(); err != nil {
		t.Fatalf("redistest: start %s: %v", serverBinary, err)
	}
	return s
}

// start writes the configuration into s.dir and launches the server on a free port.
func (s *Server) start() error {
	if len(s.opts.ACL) > 0 {
		if err := writeACLFile(filepath.Join(s.dir, aclName), s.opts.ACL); err != nil {
			return err
		}
	}
	var err error
	for attempt := 1; attempt <= portAttempts; attempt++ {
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		s.port = port
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = os.WriteFile(filepath.Join(s.dir, confName), []byte(s.config()), 0o600); err != nil {
			break
		}
		if err = s.launch(); err == nil || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return err
}

// startFake returns a Server backed by an in-process miniredis.
func startFake(t testing.TB, opts Options) *Server {
	t.Helper()
	if needs := serverSpecific(opts); needs != "" {
		t.Skipf("redistest: %s not found on PATH and the miniredis fallback cannot honour %s", serverBinary, needs)
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatalf("redistest: start miniredis: %v", err)
	}
	t.Cleanup(m.Close)
	t.Logf("redistest: %s not found on PATH; using in-process miniredis at %s", serverBinary, m.Addr())
	return &Server{addr: m.Addr(), dir: t.TempDir(), opts: opts, fake: m}
}

// serverSpecific names the options a miniredis cannot honour, or returns "".
func serverSpecific(opts Options) string {
	var needs []string
	add := func(on bool, name string) {
		if on {
			needs = append(needs, name)
		}
	}
	add(opts.AOF, "AOF")
	add(opts.RDB, "RDB")
	add(opts.MaxMemory != "", "MaxMemory")
	add(opts.MaxMemoryPolicy != "", "MaxMemoryPolicy")
	add(opts.RenameConfig, "RenameConfig")
	add(len(opts.ACL) > 0, "ACL")
	add(len(opts.Args) > 0, "Args")
	return strings.Join(needs, ", ")
}

// Addr returns the server's address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.addr }

// URL returns a redis:// URL for database 0 of the server, suitable for
// redis.ParseURL.
func (s *Server) URL() string { return "redis://" + s.addr + "/0" }

// Dir returns the server's working directory, which holds redis.conf,
// redis.log and any AOF or RDB files. It is removed when the test ends.
func (s *Server) Dir() string { return s.dir }

// IsFake reports whether the server is the in-process miniredis fallback
// rather than a redis-server process.
func (s *Server) IsFake() bool { return s.fake != nil }

// Pid returns the process id of the running redis-server, or 0 after Stop or
// Kill and for the miniredis fallback.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.pid
}

// Client returns a new go-redis client for the server with the library
// defaults (RESP3, default user). The client is closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	return newClient(t, &redis.Options{Addr: s.addr})
}

// ClientAs returns a new go-redis client that authenticates as the ACL user
// with the password. The client is closed when the test ends.
func (s *Server) ClientAs(t testing.TB, user, password string) *redis.Client {
	t.Helper()
	return newClient(t, &redis.Options{Addr: s.addr, Username: user, Password: password})
}

// newClient returns a client closed at the end of the test.
func newClient(t testing.TB, o *redis.Options) *redis.Client {
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop shuts the server down gracefully and waits for it to exit: SHUTDOWN
// SAVE when AOF or RDB is on, SHUTDOWN NOSAVE otherwise, and SIGTERM when
// the server refuses SHUTDOWN (for example because an ACL line locked the
// default user out). Stop on a stopped server does nothing. The miniredis
// fallback cannot stop, so there Stop skips the test.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.fake != nil {
		t.Skip("redistest: the miniredis fallback cannot be stopped; this test needs redis-server")
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if err := s.stopLocked(); err != nil {
		t.Fatalf("redistest: stop: %v", err)
	}
}

// Kill sends SIGKILL to the server (and its process group, so an RDB or AOF
// rewrite child dies too) and waits for it to exit, simulating a crash.
// Kill on a stopped server does nothing. The miniredis fallback cannot be
// killed, so there Kill skips the test.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if s.fake != nil {
		t.Skip("redistest: the miniredis fallback cannot be killed; this test needs redis-server")
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if err := s.killLocked(); err != nil {
		t.Fatalf("redistest: kill: %v", err)
	}
}

// Restart starts the server again with the same port, directory and
// configuration, so AOF and RDB files are reloaded, and returns once it
// answers PING and INFO persistence reports loading:0. A running server is
// stopped gracefully first. The miniredis fallback cannot restart, so there
// Restart skips the test.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.fake != nil {
		t.Skip("redistest: the miniredis fallback cannot be restarted; this test needs redis-server")
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if err := s.stopLocked(); err != nil {
		t.Fatalf("redistest: restart: %v", err)
	}
	if err := s.launch(); err != nil {
		t.Fatalf("redistest: restart %s on %s: %v", serverBinary, s.addr, err)
	}
}

// cleanup kills the server at the end of the test.
func (s *Server) cleanup(t testing.TB) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if err := s.killLocked(); err != nil {
		t.Errorf("redistest: cleanup: %v", err)
	}
}

// current returns the running process, or nil.
func (s *Server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// setCurrent records the running process (nil once it is gone).
func (s *Server) setCurrent(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc = p
}

// stopLocked shuts the process down gracefully. The caller holds opMu.
func (s *Server) stopLocked() error {
	p := s.current()
	if p == nil {
		return nil
	}
	if !p.exited() {
		mode := "NOSAVE"
		if s.opts.AOF || s.opts.RDB {
			mode = "SAVE"
		}
		// A server that accepts SHUTDOWN closes the connection without a reply.
		_, err := command(s.addr, stopTimeout, "SHUTDOWN", mode)
		var reply replyError
		if err == nil || errors.As(err, &reply) || errors.Is(err, errDial) {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			killErr := killProcess(p)
			s.setCurrent(nil)
			return errors.Join(fmt.Errorf("pid %d did not exit within %v of SHUTDOWN %s (last reply: %v); killed it%s",
				p.pid, stopTimeout, mode, err, s.logTail(0, 0)), killErr)
		}
	}
	s.setCurrent(nil)
	return nil
}

// killLocked kills the process. The caller holds opMu.
func (s *Server) killLocked() error {
	p := s.current()
	if p == nil {
		return nil
	}
	err := killProcess(p)
	s.setCurrent(nil)
	return err
}

// killProcess sends SIGKILL to p's process group and waits for p to exit.
func killProcess(p *process) error {
	if p.exited() {
		return nil
	}
	// Setpgid made the pid the group id. The leader is not yet reaped, so
	// the group id cannot belong to anybody else.
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("pid %d did not exit within %v of SIGKILL", p.pid, killTimeout)
	}
}

// sentinel is a constant error value, usable with errors.Is.
type sentinel string

// Error returns the sentinel's text.
func (e sentinel) Error() string { return string(e) }

const (
	// errAddrInUse marks a start that failed because the port was taken.
	errAddrInUse sentinel = "address already in use"
	// errDial marks a command that could not connect.
	errDial sentinel = "dial"
)

// launch starts redis-server with the config in s.dir and waits until it is
// ready. On failure the process is gone and the error carries the log tail.
func (s *Server) launch() error {
	logOff := fileSize(filepath.Join(s.dir, logName))
	outOff := fileSize(filepath.Join(s.dir, outputName))
	out, err := os.OpenFile(filepath.Join(s.dir, outputName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append([]string{filepath.Join(s.dir, confName)}, s.opts.Args...)
	if s.sentinelConf != "" {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command(serverBinary, args...)
	cmd.Dir = s.dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // own process group: signals to it never reach the test binary
		Pdeathsig: syscall.SIGKILL, // no orphan if the test binary dies without running cleanups
	}
	err = cmd.Start()
	_ = out.Close() // the child has its own descriptor
	if err != nil {
		return err
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	s.setCurrent(p)

	if err := s.waitReady(p); err != nil {
		killErr := killProcess(p)
		s.setCurrent(nil)
		tail := s.logTail(logOff, outOff)
		if strings.Contains(tail, "Address already in use") {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return errors.Join(fmt.Errorf("%w%s", err, tail), killErr)
	}
	return nil
}

// waitReady polls until p answers PING, is the process listening on s.addr,
// and has finished loading its AOF or RDB data.
func (s *Server) waitReady(p *process) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("pid %d exited (%v)", p.pid, p.cmd.ProcessState)
		}
		ready, err := s.probe(p)
		if ready {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d not ready on %s within %v: %v", p.pid, s.addr, startTimeout, last)
		}
		time.Sleep(probeInterval)
	}
}

// probe checks readiness once. Servers that refuse INFO to the default user
// (NOAUTH, NOPERM) are taken as ready once they answer PING.
func (s *Server) probe(p *process) (bool, error) {
	reply, err := command(s.addr, probeTimeout, "PING")
	var re replyError
	switch {
	case errors.As(err, &re) && strings.HasPrefix(string(re), "LOADING"):
		return false, err
	case err != nil && !errors.As(err, &re):
		return false, err
	case err == nil && reply != "PONG":
		return false, fmt.Errorf("PING answered %q", reply)
	}

	// Make sure our process answered, not another one that won the port.
	info, err := command(s.addr, probeTimeout, "INFO", "server")
	switch {
	case errors.As(err, &re):
		return !p.exited(), nil
	case err != nil:
		return false, err
	case infoField(info, "process_id") != strconv.Itoa(p.pid):
		return false, fmt.Errorf("%s is served by pid %s, not %d", s.addr, infoField(info, "process_id"), p.pid)
	}

	if s.sentinelConf != "" {
		return true, nil // a sentinel loads no data
	}
	info, err = command(s.addr, probeTimeout, "INFO", "persistence")
	switch {
	case errors.As(err, &re):
		return true, nil
	case err != nil:
		return false, err
	case infoField(info, "loading") != "0":
		return false, fmt.Errorf("still loading (loading:%s)", infoField(info, "loading"))
	}
	return true, nil
}

// infoField returns the value of "name:value" in an INFO reply, or "".
func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), name+":"); ok {
			return v
		}
	}
	return ""
}

// config renders redis.conf for the current port.
func (s *Server) config() string {
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("# Written by redistest for one test; see package redistest.")
	line("bind 127.0.0.1")
	line("port %d", s.port)
	line("protected-mode no")
	line("daemonize no")
	line("dir %s", quote(s.dir))
	line("logfile %s", quote(filepath.Join(s.dir, logName)))
	line("loglevel notice")
	if s.sentinelConf != "" {
		b.WriteString(s.sentinelConf)
		return b.String()
	}
	line("dbfilename dump.rdb")
	if s.opts.RDB {
		line(`save "3600 1"`)
	} else {
		line(`save ""`)
	}
	if s.opts.AOF {
		line("appendonly yes")
	} else {
		line("appendonly no")
	}
	if fsync := s.opts.AppendFsync; fsync != "" {
		line("appendfsync %s", quote(fsync))
	} else if s.opts.AOF {
		line("appendfsync everysec")
	}
	if s.opts.MaxMemory != "" {
		line("maxmemory %s", quote(s.opts.MaxMemory))
	}
	if s.opts.MaxMemoryPolicy != "" {
		line("maxmemory-policy %s", quote(s.opts.MaxMemoryPolicy))
	}
	if s.opts.RenameConfig {
		line(`rename-command CONFIG ""`)
	}
	if len(s.opts.ACL) > 0 {
		line("aclfile %s", quote(filepath.Join(s.dir, aclName)))
	}
	return b.String()
}

// quote renders v as a double-quoted redis.conf argument.
func quote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeACLFile writes one ACL user line per line of path.
func writeACLFile(path string, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return fmt.Errorf("ACL line %q contains a line break", l)
		}
		b.WriteString(strings.TrimSpace(l))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// checkArgs rejects extra arguments that would take the server away from
// the port and directory redistest manages.
func checkArgs(args []string) error {
	for _, a := range args {
		switch strings.ToLower(a) {
		case "--port", "--bind", "--dir", "--logfile", "--daemonize", "--unixsocket":
			return fmt.Errorf("extra argument %s is not allowed in Options.Args: redistest manages it", a)
		}
	}
	return nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		if port != machinePort {
			return port, nil
		}
	}
}

// fileSize returns the size of path, or 0 when it does not exist.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logTail returns the last lines the server wrote to its output and log
// since the given offsets, formatted for an error message.
func (s *Server) logTail(logOff, outOff int64) string {
	var b strings.Builder
	for _, f := range []struct {
		name string
		off  int64
	}{{outputName, outOff}, {logName, logOff}} {
		path := filepath.Join(s.dir, f.name)
		if tail := tailLines(path, f.off, logTailLines); tail != "" {
			fmt.Fprintf(&b, "\n--- last lines of %s ---\n%s", path, tail)
		}
	}
	return b.String()
}

// tailLines returns the last n lines of path after offset off.
func tailLines(path string, off int64, n int) string {
	data, err := os.ReadFile(path)
	if err != nil || off >= int64(len(data)) {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data[off:]), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// replyError is an error reply (-ERR ...) from the server.
type replyError string

// Error returns the server's error text.
func (e replyError) Error() string { return string(e) }

// command sends one command in RESP2 over a fresh connection and returns a
// simple, integer or bulk string reply. It speaks the protocol directly so
// that probes stay quiet and independent of client features.
func command(addr string, timeout time.Duration, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errDial, err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply to %s", args[0])
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", replyError(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unexpected reply %q to %s", line, args[0])
	}
}

// CommandCalls returns how often the server behind c has executed cmd
// (e.g. "pexpireat", "hgetall", "evalsha", or "client|setinfo" for a
// subcommand), read from the calls= field of the cmdstat_<cmd> line of INFO
// commandstats; 0 when the command has not run. For a *redis.ClusterClient
// it sums the counts of all masters. The miniredis fallback keeps no command
// statistics, so there CommandCalls fails the test.
func CommandCalls(t testing.TB, c redis.UniversalClient, cmd string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	name := strings.ToLower(strings.Join(strings.Fields(cmd), "|"))
	var total int64
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := commandCalls(ctx, node, name)
			mu.Lock()
			defer mu.Unlock()
			total += n
			return err
		})
	} else {
		total, err = commandCalls(ctx, c, name)
	}
	if err != nil {
		t.Fatalf("redistest: calls of %q from INFO commandstats: %v (the miniredis fallback has no command statistics)", name, err)
	}
	return total
}

// commandCalls reads the calls of name from one server's INFO commandstats.
func commandCalls(ctx context.Context, c redis.Cmdable, name string) (int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	return parseCommandCalls(info, name)
}

// parseCommandCalls extracts N from "cmdstat_<name>:calls=N,..." in an INFO
// commandstats reply; 0 when there is no such line.
func parseCommandCalls(info, name string) (int64, error) {
	prefix := "cmdstat_" + name + ":"
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), prefix)
		if !ok {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("bad calls in %q: %w", line, err)
				}
				return n, nil
			}
		}
		return 0, fmt.Errorf("no calls= field in %q", strings.TrimSpace(line))
	}
	return 0, nil
}
