// Command chi is the redisession demo app on the chi router (github.com/go-chi/chi/v5) through
// adapters/sessionchi, serving the contract in CONFORMANCE.md: log in, keep fields in the session,
// list and revoke devices, log out here, there or everywhere. It is configured by environment
// variables (ADDR, REDIS_URL, SESSION_IDLE_TIMEOUT, ...); with REDIS_URL empty it runs on an
// embedded in-process Redis.
//
//	COOKIE_SECURE=false go run ./examples/chi
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redisession/redisession/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chi:", err)
		os.Exit(1)
	}
}

// run serves the demo until ctx ends, reading its configuration through getenv; it returns why it
// could not start or stopped.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	return demo.Main(ctx, getenv, stdout, stderr, "chi", routes)
}
