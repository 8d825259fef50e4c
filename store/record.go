package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reserved metadata fields. Every name starting with "_" belongs to the store, so an application
// field can never overwrite the deadline, the owner or the TTL bookkeeping.
const (
	fieldCreated  = "_created"
	fieldAbsolute = "_abs"
	fieldIdle     = "_idle"
	fieldExpires  = "_exp"
	fieldSeen     = "_seen"
	fieldCount    = "_n"
	fieldSize     = "_size"
	fieldUser     = "_uid"
	fieldLevel    = "_level"
	fieldAgent    = "_ua"
	fieldAddr     = "_ip"
	fieldCSRF     = "_csrf"
	// A privilege level's own timeouts (see NewSession.LevelIdleTimeout): its idle timeout in ms, its
	// absolute deadline in unix ms, and "1" when its lapse ends the session.
	fieldLevelIdle     = "_lidle"
	fieldLevelDeadline = "_labs"
	fieldLevelEnds     = "_lend"
	// fieldRotated marks a session rotated away; its value is the successor's handle, so that a
	// destroy of the old ID also ends the session it was rotated into.
	fieldRotated = "_rot"
	// fieldDead marks a tombstone: a handle destroyed before its session was created (destroy.lua).
	fieldDead = "_dead"
)

// ReservedPrefix starts every metadata field name; application field names may not start with it.
const ReservedPrefix = "_"

// Meta is a session's metadata, kept in reserved fields of its hash.
type Meta struct {
	// Created is when the session was first created; a rotation keeps it.
	Created time.Time
	// AbsoluteDeadline is the moment the session ends however much it is used.
	AbsoluteDeadline time.Time
	// IdleTimeout is this session's own idle timeout.
	IdleTimeout time.Duration
	// Expires is when the session's current TTL ends, by Redis' clock.
	Expires time.Time
	// LastSeen is when the session's TTL was last refreshed (its last use, to within the refresh
	// granularity).
	LastSeen time.Time
	// UserID is the authenticated user, empty for an anonymous session.
	UserID string
	// Level is the privilege level in effect, e.g. "elevated"; empty for the ordinary level, also
	// when a level has lapsed (Load computes that from what it read, with no write).
	Level string
	// LevelIdleTimeout and LevelDeadline are the level's own idle timeout and absolute deadline, and
	// LevelExpires when it lapses unless used again: min(LastSeen + LevelIdleTimeout, LevelDeadline).
	// All zero for the ordinary level and for a level without timeouts of its own.
	LevelIdleTimeout time.Duration
	LevelDeadline    time.Time
	LevelExpires     time.Time
	// LevelEndsSession is set when the level's lapse ends the session rather than stepping down.
	LevelEndsSession bool
	// UserAgent and RemoteAddr describe the device for session lists; empty when not recorded.
	UserAgent, RemoteAddr string
	// CSRFToken is the session's anti-CSRF token, empty when none was issued.
	CSRFToken string
}

// Record is one loaded session.
type Record struct {
	// Handle is the session's handle (Handle of its ID).
	Handle string
	// Meta is the session's metadata.
	Meta Meta
	// Fields holds the application fields, each value as encoded by the caller's codec (encrypted
	// fields already decrypted).
	Fields map[string]string
	// raw holds what Redis stores for the encrypted fields.
	raw map[string]string
	// successor is the handle of the session this one was rotated into, "" while it is current.
	successor string
	// partial is set when Fields was not read (see Partial).
	partial bool
}

// Partial reports whether the record holds the session's metadata only, its Fields unread: what a
// rotation returns when it copied the session server-side (a login on a standalone or Sentinel
// server with nothing pending). Load reads the fields.
func (r *Record) Partial() bool { return r.partial }

// CheckFieldName returns ErrReservedField for a name the application may not use: empty, longer than
// 256 bytes, or in the reserved namespace.
func CheckFieldName(name string) error {
	if name == "" || len(name) > maxNameBytes || strings.HasPrefix(name, ReservedPrefix) {
		return fmt.Errorf("%w: %q", ErrReservedField, truncate(name))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// parseRecord splits an HGETALL reply into metadata and application fields. It takes h over: the
// metadata fields are deleted from it and the rest becomes Fields, saving a copy of every value.
func parseRecord(handle string, h map[string]string) (*Record, error) {
	r := &Record{Handle: handle, Fields: h}
	var err error
	ms := func(name string) time.Time {
		v, e := strconv.ParseInt(h[name], 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("%w: field %s", ErrCorrupt, name)
		}
		return time.UnixMilli(v)
	}
	r.Meta.Created = ms(fieldCreated)
	r.Meta.AbsoluteDeadline = ms(fieldAbsolute)
	r.Meta.Expires = ms(fieldExpires)
	r.Meta.LastSeen = ms(fieldSeen)
	r.Meta.IdleTimeout = time.Duration(ms(fieldIdle).UnixMilli()) * time.Millisecond
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		if !strings.HasPrefix(k, ReservedPrefix) {
			continue
		}
		delete(h, k)
		switch k {
		case fieldUser:
			r.Meta.UserID = v
		case fieldLevel:
			r.Meta.Level = v
		case fieldAgent:
			r.Meta.UserAgent = v
		case fieldAddr:
			r.Meta.RemoteAddr = v
		case fieldCSRF:
			r.Meta.CSRFToken = v
		case fieldRotated:
			r.successor = v
		case fieldLevelIdle:
			n, _ := strconv.ParseInt(v, 10, 64)
			r.Meta.LevelIdleTimeout = time.Duration(n) * time.Millisecond
		case fieldLevelDeadline:
			n, _ := strconv.ParseInt(v, 10, 64)
			r.Meta.LevelDeadline = time.UnixMilli(n)
		case fieldLevelEnds:
			r.Meta.LevelEndsSession = v == "1"
		}
	}
	if r.Meta.LevelIdleTimeout > 0 && !r.Meta.LevelDeadline.IsZero() {
		r.Meta.LevelExpires = r.Meta.LevelDeadline
		if e := r.Meta.LastSeen.Add(r.Meta.LevelIdleTimeout); e.Before(r.Meta.LevelExpires) {
			r.Meta.LevelExpires = e
		}
	}
	return r, nil
}

// Deadline is the latest moment the session can live: its absolute deadline, or its level's when the
// level's lapse ends the session and comes first. A persistent cookie expires then.
func (m Meta) Deadline() time.Time {
	if m.LevelEndsSession && !m.LevelDeadline.IsZero() && m.LevelDeadline.Before(m.AbsoluteDeadline) {
		return m.LevelDeadline
	}
	return m.AbsoluteDeadline
}

// lapse applies a privilege level's lapse as of now: it reports whether the lapse ends the session,
// and otherwise steps the record down to the ordinary level. level.lua makes the same decision when
// it next writes.
func (m *Meta) lapse(now time.Time) (ended bool) {
	if m.LevelExpires.IsZero() || now.Before(m.LevelExpires) {
		return false
	}
	if m.LevelEndsSession {
		return true
	}
	m.Level, m.LevelIdleTimeout, m.LevelDeadline, m.LevelExpires = "", 0, time.Time{}, time.Time{}
	return false
}

// metaPairs returns the caller-set metadata as hash name/value pairs, omitting empty values.
func (m Meta) pairs() []any {
	out := make([]any, 0, 10)
	for _, p := range [...][2]string{
		{fieldUser, m.UserID}, {fieldLevel, m.Level}, {fieldAgent, m.UserAgent},
		{fieldAddr, m.RemoteAddr}, {fieldCSRF, m.CSRFToken},
	} {
		if p[1] != "" {
			out = append(out, p[0], p[1])
		}
	}
	return out
}

// ms converts a time to the unix milliseconds the scripts use; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
