package middleware

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redisession/redisession/store"
)

// commit writes pending changes: one script call for a live session (which also slides its TTL), one
// create for a request without one, or a throttled refresh for a read-only request. Callers hold s.mu.
func (s *Session) commit(ctx context.Context) error {
	if s.loadErr != nil {
		// The request never knew its session: writing now could overwrite it or its cookie.
		return s.loadErr
	}
	if s.destroyed && s.id == "" {
		s.clearChanges()
		return nil
	}
	if !s.dirty() {
		if s.rec != nil && s.m.store.NeedsRefresh(s.rec, timeNow()) {
			ctx, op := s.m.tel.start(ctx, opRefresh)
			exp, err := s.m.store.Refresh(ctx, s.id)
			op.end(ctx, err)
			if err == nil {
				s.rec.Meta.Expires = exp
			} else if !errors.Is(err, store.ErrNotFound) {
				// A missed refresh costs at most one granularity of idle time: not worth failing a read.
				s.m.opts.Logger.WarnContext(ctx, "redisession: refreshing a session's TTL failed", "err", err)
			}
		}
		return nil
	}
	ctx, op := s.m.tel.start(ctx, opCommit)
	err := s.write(ctx)
	op.end(ctx, err)
	return err
}

// write commits pending changes to the live session, or creates one holding them. Callers hold s.mu.
func (s *Session) write(ctx context.Context) error {
	// Without a load, the cookie's ID is tried directly: a write-only request costs one round trip.
	id := s.id
	if id == "" && !s.loaded {
		id = s.cookieID
	}
	if id != "" {
		res, err := s.m.store.Commit(ctx, id, s.changes())
		switch {
		case err == nil:
			s.applyCommitted(id, res)
			return nil
		case errors.Is(err, store.ErrRotated):
			// Rotated away by another request: refused, never redirected to a new session.
			s.m.tel.gone(ctx, opCommit, err, s.id != "")
			s.id, s.rec, s.loaded, s.rotatedAway = "", nil, true, true
			s.clearChanges()
			return err
		case errors.Is(err, store.ErrNotFound):
			// Gone (logged out in another tab, expired, unknown): never resurrected. The write
			// starts a new anonymous session instead, as for a visitor without a cookie.
			s.m.tel.gone(ctx, opCommit, err, s.id != "")
			s.id, s.rec, s.loaded = "", nil, true
		default:
			return fmt.Errorf("%w: %w", ErrCommit, err)
		}
	}
	return s.create(ctx)
}

// applyCommitted folds a successful commit into the loaded record. Callers hold s.mu.
func (s *Session) applyCommitted(id string, res store.CommitResult) {
	s.id = id
	s.modified = true
	s.incremented = res.Incremented
	if s.rec != nil && !s.rec.Partial() {
		for k, v := range s.set {
			s.rec.Fields[k] = v
		}
		for k := range s.del {
			delete(s.rec.Fields, k)
		}
		for k, n := range res.Incremented {
			s.rec.Fields[k] = strconv.FormatInt(n, 10)
		}
		s.rec.Meta.Expires = res.Expires
	}
	s.clearChanges()
}

// create stores a new anonymous session holding the pending changes. Callers hold s.mu.
func (s *Session) create(ctx context.Context) error {
	if s.rotatedAway {
		// The request carries a rotated-away ID: a new anonymous session would replace the cookie
		// of the session it was rotated into.
		s.clearChanges()
		return store.ErrRotated
	}
	if s.headersOut {
		s.clearChanges()
		return ErrHeadersSent
	}
	fields := make(map[string]string, len(s.set)+len(s.incr))
	for k, v := range s.set {
		fields[k] = v
	}
	for k, by := range s.incr {
		fields[k] = strconv.FormatInt(by, 10)
	}
	ns, err := s.newSession("", "")
	if err != nil {
		return err
	}
	ns.Fields = fields
	id, rec, err := s.m.store.Create(ctx, ns)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	s.id, s.rec, s.created, s.loaded = id, rec, true, true
	s.clearChanges()
	s.m.emit(ctx, eventCreated, Event{UserID: rec.Meta.UserID, Handle: rec.Handle})
	return nil
}

// newSession describes a session for this request's device at the given user and level.
func (s *Session) newSession(uid, level string) (store.NewSession, error) {
	tok, err := newToken()
	if err != nil {
		return store.NewSession{}, err
	}
	ns := store.NewSession{
		Meta:            store.Meta{UserID: uid, Level: level, CSRFToken: tok},
		IdleTimeout:     s.m.opts.IdleTimeout,
		AbsoluteTimeout: s.m.opts.AbsoluteTimeout,
	}
	if lt, ok := s.m.opts.Levels[level]; ok && level != "" {
		// The level has deadlines of its own; the session keeps its own timeouts.
		ns.LevelIdleTimeout, ns.LevelAbsoluteTimeout = lt.Idle, lt.Absolute
		ns.LevelEndsSession = lt.OnExpiry == EndSession
	}
	ns.Meta.UserAgent, ns.Meta.RemoteAddr = s.m.device(s.req)
	return ns, nil
}
