// Package conformance is the black-box suite every example app must pass: it drives the contract of
// CONFORMANCE.md over HTTP, with real cookie jars, against an app started on a free port, and inspects
// the real Redis (keys, TTLs, the absence of raw session IDs) that the tests start with redistest.
//
// An example runs the suite from its own test:
//
//	func TestConformance(t *testing.T) { conformance.Run(t, conformance.InProcess(run)) }
//
// where run is the example's func(ctx, getenv, stdout, stderr) error entry point. InProcess starts
// the app in the test binary (so the race detector watches it); Binary builds the example's command
// and starts it as a process, for exit codes and the real main. Browser drives the HTML page in
// headless Chromium.
//
// RunClientCache runs the same suite with SESSION_CLIENT_CACHE=true, and RunCluster runs it against a
// Redis Cluster of 3 masters with 1 replica each (REDIS_CLUSTER=true), inspecting the keys through a
// cluster client that scans every master.
//
// Every subtest starts its own app with its own SESSION_PREFIX, so subtests run in parallel on one
// redis-server (or one cluster) and each inspects only its own keys. When a subtest ends, its harness
// checks two invariants over every key under its prefix: each has a TTL, and none holds or names a
// session ID that any response carried in a cookie.
package conformance
