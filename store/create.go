package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxCreateAttempts bounds retries on an ID collision, which with 256-bit IDs means a broken
// random source rather than bad luck.
const maxCreateAttempts = 3

// RotationGrace is how long a rotated session's old ID lives on, marked rotated, so that a request
// still carrying it (a tab that has not yet seen the new cookie) is told so instead of being handed a
// new anonymous session. It also bounds the time between a rotation's two steps: a successor not
// created within it is never created.
const RotationGrace = 10 * time.Second

// tombstoneLife is how long a destroy of a handle whose session does not exist yet blocks its
// creation: longer than RotationGrace, so that a rotation under way when its user logged out can
// never complete afterwards, with room for clock differences between Cluster nodes.
const tombstoneLife = 3 * RotationGrace

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
	// LevelIdleTimeout and LevelAbsoluteTimeout are Meta.Level's own timeouts, both set or neither:
	// the level lapses when unused for LevelIdleTimeout, or LevelAbsoluteTimeout after this moment
	// (never later than the session's absolute deadline). A lapsed level steps down to the ordinary
	// one, and the session lives on under its own timeouts with its fields; with LevelEndsSession the
	// session ends instead, and its TTL never passes the level's deadlines. Default: none, the level
	// lasts as long as the session.
	LevelIdleTimeout, LevelAbsoluteTimeout time.Duration
	// LevelEndsSession makes the level's lapse end the session. Default: false, it steps down.
	LevelEndsSession bool
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
		rec, err := s.createIndexed(ctx, id, ns, "", time.Time{})
		if err == errCollision {
			lastErr = err
			continue
		}
		if err != nil {
			return "", nil, err
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
	if ns.IdleTimeout < 0 || ns.AbsoluteTimeout < 0 || ns.LevelIdleTimeout < 0 || ns.LevelAbsoluteTimeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidOptions)
	}
	if (ns.LevelIdleTimeout > 0) != (ns.LevelAbsoluteTimeout > 0) || (ns.LevelIdleTimeout > 0 && ns.Meta.Level == "") {
		return fmt.Errorf("%w: a level's timeouts need a level and each other", ErrInvalidOptions)
	}
	if len(ns.Fields) > s.opts.MaxFields {
		return fmt.Errorf("%w: %d fields, the limit is %d", ErrTooLarge, len(ns.Fields), s.opts.MaxFields)
	}
	return s.validate(Changes{Set: ns.Fields})
}

// createIndexed creates the session id and, for a user's session, its index entry, replacing the
// member replaces (a rotation's old handle) in the same step. A non-zero notAfter is the moment after
// which a rotation's successor may no longer be created. Then it destroys what the per-user cap
// pushed out.
//
// On standalone and Sentinel servers the session and its index entry are one script. On Cluster
// they are in different slots: the index entry goes first, so a failure in between leaves at worst
// a dangling member (pruned on read), never a session its user's logout-all cannot find.
func (s *Store) createIndexed(ctx context.Context, id string, ns NewSession, replaces string, notAfter time.Time) (*Record, error) {
	h := Handle(id)
	key := s.sessionKey(h)
	idle, abs := s.timeouts(ns)
	meta := ns.Meta.pairs()
	lend := "0"
	if ns.LevelEndsSession {
		lend = "1"
	}
	cargs := make([]any, 0, 11+len(meta)+2*len(ns.Fields))
	cargs = append(cargs, idle.Milliseconds(), abs.Milliseconds(), ms(ns.AbsoluteCap), ms(ns.Created),
		s.opts.MaxFields, s.opts.MaxSessionBytes, ms(notAfter),
		ns.LevelAbsoluteTimeout.Milliseconds(), ns.LevelIdleTimeout.Milliseconds(), lend, len(meta)/2)
	cargs = append(cargs, meta...)
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
		cargs = append(cargs, k, sealed)
	}
	defer s.forget(key)
	uid := ns.Meta.UserID
	var (
		v   any
		err error
	)
	switch {
	case uid == "":
		v, err = s.run(ctx, s.scripts.create, []string{key}, cargs...).Result()
	case s.cluster():
		// The score is the session's deadline as this process reckons it, with room for clock skew:
		// an index member may outlive its session a little, never the reverse.
		score := time.Now().Add(abs + time.Minute)
		if !ns.AbsoluteCap.IsZero() && ns.AbsoluteCap.Before(score) {
			score = ns.AbsoluteCap
		}
		over, ierr := s.indexAddRaw(ctx, uid, h, score, replaces)
		if ierr != nil {
			return nil, ierr
		}
		v, err = s.run(ctx, s.scripts.create, []string{key}, cargs...).Result()
		if err == nil {
			v = appendOver(v, over)
		} else {
			_ = s.rdb.ZRem(ctx, s.userKey(uid), h).Err() // best effort: a dangling member is pruned on read
		}
	default:
		if err := s.pruneForCap(ctx, uid); err != nil {
			return nil, err
		}
		args := make([]any, 0, 5+len(cargs))
		args = append(args, 4, h, 0, s.opts.MaxSessionsPerUser, replaces)
		args = append(args, cargs...)
		v, err = s.run(ctx, s.scripts.createIndexed, []string{s.userKey(uid), key}, args...).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("redisession/store: create: %w", err)
	}
	rep, err := parseReply(v)
	if err != nil {
		return nil, err
	}
	switch rep.status() {
	case -4:
		return nil, errCollision
	case -10:
		return nil, fmt.Errorf("%w: the session ended while it was being rotated", ErrRotated)
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
	if m.Level != "" && ns.LevelAbsoluteTimeout > 0 {
		// The level's deadline as create.lua set it, by this process' clock: the next load reads
		// Redis' own.
		m.LevelIdleTimeout, m.LevelEndsSession = ns.LevelIdleTimeout, ns.LevelEndsSession
		m.LevelDeadline = time.Now().Add(ns.LevelAbsoluteTimeout)
		if m.LevelDeadline.After(m.AbsoluteDeadline) {
			m.LevelDeadline = m.AbsoluteDeadline
		}
		m.LevelExpires = m.LevelDeadline
		if e := m.LastSeen.Add(m.LevelIdleTimeout); e.Before(m.LevelExpires) {
			m.LevelExpires = e
		}
	}
	rec := &Record{Handle: h, Meta: m, Fields: fields, raw: raw}
	if uid != "" && len(rep) > 4 {
		over, _ := rep[4].([]any)
		if err := s.afterIndexAdd(ctx, uid, over); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// timeouts returns ns's idle and absolute timeouts, the store's where ns leaves them zero.
func (s *Store) timeouts(ns NewSession) (idle, abs time.Duration) {
	idle, abs = ns.IdleTimeout, ns.AbsoluteTimeout
	if idle == 0 {
		idle = s.opts.IdleTimeout
	}
	if abs == 0 {
		abs = s.opts.AbsoluteTimeout
	}
	return idle, abs
}

// appendOver appends index_add's reply to create's, as create_indexed.lua does.
func appendOver(v any, over []string) any {
	arr, ok := v.([]any)
	if !ok {
		return v
	}
	list := make([]any, len(over))
	for i, h := range over {
		list[i] = h
	}
	return append(arr, list)
}

// cluster reports whether the client is a Cluster client, whose keys of one script must share a slot.
func (s *Store) cluster() bool {
	_, ok := s.rdb.(*redis.ClusterClient)
	return ok
}

// Rotation describes a rotation for RotateSession.
type Rotation struct {
	// Session describes the new session: its metadata and timeouts. Fields is ignored: the old
	// session's fields are carried over, with Changes applied.
	Session NewSession
	// Changes are the requesting handler's pending changes, applied to the carried fields.
	Changes Changes
	// PrivilegeChange makes the rotation a change of level of the session's own user, rather than a
	// login: the old session must have a user (Session.Meta.UserID's, when that is set, which may be
	// left empty), and the new one keeps its user, creation time, CSRF token, device, idle timeout and
	// absolute deadline; Session's level and level timeouts apply. It fails with ErrNoUser, creating nothing, otherwise.
	PrivilegeChange bool
}

// Rotated is what a rotation did.
type Rotated struct {
	// ID is the new session's ID and Record the new session.
	ID     string
	Record *Record
	// Old is the old session as the rotation found it; nil when a login ended another user's session
	// instead (see EndedUser), and when the rotation copied it server-side without reading it.
	Old *Record
	// OldHandle is the handle of the old ID, dead now.
	OldHandle string
	// EndedUser is set when a login found a session of another user: that session was ended, none of
	// it was carried, and the new session started empty.
	EndedUser string
}

// RotateSession moves the session oldID to a fresh ID. The first step is one atomic script on the
// old key: it checks the session is live (and, for a privilege change, whose it is), marks it rotated,
// so that every later commit, refresh, compare-and-set or rotation of the old ID fails with
// ErrRotated, leaves it RotationGrace to live, and returns its fields as of that instant. Then the
// new session and its index entry, which replaces the old one (one script on standalone and Sentinel
// servers). So of concurrent rotations of one session exactly one succeeds (the others get
// ErrRotated), every write acknowledged before it is carried and every write after it refused, and a
// destroy of the old ID, or of its user's sessions, that lands between the steps ends the new session
// too or stops it from being created. The old ID never forwards to the new session.
//
// It returns ErrNotFound when oldID names no live session (a login then creates a fresh one, a
// privilege change must not), ErrRotated when it was rotated already, and ErrNoUser when a
// privilege change finds no user or another one. A failure after the first step leaves the old ID
// dead and no new session: the user signs in again, and no two live IDs ever come of one session.
func (s *Store) RotateSession(ctx context.Context, oldID string, r Rotation) (Rotated, error) {
	if !ValidID(oldID) {
		return Rotated{}, ErrInvalidID
	}
	if err := s.validate(r.Changes); err != nil {
		return Rotated{}, err
	}
	ns := r.Session
	if err := s.validateNew(NewSession{Meta: ns.Meta, IdleTimeout: ns.IdleTimeout, AbsoluteTimeout: ns.AbsoluteTimeout}); err != nil {
		return Rotated{}, err
	}
	if !r.PrivilegeChange && ns.Meta.UserID == "" {
		return Rotated{}, fmt.Errorf("%w: a login needs a user id", ErrInvalidOptions)
	}
	newID, err := NewID()
	if err != nil {
		return Rotated{}, err
	}
	oldHandle := Handle(oldID)
	oldKey := s.sessionKey(oldHandle)
	mode := "login"
	if r.PrivilegeChange {
		mode = "level"
	}
	if !s.cluster() && r.Changes.Empty() && s.opts.Sealer == nil && ns.Meta.UserID != "" &&
		(ns.AbsoluteCap.IsZero() || time.Until(ns.AbsoluteCap) > time.Second) {
		// Nothing to apply or re-encrypt, and one script may touch every key: the whole rotation in
		// one round trip (with a cap, after the list that prunes idled-out members), the fields copied
		// server-side.
		if err := s.pruneForCap(ctx, ns.Meta.UserID); err != nil {
			return Rotated{}, err
		}
		out, rep, err := s.rotateLocal(ctx, oldHandle, newID, ns, mode)
		if err != nil || rep == nil {
			return out, err
		}
		return s.endedByLogin(ctx, rep, oldHandle, newID, ns)
	}
	v, err := s.run(ctx, s.scripts.rotate, []string{oldKey}, Handle(newID), mode, ns.Meta.UserID, RotationGrace.Milliseconds()).Result()
	s.forget(oldKey)
	if err != nil {
		return Rotated{}, fmt.Errorf("redisession/store: rotate: %w", err)
	}
	rep, err := parseReply(v)
	if err != nil {
		return Rotated{}, err
	}
	out := Rotated{ID: newID, OldHandle: oldHandle}
	switch rep.status() {
	case -8:
		return Rotated{}, ErrNoUser
	case -9:
		return s.endedByLogin(ctx, rep, oldHandle, newID, ns)
	}
	if err := rep.statusErr(); err != nil {
		return Rotated{}, err
	}
	now, err := rep.int(1)
	if err != nil {
		return Rotated{}, err
	}
	old, err := recordFromPairs(oldHandle, rep[2:])
	if err != nil {
		return Rotated{}, err
	}
	if err := s.openRecord(old); err != nil {
		return Rotated{}, err
	}
	fields, err := applyChanges(old.Fields, r.Changes)
	if err != nil {
		return Rotated{}, err
	}
	if r.PrivilegeChange {
		// The session keeps its own timeouts: its idle timeout, and its absolute deadline exactly.
		ns.Meta.UserID = old.Meta.UserID
		ns.Created, ns.AbsoluteCap = old.Meta.Created, old.Meta.AbsoluteDeadline
		ns.IdleTimeout = old.Meta.IdleTimeout
		ns.AbsoluteTimeout = time.Until(old.Meta.AbsoluteDeadline) + time.Minute
		ns.Meta.CSRFToken, ns.Meta.UserAgent, ns.Meta.RemoteAddr = old.Meta.CSRFToken, old.Meta.UserAgent, old.Meta.RemoteAddr
	}
	ns.Fields = fields
	if len(ns.Fields) > s.opts.MaxFields {
		return Rotated{}, fmt.Errorf("%w: %d fields, the limit is %d", ErrTooLarge, len(ns.Fields), s.opts.MaxFields)
	}
	replaces := ""
	if old.Meta.UserID != "" {
		replaces = oldHandle
	}
	rec, err := s.createIndexed(ctx, newID, ns, replaces, time.UnixMilli(now).Add(RotationGrace))
	if err != nil {
		return Rotated{}, err
	}
	out.Record, out.Old = rec, old
	return out, nil
}

// endedByLogin finishes a login that found a session of another user (reply {-9, owner}): that
// session, marked rotated with no successor, leaves its user's index, and the login starts a fresh,
// empty session. Any other refusal is returned as its error.
func (s *Store) endedByLogin(ctx context.Context, rep reply, oldHandle, newID string, ns NewSession) (Rotated, error) {
	switch rep.status() {
	case -8:
		return Rotated{}, ErrNoUser
	case -9:
	default:
		if err := rep.statusErr(); err != nil {
			return Rotated{}, err
		}
		return Rotated{}, fmt.Errorf("%w: unexpected rotate status %d", ErrCorrupt, rep.status())
	}
	owner, _ := rep.str(1)
	if err := s.rdb.ZRem(ctx, s.userKey(owner), oldHandle).Err(); err != nil {
		s.log.WarnContext(ctx, "redisession: could not unindex a session ended by another user's login", "err", err)
	}
	ns.Fields, ns.Created, ns.AbsoluteCap = nil, time.Time{}, time.Time{}
	rec, err := s.createIndexed(ctx, newID, ns, "", time.Time{})
	if err != nil {
		return Rotated{}, err
	}
	return Rotated{ID: newID, Record: rec, OldHandle: oldHandle, EndedUser: owner}, nil
}

// rotateLocal runs rotate_local.lua: one round trip, the fields copied server-side and not read
// (the Record it returns holds the metadata only; see Record.Partial). It returns the script's
// refusal as rep, for the caller, and a nil rep when it is done.
func (s *Store) rotateLocal(ctx context.Context, oldHandle, newID string, ns NewSession, mode string) (Rotated, reply, error) {
	h := Handle(newID)
	oldKey, newKey := s.sessionKey(oldHandle), s.sessionKey(h)
	defer s.forget(oldKey)
	defer s.forget(newKey)
	idle, abs := s.timeouts(ns)
	meta := ns.Meta.pairs()
	if mode == "level" {
		meta = nil
		if ns.Meta.Level != "" {
			meta = []any{fieldLevel, ns.Meta.Level}
		}
	}
	lend := "0"
	if ns.LevelEndsSession {
		lend = "1"
	}
	keys := []string{oldKey, newKey, s.userKey(ns.Meta.UserID)}
	args := make([]any, 0, 14+len(meta))
	args = append(args, h, mode, ns.Meta.UserID, RotationGrace.Milliseconds(), oldHandle, idle.Milliseconds(),
		abs.Milliseconds(), ns.LevelAbsoluteTimeout.Milliseconds(), ns.LevelIdleTimeout.Milliseconds(), lend,
		s.opts.MaxSessionsPerUser, ms(ns.AbsoluteCap), ms(ns.Created), len(meta)/2)
	args = append(args, meta...)
	v, err := s.run(ctx, s.scripts.rotateLocal, keys, args...).Result()
	if err != nil {
		return Rotated{}, nil, fmt.Errorf("redisession/store: rotate: %w", err)
	}
	rep, err := parseReply(v)
	if err != nil {
		return Rotated{}, nil, err
	}
	if rep.status() != 1 {
		return Rotated{}, rep, nil
	}
	var rec *Record
	if len(rep) > 5 {
		pairs, _ := rep[5].([]any)
		rec, err = recordFromPairs(h, pairs)
	}
	if err != nil || rec == nil {
		return Rotated{}, nil, fmt.Errorf("%w: rotate reply: %v", ErrCorrupt, err)
	}
	rec.Fields, rec.partial = nil, true
	out := Rotated{ID: newID, Record: rec, OldHandle: oldHandle}
	over, _ := rep[4].([]any)
	if err := s.afterIndexAdd(ctx, ns.Meta.UserID, over); err != nil {
		return out, nil, err
	}
	return out, nil, nil
}

// Rotate is RotateSession for a login of ns.Meta.UserID with the pending changes c: it returns the new
// ID and session. A session of another user is ended and the new one starts empty.
func (s *Store) Rotate(ctx context.Context, oldID string, ns NewSession, c Changes) (string, *Record, error) {
	r, err := s.RotateSession(ctx, oldID, Rotation{Session: ns, Changes: c})
	return r.ID, r.Record, err
}

// recordFromPairs parses a flattened list of hash fields (an HGETALL reply, or what a script wrote).
func recordFromPairs(handle string, pairs []any) (*Record, error) {
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		k, ok := pairs[i].(string)
		if !ok {
			return nil, fmt.Errorf("%w: rotate reply", ErrCorrupt)
		}
		switch v := pairs[i+1].(type) {
		case string:
			m[k] = v
		case int64: // a number a script computed and returned as it wrote it
			m[k] = strconv.FormatInt(v, 10)
		default:
			return nil, fmt.Errorf("%w: rotate reply", ErrCorrupt)
		}
	}
	return parseRecord(handle, m)
}

// applyChanges returns fields with c applied; it takes fields over.
func applyChanges(fields map[string]string, c Changes) (map[string]string, error) {
	if fields == nil {
		fields = make(map[string]string, len(c.Set)+len(c.Incr))
	}
	for k, v := range c.Set {
		fields[k] = v
	}
	for _, k := range c.Delete {
		delete(fields, k)
	}
	for k, by := range c.Incr {
		var n int64
		if v, ok := fields[k]; ok {
			var err error
			if n, err = Int(v); err != nil {
				return nil, err
			}
		}
		fields[k] = strconv.FormatInt(n+by, 10)
	}
	return fields, nil
}
