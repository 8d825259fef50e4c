package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file holds the operator's tools for the user index: finding and removing members whose
// session is gone, finding and re-indexing sessions their user's index lost, and destroying sessions
// by handle. Each step touches one key at a time and, like the rest of the store, is ordered so that
// a race with the application leaves at worst a dangling index member, never a live session that
// logout-everywhere would miss because of the repair.

// DestroyHandle destroys the session with the given handle whoever owns it, removes it from its
// owner's index, and returns the owner ("" for an anonymous session). It is the operator's revoke of
// one session; applications use Revoke, which checks the owner. It returns ErrNotFound when there is
// no such session and ErrInvalidHandle for a malformed handle.
func (s *Store) DestroyHandle(ctx context.Context, handle string) (owner string, err error) {
	if !validHandle(handle) {
		return "", ErrInvalidHandle
	}
	var ok bool
	err = s.durably(ctx, func(ctx context.Context) (err error) {
		owner, ok, err = s.destroyHandle(ctx, handle, "", false)
		return err
	})
	if err != nil {
		return owner, err
	}
	if !ok {
		return "", ErrNotFound
	}
	return owner, nil
}

// DestroyUserExcept destroys every session of uid except the one with handle keep, and reports how
// many it destroyed. It is DestroyOthers for an operator, who knows sessions by handle, not by ID.
func (s *Store) DestroyUserExcept(ctx context.Context, uid, keep string) (int, error) {
	if !validHandle(keep) {
		return 0, ErrInvalidHandle
	}
	return s.destroyUser(ctx, uid, keep)
}

// Dangling returns the members of uid's index whose session key no longer exists, and the index's
// total number of members. Such members are left when a session idles out (its index entry lives
// until the absolute deadline) or when a process died between deleting a session and unindexing it.
// They are harmless for correctness, since List skips and prunes them, but they take memory and
// count against Options.MaxSessionsPerUser until they are pruned. Dangling only reads (ZRANGE, then
// pipelined EXISTS).
func (s *Store) Dangling(ctx context.Context, uid string) (dangling []string, total int, err error) {
	members, err := s.rdb.ZRange(ctx, s.userKey(uid), 0, -1).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("redisession/store: index: %w", err)
	}
	dead, err := s.missing(ctx, members)
	return dead, len(members), err
}

// PruneDangling removes from uid's index those of handles whose session key still does not exist,
// and returns how many members it removed. It checks again right before removing, so a handle that
// Dangling reported a while ago is removed only if its session is still gone; a session never comes
// back under the same handle, so the removal cannot unindex a live session.
func (s *Store) PruneDangling(ctx context.Context, uid string, handles []string) (int, error) {
	dead, err := s.missing(ctx, handles)
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	args := make([]any, len(dead))
	for i, h := range dead {
		args[i] = h
	}
	n, err := s.rdb.ZRem(ctx, s.userKey(uid), args...).Result()
	if err != nil {
		return 0, fmt.Errorf("redisession/store: unindex: %w", err)
	}
	return int(n), nil
}

// missing returns those of handles whose session key does not exist, with pipelined EXISTS.
func (s *Store) missing(ctx context.Context, handles []string) ([]string, error) {
	if len(handles) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(handles))
	for i, h := range handles {
		cmds[i] = pipe.Exists(ctx, s.sessionKey(h))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisession/store: exists: %w", err)
	}
	var out []string
	for i, c := range cmds {
		if c.Val() == 0 {
			out = append(out, handles[i])
		}
	}
	return out, nil
}

// Unindexed returns those of handles whose session belongs to a user but is missing from that user's
// index: sessions that DestroyUser (logout everywhere, or revoking a compromised account) would miss.
// A process dying between creating a session and indexing it, or an eviction of the index under a
// volatile-* policy, leaves such sessions. A session being created at this very moment is briefly
// unindexed too, so callers should ask again about what Unindexed returns before acting on it.
// Anonymous sessions, missing keys and keys that are not hashes are never reported. It sends two
// pipelined round trips: HGET of the owner, then ZSCORE in the owners' indexes.
func (s *Store) Unindexed(ctx context.Context, handles []string) ([]string, error) {
	if len(handles) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	owners := make([]*redis.StringCmd, len(handles))
	for i, h := range handles {
		owners[i] = pipe.HGet(ctx, s.sessionKey(h), fieldUser)
	}
	_, _ = pipe.Exec(ctx) // errors are per command, checked below
	type owned struct{ handle, uid string }
	var check []owned
	for i, c := range owners {
		uid, err := c.Result()
		switch {
		case isNil(err), err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE"):
			continue
		case err != nil:
			return nil, fmt.Errorf("redisession/store: owner: %w", err)
		}
		if uid != "" {
			check = append(check, owned{handles[i], uid})
		}
	}
	if len(check) == 0 {
		return nil, nil
	}
	pipe = s.rdb.Pipeline()
	scores := make([]*redis.FloatCmd, len(check))
	for i, o := range check {
		scores[i] = pipe.ZScore(ctx, s.userKey(o.uid), o.handle)
	}
	_, _ = pipe.Exec(ctx)
	var out []string
	for i, c := range scores {
		err := c.Err()
		switch {
		case isNil(err):
			out = append(out, check[i].handle)
		case err != nil:
			return nil, fmt.Errorf("redisession/store: index: %w", err)
		}
	}
	return out, nil
}

// Reindex adds the session with the given handle to its owner's index, scored by its absolute
// deadline, exactly as Create does (Options.MaxSessionsPerUser applies). It returns the owner and
// whether the session was indexed; an anonymous session, a missing one or one past its deadline is
// left alone. Adding a session that is already indexed changes nothing. If the session is destroyed
// between the read and the write, the result is a dangling member, which List prunes.
func (s *Store) Reindex(ctx context.Context, handle string) (owner string, indexed bool, err error) {
	if !validHandle(handle) {
		return "", false, ErrInvalidHandle
	}
	v, err := s.rdb.HMGet(ctx, s.sessionKey(handle), fieldUser, fieldAbsolute, fieldRotated).Result()
	if err != nil {
		return "", false, fmt.Errorf("redisession/store: reindex: %w", err)
	}
	uid, _ := v[0].(string)
	absText, _ := v[1].(string)
	if uid == "" || v[2] != nil {
		return uid, false, nil // anonymous, or rotated away: its successor is indexed instead
	}
	abs, ok := parseMillis(absText)
	if !ok {
		return uid, false, fmt.Errorf("%w: field %s", ErrCorrupt, fieldAbsolute)
	}
	if !time.Now().Before(abs) {
		return uid, false, nil
	}
	if err := s.indexAdd(ctx, uid, handle, abs); err != nil {
		return uid, false, err
	}
	return uid, true, nil
}
