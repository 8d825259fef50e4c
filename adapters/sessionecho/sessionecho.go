package sessionecho

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/redisession/redisession/middleware"
)

// Middleware returns the echo middleware that gives every request its session:
//
//	e.Use(sessionecho.Middleware(m))
//
// The rest of the chain runs inside m.Handler with c.Response().Writer replaced by the session's
// writer, so the session is committed, and Set-Cookie added, before echo writes the headers, whatever
// the handler writes with (String, JSON, Redirect, Stream, NoContent, an error it returns, or nothing).
// A failure of the session store goes to echo's HTTPErrorHandler as an *echo.HTTPError with the
// status from middleware.ErrorStatus and the failure as its Internal error (so errors.Is(err,
// middleware.ErrUnavailable) holds); m's Options.ErrorHandler is not used. Register echo's Recover
// middleware before this one, so that a panicking handler's error response does not commit the session.
// m must come from middleware.New.
func Middleware(m *middleware.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res, req := c.Response(), c.Request()
			w := res.Writer
			// After the chain, and after a panic, echo writes past the session again: its error
			// handler then answers without committing anything.
			defer func() { res.Writer = w }()
			var err error
			h := m.Handler(http.HandlerFunc(func(sw http.ResponseWriter, r *http.Request) {
				res.Writer = sw
				c.SetRequest(r)
				err = next(c)
			}))
			fail := func(raw http.ResponseWriter, r *http.Request, serr error) {
				// The session's writer drops everything after a failure: echo answers past it.
				sw := res.Writer
				res.Writer = raw
				c.SetRequest(r)
				c.Error(echo.NewHTTPError(middleware.ErrorStatus(serr)).SetInternal(serr))
				res.Writer = sw
			}
			h.ServeHTTP(w, req.WithContext(middleware.WithErrorHandler(req.Context(), fail)))
			return err
		}
	}
}

// Get returns the session of c's request, or nil when Middleware did not wrap it.
func Get(c echo.Context) *middleware.Session {
	return middleware.Get(c.Request())
}
