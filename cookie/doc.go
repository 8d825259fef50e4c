// Package cookie decides how a session ID travels between the browser and the server: the cookie's
// name and attributes, how its value is encoded and signed, and how an incoming value is checked.
//
// It knows nothing about Redis or any web framework: it works on *http.Request and *http.Cookie
// only, and it never logs a cookie value.
//
// # The session ID
//
// A session ID is 32 random bytes from crypto/rand, written as base64url without padding: exactly
// 43 characters of [A-Za-z0-9_-] in canonical form (see ValidID). Only the server issues IDs.
//
// # Bare or signed values
//
// With no Options.HashKeys the cookie carries the bare ID. That is safe: an ID is 256 random bits
// issued by the server, so a client cannot guess a live one, and a made-up ID simply finds no
// session in the store. The price is that every forged or stale cookie costs a store round trip
// before it is known to be worthless.
//
// With Options.HashKeys the value is the ID signed by github.com/gorilla/securecookie (HMAC-SHA256,
// no encryption: the ID is already opaque, and encrypting it would add nothing). Signing lets a
// server reject forged cookies without a Redis round trip, and it binds the value to the cookie
// name. Keys rotate: the first key signs, every key verifies, so a new key is put first and the old
// one is kept after it until the cookies it signed have expired. Turning signing on (or off)
// invalidates every cookie issued before: bare values are refused when keys are configured, and
// signed values are refused when they are not.
//
// Signing does not make a session live longer or shorter: securecookie's timestamp check is turned
// off (MaxAge 0) because the session's idle and absolute deadlines are enforced by the server-side
// store, which is the only authority on whether a session exists. A timestamp check here would
// only log out users whose long-lived cookie was not re-issued recently.
//
// # Strict parsing
//
// Read and Parse never fail loudly: anything that is not a well-formed value (wrong length,
// foreign characters, padding, bad signature, garbage) yields "" and the caller starts a fresh
// session. Length is checked before any decoding or HMAC work, so hostile input costs little.
//
// # Secure defaults
//
// The zero Options is the secure configuration: Secure and HttpOnly are set (they are spelled as
// the negatives Insecure and AllowScript so that forgetting a field cannot weaken a cookie),
// SameSite is Lax, Path is "/", no Domain (host-only), and no Max-Age (the cookie ends with the
// browser session). New refuses combinations that browsers would reject or silently mishandle,
// such as a __Host- name with a Domain, or SameSite=None without Secure.
package cookie
