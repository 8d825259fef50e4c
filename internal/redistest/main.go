package redistest

import (
	"fmt"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// RunMain is for a package's TestMain whose Example functions need Redis, where no testing.T exists:
// it starts one plain redis-server (or, when none is installed and Required reports false, an
// in-process miniredis), stores its address in *addr, runs the tests and stops the server. It
// returns the exit code for os.Exit.
func RunMain(m *testing.M, addr *string) int {
	if !Available() {
		if Required() {
			fmt.Fprintf(os.Stderr, "redistest: %s not found on PATH; CI requires it: %s\n", serverBinary, installHint)
			return 1
		}
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "redistest: miniredis: %v\n", err)
			return 1
		}
		defer mr.Close()
		*addr = mr.Addr()
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "redistest-main-*")
	if err != nil {
		fmt.Fprintf(os.Stderr, "redistest: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	s := &Server{dir: dir}
	if err := s.start(); err != nil {
		fmt.Fprintf(os.Stderr, "redistest: start %s: %v\n", serverBinary, err)
		return 1
	}
	defer func() { _ = s.killLocked() }()
	*addr = s.addr
	return m.Run()
}

// ExampleClient returns a go-redis client for the server RunMain started; the example closes it.
func ExampleClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr})
}
