package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// IDBytes is the number of random bytes in a session ID: 256 bits, far beyond guessing.
const IDBytes = 32

// idLen is the length of an ID in unpadded base64url.
const idLen = 43

// NewID returns a fresh session ID: 32 bytes from crypto/rand, base64url without padding.
func NewID() (string, error) {
	var b [IDBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("redisession/store: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ValidID reports whether id has the exact shape NewID produces. It looks at length and charset
// only, so it costs no allocation and leaks nothing about which IDs exist.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	// 43 chars carry 258 bits; the last char must leave the two spare bits zero (canonical form).
	return base64Value(id[idLen-1])&0x3 == 0
}

func base64Value(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	default:
		return 63
	}
}

// Handle is the hex SHA-256 of a session ID. It names the session's key in Redis and identifies the
// session to its owner (device lists, revoke), but cannot be turned back into a usable ID.
func Handle(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// validHandle reports whether h has the shape Handle produces.
func validHandle(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) sessionKey(handle string) string { return s.opts.Prefix + "session:" + handle }

func (s *Store) userKey(uid string) string { return s.opts.Prefix + "user:" + uid + ":sessions" }
