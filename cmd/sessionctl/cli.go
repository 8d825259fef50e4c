package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/store"
)

// Exit statuses.
const (
	// exitOK means the command did what was asked, or doctor found nothing wrong.
	exitOK = 0
	// exitWarning means doctor's worst finding is a warning.
	exitWarning = 1
	// exitError means doctor found an error, or the command failed or was misused.
	exitError = 2
	// exitNeedsYes means a destructive command printed its plan but changed nothing, for lack of --yes.
	exitNeedsYes = 3
)

// defaultRedisURL is used when neither --redis-url nor REDIS_URL is set.
const defaultRedisURL = "redis://127.0.0.1:6379/0"

// globals are the flags every command accepts.
type globals struct {
	redisURL string
	prefix   string
	json     bool
}

// register adds the global flags to fs, with g's current values as defaults, so that a value given
// before the command name survives the command's own parse.
func (g *globals) register(fs *flag.FlagSet) {
	fs.Var(urlFlag{&g.redisURL}, "redis-url", "Redis `URL`, e.g. redis://user:password@host:6379/0 or rediss://… for TLS (default: $REDIS_URL, else "+defaultRedisURL+")")
	fs.StringVar(&g.prefix, "prefix", g.prefix, "the store's key `prefix` (store.Options.Prefix)")
	fs.BoolVar(&g.json, "json", g.json, "print JSON on stdout")
}

// urlFlag holds --redis-url. Its String is always empty, so that help never prints the current
// value, which may come from REDIS_URL and carry a password.
type urlFlag struct{ p *string }

// String returns "": the URL is never shown.
func (urlFlag) String() string { return "" }

// Set stores the URL.
func (u urlFlag) Set(v string) error {
	*u.p = v
	return nil
}

// env is what a command runs with: the parsed globals, the output streams and a store on the server.
type env struct {
	ctx    context.Context
	g      globals
	stdout io.Writer
	stderr io.Writer
	rdb    *redis.Client
	opts   *redis.Options
	st     *store.Store
}

// command is one subcommand. setup registers its flags on fs and returns the function that runs it
// once the flags are parsed and the store is connected.
type command struct {
	name    string
	summary string
	setup   func(fs *flag.FlagSet) func(e *env) int
}

// commands lists the subcommands in the order help shows them.
var commands = []command{
	{"doctor", "check the server's configuration and the sessions' health", setupDoctor},
	{"list", "list a user's live sessions", setupList},
	{"show", "show one session's metadata and field names and sizes", setupShow},
	{"revoke", "revoke a user's sessions, or one session", setupRevoke},
	{"stats", "count sessions and estimate their memory", setupStats},
	{"repair-index", "remove dangling index members and re-index lost sessions", setupRepair},
}

// usageError marks a misuse of the command line; run prints it with a hint and exits with exitError.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// usagef returns a usageError.
func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// run is sessionctl: it parses args (without the program name), runs the command against Redis and
// returns the exit status. All output goes to stdout and stderr; nothing reads os.Args or exits, so
// tests call run directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := globals{redisURL: os.Getenv("REDIS_URL")}
	if g.redisURL == "" {
		g.redisURL = defaultRedisURL
	}
	top := flag.NewFlagSet("sessionctl", flag.ContinueOnError)
	top.SetOutput(stderr)
	g.register(top)
	top.Usage = func() { printUsage(stderr, top) }
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	rest := top.Args()
	if len(rest) == 0 {
		printUsage(stderr, top)
		return exitError
	}
	name, rest := rest[0], rest[1:]
	helpOut := stderr
	if name == "help" {
		if len(rest) == 0 {
			printUsage(stdout, top)
			return exitOK
		}
		name, rest, helpOut = rest[0], []string{"-h"}, stdout
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == name {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "sessionctl: unknown command %q\n", name)
		printUsage(stderr, top)
		return exitError
	}

	fs := flag.NewFlagSet("sessionctl "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(helpOut)
	g.register(fs)
	exec := cmd.setup(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "sessionctl %s: %s\n\nFlags:\n", cmd.name, cmd.summary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sessionctl %s: unexpected argument %q (flags take the form --name value)\n", cmd.name, fs.Arg(0))
		return exitError
	}

	opts, err := redis.ParseURL(g.redisURL)
	if err != nil {
		// The URL may carry a password: name the problem, not the URL.
		fmt.Fprintf(stderr, "sessionctl: --redis-url: %v\n", redactURLError(err, g.redisURL))
		return exitError
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	st, err := store.New(ctx, rdb, store.Options{
		Prefix:              g.prefix,
		SkipChecks:          true, // doctor runs the checks itself and reports them as findings
		AllowEvictingPolicy: true, // so that Check describes an allkeys-* policy instead of failing
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Fprintf(stderr, "sessionctl: %v\n", err)
		return exitError
	}
	e := &env{ctx: ctx, g: g, stdout: stdout, stderr: stderr, rdb: rdb, opts: opts, st: st}
	return exec(e)
}

// printUsage prints the command overview.
func printUsage(w io.Writer, top *flag.FlagSet) {
	fmt.Fprintf(w, "sessionctl: the operator's tool for redisession's Redis.\n\nUsage:\n  sessionctl [global flags] <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'sessionctl help <command>' for a command's flags.\n\nGlobal flags:\n")
	out := top.Output()
	top.SetOutput(w)
	top.PrintDefaults()
	top.SetOutput(out)
	fmt.Fprintf(w, "\nExit status: 0 ok; 1 doctor found warnings; 2 doctor found errors, or failure or misuse; 3 nothing done for lack of --yes.\n")
}

// redactURLError removes the URL's password from a parse error, should the error quote it.
func redactURLError(err error, raw string) string {
	msg := err.Error()
	if i := strings.Index(raw, "://"); i >= 0 {
		if at := strings.LastIndex(raw, "@"); at > i {
			if userinfo := raw[i+3 : at]; userinfo != "" {
				msg = strings.ReplaceAll(msg, userinfo, "****")
			}
		}
	}
	return msg
}

// fail reports err for the command and returns the exit status for it.
func (e *env) fail(cmd string, err error) int {
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(e.stderr, "sessionctl %s: %s (see 'sessionctl help %s')\n", cmd, u.msg, cmd)
		return exitError
	}
	fmt.Fprintf(e.stderr, "sessionctl %s: %v\n", cmd, err)
	return exitError
}

// printJSON writes v as indented JSON on stdout.
func (e *env) printJSON(v any) {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// printf writes formatted text on stdout.
func (e *env) printf(format string, a ...any) { fmt.Fprintf(e.stdout, format, a...) }

// addr returns the server's address for messages: never the URL, which may carry a password.
func (e *env) addr() string { return e.opts.Addr }

// clean makes a string from Redis safe to print on a terminal. User agents, remote addresses, user
// IDs and field names come, directly or not, from the outside world: one holding control characters
// could rewrite the operator's screen. Such strings are printed Go-quoted.
func clean(s string) string {
	if s == "" {
		return "-"
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// shorten cuts s to at most n runes for a table cell.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// when formats a time for text output; the zero time is "-".
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// jsonTime returns t for JSON, or nil for the zero time, so that missing times are omitted.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// dur formats a duration for people, to the second; zero is "-".
func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	if d < time.Second {
		return d.String()
	}
	return d.Round(time.Second).String()
}

// bytesHuman formats a byte count with a binary unit.
func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// errLimit ends a scan that reached --limit.
var errLimit = errors.New("scan limit reached")

// scanSessions walks session handles in batches, stopping once it has seen limit of them (0: no
// limit), and shows progress on a terminal. It returns how many handles it passed to fn and whether
// it stopped at the limit, in which case more sessions may exist.
func (e *env) scanSessions(limit int, what string, fn func(hs []string) error) (int, bool, error) {
	return scanLimited(e.stderr, limit, what, func(f func([]string) error) error {
		return e.st.ScanSessions(e.ctx, scanCount, f)
	}, fn)
}

// scanIndexes walks the IDs of users with an index, like scanSessions.
func (e *env) scanIndexes(limit int, what string, fn func(uids []string) error) (int, bool, error) {
	return scanLimited(e.stderr, limit, what, func(f func([]string) error) error {
		return e.st.ScanIndexes(e.ctx, scanCount, f)
	}, fn)
}

// scanCount is the COUNT hint of every SCAN call.
const scanCount = 500

// scanLimited runs walk, passing each batch to fn until limit items were seen.
func scanLimited(stderr io.Writer, limit int, what string, walk func(func([]string) error) error, fn func([]string) error) (int, bool, error) {
	p := newProgress(stderr, what)
	defer p.done()
	n, cut := 0, false
	err := walk(func(batch []string) error {
		if limit > 0 && n+len(batch) >= limit {
			batch, cut = batch[:limit-n], true
		}
		if err := fn(batch); err != nil {
			return err
		}
		n += len(batch)
		p.update(n)
		if cut {
			return errLimit
		}
		return nil
	})
	if errors.Is(err, errLimit) {
		err = nil
	}
	return n, cut, err
}
