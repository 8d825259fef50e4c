package sessiongin

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisession/redisession/middleware"
)

// Middleware returns the gin middleware that gives every request its session:
//
//	r.Use(sessiongin.Middleware(m))
//
// The rest of the chain runs inside m.Handler with c.Writer writing through the session's writer, so
// the session is committed, and Set-Cookie added, before gin writes the headers, whatever the handler
// writes with (String, JSON, Redirect, Stream, AbortWithStatus, or nothing). A failure of the session
// store aborts the chain gin's way: the failure goes into c.Errors, the status from
// middleware.ErrorStatus (503 when Redis is down) is written, and the chain stops. The body is that of
// m's Options.ErrorHandler, which may also choose another status. Register gin.Recovery before this
// middleware (gin.Default does), so that a panicking handler commits nothing. m must come from
// middleware.New.
func Middleware(m *middleware.Manager) gin.HandlerFunc {
	body := m.Options().ErrorHandler
	return func(c *gin.Context) {
		gw := c.Writer
		// After the chain, and after a panic, gin writes past the session again: gin.Recovery's 500
		// then commits nothing.
		defer func() { c.Writer = gw }()
		h := m.Handler(http.HandlerFunc(func(sw http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Writer = &writer{ResponseWriter: gw, session: sw}
			c.Next()
		}))
		fail := func(_ http.ResponseWriter, r *http.Request, err error) {
			// The session's writer drops everything after a failure: gin answers past it.
			cw := c.Writer
			c.Writer, c.Request = gw, r
			_ = c.Error(err)
			c.Status(middleware.ErrorStatus(err))
			body(gw, r, err)
			c.AbortWithStatus(gw.Status())
			c.Writer = cw
		}
		h.ServeHTTP(gw, c.Request.WithContext(middleware.WithErrorHandler(c.Request.Context(), fail)))
	}
}

// Get returns the session of c's request, or nil when Middleware did not wrap it.
func Get(c *gin.Context) *middleware.Session {
	return middleware.Get(c.Request)
}

// writer is the gin.ResponseWriter handlers see: gin's own writer, with every call that can send the
// headers going through the session's writer (which wraps gin's) first. Status, Size, Written,
// Header, CloseNotify and Pusher are gin's. Like gin's, WriteHeader only records the status.
type writer struct {
	gin.ResponseWriter
	session http.ResponseWriter
}

// Write commits the session before the first byte, then writes.
func (w *writer) Write(b []byte) (int, error) { return w.session.Write(b) }

// WriteString commits the session before the first byte, then writes.
func (w *writer) WriteString(s string) (int, error) { return io.WriteString(w.session, s) }

// WriteHeaderNow commits the session, then writes the recorded status and the headers.
func (w *writer) WriteHeaderNow() {
	if w.ResponseWriter.Written() {
		return
	}
	w.session.WriteHeader(w.ResponseWriter.Status())
	w.ResponseWriter.WriteHeaderNow()
}

// Flush commits the session, then flushes.
func (w *writer) Flush() { _ = http.NewResponseController(w.session).Flush() }

// Hijack commits the session, then hands over the connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.session).Hijack()
}

// Unwrap returns the session's writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.session }
