// Package sessiongin installs redisession on a gin engine in one line:
//
//	r := gin.Default()              // gin.Recovery first
//	r.Use(sessiongin.Middleware(m)) // m from redisession's middleware.New
//
// and a handler reaches its session through its *gin.Context:
//
//	s := sessiongin.Get(c)
//	if err := s.Login(userID); err != nil { … }
//
// The package lives in adapters/sessiongin and is named sessiongin so that it needs no import alias
// next to gin's own package.
//
// The session is committed and Set-Cookie added before gin writes the headers, whatever the handler
// answers with: c.String, c.JSON, c.Redirect, c.Stream, c.AbortWithStatus, c.Status alone, or nothing
// at all. A failure of the session store (503 when Redis is down, 403 for a missing CSRF token) aborts
// the chain gin's way: the failure is added to c.Errors, the status is written and no further handler
// runs; the Manager's Options.ErrorHandler writes the body (plain text by default). A handler that
// panics before writing commits nothing, provided gin's Recovery runs outside Middleware.
package sessiongin
