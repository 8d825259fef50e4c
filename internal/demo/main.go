package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server timeouts: generous for a demo, but bounded, so a slow client cannot hold a connection.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 10 * time.Second
)

// Routes builds an example's router on app: the session middleware (or its adapter) installed once,
// and every route of the contract wired to app's actions.
type Routes func(app *App) http.Handler

// Main runs an example until ctx ends: it reads the configuration through getenv, connects to Redis
// (or starts the embedded one), builds the router with routes, and serves on ADDR, printing the URL
// on stdout once it listens. Log lines go to stderr. It returns nil after a clean shutdown, and the
// reason otherwise: an invalid variable (named), an unreachable Redis (its address), an eviction
// policy under which sessions would vanish (the policy), or a listen address in use.
func Main(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, name string, routes Routes) error {
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("app", name)
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	app, err := New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() { _ = app.Close() }()
	return serve(ctx, app, routes(app), stdout, name)
}

// serve listens on the configured address and serves h until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, app *App, h http.Handler, stdout io.Writer, name string) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", app.Config.Addr)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvAddr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(app.Log.Handler(), slog.LevelWarn),
	}
	url := "http://" + displayAddr(ln.Addr()) + "/"
	app.Log.InfoContext(ctx, "listening", "url", url)
	if _, err := fmt.Fprintf(stdout, "redisession demo (%s): %s\n", name, url); err != nil {
		_ = ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// displayAddr is the address as a browser would reach it: loopback for a wildcard listener.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("localhost", fmt.Sprint(tcp.Port))
}
