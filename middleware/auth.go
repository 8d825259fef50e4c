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
// afresh at the ordinary level. Fields of an anonymous session (a cart) are carried over, with every
// write another request made before the rotation; a session of another user is ended instead and
// nothing of it passes. Login is the one rotation that may create a session when there is none (it
// follows a fresh authentication). It returns ErrRotated, changing nothing, when another request
// rotated the session first (of concurrent rotations of one session exactly one wins). A request
// that has not read its session pays two round trips. Login must run before the response headers go
// out.
func (s *Session) Login(userID string) error {
	if userID == "" {
		return fmt.Errorf("redisession: Login needs a user id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotate(userID, "", false)
}

// SetLevel moves an authenticated session to a privilege level (e.g. LevelElevated after a password
// re-entry) under a new ID. The level has the timeouts Options.Levels gives it, the absolute one
// counted from now but never past the session's own deadline; when one passes the level lapses (it
// steps down to the ordinary level, or ends the session, as the level's OnExpiry says). The session
// keeps its own idle timeout and absolute deadline whatever its level, so neither stepping down nor
// elevating again ever extends it. The empty level is the ordinary one; a level Options.Levels does
// not name is refused with ErrUnknownLevel. SetLevel never creates a session: on a session that is
// gone, logged out or anonymous it returns ErrNotAuthenticated, on one another request rotated first
// ErrRotated, and changes nothing.
func (s *Session) SetLevel(level string) error {
	if _, ok := s.m.opts.Levels[level]; !ok && level != "" {
		return fmt.Errorf("%w: %q", ErrUnknownLevel, level)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded && s.loadErr == nil && s.rec == nil {
		if s.rotatedAway {
			return ErrRotated
		}
		return ErrNotAuthenticated
	}
	uid := ""
	if s.rec != nil {
		if uid = s.rec.Meta.UserID; uid == "" {
			return ErrNotAuthenticated
		}
	}
	return s.rotate(uid, level, true)
}

// rotate moves the session to a new ID; privilege keeps the session's user, creation time, CSRF
// token, device and absolute deadline (as a cap). Callers hold s.mu.
func (s *Session) rotate(uid, level string, privilege bool) error {
	if s.loadErr != nil {
		return s.loadErr
	}
	ctx, op := s.m.tel.start(s.req.Context(), opRotate)
	err := s.rotateTo(ctx, uid, level, privilege)
	op.end(ctx, err)
	return err
}

// rotateTo does the work of rotate. A request that has not read its session rotates the cookie's
// session directly, the store's first step returning what it holds: no load first. Callers hold
// s.mu.
func (s *Session) rotateTo(ctx context.Context, uid, level string, privilege bool) error {
	if s.headersOut {
		err := fmt.Errorf("%w: cannot rotate the session ID", ErrHeadersSent)
		s.m.opts.Logger.ErrorContext(ctx, "redisession: rotation after the response headers were sent", "err", err)
		return err
	}
	if s.rotatedAway {
		return ErrRotated
	}
	ns, err := s.newSession(uid, level)
	if err != nil {
		return err
	}
	oldID, firstTouch := s.id, !s.loaded
	if oldID == "" && firstTouch {
		oldID = s.cookieID
	}
	if oldID != "" {
		r, err := s.m.store.RotateSession(ctx, oldID, store.Rotation{Session: ns, Changes: s.changes(), PrivilegeChange: privilege})
		switch {
		case err == nil:
			s.rotated(ctx, r)
			return nil
		case errors.Is(err, store.ErrRotated):
			s.m.tel.gone(ctx, opRotate, err, true)
			s.id, s.rec, s.loaded, s.rotatedAway = "", nil, true, true
			s.clearChanges()
			return err
		case errors.Is(err, store.ErrNoUser):
			return ErrNotAuthenticated
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidID):
			// Gone (logged out, expired) or never there: only a fresh login may start a session.
			s.m.tel.gone(ctx, opRotate, err, s.id != "")
			s.id, s.rec, s.loaded = "", nil, true
		case firstTouch && unreachable(err):
			// The request's first touch of its session, and Redis could not be reached: a failed
			// load, so the response becomes the error handler's, as for a read.
			s.loaded, s.loadErr = true, fmt.Errorf("%w: %w", ErrUnavailable, err)
			return s.loadErr
		default:
			return fmt.Errorf("%w: %w", ErrCommit, err)
		}
	}
	if privilege {
		return ErrNotAuthenticated
	}
	ns.Fields = make(map[string]string, len(s.set)+len(s.incr))
	for k, v := range s.set {
		ns.Fields[k] = v
	}
	for k, by := range s.incr {
		ns.Fields[k] = fmt.Sprint(by)
	}
	id, rec, err := s.m.store.Create(ctx, ns)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, err)
	}
	s.id, s.rec, s.created, s.destroyed, s.loaded = id, rec, true, false, true
	s.clearChanges()
	s.m.emit(ctx, eventCreated, Event{UserID: uid, Handle: rec.Handle})
	return nil
}

// rotated takes over the session a rotation made. Callers hold s.mu.
func (s *Session) rotated(ctx context.Context, r store.Rotated) {
	s.id, s.rec, s.created, s.destroyed, s.loaded = r.ID, r.Record, true, false, true
	s.clearChanges()
	uid := r.Record.Meta.UserID
	if r.EndedUser != "" {
		s.m.emit(ctx, eventDestroyed, Event{UserID: r.EndedUser, Handle: r.OldHandle})
		s.m.emit(ctx, eventCreated, Event{UserID: uid, Handle: r.Record.Handle})
		return
	}
	s.m.emit(ctx, eventRotated, Event{UserID: uid, Handle: r.Record.Handle, OldHandle: r.OldHandle})
}

// Logout destroys the session in Redis at once and clears its cookie. Pending changes are dropped.
// Logging out without a session is not an error. Logging out with the ID of a session another
// request rotated a moment ago ends the session it was rotated into as well: a logout is never
// undone by a rotation racing it.
func (s *Session) Logout() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLoaded(); err != nil {
		return err
	}
	s.clearChanges()
	id := s.id
	if id == "" && (s.rotatedAway || (s.cookieID != "" && s.m.store.Options().DurableDestroy.Replicas > 0)) {
		// A rotated-away ID ends its successor too; with durable logouts, a retried logout whose
		// session is already gone still waits for the replicas to have the earlier destroy.
		id = s.cookieID
	}
	if id == "" {
		if s.hadCookie {
			// The cookie names a session that is gone, or is not a session cookie at all: clear it.
			s.destroyed = true
		}
		return nil
	}
	if err := s.m.store.Destroy(s.req.Context(), id); err != nil {
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
