package middleware

import (
	"context"
	"errors"
	"fmt"

	"github.com/redisession/redisession/store"
)

// maxUpdateAttempts bounds the compare-and-set retries of Update under contention.
const maxUpdateAttempts = 32

// Increment adds by to the integer field key (absent counts as 0) atomically in Redis and returns the
// new value: concurrent increments from other tabs all count. Its result depends on other requests,
// so it commits at once, with one script call when the cookie names a live session (no load first),
// and it commits only this field: a Set or Delete of key earlier in the request is folded into it
// (counting from the value set, or from 0), while the request's other pending changes stay pending
// until the commit before the response headers. So a handler that panics after an Increment leaves
// the counter incremented and nothing else written; a visitor's Increment creates the session at
// once, holding the counter alone.
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
	} else if _, ok := s.del[key]; ok {
		// Deleted earlier in this request: the field counts from 0, whatever Redis holds.
		delete(s.del, key)
		folded, isFolded = by, true
		s.set[key] = fmt.Sprint(folded)
	} else {
		s.incr[key] += by
	}
	wasLoaded := s.loaded
	others := s.setAside(key)
	err := s.commit(s.req.Context())
	if err != nil {
		// A failed increment did not happen: it must not fail the commit at the end of the request.
		undo()
	}
	others()
	if err != nil {
		if !wasLoaded && unreachable(err) {
			// This call was the request's first touch of its session and Redis could not be
			// reached: a failed load, so the response becomes the error handler's, as for a read.
			s.loaded, s.loadErr = true, fmt.Errorf("%w: %w", ErrUnavailable, err)
			return 0, s.loadErr
		}
		return 0, err
	}
	switch n, ok := s.incremented[key]; {
	case s.rec != nil && !s.rec.Partial():
		return store.Int(s.rec.Fields[key])
	case ok:
		return n, nil
	case isFolded && s.id != "":
		return folded, nil
	}
	return 0, fmt.Errorf("%w: no session after commit", ErrCommit)
}

// setAside takes every pending change but key's out of the session, so that a commit carries key's
// change alone, and returns the function that puts them back. Callers hold s.mu.
func (s *Session) setAside(key string) (putBack func()) {
	set, del, incr := s.set, s.del, s.incr
	s.clearChanges()
	s.pending()
	if v, ok := set[key]; ok {
		s.set[key] = v
		delete(set, key)
	}
	if _, ok := del[key]; ok {
		s.del[key] = struct{}{}
		delete(del, key)
	}
	if n, ok := incr[key]; ok {
		s.incr[key] = n
		delete(incr, key)
	}
	return func() {
		if len(set)+len(del)+len(incr) == 0 {
			return
		}
		// The commit in between may have cleared the maps; key's own change, if still there, is
		// left as it is.
		s.pending()
		for k, v := range set {
			s.set[k] = v
		}
		for k := range del {
			s.del[k] = struct{}{}
		}
		for k, n := range incr {
			s.incr[k] = n
		}
	}
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
// in between, fn runs again on the fresh value. It commits at once, and only this field: a pending
// change of key is committed first (so that fn sees it), a request without a session gets one at
// once, and the request's other pending changes stay pending until the commit before the response
// headers: a handler that panics after an Update leaves only key written.
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
	others := s.setAside(key)
	err := s.updateBase(ctx)
	others()
	if err != nil {
		return zero, err
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

// updateBase commits the pending change of the one field left pending, so that the compare-and-set
// sees it, and creates the session a request without one needs. Callers hold s.mu.
func (s *Session) updateBase(ctx context.Context) error {
	if s.dirty() {
		if err := s.commit(ctx); err != nil {
			return err
		}
	}
	if s.rec == nil && !s.destroyed {
		// A request without a session gets one here, like any write.
		return s.create(ctx)
	}
	return nil
}
