package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// LoginPath is the one state-changing route exempt from the CSRF check: a visitor logging in has no
// session, hence no token, yet.
const LoginPath = "/api/login"

// App is one running demo: its Redis, session store and session manager, and the routes' actions.
type App struct {
	// Config is the configuration the App was built from.
	Config Config
	// Redis is the Redis the sessions live in.
	Redis *Redis
	// Store keeps the sessions.
	Store *store.Store
	// Manager is the session middleware the router installs (directly or through an adapter).
	Manager *middleware.Manager
	// Log receives the App's log lines.
	Log *slog.Logger

	page *page
}

// New connects to Redis and builds the store and the session manager. It fails, with a message naming
// the address, when Redis is unreachable, and with one naming the policy when the server's
// maxmemory-policy is allkeys-*, under which Redis would evict live sessions silently.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	pg, err := newPage()
	if err != nil {
		return nil, err
	}
	r, err := OpenRedis(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	st, err := store.New(ctx, r.Client, store.Options{
		Prefix:          cfg.Prefix,
		IdleTimeout:     cfg.IdleTimeout,
		AbsoluteTimeout: cfg.AbsoluteTimeout,
		// miniredis has no CONFIG: there is no eviction policy or persistence to check.
		SkipChecks:      r.Embedded,
		ClientSideCache: cfg.ClientCache && !r.Embedded,
		Logger:          log,
	})
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("Redis at %s: %w", strings.Join(r.Addrs, ", "), err)
	}
	m, err := middleware.New(st, managerOptions(cfg, log))
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	return &App{Config: cfg, Redis: r, Store: st, Manager: m, Log: log, page: pg}, nil
}

// managerOptions turns the configuration into the session manager's options: the timeouts, the
// elevated level (its own timeouts, and whether its lapse steps down or ends the session), the
// cookie, and CSRF protection of every state-changing route but login.
func managerOptions(cfg Config, log *slog.Logger) middleware.Options {
	o := middleware.Options{
		IdleTimeout:     cfg.IdleTimeout,
		AbsoluteTimeout: cfg.AbsoluteTimeout,
		Levels: map[string]middleware.Timeouts{
			middleware.LevelElevated: {
				Idle:     cfg.ElevatedIdleTimeout,
				Absolute: cfg.ElevatedAbsoluteTimeout,
				OnExpiry: cfg.ElevatedOnExpiry,
			},
		},
		Cookie:       cookie.Options{Insecure: !cfg.CookieSecure},
		CSRF:         true,
		CSRFExempt:   func(r *http.Request) bool { return r.URL.Path == LoginPath },
		ErrorHandler: WriteError,
		Logger:       log,
	}
	if cfg.HashKey != nil {
		o.Cookie.HashKeys = [][]byte{cfg.HashKey}
	}
	return o
}

// Close releases the Redis client and stops the embedded Redis.
func (a *App) Close() error { return a.Redis.Close() }
