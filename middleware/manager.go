package middleware

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/store"
)

// Manager wires a store and a cookie codec into HTTP handlers. Create one per application with New
// and wrap the router once with Handler.
type Manager struct {
	store  *store.Store
	cookie *cookie.Codec
	opts   Options
	logKey []byte // keys the HMAC that names sessions in logs
	tel    *telemetry
}

// New returns a Manager for st. It refuses cookie options that browsers would reject or that would
// weaken the cookie (see cookie.New) and negative timeouts.
func New(st *store.Store, opts Options) (*Manager, error) {
	if st == nil {
		return nil, fmt.Errorf("redisession: nil store")
	}
	o := opts.withDefaults()
	if o.IdleTimeout < 0 || o.AbsoluteTimeout < 0 {
		return nil, fmt.Errorf("redisession: negative timeout")
	}
	for name, lt := range o.Levels {
		if name == "" || lt.Idle <= 0 || lt.Absolute <= 0 || (lt.OnExpiry != StepDown && lt.OnExpiry != EndSession) {
			return nil, fmt.Errorf("redisession: level %q needs a name, positive timeouts and StepDown or EndSession", name)
		}
	}
	c, err := cookie.New(o.Cookie)
	if err != nil {
		return nil, err
	}
	lk, err := newLogKey(o.LogKey)
	if err != nil {
		return nil, err
	}
	tel, err := newTelemetry(o.MeterProvider, o.TracerProvider)
	if err != nil {
		return nil, err
	}
	return &Manager{store: st, cookie: c, opts: o, logKey: lk, tel: tel}, nil
}

// Store returns the store the Manager uses.
func (m *Manager) Store() *store.Store { return m.store }

// Options returns the Manager's options with defaults applied.
func (m *Manager) Options() Options { return m.opts }

type ctxKey struct{}

// FromContext returns the request's session, or nil when Handler did not wrap the request.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// Get returns r's session, or nil when Handler did not wrap the request. It is short for
// FromContext(r.Context()).
func Get(r *http.Request) *Session { return FromContext(r.Context()) }

type errorHandlerKey struct{}

// WithErrorHandler returns a copy of ctx that makes Handler answer the failures of a request carrying
// it with h instead of Options.ErrorHandler. Framework adapters use it to send failures down the
// framework's own error path; applications rarely need it. h gets the ResponseWriter that Handler
// wrapped (not the session's, which drops everything after a failure) and the request with its
// session. A nil h leaves Options.ErrorHandler in charge.
func WithErrorHandler(ctx context.Context, h func(w http.ResponseWriter, r *http.Request, err error)) context.Context {
	return context.WithValue(ctx, errorHandlerKey{}, h)
}

// errorHandler returns the error handler for a request with context ctx.
func (m *Manager) errorHandler(ctx context.Context) func(http.ResponseWriter, *http.Request, error) {
	if h, ok := ctx.Value(errorHandlerKey{}).(func(http.ResponseWriter, *http.Request, error)); ok && h != nil {
		return h
	}
	return m.opts.ErrorHandler
}

// Handler wraps next so that every request carries a Session in its context. Nothing is sent to
// Redis until the handler touches the session; its changes are committed before the response's
// headers go out, and Set-Cookie joins them whenever the ID is new, rotated or destroyed. A handler
// that panics commits none of its pending changes; only what already went to Redis stays (Increment's
// and Update's own field, Login and SetLevel with the changes pending when they ran, Logout and the
// like).
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &Session{m: m, cookieID: m.cookie.Read(r)}
		if s.cookieID == "" {
			_, err := r.Cookie(m.cookie.Name())
			s.hadCookie = err == nil
		} else {
			s.hadCookie = true
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, s))
		s.req = r
		rw := &responseWriter{ResponseWriter: w, s: s}
		if m.opts.CSRF && !safeMethod(r.Method) && s.cookieID != "" && (m.opts.CSRFExempt == nil || !m.opts.CSRFExempt(r)) {
			if err := s.CheckCSRF(r); err != nil {
				rw.fail(err)
				return
			}
		}
		next.ServeHTTP(rw, r)
		// Not reached when next panics: a panicking handler commits no pending changes.
		rw.finish()
	})
}

func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// newToken returns 32 random bytes, base64url: a CSRF token.
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("redisession: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
