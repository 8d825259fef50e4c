package middleware

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/redisession/redisession/codec"
	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/store"
)

// LevelElevated is the privilege level the default Options give shorter timeouts.
const LevelElevated = "elevated"

// Default timeouts of an elevated session.
const (
	// DefaultElevatedIdleTimeout ends the elevated level of a session unused for this long.
	DefaultElevatedIdleTimeout = 5 * time.Minute
	// DefaultElevatedAbsoluteTimeout ends the elevated level this long after the elevation, and never
	// after the session's own absolute deadline.
	DefaultElevatedAbsoluteTimeout = 15 * time.Minute
)

// Timeouts are the idle and absolute timeouts of one privilege level, and what their passing does.
type Timeouts struct {
	// Idle ends the level when the session is unused for this long.
	Idle time.Duration
	// Absolute ends the level this long after the session reached it; never after the session's own
	// absolute deadline.
	Absolute time.Duration
	// OnExpiry says what the level's end does. Default: StepDown, the session goes on at the ordinary
	// level under its own timeouts, its fields intact.
	OnExpiry LevelExpiry
}

// LevelExpiry says what happens when a privilege level's idle or absolute timeout passes.
type LevelExpiry int

const (
	// StepDown drops the session back to the ordinary level ("sudo mode"): no write and no extra
	// round trip is needed, the next load sees the ordinary level. The default.
	StepDown LevelExpiry = iota
	// EndSession ends the session, for an admin console that must close; its TTL then never passes
	// the level's deadlines.
	EndSession
)

// DeviceInfo says what a session records about the device that created it, for device lists.
type DeviceInfo int

const (
	// DeviceFull records the User-Agent (up to 256 bytes) and the client address. The default.
	DeviceFull DeviceInfo = iota
	// DeviceCoarse records the User-Agent and the client address truncated to its /24 (IPv4) or /48
	// (IPv6) network.
	DeviceCoarse
	// DeviceNone records neither.
	DeviceNone
)

// Event describes a session lifecycle change passed to the hooks.
type Event struct {
	// UserID is the session's user, empty for anonymous sessions.
	UserID string
	// Handle is the session's handle (not its ID); for a rotation, the new one.
	Handle string
	// OldHandle is the replaced session's handle, for rotations.
	OldHandle string
}

// Options configure a Manager. The zero value is a sane, secure configuration.
type Options struct {
	// IdleTimeout ends a session unused for this long. Default: 30 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after creation (login counts as creation), however
	// much it is used. Default: 12 hours.
	AbsoluteTimeout time.Duration
	// Levels names the privilege levels SetLevel accepts and gives each its own timeouts, after which
	// the level lapses (see Timeouts.OnExpiry); the session's own timeouts are untouched. Default:
	// LevelElevated with 5 minutes idle and 15 minutes absolute, stepping down. A non-nil map
	// replaces the default entirely.
	Levels map[string]Timeouts
	// Cookie configures the session cookie. Default: the cookie package's defaults (name "session",
	// Secure, HttpOnly, SameSite Lax, Path /, browser-session lifetime, unsigned).
	Cookie cookie.Options
	// Codec encodes field values. Default: codec.JSON.
	Codec codec.Codec
	// ErrorHandler writes the response when the session store fails. Default: DefaultErrorHandler,
	// which answers with ErrorStatus(err) and a plain-text body. A request whose context carries a
	// handler from WithErrorHandler (as the framework adapters' requests do) uses that one instead.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives errors that cannot be returned (a commit after the headers went out). Default:
	// slog.Default(). Nothing logged ever contains a session ID.
	Logger *slog.Logger
	// CSRF, when true, rejects requests with an unsafe method (not GET, HEAD, OPTIONS or TRACE) that
	// carry a session but not its CSRF token in the X-CSRF-Token header or the csrf_token form field,
	// with 403. Default: false; check yourself with Session.CheckCSRF.
	CSRF bool
	// CSRFExempt exempts requests from the CSRF check, e.g. a login form. Default: none.
	CSRFExempt func(r *http.Request) bool
	// ClearSiteData adds `Clear-Site-Data: "cookies"` to logout responses. Default: false.
	ClearSiteData bool
	// Device chooses what a session records about its device. Default: DeviceFull.
	Device DeviceInfo
	// ClientIP returns the client address recorded for device lists. Default: the host part of
	// r.RemoteAddr; set it when a trusted proxy supplies the address.
	ClientIP func(r *http.Request) string
	// LogKey keys the HMAC that names sessions in log lines (created, rotated, destroyed), so that
	// lines about one session correlate without the ID or its Redis key appearing. Give every app
	// node the same secret key to correlate across nodes. Default: a random key per Manager.
	LogKey []byte
	// OnCreate, OnRotate and OnDestroy are called after a session is created, rotated (login or level
	// change) or destroyed (logout, revoke, logout of other sessions). Default: nil.
	OnCreate, OnRotate, OnDestroy func(ctx context.Context, e Event)
	// MeterProvider receives the Manager's OpenTelemetry metrics: counts of sessions created, loaded,
	// rotated, destroyed and seen past their absolute deadline, of commit conflicts and of errors by
	// operation, and histograms of load and commit time (docs/operations.md lists them). Default: the
	// noop provider, which records nothing and costs nothing; the global provider is never used, so
	// pass otel.GetMeterProvider() to use it.
	MeterProvider metric.MeterProvider
	// TracerProvider receives a span for each session load, commit, TTL refresh and rotation, under the
	// request's span in its context. Spans carry no session ID, handle or user. The Redis commands get
	// spans of their own only from go-redis' instrumentation (redisotel) on the client. Default: the
	// noop provider, which starts no span; the global provider is never used.
	TracerProvider trace.TracerProvider
}

func (o Options) withDefaults() Options {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = store.DefaultIdleTimeout
	}
	if o.AbsoluteTimeout == 0 {
		o.AbsoluteTimeout = store.DefaultAbsoluteTimeout
	}
	if o.Levels == nil {
		o.Levels = map[string]Timeouts{LevelElevated: {Idle: DefaultElevatedIdleTimeout, Absolute: DefaultElevatedAbsoluteTimeout}}
	}
	if o.Codec == nil {
		o.Codec = codec.JSON{}
	}
	if o.ErrorHandler == nil {
		o.ErrorHandler = DefaultErrorHandler
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ClientIP == nil {
		o.ClientIP = remoteHost
	}
	if o.MeterProvider == nil {
		o.MeterProvider = metricnoop.NewMeterProvider()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = tracenoop.NewTracerProvider()
	}
	return o
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Errors the middleware reports to the ErrorHandler and returns from Session methods.
var (
	// ErrUnavailable wraps a failure to load or refresh a session: the store could not be reached, so
	// the request cannot know who it is serving. Default status: 503.
	ErrUnavailable = errors.New("redisession: session store unavailable")
	// ErrCommit wraps a failure to save a session's changes. Default status: 500.
	ErrCommit = errors.New("redisession: session not saved")
	// ErrHeadersSent means a new or rotated session ID could no longer reach the client because the
	// response headers were already written.
	ErrHeadersSent = errors.New("redisession: response headers already sent")
	// ErrNotAuthenticated means the operation needs a session with a user.
	ErrNotAuthenticated = errors.New("redisession: not authenticated")
	// ErrCSRF means an unsafe request lacked the session's CSRF token. Default status: 403.
	ErrCSRF = errors.New("redisession: missing or wrong CSRF token")
	// ErrRotated means the request carries the ID of a session that another request rotated to a new
	// ID (a login or level change in another tab) a moment ago: writes, rotations and logouts of it
	// are refused, and it reads as no session, so that the request can neither reach the new session
	// nor replace its cookie. It is store.ErrRotated. Default status: 409.
	ErrRotated = store.ErrRotated
	// ErrUnknownLevel means SetLevel was given a level that Options.Levels does not name. Default
	// status: 500, a programming error.
	ErrUnknownLevel = errors.New("redisession: unknown privilege level")
	// ErrNoSession means Handler did not wrap the request.
	ErrNoSession = errors.New("redisession: no session in the request context (is the handler wrapped?)")
)

// ErrorStatus maps an error from the session machinery to an HTTP status: 413 for values or sessions
// over a limit, 400 for reserved or invalid field names, 403 for CSRF failures, 401 when no user is
// logged in, 409 for the ID of a session rotated away, 404 for unknown handles, 503 when the store is
// unavailable or a durable logout is not yet confirmed by the replicas (store.ErrNotDurable), 500
// otherwise.
func ErrorStatus(err error) int {
	switch {
	case errors.Is(err, store.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, store.ErrReservedField), errors.Is(err, store.ErrInvalidChanges), errors.Is(err, store.ErrNotInteger):
		return http.StatusBadRequest
	case errors.Is(err, ErrCSRF):
		return http.StatusForbidden
	case errors.Is(err, ErrNotAuthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, ErrRotated):
		return http.StatusConflict
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrUnavailable), errors.Is(err, store.ErrNotDurable), unreachable(err):
		// A logout not yet confirmed by the replicas happened on the master: retrying it is safe.
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// unreachable reports whether err means Redis could not be reached or cannot take writes right now
// (a dropped connection, a timeout, a restart loading its data, a failover or a resharding in
// progress): the request may succeed when retried, so it is a 503 like a failed load. An out-of-memory
// refusal or a script error stays a 500.
func unreachable(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed):
		return true
	}
	for _, prefix := range [...]string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY"} {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}

// DefaultErrorHandler answers with ErrorStatus(err) and the status text; the error itself, which may
// name internal addresses, is not sent to the client.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	code := ErrorStatus(err)
	http.Error(w, http.StatusText(code), code)
}
