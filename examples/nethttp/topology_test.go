package main

import (
	"testing"

	"github.com/redisession/redisession/internal/conformance"
)

// TestTopologies runs the example on a Redis Cluster and behind Sentinel, through a failover. The
// Redis wiring is shared by the four examples (internal/demo), so one example runs it.
func TestTopologies(t *testing.T) { conformance.Topologies(t, conformance.InProcess(run)) }
