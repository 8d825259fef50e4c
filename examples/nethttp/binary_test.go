package main

import (
	"testing"

	"github.com/redisession/redisession/internal/conformance"
)

// TestBinary builds this command and runs it as a process: the start-up contract with real exit codes
// (non-zero for every refusal, zero after SIGTERM) and the real main.
func TestBinary(t *testing.T) {
	conformance.Startup(t, conformance.Binary(t, "github.com/redisession/redisession/examples/nethttp"))
}
