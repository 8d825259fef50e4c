package main

import (
	"testing"

	"github.com/redisession/redisession/internal/conformance"
)

// TestConformance drives the whole contract of CONFORMANCE.md against this example, in process.
func TestConformance(t *testing.T) { conformance.Run(t, conformance.InProcess(run)) }

// TestConformanceWithClientCache drives the same contract with SESSION_CLIENT_CACHE=true.
func TestConformanceWithClientCache(t *testing.T) {
	conformance.RunClientCache(t, conformance.InProcess(run))
}

// TestConformanceOnCluster drives the same contract against a Redis Cluster of 3 masters with 1
// replica each (REDIS_CLUSTER=true). Without redis-server and redis-cli on PATH it skips, unless
// redistest.Required (CI), where it fails.
func TestConformanceOnCluster(t *testing.T) {
	conformance.RunCluster(t, conformance.InProcess(run))
}
