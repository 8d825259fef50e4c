package sessionchi

import (
	"net/http"

	"github.com/redisession/redisession/middleware"
)

// Middleware returns the chi middleware that gives every request its session:
//
//	r.Use(sessionchi.Middleware(m))
//
// It is m.Handler: chi routes plain net/http handlers, so nothing needs adapting, and failures are
// answered by m's Options.ErrorHandler (503 when Redis is down), chi having no error path of its own.
// m must come from middleware.New.
func Middleware(m *middleware.Manager) func(http.Handler) http.Handler {
	return m.Handler
}

// Get returns the session of a request that went through Middleware, or nil when it did not. It is
// middleware.Get, under the adapter's name for symmetry with the echo and gin adapters.
func Get(r *http.Request) *middleware.Session {
	return middleware.Get(r)
}
