// Package sessionchi installs redisession on a chi router in one line:
//
//	r := chi.NewRouter()
//	r.Use(sessionchi.Middleware(m)) // m from middleware.New
//
// and a handler reaches its session through the request:
//
//	s := sessionchi.Get(r)
//	if err := s.Login(userID); err != nil { … }
//
// The package lives in adapters/sessionchi and is named sessionchi so that it needs no import alias
// next to chi's own packages (chi has a package named middleware, as redisession does).
//
// chi routes plain net/http handlers, so Middleware is the Manager's Handler: the session is committed
// and Set-Cookie added before the first Write, WriteHeader, Flush, ReadFrom or Hijack, or when the
// handler returns having written nothing. Failures (503 when Redis is down, 403 for a missing CSRF
// token) are answered by the Manager's Options.ErrorHandler. Put chi's Recoverer before Middleware:
// a handler that panics before writing commits nothing.
package sessionchi
