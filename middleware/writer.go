package middleware

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// responseWriter commits the session just before the response headers go out: on the first
// WriteHeader, Write, Flush, ReadFrom or Hijack, or when the handler returns having written nothing.
type responseWriter struct {
	http.ResponseWriter
	s      *Session
	done   bool // the pre-header commit ran
	failed bool // the error handler answered instead of the handler; its output is dropped
}

// beforeHeaders commits and sets the session headers, or hands the response to the error handler.
func (w *responseWriter) beforeHeaders() {
	if w.done {
		return
	}
	w.done = true
	s := w.s
	s.mu.Lock()
	err := s.commit(s.req.Context())
	if err == nil {
		err = w.sessionHeaders()
	}
	s.headersOut = true
	s.mu.Unlock()
	if err != nil {
		w.fail(err)
	}
}

// sessionHeaders adds Set-Cookie and the caching headers. Callers hold s.mu.
//
// A response that touched the session gets Vary: Cookie, and Cache-Control: no-store unless the
// handler chose its own. A response that carries a session cookie (a new or rotated ID, or a cleared
// one) gets Cache-Control: no-store whatever the handler chose: a shared cache that kept it would
// hand one visitor's session ID, or a logout, to everyone it serves.
func (w *responseWriter) sessionHeaders() error {
	s, h := w.s, w.Header()
	touched := s.loaded || s.created || s.destroyed || s.modified
	cookie := false
	switch {
	case s.created && s.rec != nil:
		c, err := s.m.cookie.Cookie(s.id, s.rec.Meta.Deadline())
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCommit, err)
		}
		h.Add("Set-Cookie", c.String())
		cookie = true
	case s.destroyed:
		h.Add("Set-Cookie", s.m.cookie.Clear().String())
		if s.m.opts.ClearSiteData {
			h.Set("Clear-Site-Data", `"cookies"`)
		}
		cookie = true
	}
	switch {
	case cookie:
		h.Add("Vary", "Cookie")
		noStore(h)
	case touched:
		// The response depends on who asked: no shared cache may keep or serve it to another user.
		h.Add("Vary", "Cookie")
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-store")
		}
	}
	return nil
}

// noStore makes a response storable by no cache: Cache-Control becomes no-store alone, and the fields
// by which a CDN would ignore Cache-Control (CDN-Cache-Control and its vendor forms, RFC 9213;
// Surrogate-Control) are removed. Field names are matched in any case, since a handler may have
// written to the map under a non-canonical key, which net/http sends as it is.
func noStore(h http.Header) {
	for name := range h {
		switch n := strings.ToLower(name); {
		case n == "cache-control", n == "surrogate-control", strings.HasSuffix(n, "cdn-cache-control"):
			delete(h, name)
		}
	}
	h.Set("Cache-Control", "no-store")
}

// fail replaces the response with the error handler's: headers the handler set are dropped so that
// nothing of a half-built response (or a cookie) leaks. The error handler starts from Cache-Control:
// no-store, which it may replace: the failure is about one visitor's session, not the page.
func (w *responseWriter) fail(err error) {
	w.done, w.failed = true, true
	h := w.ResponseWriter.Header()
	for k := range h {
		delete(h, k)
	}
	h.Set("Cache-Control", "no-store")
	w.s.mu.Lock()
	w.s.headersOut = true
	w.s.mu.Unlock()
	w.s.m.errorHandler(w.s.req.Context())(w.ResponseWriter, w.s.req, err)
}

// finish runs when the handler returns: it commits what is left, and logs what can no longer reach
// the client.
func (w *responseWriter) finish() {
	if !w.done {
		w.beforeHeaders()
		return
	}
	if w.failed {
		return
	}
	s := w.s
	s.mu.Lock()
	err := s.commit(s.req.Context())
	s.mu.Unlock()
	if err != nil {
		s.m.opts.Logger.ErrorContext(s.req.Context(), "redisession: committing the session after the response headers were sent failed", "err", err)
	}
}

// WriteHeader commits the session, then writes the status. Informational (1xx) statuses pass through.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.beforeHeaders()
	if w.failed {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write commits the session before the first byte, then writes.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.beforeHeaders()
	if w.failed {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Flush commits the session, then flushes.
func (w *responseWriter) Flush() {
	w.beforeHeaders()
	if w.failed {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// FlushError is Flush that reports the error, for http.ResponseController.
func (w *responseWriter) FlushError() error {
	w.beforeHeaders()
	if w.failed {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// ReadFrom commits the session, then copies from r with the underlying writer's ReadFrom if it has one.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	w.beforeHeaders()
	if w.failed {
		return io.Copy(io.Discard, r)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

// writerOnly hides ReadFrom so io.Copy does not loop back into it.
type writerOnly struct{ io.Writer }

// Hijack commits the session, then hands over the connection (WebSocket upgrades).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.beforeHeaders()
	if w.failed {
		return nil, nil, fmt.Errorf("redisession: response already answered by the error handler")
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
