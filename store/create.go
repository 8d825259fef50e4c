package store

import (
	"context"
	"fmt"
	"time"
)

// maxCreateAttempts bounds retries on an ID collision, which with 256-bit IDs means a broken
// random source rather than bad luck.
const maxCreateAttempts = 3

// NewSession describes a session to create.
type NewSession struct {
	// Meta carries UserID, Level, UserAgent, RemoteAddr and CSRFToken; the timing fields are ignored.
	Meta Meta
	// IdleTimeout is this session's idle timeout. Default: the store's.
	IdleTimeout time.Duration
	// AbsoluteTimeout is how long from now the session may live at most. Default: the store's.
	AbsoluteTimeout time.Duration
	// AbsoluteCap, when set, is a deadline the session may not outlive whatever AbsoluteTimeout says:
	// an elevation passes the session's own deadline here so that it never extends it.
	AbsoluteCap time.Time
	// Created, when set, is kept as the creation time instead of now.
	Created time.Time
	// Fields are the initial application fields, encoded.
	Fields map[string]string
}

// Create stores a new session under a fresh ID with its TTL set in the same script, indexes it under
// its user (if any), and returns the ID and the stored record. With Options.MaxSessionsPerUser set, the
// user's sessions beyond the cap are destroyed, those with the earliest deadline first.
func (s *Store) Create(ctx context.Context, ns NewSession) (string, *Record, error) {
	if err := s.validateNew(ns); err != nil {
		return "", nil, err
	}
	var lastErr error
	for range maxCreateAttempts {
		id, err := NewID()
		if err != nil {
			return "", nil, err
		}
		rec, err := s.create(ctx, id, ns)
		if err == errCollision {
			lastErr = err
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if ns.Meta.UserID != "" {
			if err := s.indexAdd(ctx, ns.Meta.UserID, rec.Handle, rec.Meta.AbsoluteDeadline); err != nil {
				// Without its index entry the session would escape logout-all: take it back.
				_, _, _ = s.destroyHandle(ctx, rec.Handle, "", false)
				return "", nil, err
			}
		}
		return id, rec, nil
	}
	return "", nil, fmt.Errorf("redisession/store: create: %w", lastErr)
}

var errCollision = fmt.Errorf("%w: session id collision", ErrInvalidID)

func (s *Store) validateNew(ns NewSession) error {
	if len(ns.Meta.UserID) > maxUserIDBytes {
		return fmt.Errorf("%w: user id longer than %d bytes", ErrInvalidOptions, maxUserIDBytes)
	}
	if ns.IdleTimeout < 0 || ns.AbsoluteTimeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidOptions)
	}
	if len(ns.Fields) > s.opts.MaxFields {
		return fmt.Errorf("%w: %d fields, the limit is %d", ErrTooLarge, len(ns.Fields), s.opts.MaxFields)
	}
	return s.validate(Changes{Set: ns.Fields})
}

// create runs create.lua for one ID.
func (s *Store) create(ctx context.Context, id string, ns NewSession) (*Record, error) {
	idle, abs := ns.IdleTimeout, ns.AbsoluteTimeout
	if idle == 0 {
		idle = s.opts.IdleTimeout
	}
	if abs == 0 {
		abs = s.opts.AbsoluteTimeout
	}
	meta := ns.Meta.pairs()
	args := make([]any, 0, 7+len(meta)+2*len(ns.Fields))
	args = append(args, idle.Milliseconds(), abs.Milliseconds(), ms(ns.AbsoluteCap), ms(ns.Created),
		s.opts.MaxFields, s.opts.MaxSessionBytes, len(meta)/2)
	args = append(args, meta...)
	h := Handle(id)
	var raw map[string]string
	for k, v := range ns.Fields {
		sealed, err := s.seal(h, k, v)
		if err != nil {
			return nil, err
		}
		if sealed != v {
			if raw == nil {
				raw = map[string]string{}
			}
			raw[k] = sealed
		}
		args = append(args, k, sealed)
	}
	defer s.forget(s.sessionKey(h))
	v, err := s.run(ctx, s.scripts.create, []string{s.sessionKey(h)}, args...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisession/store: create: %w", err)
	}
	rep, err := parseReply(v)
	if err != nil {
		return nil, err
	}
	if rep.status() == -4 {
		return nil, errCollision
	}
	if err := rep.statusErr(); err != nil {
		return nil, err
	}
	var t [3]int64
	for i := range t {
		if t[i], err = rep.int(1 + i); err != nil {
			return nil, err
		}
	}
	fields := make(map[string]string, len(ns.Fields))
	for k, v := range ns.Fields {
		fields[k] = v
	}
	m := ns.Meta
	m.Expires, m.AbsoluteDeadline, m.Created = time.UnixMilli(t[0]), time.UnixMilli(t[1]), time.UnixMilli(t[2])
	m.LastSeen, m.IdleTimeout = time.Now(), idle
	return &Record{Handle: h, Meta: m, Fields: fields, raw: raw}, nil
}

// Rotate replaces the session oldID with a new one under a fresh ID: the old session's current
// fields (read again, so other tabs' writes are kept) with c applied, and ns's metadata and timeouts;
// ns.Fields is ignored. The old ID is dead once Rotate returns: there is no forwarding, which would
// undo the protection against session fixation. It returns ErrNotFound when oldID names no session.
//
// The steps touch different keys (different Cluster slots), so they run in an order in which a crash
// between any two leaves at worst an extra live session that is still indexed, or a dangling index
// entry, never a session without a TTL: read old, create new, index new, delete old, unindex old.
func (s *Store) Rotate(ctx context.Context, oldID string, ns NewSession, c Changes) (string, *Record, error) {
	if err := s.validate(c); err != nil {
		return "", nil, err
	}
	s.forget(s.sessionKey(Handle(oldID))) // read Redis, not the client-side cache
	old, err := s.Load(ctx, oldID)
	if err != nil {
		return "", nil, err
	}
	fields := old.Fields
	for k, v := range c.Set {
		fields[k] = v
	}
	for _, k := range c.Delete {
		delete(fields, k)
	}
	for k, by := range c.Incr {
		var n int64
		if v, ok := fields[k]; ok {
			if n, err = Int(v); err != nil {
				return "", nil, err
			}
		}
		fields[k] = fmt.Sprint(n + by)
	}
	ns.Fields = fields
	id, rec, err := s.Create(ctx, ns)
	if err != nil {
		return "", nil, err
	}
	if _, _, err := s.destroyHandle(ctx, old.Handle, "", false); err != nil {
		// The old ID must not outlive a rotation: fail the rotation and take the new session back.
		_, _, _ = s.destroyHandle(ctx, rec.Handle, "", false)
		return "", nil, err
	}
	return id, rec, nil
}
