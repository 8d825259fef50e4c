// Package reliability holds the fault-injection scenarios of docs/reliability.md: Redis Cluster with
// slot migration, a Sentinel failover, graceful and kill -9 restarts, an outage and a stall, memory
// pressure, two app instances behind a round-robin proxy, and a soak. Every scenario runs a small
// net/http app on the session middleware against real redis-server processes that internal/redistest
// starts on loopback, drives it over HTTP, injects one fault, and reports what it measured: load
// held, faults injected, sessions lost, unexpected logouts, durations.
//
// The package has only tests. The short scenarios run in `make test`; the long ones (names starting
// with TestReliability and calling long) run when RELIABILITY=1, which `make reliability` sets.
// Figures are logged with t.Log and, when RELIABILITY_OUT names a file, appended to it as JSON lines.
// RELIABILITY_SOAK sets the soak's duration (a Go duration, default 30s).
package reliability
