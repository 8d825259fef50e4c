package sessionecho

import (
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// Manager, Options and Session are the middleware package's types under this package's name, so a
// file that also imports the framework's own middleware package needs no import alias.
type (
	// Manager is middleware.Manager.
	Manager = middleware.Manager
	// Options is middleware.Options; its zero value is the secure default.
	Options = middleware.Options
	// Session is middleware.Session.
	Session = middleware.Session
)

// New is middleware.New: a Manager for st with opts.
func New(st *store.Store, opts Options) (*Manager, error) { return middleware.New(st, opts) }
