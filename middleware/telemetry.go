package middleware

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/redisession/redisession/store"
)

// ScopeName is the OpenTelemetry instrumentation scope of the Manager's meter and tracer: select on
// it in a view, e.g. to change the duration histograms' buckets.
const ScopeName = "github.com/redisession/redisession/middleware"

// opKind is an operation the telemetry tells apart.
type opKind uint8

const (
	opLoad    opKind = iota // the lazy HGETALL of a request's session
	opCommit                // the write-back of a request's changes, or the creation of its session
	opRefresh               // the throttled TTL refresh of a read-only request
	opRotate                // a new ID on login or level change
	opUpdate                // the compare-and-set of Update
	opDestroy               // logout, logout of all or other devices, EndUserSessions
	numOps
)

// opNames are the values of the redisession.operation attribute; spanNames name the spans of the
// operations that have one.
var (
	opNames   = [numOps]string{"load", "commit", "refresh", "rotate", "update", "destroy"}
	spanNames = [numOps]string{"redisession.load", "redisession.commit", "redisession.refresh", "redisession.rotate"}
)

// errType is the error.type attribute of a failure: a small, fixed set, so that it stays a cheap
// metric dimension and says nothing about the session.
type errType uint8

const (
	errRedis       errType = iota // Redis or the connection to it failed, or anything not below
	errCanceled                   // the request's context was canceled (the client went away)
	errTimeout                    // a deadline or a network timeout
	errCorrupt                    // a session hash without the store's metadata
	errTooLarge                   // a value or session over a limit
	errInvalid                    // a bad field name, change or option
	errHeadersSent                // a new session ID could not reach the client any more
	numErrTypes
)

var errTypeNames = [numErrTypes]string{"redis", "canceled", "timeout", "corrupt", "too_large", "invalid", "headers_sent"}

// Attribute keys.
const (
	keyOperation  = attribute.Key("redisession.operation")
	keyErrorType  = attribute.Key("error.type")
	keyLoadResult = attribute.Key("redisession.load.result")
)

// durationBuckets suit Redis round trips: from 100µs up to a few seconds.
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// telemetry holds a Manager's instruments. With the noop providers (the default) every call is an
// empty method behind an interface: no span is started, no clock is read and nothing is allocated.
type telemetry struct {
	tracer trace.Tracer // nil when tracing is off
	timed  bool         // durations are measured: a MeterProvider other than the noop one was given

	created, loaded, rotated, destroyed metric.Int64Counter
	expired, conflicts, errors          metric.Int64Counter
	loadTime, commitTime                metric.Float64Histogram

	// Measurement options built once, so that recording allocates nothing for attributes.
	byOp     [numOps][]metric.AddOption
	byOpErr  [numOps][numErrTypes][]metric.AddOption
	timeOpts [numOps][numErrTypes + 1][]metric.RecordOption // the last slot: success
}

// newTelemetry creates the instruments on mp and the tracer on tp; nil means the noop provider.
// The global providers are never consulted.
func newTelemetry(mp metric.MeterProvider, tp trace.TracerProvider) (*telemetry, error) {
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	t := &telemetry{}
	if _, off := tp.(tracenoop.TracerProvider); !off {
		t.tracer = tp.Tracer(ScopeName)
	}
	_, off := mp.(metricnoop.MeterProvider)
	t.timed = !off
	m := mp.Meter(ScopeName)
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		errs = append(errs, err)
		return h
	}
	t.created = counter("redisession.session.created", "{session}", "Sessions created: a first write, or a login without a session to rotate.")
	t.loaded = counter("redisession.session.loaded", "{session}", "Requests that loaded an existing session.")
	t.rotated = counter("redisession.session.rotated", "{session}", "Sessions moved to a new ID by a login or a level change.")
	t.destroyed = counter("redisession.session.destroyed", "{session}", "Sessions destroyed: logout, logout of all or other devices, revocation, EndUserSessions.")
	t.expired = counter("redisession.session.expired_at_cap", "{session}", "Sessions seen past their absolute deadline, by the operation that saw them.")
	t.conflicts = counter("redisession.commit.conflicts", "{conflict}", "Writes that found the request's session gone (destroyed by another request or idled out), by operation.")
	t.errors = counter("redisession.errors", "{error}", "Failed session operations, by operation and error.type.")
	t.loadTime = histogram("redisession.load.duration", "Time to load a request's session.")
	t.commitTime = histogram("redisession.commit.duration", "Time to write back a request's session (operation commit) or refresh its TTL (operation refresh).")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("redisession: creating metric instruments: %w", err)
	}
	for k := range numOps {
		opAttr := keyOperation.String(opNames[k])
		t.byOp[k] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(opAttr))}
		for et := range numErrTypes {
			set := attribute.NewSet(opAttr, keyErrorType.String(errTypeNames[et]))
			t.byOpErr[k][et] = []metric.AddOption{metric.WithAttributeSet(set)}
		}
		// The load histogram needs no operation attribute; the commit one tells commit from refresh.
		for et := range numErrTypes + 1 {
			var kv []attribute.KeyValue
			if k != opLoad {
				kv = append(kv, opAttr)
			}
			if et < numErrTypes {
				kv = append(kv, keyErrorType.String(errTypeNames[et]))
			}
			t.timeOpts[k][et] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
		}
	}
	return t, nil
}

// op is one running operation: its span, when tracing, and its start, when timing.
type op struct {
	t     *telemetry
	kind  opKind
	span  trace.Span // nil when tracing is off
	start time.Time
}

// start begins an operation of kind. The returned context carries its span, so that the store's
// Redis commands (traced by redisotel) nest under it.
func (t *telemetry) start(ctx context.Context, kind opKind) (context.Context, op) {
	o := op{t: t, kind: kind}
	if t.timed {
		o.start = time.Now()
	}
	if t.tracer != nil {
		ctx, o.span = t.tracer.Start(ctx, spanNames[kind])
	}
	return ctx, o
}

// end finishes the operation with err, its outcome: it counts what err says (see record), records
// the duration of a load, commit or refresh, and ends the span, with an error status on failure.
func (o op) end(ctx context.Context, err error) {
	t := o.t
	et, failed := t.record(ctx, o.kind, err)
	if t.timed && (o.kind == opLoad || o.kind == opCommit || o.kind == opRefresh) {
		slot := numErrTypes
		if failed {
			slot = et
		}
		h := t.commitTime
		if o.kind == opLoad {
			h = t.loadTime
		}
		h.Record(ctx, time.Since(o.start).Seconds(), t.timeOpts[o.kind][slot]...)
	}
	if o.span == nil {
		return
	}
	if o.kind == opLoad {
		result := "found"
		switch {
		case errors.Is(err, store.ErrDeadlinePassed):
			result = "deadline_passed"
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidID):
			result = "not_found"
		case err != nil:
			result = "error"
		}
		o.span.SetAttributes(keyLoadResult.String(result))
	}
	if failed {
		// The error's text is left out: a Redis error can quote a key, which holds the handle.
		o.span.SetAttributes(keyErrorType.String(errTypeNames[et]))
		o.span.SetStatus(codes.Error, spanNames[o.kind]+" failed: "+errTypeNames[et])
	}
	o.span.End()
}

// record counts the outcome err of an operation of kind, and reports whether it is a failure and of
// which type. For a load, a missing or unknown session is a miss, not a failure, and one past its
// absolute deadline counts as expired. For a write to a session the request has seen live, a gone
// session counts as a conflict or, past its deadline, as expired. Anything else counts as an error.
func (t *telemetry) record(ctx context.Context, kind opKind, err error) (errType, bool) {
	switch {
	case err == nil:
		if kind == opLoad {
			t.loaded.Add(ctx, 1)
		}
		return 0, false
	case errors.Is(err, store.ErrNotFound):
		if kind != opLoad || errors.Is(err, store.ErrDeadlinePassed) {
			t.gone(ctx, kind, err, true)
		}
		return 0, false
	case kind == opLoad && errors.Is(err, store.ErrInvalidID):
		return 0, false
	}
	et := classify(err)
	t.errors.Add(ctx, 1, t.byOpErr[kind][et]...)
	return et, true
}

// gone counts a session found gone by an operation of kind: expired when it was past its absolute
// deadline; a conflict when the request had seen it live (loaded or written it), since it was then
// destroyed or idled out under the request. A write to the cookie's session without a load (live
// false) that finds nothing is no conflict: the cookie named no live session to begin with.
func (t *telemetry) gone(ctx context.Context, kind opKind, err error, live bool) {
	switch {
	case errors.Is(err, store.ErrDeadlinePassed):
		t.expired.Add(ctx, 1, t.byOp[kind]...)
		t.event(ctx, "redisession.session.expired_at_cap")
	case live:
		t.conflicts.Add(ctx, 1, t.byOp[kind]...)
		t.event(ctx, "redisession.session.conflict")
	}
}

// lifecycle counts a lifecycle event of emit.
func (t *telemetry) lifecycle(ctx context.Context, kind string) {
	switch kind {
	case eventCreated:
		t.created.Add(ctx, 1)
		t.event(ctx, "redisession.session.created")
	case eventRotated:
		t.rotated.Add(ctx, 1)
		t.event(ctx, "redisession.session.rotated")
	case eventDestroyed:
		t.destroyed.Add(ctx, 1)
		t.event(ctx, "redisession.session.destroyed")
	}
}

// event adds a named event, without attributes, to the span in ctx when tracing is on: that span is
// the operation's own, or the application's request span around it.
func (t *telemetry) event(ctx context.Context, name string) {
	if t.tracer != nil {
		trace.SpanFromContext(ctx).AddEvent(name)
	}
}

// classify returns the error.type of a failure.
func classify(err error) errType {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return errCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errTimeout
	case errors.Is(err, store.ErrCorrupt):
		return errCorrupt
	case errors.Is(err, store.ErrTooLarge):
		return errTooLarge
	case errors.Is(err, store.ErrReservedField), errors.Is(err, store.ErrInvalidChanges),
		errors.Is(err, store.ErrNotInteger), errors.Is(err, store.ErrInvalidID), errors.Is(err, store.ErrInvalidOptions):
		return errInvalid
	case errors.Is(err, ErrHeadersSent):
		return errHeadersSent
	}
	return errRedis
}
