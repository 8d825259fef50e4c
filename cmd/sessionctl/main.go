// Command sessionctl is the operator's tool for the Redis that holds redisession's sessions: it checks
// the server's configuration and the data's health, lists, shows and revokes sessions, and repairs
// the per-user index.
//
// Install it with
//
//	go install github.com/redisession/redisession/cmd/sessionctl@latest
//
// Usage:
//
//	sessionctl [global flags] <command> [flags]
//
// Global flags, accepted before or after the command:
//
//	--redis-url URL   the server, e.g. redis://user:password@host:6379/0 or rediss://… for TLS
//	                  (default: $REDIS_URL, else redis://127.0.0.1:6379/0)
//	--prefix P        the store's key prefix (store.Options.Prefix)
//	--json            machine-readable output on stdout
//
// Commands:
//
//	doctor [--limit N] [--sample N] [--acl-user U]
//	                                 check eviction, persistence, memory, replication, ACL, TTLs and the index
//	list --user U                    a user's live sessions
//	show --handle H                  one session's metadata and field names and sizes (never values)
//	revoke --user U [--except H] [--yes]
//	                                 revoke all of a user's sessions (but one); needs --yes
//	revoke --handle H [--user U]     revoke one session
//	stats [--limit N] [--sample N]   session count, index count, memory estimate, TTL distribution
//	repair-index [--limit N] [--yes] remove dangling index members and re-index lost sessions; needs --yes
//
// Exit status: 0 when all went well; 1 when doctor's worst finding is a warning; 2 when doctor found
// an error, or the command failed or was misused; 3 when a destructive command stopped short of
// changing anything because --yes was not given.
//
// sessionctl never sends FLUSHALL, FLUSHDB or KEYS and never deletes keys by pattern: it walks the
// keyspace with SCAN and deletes single sessions through the store, which also keeps the user index
// right. It talks to one standalone server (or the master of a replicated set); it does not follow
// Redis Cluster redirections.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// quietLogger drops go-redis' internal log lines (dial retries and the like): sessionctl reports
// every failure itself, once, on stderr.
type quietLogger struct{}

// Printf discards the message.
func (quietLogger) Printf(context.Context, string, ...any) {}

func main() {
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
