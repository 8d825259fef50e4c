// Command gin is the redisession demo app on gin (github.com/gin-gonic/gin) through
// adapters/sessiongin, serving the contract in CONFORMANCE.md: log in, keep fields in the session,
// list and revoke devices, log out here, there or everywhere. It is configured by environment
// variables (ADDR, REDIS_URL, SESSION_IDLE_TIMEOUT, ...); with REDIS_URL empty it runs on an
// embedded in-process Redis.
//
//	COOKIE_SECURE=false go run ./examples/gin
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
		fmt.Fprintln(os.Stderr, "gin:", err)
		os.Exit(1)
	}
}

// run serves the demo until ctx ends, reading its configuration through getenv; it returns why it
// could not start or stopped.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	return demo.Main(ctx, getenv, stdout, stderr, "gin", routes)
}
