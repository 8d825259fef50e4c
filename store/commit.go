package store

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// maxIncrement bounds one increment so that the script's arithmetic, done in Lua doubles, stays exact.
const maxIncrement = 1 << 50

// Changes are the fields one request changed. A field appears in at most one of the three. One
// commit sets and increments at most Options.MaxFields fields together, and deletes at most
// Options.MaxFields: a session never holds more, so a commit that could succeed never needs more.
type Changes struct {
	// Set maps field names to their new encoded values.
	Set map[string]string
	// Delete lists fields to remove.
	Delete []string
	// Incr maps integer fields to the amount to add; a missing field counts as 0.
	Incr map[string]int64
}

// Empty reports whether c changes nothing.
func (c Changes) Empty() bool { return len(c.Set) == 0 && len(c.Delete) == 0 && len(c.Incr) == 0 }

// CommitResult is what a commit reports back.
type CommitResult struct {
	// Expires is the session's new TTL end.
	Expires time.Time
	// Incremented holds the new value of each field in Changes.Incr.
	Incremented map[string]int64
}

// validate checks the number of changes, names, sizes and disjointness before anything is sent.
func (s *Store) validate(c Changes) error {
	// Every field set or incremented exists after the commit, so more of them than MaxFields can never
	// fit; and only existing fields, at most MaxFields, can be deleted. Refusing here also keeps the
	// script's arguments bounded by the limits.
	if n := len(c.Set) + len(c.Incr); n > s.opts.MaxFields {
		return fmt.Errorf("%w: %d fields set or incremented in one commit, the limit is MaxFields, %d", ErrTooLarge, n, s.opts.MaxFields)
	}
	if n := len(c.Delete); n > s.opts.MaxFields {
		return fmt.Errorf("%w: %d fields deleted in one commit, more than a session holds (MaxFields, %d)", ErrTooLarge, n, s.opts.MaxFields)
	}
	seen := make(map[string]struct{}, len(c.Set)+len(c.Delete)+len(c.Incr))
	mark := func(name string) error {
		if err := CheckFieldName(name); err != nil {
			return err
		}
		if _, dup := seen[name]; dup {
			return fmt.Errorf("%w: field %q named twice", ErrInvalidChanges, truncate(name))
		}
		seen[name] = struct{}{}
		return nil
	}
	for name, v := range c.Set {
		if err := mark(name); err != nil {
			return err
		}
		if len(v) > s.opts.MaxValueBytes {
			return fmt.Errorf("%w: field %q has %d bytes, the limit is %d", ErrTooLarge, truncate(name), len(v), s.opts.MaxValueBytes)
		}
	}
	for _, name := range c.Delete {
		if err := mark(name); err != nil {
			return err
		}
	}
	for name, by := range c.Incr {
		if err := mark(name); err != nil {
			return err
		}
		if s.encrypted(name) {
			return fmt.Errorf("%w: encrypted field %q cannot be incremented", ErrInvalidChanges, truncate(name))
		}
		if by > maxIncrement || by < -maxIncrement {
			return fmt.Errorf("%w: increment of %q out of range", ErrInvalidChanges, truncate(name))
		}
	}
	return nil
}

// Commit applies c to the session with the given ID in one round trip, only if the session still
// exists, and slides its TTL in the same step. It returns ErrNotFound, having written nothing, when the
// session was destroyed or expired: a write from one tab never brings back a session another tab
// logged out. Everything is checked before the first write, so any error means nothing was written:
// too many changes (see Changes) or a session over its limits is ErrTooLarge, and an increment of a
// field that holds no integer Redis' HINCRBY accepts (canonical decimal within int64: no sign '+', no
// leading zero, no "-0", no space), or that would overflow int64, is ErrNotInteger.
func (s *Store) Commit(ctx context.Context, id string, c Changes) (CommitResult, error) {
	if !ValidID(id) {
		return CommitResult{}, ErrInvalidID
	}
	if err := s.validate(c); err != nil {
		return CommitResult{}, err
	}
	h := Handle(id)
	args := make([]any, 0, 5+2*len(c.Set)+len(c.Delete)+2*len(c.Incr))
	args = append(args, s.opts.MaxFields, s.opts.MaxSessionBytes, len(c.Set), len(c.Delete), len(c.Incr))
	for k, v := range c.Set {
		v, err := s.seal(h, k, v)
		if err != nil {
			return CommitResult{}, err
		}
		args = append(args, k, v)
	}
	for _, k := range c.Delete {
		args = append(args, k)
	}
	names := make([]string, 0, len(c.Incr))
	for k, by := range c.Incr {
		names = append(names, k)
		args = append(args, k, by)
	}
	defer s.forget(s.sessionKey(h))
	v, err := s.run(ctx, s.scripts.commit, []string{s.sessionKey(h)}, args...).Result()
	if err != nil {
		return CommitResult{}, fmt.Errorf("redisession/store: commit: %w", err)
	}
	rep, err := parseReply(v)
	if err != nil {
		return CommitResult{}, err
	}
	if err := rep.statusErr(); err != nil {
		return CommitResult{}, err
	}
	exp, err := rep.int(1)
	if err != nil {
		return CommitResult{}, err
	}
	res := CommitResult{Expires: time.UnixMilli(exp)}
	if len(names) > 0 {
		res.Incremented = make(map[string]int64, len(names))
		for i, name := range names {
			n, err := rep.int(2 + i)
			if err != nil {
				return CommitResult{}, err
			}
			res.Incremented[name] = n
		}
	}
	return res, nil
}

// CompareAndSet sets field to value only if Redis still holds old, in one round trip, and slides the
// TTL. old is the stored representation (Record.Raw; the value itself unless the field is
// encrypted); a nil old expects the field to be absent; a nil value deletes it. It returns the stored
// representation now held. When the field holds something else it returns ErrConflict and that
// current representation (nil when absent; Open gives its value), so a read-modify-write loop can
// retry without another read. It returns ErrNotFound when the session is gone.
func (s *Store) CompareAndSet(ctx context.Context, id, field string, old, value *string) (current *string, err error) {
	if !ValidID(id) {
		return nil, ErrInvalidID
	}
	if err := CheckFieldName(field); err != nil {
		return nil, err
	}
	if value != nil && len(*value) > s.opts.MaxValueBytes {
		return nil, fmt.Errorf("%w: field %q has %d bytes, the limit is %d", ErrTooLarge, truncate(field), len(*value), s.opts.MaxValueBytes)
	}
	flag := func(p *string) (string, string) {
		if p == nil {
			return "0", ""
		}
		return "1", *p
	}
	h := Handle(id)
	if value != nil {
		sealed, err := s.seal(h, field, *value)
		if err != nil {
			return nil, err
		}
		value = &sealed
	}
	hasOld, oldV := flag(old)
	hasNew, newV := flag(value)
	defer s.forget(s.sessionKey(h))
	v, err := s.run(ctx, s.scripts.cas, []string{s.sessionKey(h)},
		field, hasOld, oldV, hasNew, newV, s.opts.MaxFields, s.opts.MaxSessionBytes).Result()
	if err != nil {
		return nil, fmt.Errorf("redisession/store: compare-and-set: %w", err)
	}
	rep, err := parseReply(v)
	if err != nil {
		return nil, err
	}
	if err := rep.statusErr(); err != nil {
		return nil, err
	}
	if rep.status() == 2 {
		if cur, ok := rep.str(1); ok {
			return &cur, ErrConflict
		}
		return nil, ErrConflict
	}
	return value, nil
}

// Int parses a field written by an increment.
func Int(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrNotInteger, truncate(v))
	}
	return n, nil
}
