package middleware

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redisession/redisession/store"
)

// Login makes userID the session's user under a new ID (fixation protection): the old ID is dead at
// once, the session is indexed under the user, the CSRF token is replaced, and the timeouts start
// afresh at the ordinary level. Fields of an anonymous session (a cart) are carried over; a session
// of another user is destroyed instead. Login must run before the response headers go out.
func (s *Session) Login(userID string) error {
	if userID == "" {
		return fmt.Errorf("redisession: Login needs a user id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotate(userID, "", false)
}

// SetLevel moves an authenticated session to a privilege level (e.g. LevelElevated after a password
// re-entry) under a new ID, with the level's timeouts from Options.Levels, the absolute one counted
// from now but never past the session's own deadline. The empty level is the ordinary one.
func (s *Session) SetLevel(level string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLoaded(); err != nil {
		return err
	}
	if s.rec == nil || s.rec.Meta.UserID == "" {
		return ErrNotAuthenticated
	}
	return s.rotate(s.rec.Meta.UserID, level, true)
}

// rotate moves the session to a new ID. keep carries the creation time, CSRF token, device and the
// absolute deadline (as a cap) of the current session. Callers hold s.mu.
func (s *Session) rotate(uid, level string, keep bool) error {
	if err := s.ensureLoaded(); err != nil {
		return err
	}
	ctx, op := s.m.tel.start(s.req.Context(), opRotate)
	err := s.rotateTo(ctx, uid, level, keep)
	op.end(ctx, err)
	return err
}

// rotateTo does the work of rotate once the session is loaded. Callers hold s.mu.
func (s *Session) rotateTo(ctx context.Context, uid, level string, keep bool) error {
	if s.headersOut {
		err := fmt.Errorf("%w: cannot rotate the session ID", ErrHeadersSent)
		s.m.opts.Logger.ErrorContext(ctx, "redisession: rotation after the response headers were sent", "err", err)
		return err
	}
	ns, err := s.newSession(uid, level)
	if err != nil {
		return err
	}
	old := s.rec
	if keep && old != nil {
		ns.Created, ns.AbsoluteCap = old.Meta.Created, old.Meta.AbsoluteDeadline
		ns.Meta.CSRFToken, ns.Meta.UserAgent, ns.Meta.RemoteAddr = old.Meta.CSRFToken, old.Meta.UserAgent, old.Meta.RemoteAddr
	}
	var (
		id  string
		rec *store.Record
	)
	if old != nil && (old.Meta.UserID == "" || old.Meta.UserID == uid) {
		id, rec, err = s.m.store.Rotate(ctx, s.id, ns, s.changes())
		if errors.Is(err, store.ErrNotFound) {
			s.m.tel.gone(ctx, opRotate, err, true)
			old = nil // destroyed meanwhile: start afresh below
		}
	}
	if old == nil || (old.Meta.UserID != "" && old.Meta.UserID != uid) {
		if old != nil {
			// Another user's session: nothing of it may pass to this one.
			if err := s.m.store.Destroy(ctx, s.id); err != nil {
				return fmt.Errorf("%w: %w", ErrCommit, err)
			}
			s.m.emit(ctx, eventDestroyed, Event{UserID: old.Meta.UserID, Handle: old.Handle})
			s.clearChanges()
			old = nil
		}
		ns.Fields = map[string]string{}
		for k, v := range s.set {
			ns.Fields[k] = v
		}
		for k, by := range s.incr {
			ns.Fields[k] = fmt.Sprint(by)
		}
		id, rec, err = s.m.store.Create(ctx, ns)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	s.id, s.rec, s.created, s.destroyed = id, rec, true, false
	s.clearChanges()
	if old != nil {
		s.m.emit(ctx, eventRotated, Event{UserID: uid, Handle: rec.Handle, OldHandle: old.Handle})
	} else {
		s.m.emit(ctx, eventCreated, Event{UserID: uid, Handle: rec.Handle})
	}
	return nil
}

// Logout destroys the session in Redis at once and clears its cookie. Pending changes are dropped.
// Logging out without a session is not an error.
func (s *Session) Logout() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLoaded(); err != nil {
		return err
	}
	s.clearChanges()
	if s.id == "" {
		if s.hadCookie {
			// The cookie names a session that is gone, or is not a session cookie at all: clear it.
			s.destroyed = true
		}
		return nil
	}
	if err := s.m.store.Destroy(s.req.Context(), s.id); err != nil {
		s.m.tel.record(s.req.Context(), opDestroy, err)
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	s.markDestroyed()
	return nil
}

// markDestroyed records that the current session no longer exists. Callers hold s.mu.
func (s *Session) markDestroyed() {
	if s.rec != nil {
		s.m.emit(s.req.Context(), eventDestroyed, Event{UserID: s.rec.Meta.UserID, Handle: s.rec.Handle})
	}
	s.id, s.rec, s.destroyed, s.created = "", nil, true, false
	s.clearChanges()
}

// user returns the authenticated user or ErrNotAuthenticated. Callers hold s.mu.
func (s *Session) user() (string, error) {
	if err := s.ensureLoaded(); err != nil {
		return "", err
	}
	if s.rec == nil || s.rec.Meta.UserID == "" {
		return "", ErrNotAuthenticated
	}
	return s.rec.Meta.UserID, nil
}

// LogoutAll destroys every session of the session's user, this one included, and reports how many.
func (s *Session) LogoutAll() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid, err := s.user()
	if err != nil {
		return 0, err
	}
	destroyed, err := s.m.store.DestroyUserHandles(s.req.Context(), uid, "")
	s.destroyedOthers(uid, destroyed)
	if err != nil {
		s.m.tel.record(s.req.Context(), opDestroy, err)
		return len(destroyed), fmt.Errorf("%w: %w", ErrCommit, err)
	}
	s.markDestroyed()
	return len(destroyed), nil
}

// destroyedOthers reports the destruction of the user's sessions other than this one to OnDestroy
// (markDestroyed reports this one). Callers hold s.mu.
func (s *Session) destroyedOthers(uid string, handles []string) {
	for _, h := range handles {
		if s.rec == nil || h != s.rec.Handle {
			s.m.emit(s.req.Context(), eventDestroyed, Event{UserID: uid, Handle: h})
		}
	}
}

// LogoutOthers destroys every other session of the session's user (e.g. after a password change) and
// reports how many.
func (s *Session) LogoutOthers() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid, err := s.user()
	if err != nil {
		return 0, err
	}
	destroyed, err := s.m.store.DestroyUserHandles(s.req.Context(), uid, s.id)
	s.destroyedOthers(uid, destroyed)
	if err != nil {
		s.m.tel.record(s.req.Context(), opDestroy, err)
		return len(destroyed), fmt.Errorf("%w: %w", ErrCommit, err)
	}
	return len(destroyed), nil
}

// Device is one of a user's sessions as a device list shows it.
type Device struct {
	// Handle identifies the session for Revoke; it is not a usable session ID.
	Handle string
	// Created is when the session was created (the login).
	Created time.Time
	// LastSeen is its last use, to within the refresh granularity.
	LastSeen time.Time
	// UserAgent and RemoteAddr are what the session recorded of its device.
	UserAgent, RemoteAddr string
	// Level is the session's privilege level.
	Level string
	// Current is true for the session of this request.
	Current bool
}

// Sessions lists the live sessions of the session's user.
func (s *Session) Sessions() ([]Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid, err := s.user()
	if err != nil {
		return nil, err
	}
	list, err := s.m.store.List(s.req.Context(), uid)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out := make([]Device, len(list))
	for i, in := range list {
		out[i] = Device{Handle: in.Handle, Created: in.Meta.Created, LastSeen: in.Meta.LastSeen,
			UserAgent: in.Meta.UserAgent, RemoteAddr: in.Meta.RemoteAddr, Level: in.Meta.Level,
			Current: in.Handle == s.rec.Handle}
	}
	return out, nil
}

// Revoke destroys one of the user's own sessions by its handle; it returns an error wrapping
// store.ErrNotFound for a handle that is not one of the user's live sessions.
func (s *Session) Revoke(handle string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid, err := s.user()
	if err != nil {
		return err
	}
	if err := s.m.store.Revoke(s.req.Context(), uid, handle); err != nil {
		return fmt.Errorf("redisession: revoke: %w", err)
	}
	if handle == s.rec.Handle {
		s.markDestroyed()
	} else {
		s.m.emit(s.req.Context(), eventDestroyed, Event{UserID: uid, Handle: handle})
	}
	return nil
}

// CSRFToken returns the session's anti-CSRF token, or "" when there is no session. Forms carry it in
// the csrf_token field, scripts in the X-CSRF-Token header. Login replaces it.
func (s *Session) CSRFToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensureLoaded() != nil || s.rec == nil {
		return ""
	}
	return s.rec.Meta.CSRFToken
}

// CSRFHeader and CSRFField are where a request carries the CSRF token.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// CheckCSRF returns nil when r carries the session's CSRF token (compared in constant time) or there is
// no session to protect, ErrCSRF otherwise, or the load error.
func (s *Session) CheckCSRF(r *http.Request) error {
	s.mu.Lock()
	if err := s.ensureLoaded(); err != nil {
		s.mu.Unlock()
		return err
	}
	want := ""
	if s.rec != nil {
		want = s.rec.Meta.CSRFToken
	}
	s.mu.Unlock()
	if want == "" {
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrCSRF
	}
	return nil
}
