package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redisession/redisession/store"
)

// Status says where a request's session stands.
type Status int

const (
	// StatusNone: the request has no stored session and has not created one.
	StatusNone Status = iota
	// StatusNew: the session was created (or rotated to a new ID) by this request, or a request
	// known to have no session has writes pending, which create one when committed.
	StatusNew
	// StatusLoaded: an existing session was loaded and is unchanged.
	StatusLoaded
	// StatusModified: the request changed fields of an existing session.
	StatusModified
	// StatusDestroyed: the request destroyed its session.
	StatusDestroyed
)

// String returns the status' name.
func (s Status) String() string {
	return [...]string{"none", "new", "loaded", "modified", "destroyed"}[s]
}

// Session is one request's view of its session. It loads lazily on first use, with the request's
// context, and records changes until the middleware commits them. Its methods are safe for use by
// the handler's goroutines; it must not be used after the handler returns.
type Session struct {
	m         *Manager
	req       *http.Request
	cookieID  string // the well-formed ID the cookie carried, "" if none
	hadCookie bool   // a cookie of the session's name came, well-formed or not

	mu          sync.Mutex
	loaded      bool             // a load was attempted
	incremented map[string]int64 // the new values of the last commit's increments
	loadErr     error            // the store failed on load: the request must fail, the cookie stay
	id          string           // the live session's ID, "" when there is none
	rec         *store.Record    // the live session as loaded and committed
	set         map[string]string
	del         map[string]struct{}
	incr        map[string]int64
	created     bool // created or rotated by this request: Set-Cookie
	modified    bool // fields committed by this request
	destroyed   bool // destroyed by this request: clearing Set-Cookie
	headersOut  bool // the response headers are written: the cookie can no longer change
	rotatedAway bool // the cookie's session was rotated to a new ID: reads see none, writes fail
}

// ensureLoaded loads the session on first use. Callers hold s.mu.
func (s *Session) ensureLoaded() error {
	if s.loaded {
		return s.loadErr
	}
	s.loaded = true
	if s.cookieID == "" || s.destroyed || s.rec != nil {
		return nil
	}
	// s.id is set without a record only after a write-only commit to the cookie's session, which
	// is the session to read now.
	ctx, op := s.m.tel.start(s.req.Context(), opLoad)
	rec, err := s.m.store.Load(ctx, s.cookieID)
	op.end(ctx, err)
	switch {
	case err == nil:
		s.id, s.rec = s.cookieID, rec
	case errors.Is(err, store.ErrRotated):
		// Another request rotated it (a login or level change in another tab): this request must
		// neither reach the new session nor replace its cookie, so it sees no session and may not
		// start one.
		s.id, s.rotatedAway = "", true
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidID), errors.Is(err, store.ErrCorrupt):
		// Unknown, expired or unreadable: never adopted; a write makes a new session with a new ID.
		s.id = ""
	default:
		s.loadErr = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return s.loadErr
}

// ensureFields loads the session like ensureLoaded, and also reads its fields when a rotation in this
// request returned its metadata only (store.Record.Partial): a login that never reads a field never
// pays for them. Callers hold s.mu.
func (s *Session) ensureFields() error {
	if err := s.ensureLoaded(); err != nil || s.rec == nil || !s.rec.Partial() {
		return err
	}
	ctx, op := s.m.tel.start(s.req.Context(), opLoad)
	rec, err := s.m.store.Load(ctx, s.id)
	op.end(ctx, err)
	switch {
	case err == nil:
		s.rec = rec
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrRotated):
		// Ended (or rotated again by another request) since this request rotated it.
		s.id, s.rec = "", nil
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// raw returns the current encoded value of key, pending changes included. Callers hold s.mu.
func (s *Session) raw(key string) (string, bool, error) {
	if err := s.ensureFields(); err != nil {
		return "", false, err
	}
	if _, ok := s.del[key]; ok {
		return "", false, nil
	}
	if v, ok := s.set[key]; ok {
		return v, true, nil
	}
	var base string
	var ok bool
	if s.rec != nil {
		base, ok = s.rec.Fields[key]
	}
	if by, pending := s.incr[key]; pending {
		n, err := store.Int(base)
		if !ok {
			n, err = 0, nil
		}
		if err != nil {
			return "", false, err
		}
		return strconv.FormatInt(n+by, 10), true, nil
	}
	return base, ok, nil
}

// Get decodes the value of key into dst and reports whether the key exists. The error is non-nil when
// the store is unavailable (the response then becomes the error handler's) or the value does not
// decode into dst.
func (s *Session) Get(key string, dst any) (bool, error) {
	s.mu.Lock()
	v, ok, err := s.raw(key)
	s.mu.Unlock()
	if err != nil || !ok {
		return false, err
	}
	if err := s.m.opts.Codec.Unmarshal([]byte(v), dst); err != nil {
		return true, fmt.Errorf("redisession: decoding %q: %w", key, err)
	}
	return true, nil
}

// Has reports whether key exists.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok, _ := s.raw(key)
	return ok
}

// GetString returns the string value of key, or "" when it is absent or not a string.
func (s *Session) GetString(key string) string {
	var v string
	_, _ = s.Get(key, &v)
	return v
}

// GetBool returns the boolean value of key, or false when it is absent or not a boolean.
func (s *Session) GetBool(key string) bool {
	var v bool
	_, _ = s.Get(key, &v)
	return v
}

// GetFloat returns the numeric value of key, or 0 when it is absent or not a number.
func (s *Session) GetFloat(key string) float64 {
	var v float64
	_, _ = s.Get(key, &v)
	return v
}

// GetInt returns the integer value of key, or 0 when it is absent or not an integer. Counters kept with
// Increment are read with it whatever the codec.
func (s *Session) GetInt(key string) int64 {
	s.mu.Lock()
	v, ok, err := s.raw(key)
	s.mu.Unlock()
	if err != nil || !ok {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	var n int64
	_ = s.m.opts.Codec.Unmarshal([]byte(v), &n)
	return n
}

// GetTime returns the time value of key, or the zero time when it is absent or not a time.
func (s *Session) GetTime(key string) time.Time {
	var v time.Time
	_, _ = s.Get(key, &v)
	return v
}

// Keys returns the session's field names, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensureFields() != nil {
		return nil
	}
	seen := map[string]struct{}{}
	if s.rec != nil {
		for k := range s.rec.Fields {
			seen[k] = struct{}{}
		}
	}
	for k := range s.set {
		seen[k] = struct{}{}
	}
	for k := range s.incr {
		seen[k] = struct{}{}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		if _, gone := s.del[k]; !gone {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Values returns every field's raw encoded value, pending changes included, e.g. to render a page.
func (s *Session) Values() map[string][]byte {
	keys := s.Keys()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if v, ok, _ := s.raw(k); ok {
			out[k] = []byte(v)
		}
	}
	return out
}

// Set records key = value, encoded by the codec. It is written when the middleware commits, before
// the response headers go out; a visitor without a session gets one, with a new ID.
func (s *Session) Set(key string, value any) error {
	if err := store.CheckFieldName(key); err != nil {
		return err
	}
	b, err := s.m.opts.Codec.Marshal(value)
	if err != nil {
		return fmt.Errorf("redisession: encoding %q: %w", key, err)
	}
	if max := s.m.store.Options().MaxValueBytes; len(b) > max {
		return fmt.Errorf("%w: %q encodes to %d bytes, the limit is %d", store.ErrTooLarge, key, len(b), max)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending()
	delete(s.del, key)
	delete(s.incr, key)
	s.set[key] = string(b)
	return nil
}

// Delete records the removal of key.
func (s *Session) Delete(key string) error {
	if err := store.CheckFieldName(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending()
	delete(s.set, key)
	delete(s.incr, key)
	s.del[key] = struct{}{}
	return nil
}

// Pop decodes key into dst and deletes it: a flash message read once.
func (s *Session) Pop(key string, dst any) (bool, error) {
	ok, err := s.Get(key, dst)
	if err != nil || !ok {
		return ok, err
	}
	return true, s.Delete(key)
}

// PopString returns the string value of key and deletes it; "" when absent.
func (s *Session) PopString(key string) string {
	var v string
	if ok, _ := s.Pop(key, &v); !ok {
		return ""
	}
	return v
}

func (s *Session) pending() {
	if s.set == nil {
		s.set, s.del, s.incr = map[string]string{}, map[string]struct{}{}, map[string]int64{}
	}
}

func (s *Session) dirty() bool { return len(s.set)+len(s.del)+len(s.incr) > 0 }

func (s *Session) changes() store.Changes {
	c := store.Changes{Set: s.set, Incr: s.incr}
	for k := range s.del {
		c.Delete = append(c.Delete, k)
	}
	return c
}

func (s *Session) clearChanges() { s.set, s.del, s.incr = nil, nil, nil }

// Status returns where the session stands. It does not load the session.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.destroyed && s.id == "":
		return StatusDestroyed
	case s.created:
		return StatusNew
	case s.dirty() && s.rec == nil && s.id == "" && (s.loaded || s.cookieID == ""):
		// Writes of a request known to have no session: committing them creates one.
		return StatusNew
	case s.modified || s.dirty():
		return StatusModified
	case s.rec != nil:
		return StatusLoaded
	}
	return StatusNone
}

// Exists reports whether the request has a live stored session (loading it if needed).
func (s *Session) Exists() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ensureLoaded() == nil && s.id != ""
}

// UserID returns the session's user, or "" for an anonymous session or none.
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensureLoaded() != nil || s.rec == nil {
		return ""
	}
	return s.rec.Meta.UserID
}

// Level returns the session's privilege level, "" for the ordinary level.
func (s *Session) Level() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensureLoaded() != nil || s.rec == nil {
		return ""
	}
	return s.rec.Meta.Level
}

// LevelUntil returns when the session's privilege level lapses unless the session is used again
// (the earlier of its idle and absolute deadlines), e.g. to show "admin mode for 4 more minutes"; the
// zero time for the ordinary level or when there is no session.
func (s *Session) LevelUntil() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensureLoaded() != nil || s.rec == nil {
		return time.Time{}
	}
	return s.rec.Meta.LevelExpires
}

// Meta returns the session's metadata, and false when there is no session.
func (s *Session) Meta() (store.Meta, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensureLoaded() != nil || s.rec == nil {
		return store.Meta{}, false
	}
	return s.rec.Meta, true
}

// Handle returns the current session's handle (see store.Handle), or "" when there is none.
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensureLoaded() != nil || s.rec == nil {
		return ""
	}
	return s.rec.Handle
}

// Err returns the error that loading the session met, if any.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ensureLoaded()
}
