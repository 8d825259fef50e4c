// Package sessionecho installs redisession on an echo server in one line:
//
//	e := echo.New()
//	e.Use(echomiddleware.Recover())  // echo's Recover (github.com/labstack/echo/v4/middleware), first
//	e.Use(sessionecho.Middleware(m)) // m from redisession's middleware.New
//
// and a handler reaches its session through its echo.Context:
//
//	s := sessionecho.Get(c)
//	if err := s.Login(userID); err != nil { return err }
//
// The package lives in adapters/sessionecho and is named sessionecho so that it needs no import alias
// next to echo's own packages.
//
// The session is committed and Set-Cookie added before echo writes the headers, whatever the handler
// answers with: c.String, c.JSON, c.Redirect, c.Stream, c.NoContent, an error returned to echo's
// HTTPErrorHandler, or nothing at all. Failures of the session store (503 when Redis is down, 403 for
// a missing CSRF token) go to echo's HTTPErrorHandler as an *echo.HTTPError whose Internal error is
// the failure, so a custom handler can test it with errors.Is(err, middleware.ErrUnavailable). A
// handler that panics before writing commits nothing, provided echo's Recover runs outside Middleware.
package sessionecho
