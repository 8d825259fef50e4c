package middleware

import (
	"errors"
	"fmt"

	"github.com/redisession/redisession/store"
)

// maxUpdateAttempts bounds the compare-and-set retries of Update under contention.
const maxUpdateAttempts = 32

// Increment adds by to the integer field key (absent counts as 0) atomically in Redis, together with
// the request's other pending changes, and returns the new value: concurrent increments from other
// tabs all count. Like a write, it needs no load first: one script call when the cookie names a live
// session.
func (s *Session) Increment(key string, by int64) (int64, error) {
	if err := store.CheckFieldName(key); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loadErr != nil {
		return 0, s.loadErr
	}
	s.pending()
	undo := s.keyState(key)
	folded, isFolded := int64(0), false
	if v, ok := s.set[key]; ok {
		// Set earlier in this request: fold the increment into the pending value.
		n, err := store.Int(v)
		if err != nil {
			return 0, err
		}
		folded, isFolded = n+by, true
		s.set[key] = fmt.Sprint(folded)
	} else {
		delete(s.del, key)
		s.incr[key] += by
	}
	wasLoaded := s.loaded
	if err := s.commit(s.req.Context()); err != nil {
		// A failed increment did not happen: it must not fail the commit at the end of the request.
		undo()
		if !wasLoaded && unreachable(err) {
			// This call was the request's first touch of its session and Redis could not be
			// reached: a failed load, so the response becomes the error handler's, as for a read.
			s.loaded, s.loadErr = true, fmt.Errorf("%w: %w", ErrUnavailable, err)
			return 0, s.loadErr
		}
		return 0, err
	}
	switch n, ok := s.incremented[key]; {
	case s.rec != nil:
		return store.Int(s.rec.Fields[key])
	case ok:
		return n, nil
	case isFolded && s.id != "":
		return folded, nil
	}
	return 0, fmt.Errorf("%w: no session after commit", ErrCommit)
}

// keyState returns a function that puts key's pending change back as it is now. Callers hold s.mu.
func (s *Session) keyState(key string) (restore func()) {
	v, set := s.set[key]
	_, del := s.del[key]
	by, incr := s.incr[key]
	return func() {
		if s.set == nil {
			return // every pending change is gone (the session was replaced or the changes dropped)
		}
		delete(s.set, key)
		delete(s.del, key)
		delete(s.incr, key)
		switch {
		case set:
			s.set[key] = v
		case del:
			s.del[key] = struct{}{}
		case incr:
			s.incr[key] = by
		}
	}
}

// Update runs a read-modify-write of one field that never loses a concurrent update: fn gets the
// current value (ok false when absent) and returns the new one; when another request changed the field
// in between, fn runs again on the fresh value. It commits the request's other pending changes first.
func Update[T any](s *Session, key string, fn func(cur T, ok bool) (T, error)) (T, error) {
	var zero T
	if err := store.CheckFieldName(key); err != nil {
		return zero, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLoaded(); err != nil {
		return zero, err
	}
	ctx := s.req.Context()
	if s.dirty() {
		// Flush pending changes, so that the compare-and-set sees them.
		if err := s.commit(ctx); err != nil {
			return zero, err
		}
	}
	if s.rec == nil && !s.destroyed {
		// A request without a session gets one here, like any write.
		if err := s.create(ctx); err != nil {
			return zero, err
		}
	}
	if s.rec == nil {
		return zero, fmt.Errorf("%w: the session was destroyed by this request", ErrCommit)
	}
	codec := s.m.opts.Codec
	raw, ok := s.rec.Raw(key)
	var old *string
	if ok {
		old = &raw
	}
	for range maxUpdateAttempts {
		var cur T
		if old != nil {
			v, err := s.m.store.Open(s.rec.Handle, key, *old)
			if err != nil {
				return zero, err
			}
			if err := codec.Unmarshal([]byte(v), &cur); err != nil {
				return zero, fmt.Errorf("redisession: decoding %q: %w", key, err)
			}
		}
		next, err := fn(cur, old != nil)
		if err != nil {
			return zero, err
		}
		b, err := codec.Marshal(next)
		if err != nil {
			return zero, fmt.Errorf("redisession: encoding %q: %w", key, err)
		}
		v := string(b)
		got, err := s.m.store.CompareAndSet(ctx, s.id, key, old, &v)
		switch {
		case err == nil:
			s.rec.SetRaw(key, v, *got)
			s.modified = true
			return next, nil
		case errors.Is(err, store.ErrConflict):
			old = got
		default:
			s.m.tel.record(ctx, opUpdate, err)
			return zero, fmt.Errorf("%w: %w", ErrCommit, err)
		}
	}
	return zero, fmt.Errorf("%w: %q changed %d times in a row", ErrCommit, key, maxUpdateAttempts)
}
