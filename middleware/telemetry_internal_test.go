package middleware

import (
	"context"
	"fmt"
	"testing"

	"github.com/redisession/redisession/store"
)

// With the default (noop) providers, the telemetry on a request's path reads no clock, starts no span
// and allocates nothing.
func TestTelemetryWithoutProvidersAllocatesNothing(t *testing.T) {
	tel, err := newTelemetry(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tel.tracer != nil || tel.timed {
		t.Fatalf("noop providers: tracer %v, timed %v", tel.tracer, tel.timed)
	}
	ctx := context.Background()
	gone := fmt.Errorf("wrapped: %w", store.ErrNotFound)
	allocs := testing.AllocsPerRun(1000, func() {
		c, o := tel.start(ctx, opLoad)
		o.end(c, nil)
		c, o = tel.start(ctx, opLoad)
		o.end(c, store.ErrDeadlinePassed)
		c, o = tel.start(ctx, opCommit)
		tel.gone(c, opCommit, gone, true)
		tel.lifecycle(c, eventCreated)
		o.end(c, nil)
		c, o = tel.start(ctx, opRefresh)
		o.end(c, gone)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per request's worth of telemetry, want 0", allocs)
	}
}
