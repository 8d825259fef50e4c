package main

import (
	"testing"

	"github.com/redisession/redisession/internal/conformance"
)

// TestConformance drives the whole contract of CONFORMANCE.md against this example, in process.
func TestConformance(t *testing.T) { conformance.Run(t, conformance.InProcess(run)) }
