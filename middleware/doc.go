// Package middleware is the net/http core of redisession: it gives every request a Session, loaded
// lazily from Redis, and commits the fields the handler changed before the response headers go out.
//
// One line wraps a router:
//
//	m, err := middleware.New(st, middleware.Options{})
//	http.ListenAndServe(addr, m.Handler(mux))
//
// and a handler reaches its session through the request's context:
//
//	s := middleware.Get(r)
//	n, err := s.Increment("visits", 1)
//
// # One request
//
// A request that never touches its session sends Redis nothing. The first read costs one HGETALL;
// a visitor without a cookie who only reads gets no session, no cookie and no Redis command. Writes
// (Set, Delete) are recorded and committed in one script call that writes only those fields, and only
// if the session still exists; the TTL slides in the same call. A read-only request slides the TTL
// with a small script only when the recorded end has fallen more than the store's refresh granularity
// behind. Increment and Update go to Redis at once, because their result depends on other requests.
//
// The commit happens on the response's first WriteHeader, Write, Flush, ReadFrom or Hijack, or when
// the handler returns having written nothing, so Set-Cookie always makes it into the headers.
// Fields changed after the headers went out are still committed when the handler returns. A handler
// that panics commits none of its pending changes: only what went to Redis before the panic stays
// (Increment's and Update's own field, a Login or SetLevel with the changes pending when it ran).
//
// # Rotation
//
// Login and SetLevel rotate the session ID in one atomic step on the old key: of concurrent
// rotations of one session exactly one wins and the others get ErrRotated (409); every write
// acknowledged before the rotation is carried into the new session and every write after it is
// refused. A request still carrying the old ID (a tab that has not seen the new cookie) reads no
// session and its writes answer 409 with no cookie, so it neither reaches nor replaces the new
// session; its Logout ends the new session too. A logout of any kind that has answered is never
// undone by a rotation that started before it. SetLevel never creates a session.
//
// # Failures
//
// When Redis fails while loading, the request gets the ErrorHandler's response (503 by default)
// instead of the handler's, and the cookie is left alone: a Redis blip never logs anyone out or
// serves an empty session. A failed commit before the headers gets 500 (413 for a size limit).
//
// # Identity
//
// Login and SetLevel move the session to a new ID (the old one is dead at once), LogoutAll and
// LogoutOthers end a user's sessions everywhere, Sessions lists them and Revoke ends one by handle.
//
// # Telemetry
//
// With Options.MeterProvider and Options.TracerProvider set, the Manager counts sessions created,
// loaded, rotated, destroyed and seen past their absolute deadline, commit conflicts and errors,
// times loads and commits, and traces each load, commit, refresh and rotation with OpenTelemetry;
// docs/operations.md lists the instruments. Without them nothing is recorded, at no cost.
package middleware
