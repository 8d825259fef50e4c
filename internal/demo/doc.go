// Package demo holds what the four example apps (examples/nethttp, examples/chi, examples/echo and
// examples/gin) share, so that each example is only its router wiring: the configuration read from
// the environment and its validation, the Redis client (or an embedded in-process Redis), the store
// and session manager, the routes' behaviour as framework-independent actions returning JSON-ready
// replies, and the HTML page.
//
// The contract the examples serve is CONFORMANCE.md; internal/conformance drives it over HTTP.
//
// An example's main is
//
//	func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
//		return demo.Main(ctx, getenv, stdout, stderr, "chi", routes)
//	}
//
// where routes builds the framework's router on an *App: each route takes the request's session
// from the adapter, calls the App's action with the form values, and writes the Reply with the
// framework's own JSON writer.
package demo
