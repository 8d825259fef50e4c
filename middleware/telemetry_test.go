package middleware_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// otelSink is an in-memory OpenTelemetry SDK: a manual metric reader and a span recorder.
type otelSink struct {
	tb     testing.TB
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	mp     *sdkmetric.MeterProvider
	tp     *sdktrace.TracerProvider
	seen   int // spans already returned by newSpans
}

func newOtelSink(tb testing.TB) *otelSink {
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	s := &otelSink{tb: tb, reader: reader, spans: spans,
		mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		tp: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))}
	tb.Cleanup(func() {
		_ = s.mp.Shutdown(context.Background())
		_ = s.tp.Shutdown(context.Background())
	})
	return s
}

// config returns a test configuration whose Manager reports to the sink.
func (s *otelSink) config(mw middleware.Options) config {
	mw.MeterProvider, mw.TracerProvider = s.mp, s.tp
	return config{mw: mw, redis: redistest.Options{}}
}

// collect returns every metric of the Manager's scope by name.
func (s *otelSink) collect() map[string]metricdata.Metrics {
	s.tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		s.tb.Fatalf("collecting metrics: %v", err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != middleware.ScopeName {
			s.tb.Errorf("metrics of an unexpected scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// tally is what the sink holds at one moment: each counter's total, the number of measurements in
// each histogram, and some totals by attribute.
type tally struct {
	totals
	by map[string]int64 // "metric key=value…" → total, of the points with attributes only
}

// totals are each counter's total and the number of measurements in each histogram.
type totals struct {
	created, loaded, rotated, destroyed, expired, conflicts, errors int64
	loads, commits                                                  uint64
}

func (s *otelSink) tally() tally {
	s.tb.Helper()
	ms := s.collect()
	var t tally
	t.by = map[string]int64{}
	sum := func(name string) int64 {
		m, ok := ms[name]
		if !ok {
			return 0
		}
		d, ok := m.Data.(metricdata.Sum[int64])
		if !ok || !d.IsMonotonic {
			s.tb.Fatalf("%s is a %T, want a monotonic Sum[int64]", name, m.Data)
		}
		var n int64
		for _, p := range d.DataPoints {
			n += p.Value
			var parts []string
			for _, kv := range p.Attributes.ToSlice() {
				parts = append(parts, string(kv.Key)+"="+kv.Value.String())
			}
			if len(parts) > 0 {
				t.by[name+" "+strings.Join(parts, " ")] += p.Value
			}
		}
		return n
	}
	count := func(name string) uint64 {
		m, ok := ms[name]
		if !ok {
			return 0
		}
		d, ok := m.Data.(metricdata.Histogram[float64])
		if !ok {
			s.tb.Fatalf("%s is a %T, want a Histogram[float64]", name, m.Data)
		}
		if m.Unit != "s" {
			s.tb.Errorf("%s has unit %q, want s", name, m.Unit)
		}
		var n uint64
		for _, p := range d.DataPoints {
			n += p.Count
			var parts []string
			for _, kv := range p.Attributes.ToSlice() {
				parts = append(parts, string(kv.Key)+"="+kv.Value.String())
			}
			if len(parts) > 0 {
				t.by[name+" "+strings.Join(parts, " ")] += int64(p.Count)
			}
		}
		return n
	}
	t.created = sum("redisession.session.created")
	t.loaded = sum("redisession.session.loaded")
	t.rotated = sum("redisession.session.rotated")
	t.destroyed = sum("redisession.session.destroyed")
	t.expired = sum("redisession.session.expired_at_cap")
	t.conflicts = sum("redisession.commit.conflicts")
	t.errors = sum("redisession.errors")
	t.loads = count("redisession.load.duration")
	t.commits = count("redisession.commit.duration")
	return t
}

// expect fails unless the sink's totals are want's, and its totals by attributes are exactly want.by.
func (s *otelSink) expect(step string, want tally) {
	s.tb.Helper()
	got := s.tally()
	if !maps.Equal(got.by, want.by) {
		s.tb.Errorf("after %s, by attributes:\n got %v\nwant %v", step, got.by, want.by)
	}
	if got.totals != want.totals {
		s.tb.Errorf("after %s:\n got %+v\nwant %+v", step, got.totals, want.totals)
	}
}

// newSpans returns the Manager's spans that ended since the last call.
func (s *otelSink) newSpans() []sdktrace.ReadOnlySpan {
	all := s.spans.Ended()
	var out []sdktrace.ReadOnlySpan
	for _, sp := range all[s.seen:] {
		if sp.InstrumentationScope().Name == middleware.ScopeName {
			out = append(out, sp)
		}
	}
	s.seen = len(all)
	return out
}

// spanHook records each Redis command as "command in span", span being the name of the span in the
// command's context ("" when there is none).
type spanHook struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (h *spanHook) note(ctx context.Context, cmd redis.Cmder) {
	name := ""
	if sp, ok := trace.SpanFromContext(ctx).(sdktrace.ReadOnlySpan); ok {
		name = sp.Name()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen[cmd.Name()+" in "+name] = true
}

func (h *spanHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *spanHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.note(ctx, cmd)
		return next(ctx, cmd)
	}
}

func (h *spanHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.note(ctx, cmd)
		}
		return next(ctx, cmds)
	}
}

// expectSpans fails unless the spans ended since the last call are named want, in order, and none
// has an error status; it returns them.
func (s *otelSink) expectSpans(step string, want ...string) []sdktrace.ReadOnlySpan {
	s.tb.Helper()
	spans := s.newSpans()
	var names []string
	for _, sp := range spans {
		names = append(names, sp.Name())
		if sp.Status().Code == codes.Error {
			s.tb.Errorf("after %s: span %s has status %v %q", step, sp.Name(), sp.Status().Code, sp.Status().Description)
		}
	}
	if !slices.Equal(names, want) {
		s.tb.Errorf("after %s: spans %q, want %q", step, names, want)
	}
	return spans
}

// attr returns the string value of a span attribute, "" when absent.
func attr(sp sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// events returns the names of a span's events.
func events(sp sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, ev := range sp.Events() {
		out = append(out, ev.Name)
	}
	return out
}

// everything returns all that the spans and the metrics carry as text: names, attributes, statuses
// and events, to look for what must never be there.
func (s *otelSink) everything() string {
	var b strings.Builder
	for _, sp := range s.spans.Ended() {
		fmt.Fprintf(&b, "%s %s %v %s\n", sp.Name(), sp.Status().Description, sp.Attributes(), events(sp))
		for _, ev := range sp.Events() {
			fmt.Fprintf(&b, "%v\n", ev.Attributes)
		}
	}
	for name, m := range s.collect() {
		fmt.Fprintf(&b, "%s %+v\n", name, m.Data)
	}
	return b.String()
}

// telemetryApp is app with two more routes that load the session, destroy it behind the request's
// back (as a logout in another tab would), then write to it: POST /race with Set, POST /race-update
// with Update.
func telemetryApp(e *env) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", app())
	// loadThenDestroy loads r's session, then destroys it in Redis; false when it answered w.
	loadThenDestroy := func(w http.ResponseWriter, r *http.Request) bool {
		_ = middleware.Get(r).GetString("a")
		c, err := r.Cookie("session")
		if err != nil {
			http.Error(w, "no cookie", http.StatusBadRequest)
			return false
		}
		if err := e.store.Destroy(r.Context(), c.Value); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return false
		}
		return true
	}
	mux.HandleFunc("POST /race", func(w http.ResponseWriter, r *http.Request) {
		if !loadThenDestroy(w, r) {
			return
		}
		if err := middleware.Get(r).Set("a", "after the race"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /race-update", func(w http.ResponseWriter, r *http.Request) {
		if !loadThenDestroy(w, r) {
			return
		}
		_, err := middleware.Update(middleware.Get(r), "n", func(n int, _ bool) (int, error) { return n + 1, nil })
		if err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		fmt.Fprint(w, "ok")
	})
	return mux
}

// A session's life, step by step: every counter, every histogram's count and every span after each
// request; and nothing in any of it names a session ID or handle.
func TestTelemetryFollowsASessionsLife(t *testing.T) {
	sink := newOtelSink(t)
	e := newEnv(t, sink.config(middleware.Options{}))
	hook := &spanHook{seen: map[string]bool{}}
	e.rdb.AddHook(hook)
	// Each request runs in a span of its own, as under otelhttp: the Manager's spans are its children.
	requests := sink.tp.Tracer("test")
	var (
		mu      sync.Mutex
		parents []trace.SpanID
	)
	b := newBrowser(t, startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := requests.Start(r.Context(), "request")
		defer span.End()
		mu.Lock()
		parents = append(parents, span.SpanContext().SpanID())
		mu.Unlock()
		e.m.Handler(telemetryApp(e)).ServeHTTP(w, r.WithContext(ctx))
	})))
	var secrets []string
	remember := func() {
		if id := b.cookie(); id != "" {
			secrets = append(secrets, id, store.Handle(id))
		}
	}
	var want tally
	sink.expect("start", want)

	mustOK(t, "create", b.post("/set"+q("key", "a", "value", "1")))
	remember()
	want.created, want.commits = 1, 1
	want.by = map[string]int64{"redisession.commit.duration redisession.operation=commit": 1}
	sink.expect("create", want)
	spans := sink.expectSpans("create", "redisession.commit")
	if ev := events(spans[0]); !slices.Equal(ev, []string{"redisession.session.created"}) {
		t.Errorf("create: commit span events %q", ev)
	}

	if got := mustOK(t, "load", b.get("/get"+q("key", "a"))).body; got != `1` {
		t.Errorf("load: %q", got)
	}
	want.loaded, want.loads = 1, 1
	sink.expect("load", want)
	spans = sink.expectSpans("load", "redisession.load")
	if r := attr(spans[0], "redisession.load.result"); r != "found" {
		t.Errorf("load: result %q, want found", r)
	}

	mustOK(t, "write", b.post("/set"+q("key", "b", "value", "2")))
	want.commits = 2
	want.by["redisession.commit.duration redisession.operation=commit"] = 2
	sink.expect("write", want)
	sink.expectSpans("write", "redisession.commit")

	mustOK(t, "login", b.post("/login"+q("user", "kim")))
	remember()
	// A login reads the session in its rotation's first step: no load before it.
	want.rotated = 1
	sink.expect("login", want)
	spans = sink.expectSpans("login", "redisession.rotate")
	if ev := events(spans[0]); !slices.Equal(ev, []string{"redisession.session.rotated"}) {
		t.Errorf("login: rotate span events %q", ev)
	}

	mustOK(t, "logout", b.post("/logout"))
	want.loaded, want.loads, want.destroyed = 2, 2, 1
	sink.expect("logout", want)
	sink.expectSpans("logout", "redisession.load")

	// A commit conflict: the session is destroyed between the request's load and its commit. The
	// write is not lost into a dead session: it starts a new one.
	mustOK(t, "new session", b.post("/set"+q("key", "a", "value", "1")))
	remember()
	mustOK(t, "race", b.post("/race"))
	remember()
	want.created, want.commits, want.loaded, want.loads, want.conflicts = 3, 4, 3, 3, 1
	want.by = map[string]int64{
		"redisession.commit.conflicts redisession.operation=commit": 1,
		"redisession.commit.duration redisession.operation=commit":  4,
	}
	sink.expect("conflict", want)
	spans = sink.expectSpans("conflict", "redisession.commit", "redisession.load", "redisession.commit")
	if ev := events(spans[2]); !slices.Equal(ev, []string{"redisession.session.conflict", "redisession.session.created"}) {
		t.Errorf("conflict: commit span events %q", ev)
	}
	if got := b.get("/get" + q("key", "a")).body; got != "after the race" {
		t.Errorf("after the conflict: %q", got)
	}
	remember()

	// The same race against Update's compare-and-set: the update fails, as the session is gone.
	if r := b.post("/race-update"); r.status == http.StatusOK {
		t.Errorf("update of a destroyed session: %d %q", r.status, r.body)
	}
	want.loaded, want.loads, want.conflicts = 5, 5, 2
	want.by["redisession.commit.conflicts redisession.operation=update"] = 1
	sink.expect("update conflict", want)
	sink.expectSpans("update conflict", "redisession.load", "redisession.load")

	mu.Lock()
	defer mu.Unlock()
	for _, sp := range sink.spans.Ended() {
		if sp.Name() != "request" && !slices.Contains(parents, sp.Parent().SpanID()) {
			t.Errorf("span %s is not a child of its request's span", sp.Name())
		}
	}
	// The store's Redis commands run in the context of the Manager's spans, where redisotel's spans
	// of them would hang; the Destroy the race handler called itself runs in the request's.
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for _, want := range []string{"hgetall in redisession.load", "evalsha in redisession.commit",
		"evalsha in redisession.rotate", "evalsha in request"} {
		if !hook.seen[want] {
			t.Errorf("no Redis command %q; saw %v", want, slices.Sorted(maps.Keys(hook.seen)))
		}
	}
	for k := range hook.seen {
		if strings.HasSuffix(k, " in ") {
			t.Errorf("Redis command %q ran without a span", k)
		}
	}
	all := sink.everything()
	for _, secret := range secrets {
		if strings.Contains(all, secret) {
			t.Errorf("telemetry contains a session ID or handle (%.8s…):\n%s", secret, all)
		}
	}
}

// A session seen past its absolute deadline is counted, by the operation that saw it; one that Redis
// already removed at its deadline is not (it cannot be told from an unknown ID), nor is it a conflict.
func TestTelemetryCountsSessionsPastTheirAbsoluteDeadline(t *testing.T) {
	sink := newOtelSink(t)
	const life = time.Second
	e := newEnv(t, sink.config(middleware.Options{AbsoluteTimeout: life, IdleTimeout: time.Hour}))
	srv := e.serve(app())
	reader, writer, vanished := newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv)
	for _, b := range []*browser{reader, writer, vanished} {
		mustOK(t, "create", b.post("/set"+q("key", "a", "value", "1")))
	}
	// Keep two keys past the deadline, as a client-side cache or a read in the instant before Redis
	// expires the key would see them.
	var deadline time.Time
	for _, b := range []*browser{reader, writer} {
		deadline = e.mustLoad(b.cookie()).Meta.AbsoluteDeadline
		if ok, err := e.admin.PExpire(ctxT(t), sessionKey(b.cookie()), time.Minute).Result(); err != nil || !ok {
			t.Fatalf("PEXPIRE: %v, %v", ok, err)
		}
	}
	time.Sleep(time.Until(deadline) + 200*time.Millisecond)
	sink.newSpans()
	want := tally{totals: totals{created: 3, commits: 3}, by: map[string]int64{"redisession.commit.duration redisession.operation=commit": 3}}
	sink.expect("setup", want)

	if got := mustOK(t, "read past the deadline", reader.get("/get"+q("key", "a"))).body; got != "" {
		t.Errorf("a session past its deadline was read: %q", got)
	}
	want.loads, want.expired = 1, 1
	want.by["redisession.session.expired_at_cap redisession.operation=load"] = 1
	sink.expect("read past the deadline", want)
	spans := sink.expectSpans("read past the deadline", "redisession.load")
	if r := attr(spans[0], "redisession.load.result"); r != "deadline_passed" {
		t.Errorf("load result %q, want deadline_passed", r)
	}

	// A write without a read goes straight to the script, which finds the deadline passed.
	mustOK(t, "write past the deadline", writer.post("/set"+q("key", "a", "value", "2")))
	want.expired, want.created, want.commits = 2, 4, 4
	want.by["redisession.session.expired_at_cap redisession.operation=commit"] = 1
	want.by["redisession.commit.duration redisession.operation=commit"] = 4
	sink.expect("write past the deadline", want)
	spans = sink.expectSpans("write past the deadline", "redisession.commit")
	if ev := events(spans[0]); !slices.Equal(ev, []string{"redisession.session.expired_at_cap", "redisession.session.created"}) {
		t.Errorf("commit span events %q", ev)
	}

	// The usual case: Redis removed the key at the deadline; the load finds nothing to count.
	mustOK(t, "read after expiry", vanished.get("/get"+q("key", "a")))
	want.loads = 2
	sink.expect("read after expiry", want)
	spans = sink.expectSpans("read after expiry", "redisession.load")
	if r := attr(spans[0], "redisession.load.result"); r != "not_found" {
		t.Errorf("load result %q, want not_found", r)
	}
}

// Redis down: loads and commits fail, are counted as errors by operation and type, timed, and their
// spans carry an error status that does not quote the error.
func TestTelemetryCountsRedisErrors(t *testing.T) {
	sink := newOtelSink(t)
	e := newEnv(t, sink.config(middleware.Options{}))
	b := newBrowser(t, e.serve(app()))
	mustOK(t, "create", b.post("/set"+q("key", "a", "value", "1")))
	sink.newSpans()
	e.srv.Stop(t)

	if r := b.get("/get" + q("key", "a")); r.status != http.StatusServiceUnavailable {
		t.Errorf("load with Redis down: %d", r.status)
	}
	if r := b.post("/set" + q("key", "b", "value", "2")); r.status < 500 {
		t.Errorf("write with Redis down: %d", r.status)
	}
	if r := b.post("/logout"); r.status != http.StatusServiceUnavailable {
		t.Errorf("logout with Redis down: %d", r.status)
	}
	sink.expect("Redis down", tally{totals: totals{created: 1, commits: 2, loads: 2, errors: 3}, by: map[string]int64{
		"redisession.errors error.type=redis redisession.operation=load":            2,
		"redisession.errors error.type=redis redisession.operation=commit":          1,
		"redisession.load.duration error.type=redis":                                2,
		"redisession.commit.duration error.type=redis redisession.operation=commit": 1,
		"redisession.commit.duration redisession.operation=commit":                  1,
	}})
	var names []string
	for _, sp := range sink.newSpans() {
		names = append(names, sp.Name())
		if sp.Status().Code != codes.Error || attr(sp, "error.type") != "redis" {
			t.Errorf("span %s: status %v %q, error.type %q; want an error of type redis",
				sp.Name(), sp.Status().Code, sp.Status().Description, attr(sp, "error.type"))
		}
		if strings.Contains(sp.Status().Description, e.srv.Addr()) {
			t.Errorf("span %s: the status description quotes the error: %q", sp.Name(), sp.Status().Description)
		}
	}
	if want := []string{"redisession.load", "redisession.commit", "redisession.load"}; !slices.Equal(names, want) {
		t.Errorf("spans %q, want %q", names, want)
	}
}

// Without providers, nothing is recorded anywhere, not even by global providers that an application
// (or another library) installed: the Manager never reads the globals.
func TestTelemetryIsOffWithoutProviders(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prevMP, prevTP := otel.GetMeterProvider(), otel.GetTracerProvider()
	otel.SetMeterProvider(mp)
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetMeterProvider(prevMP)
		otel.SetTracerProvider(prevTP)
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})

	e := newEnv(t, config{redis: redistest.Options{}})
	if _, ok := e.m.Options().MeterProvider.(metricnoop.MeterProvider); !ok {
		t.Errorf("default MeterProvider is a %T, want the noop one", e.m.Options().MeterProvider)
	}
	if _, ok := e.m.Options().TracerProvider.(tracenoop.TracerProvider); !ok {
		t.Errorf("default TracerProvider is a %T, want the noop one", e.m.Options().TracerProvider)
	}
	b := newBrowser(t, e.serve(telemetryApp(e)))
	mustOK(t, "create", b.post("/set"+q("key", "a", "value", "1")))
	mustOK(t, "load", b.get("/get"+q("key", "a")))
	mustOK(t, "login", b.post("/login"+q("user", "kim")))
	mustOK(t, "race", b.post("/race"))
	mustOK(t, "logout", b.post("/logout"))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.ScopeMetrics) != 0 {
		t.Errorf("the global MeterProvider recorded %+v", rm.ScopeMetrics)
	}
	if spans := rec.Ended(); len(spans) != 0 {
		t.Errorf("the global TracerProvider recorded %d spans, the first %q", len(spans), spans[0].Name())
	}
	if otel.GetMeterProvider() != mp || otel.GetTracerProvider() != tp {
		t.Error("the global providers were replaced")
	}
}

// benchTelemetry is a configuration whose Manager records every metric and span with the SDK; the
// spans are sampled but exported nowhere, so that memory stays flat.
func benchTelemetry(b *testing.B) config {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	b.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	return config{mw: middleware.Options{MeterProvider: mp, TracerProvider: tp}, redis: redistest.Options{}}
}

// BenchmarkReadOnlyRequest with the SDK recording: the cost of telemetry when it is on.
func BenchmarkReadOnlyRequestWithTelemetry(b *testing.B) {
	h, req := benchSessionWith(b, benchTelemetry(b), readTheme, http.MethodGet, "/")
	serveLoop(b, h, req, http.StatusOK)
}

// BenchmarkOneFieldWrite with the SDK recording.
func BenchmarkOneFieldWriteWithTelemetry(b *testing.B) {
	h, req := benchSessionWith(b, benchTelemetry(b), writeTheme, http.MethodPost, "/")
	serveLoop(b, h, req, http.StatusOK)
}
