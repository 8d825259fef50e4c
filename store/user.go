package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Info describes one of a user's sessions for a device list.
type Info struct {
	// Handle identifies the session to its owner (for Revoke) without being a usable session ID.
	Handle string
	// Meta is the session's metadata.
	Meta Meta
}

// listFields are the metadata fields a device list reads.
var listFields = [...]string{fieldCreated, fieldAbsolute, fieldIdle, fieldExpires, fieldSeen, fieldUser, fieldLevel,
	fieldAgent, fieldAddr, fieldRotated, fieldLevelIdle, fieldLevelDeadline, fieldLevelEnds}

// indexAdd records handle in uid's index and destroys the sessions the per-user cap pushes out.
func (s *Store) indexAdd(ctx context.Context, uid, handle string, deadline time.Time) error {
	over, err := s.indexAddRaw(ctx, uid, handle, deadline, "")
	if err != nil {
		return err
	}
	list := make([]any, len(over))
	for i, h := range over {
		list[i] = h
	}
	return s.afterIndexAdd(ctx, uid, list)
}

// pruneAbove is how many members a user's index may hold before a login checks which of them still
// have a session: members of sessions that idled out stay until their absolute deadline otherwise, and
// a user who signs in from scripts all day would pile them up for every logout-all to walk. Past it,
// the check runs when the count reaches a power of two, so that a user with many live sessions pays
// for it once per doubling (amortised, a constant per login), and an index holds at most about twice
// its live members, or pruneAbove.
const pruneAbove = 16

// afterIndexAdd acts on index_add.lua's reply: it destroys the sessions over the per-user cap, and
// drops the members whose session has gone when the index has grown past pruneAbove.
func (s *Store) afterIndexAdd(ctx context.Context, uid string, reply []any) error {
	if len(reply) == 0 {
		return fmt.Errorf("%w: index reply", ErrCorrupt)
	}
	if err := s.evict(ctx, uid, reply[1:]); err != nil {
		return err
	}
	if n, _ := reply[0].(string); len(n) > 0 && s.opts.MaxSessionsPerUser == 0 {
		if members, err := strconv.Atoi(n); err == nil && members >= pruneAbove && members&(members-1) == 0 {
			if _, err := s.List(ctx, uid); err != nil {
				// The login stands; the dead members wait for the next list.
				s.log.WarnContext(ctx, "redisession: could not prune the session index", "err", err)
			}
		}
	}
	return nil
}

// indexAddRaw runs index_add.lua: handle joins uid's index, replacing the member replaces, and the
// members over the per-user cap are returned, still indexed.
func (s *Store) indexAddRaw(ctx context.Context, uid, handle string, deadline time.Time, replaces string) ([]string, error) {
	if err := s.pruneForCap(ctx, uid); err != nil {
		return nil, err
	}
	over, err := s.run(ctx, s.scripts.indexAdd, []string{s.userKey(uid)},
		handle, deadline.UnixMilli(), s.opts.MaxSessionsPerUser, replaces).StringSlice()
	if err != nil && !isNil(err) {
		return nil, fmt.Errorf("redisession/store: index: %w", err)
	}
	return over, nil
}

// pruneForCap drops uid's index members whose session has gone, when a per-user cap is set: members
// whose session idled out still sit in the index until their deadline, and the cap must count live
// sessions only, never evicting a live one for them.
func (s *Store) pruneForCap(ctx context.Context, uid string) error {
	if s.opts.MaxSessionsPerUser == 0 {
		return nil
	}
	_, err := s.List(ctx, uid)
	return err
}

// evict destroys the sessions the per-user cap pushed out, each before its index member goes: a
// destroy that fails leaves the member, so logout-all still finds the session.
func (s *Store) evict(ctx context.Context, uid string, over []any) error {
	for _, v := range over {
		h, ok := v.(string)
		if !ok {
			return fmt.Errorf("%w: index reply", ErrCorrupt)
		}
		if _, err := s.destroyIndexed(ctx, uid, h); err != nil {
			return err
		}
	}
	return nil
}

// maxSuccessors bounds how far a destroy follows a chain of rotations.
const maxSuccessors = 8

// destroyHandle deletes one session key (only if it belongs to uid, when owned is set) and then
// removes it from its owner's index; when the session had been rotated, it ends the session it was
// rotated into too (or, when that one is not created yet, stops it from ever being created). It
// reports the owner and whether a session was deleted. Deleting first means a crash in between
// leaves a dangling index entry, pruned on read.
func (s *Store) destroyHandle(ctx context.Context, handle, uid string, owned bool) (string, bool, error) {
	return s.destroyFrom(ctx, handle, uid, owned, true)
}

// destroyFrom is destroyHandle; tomb says whether a handle without a session gets a tombstone, which
// only a handle that may be a rotation's successor needs (an index member, a successor, a revoke).
func (s *Store) destroyFrom(ctx context.Context, handle, uid string, owned, tomb bool) (string, bool, error) {
	owner, next, ok, err := s.destroyOne(ctx, handle, uid, owned, tomb)
	if err != nil {
		return owner, ok, err
	}
	for range maxSuccessors {
		if next == "" || next == "-" {
			break
		}
		// The successor is the same user's (a level change or a re-login), or a login from an
		// anonymous session: the same browser either way.
		if _, next, _, err = s.destroyOne(ctx, next, owner, owner != "", true); err != nil {
			return owner, ok, err
		}
	}
	return owner, ok, nil
}

// destroyOne runs destroy.lua for one handle, then removes it from its owner's index. It returns the
// owner, the handle the session was rotated into, and whether it deleted a session.
func (s *Store) destroyOne(ctx context.Context, handle, uid string, owned, tomb bool) (owner, next string, ok bool, err error) {
	flag := "0"
	if owned {
		flag = "1"
	}
	life := int64(0)
	if tomb {
		life = tombstoneLife.Milliseconds()
	}
	key := s.sessionKey(handle)
	defer s.forget(key)
	res, err := s.run(ctx, s.scripts.destroy, []string{key}, flag, uid, life).StringSlice()
	noteDestroyed(ctx, key, err == nil)
	if isNil(err) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("redisession/store: destroy: %w", err)
	}
	if len(res) != 3 {
		return "", "", false, fmt.Errorf("%w: destroy reply", ErrCorrupt)
	}
	owner, next = res[0], res[1]
	if res[2] != "1" {
		return owner, next, false, nil // the tombstone of a rotated session: only its successor is left
	}
	if owner != "" {
		if err := s.rdb.ZRem(ctx, s.userKey(owner), handle).Err(); err != nil {
			return owner, next, true, fmt.Errorf("redisession/store: unindex: %w", err)
		}
	}
	return owner, next, true, nil
}

// destroyIndexed destroys the session of one of uid's index members and removes the member, also
// when its session had already gone. It reports whether it deleted a session.
func (s *Store) destroyIndexed(ctx context.Context, uid, h string) (bool, error) {
	_, ok, err := s.destroyHandle(ctx, h, uid, true)
	if err != nil || ok {
		return ok, err
	}
	if err := s.rdb.ZRem(ctx, s.userKey(uid), h).Err(); err != nil {
		return false, fmt.Errorf("redisession/store: unindex: %w", err)
	}
	return false, nil
}

// Destroy deletes the session with the given ID and removes it from its user's index. Destroying a
// session that does not exist is not an error: logout is idempotent.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if !ValidID(id) {
		return ErrInvalidID
	}
	return s.durably(ctx, func(ctx context.Context) error {
		// An ID from a cookie is never a successor still being created: no tombstone is needed.
		_, _, err := s.destroyFrom(ctx, Handle(id), "", false, false)
		return err
	})
}

// members returns the live handles in uid's index, pruning those past their deadline.
func (s *Store) members(ctx context.Context, uid string) ([]string, error) {
	if uid == "" || len(uid) > maxUserIDBytes {
		return nil, fmt.Errorf("%w: user id must be 1 to %d bytes", ErrInvalidOptions, maxUserIDBytes)
	}
	v, err := s.run(ctx, s.scripts.indexList, []string{s.userKey(uid)}).StringSlice()
	if err != nil && !isNil(err) {
		return nil, fmt.Errorf("redisession/store: index: %w", err)
	}
	out := make([]string, 0, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		out = append(out, v[i])
	}
	return out, nil
}

// DestroyUser destroys every session of uid and reports how many it destroyed: logout everywhere,
// or locking a user out.
func (s *Store) DestroyUser(ctx context.Context, uid string) (int, error) {
	return s.destroyUser(ctx, uid, "")
}

// DestroyOthers destroys every session of uid except the one with ID keepID, e.g. after a password
// change, and reports how many it destroyed.
func (s *Store) DestroyOthers(ctx context.Context, uid, keepID string) (int, error) {
	if !ValidID(keepID) {
		return 0, ErrInvalidID
	}
	return s.destroyUser(ctx, uid, Handle(keepID))
}

// DestroyUserHandles destroys every session of uid except the one with ID keepID (none when keepID
// is empty) and returns the handles of the sessions it destroyed, e.g. to close their WebSockets. On
// an error it returns the handles destroyed so far.
func (s *Store) DestroyUserHandles(ctx context.Context, uid, keepID string) ([]string, error) {
	keep := ""
	if keepID != "" {
		if !ValidID(keepID) {
			return nil, ErrInvalidID
		}
		keep = Handle(keepID)
	}
	return s.destroyUserHandles(ctx, uid, keep)
}

func (s *Store) destroyUser(ctx context.Context, uid, keep string) (int, error) {
	hs, err := s.destroyUserHandles(ctx, uid, keep)
	return len(hs), err
}

func (s *Store) destroyUserHandles(ctx context.Context, uid, keep string) ([]string, error) {
	var destroyed []string
	err := s.durably(ctx, func(ctx context.Context) error {
		var err error
		destroyed, err = s.sweepUser(ctx, uid, keep)
		return err
	})
	return destroyed, err
}

// sweepUser destroys every session of uid except the one with handle keep and returns the handles it
// destroyed, those destroyed so far on an error.
func (s *Store) sweepUser(ctx context.Context, uid, keep string) ([]string, error) {
	var destroyed []string
	// A rotation that was under way when the first listing was taken has put its new session in the
	// index by the time its old one is found rotated; listing again until nothing is left ends it too.
	for range maxSweeps {
		hs, err := s.members(ctx, uid)
		if err != nil {
			return destroyed, err
		}
		left := false
		for _, h := range hs {
			if h == keep {
				continue
			}
			left = true
			ok, err := s.destroyIndexed(ctx, uid, h)
			if err != nil {
				return destroyed, err
			}
			if ok {
				destroyed = append(destroyed, h)
			}
		}
		if !left {
			break
		}
	}
	return destroyed, nil
}

// maxSweeps bounds the listings of one logout of a user's sessions.
const maxSweeps = 4

// Revoke destroys the session with the given handle only if it belongs to uid; otherwise, or when
// there is no such session, it returns ErrNotFound.
func (s *Store) Revoke(ctx context.Context, uid, handle string) error {
	if !validHandle(handle) || uid == "" {
		return ErrNotFound
	}
	var ok bool
	err := s.durably(ctx, func(ctx context.Context) (err error) {
		_, ok, err = s.destroyHandle(ctx, handle, uid, true)
		return err
	})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// List returns uid's live sessions, oldest deadline first, and drops index entries whose session has
// gone (idled out, or left dangling by a crash).
func (s *Store) List(ctx context.Context, uid string) ([]Info, error) {
	hs, err := s.members(ctx, uid)
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(hs))
	for i, h := range hs {
		// Only the metadata: a device list must not pull every session's fields.
		cmds[i] = pipe.HMGet(ctx, s.sessionKey(h), listFields[:]...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return nil, fmt.Errorf("redisession/store: list: %w", err)
	}
	now := time.Now()
	out := make([]Info, 0, len(hs))
	var dead []any
	for i, h := range hs {
		m := make(map[string]string, len(listFields))
		for j, v := range cmds[i].Val() {
			if str, ok := v.(string); ok {
				m[listFields[j]] = str
			}
		}
		if _, rotated := m[fieldRotated]; len(m) == 0 || rotated {
			// Gone, or rotated away (its successor is the device now).
			dead = append(dead, h)
			continue
		}
		r, err := parseRecord(h, m)
		if err != nil || r.Meta.UserID != uid || !now.Before(r.Meta.Expires) || !now.Before(r.Meta.AbsoluteDeadline) || r.Meta.lapse(now) {
			continue
		}
		out = append(out, Info{Handle: h, Meta: r.Meta})
	}
	if len(dead) > 0 {
		if err := s.rdb.ZRem(ctx, s.userKey(uid), dead...).Err(); err != nil {
			s.log.WarnContext(ctx, "redisession: could not prune the session index", "err", err)
		}
	}
	return out, nil
}
