// Package redistest starts throw-away redis-server processes for tests.
//
// Tests never touch a Redis they did not start. The Redis on the default
// port of a developer machine or a CI runner belongs to someone else: it may
// hold real data, other tests may be using it at the same moment, and a test
// that flushes, reconfigures or fills it breaks things far away from the test
// that did it. Tests that share one server also leak state into each other
// and cannot check server-level behaviour such as persistence, eviction,
// renamed commands or ACLs.
//
// So every call to [Start] launches its own redis-server, configured from
// [Options] through a redis.conf written into a fresh t.TempDir(), listening
// on a free port of 127.0.0.1. Start returns once the server answers PING and
// has finished loading its data, and registers a t.Cleanup that kills the
// process (and its process group) and reaps it, so no server outlives its
// test. [Server.Stop], [Server.Kill] and [Server.Restart] let a test exercise
// graceful shutdowns, crashes and reloads of AOF or RDB files on the same
// port and directory.
//
// When redis-server is not on PATH, Start fails the test if [Required]
// reports a CI run, falls back to an in-process miniredis when the test set
// [Options.AllowFake], and otherwise skips the test.
package redistest
