package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store keeps sessions in Redis. It is safe for concurrent use; create one per application and
// share it.
type Store struct {
	rdb     redis.UniversalClient
	opts    Options
	scripts scripts
	log     *slog.Logger
	cache   *sessionCache // the client's client-side cache, nil when loads are not cached
	writes  writePath     // how write scripts reach Redis
}

// New returns a Store on rdb, which may be a standalone, Sentinel (failover) or Cluster client. Unless
// opts.SkipChecks is set it first checks the server's eviction policy and persistence: an allkeys-*
// policy is refused with ErrEvictionPolicy unless opts.AllowEvictingPolicy is set, and the other
// risks are logged as warnings (see Check). When the client has a client-side cache, the store finds
// it and keeps it consistent (see Options.ClientSideCache).
func New(ctx context.Context, rdb redis.UniversalClient, opts Options) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{rdb: rdb, opts: o, scripts: newScripts(), log: o.Logger}
	if err := s.checkDurable(); err != nil {
		return nil, err
	}
	if err := s.attachCache(ctx); err != nil {
		return nil, err
	}
	s.attachAutopipeline()
	if !o.SkipChecks {
		if _, err := s.Check(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Options returns the store's options with defaults applied.
func (s *Store) Options() Options { return s.opts }

// Client returns the Redis client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// NeedsRefresh reports whether a read of r at now should slide its TTL: true when the recorded end
// has fallen more than the refresh granularity (at most a tenth of r's idle timeout) below
// min(now + idle timeout, absolute deadline).
func (s *Store) NeedsRefresh(r *Record, now time.Time) bool {
	want := now.Add(r.Meta.IdleTimeout)
	if want.After(r.Meta.AbsoluteDeadline) {
		want = r.Meta.AbsoluteDeadline
	}
	g := min(s.opts.RefreshGranularity, r.Meta.IdleTimeout/10)
	if r.Meta.LevelIdleTimeout > 0 {
		// The level's idle timeout counts from the last refresh: keep that within a tenth of it.
		g = min(g, r.Meta.LevelIdleTimeout/10)
		if r.Meta.LevelEndsSession {
			want = minTime(want, now.Add(r.Meta.LevelIdleTimeout), r.Meta.LevelDeadline)
		}
	}
	return want.Sub(r.Meta.Expires) > g
}

func minTime(a time.Time, bs ...time.Time) time.Time {
	for _, b := range bs {
		if b.Before(a) {
			a = b
		}
	}
	return a
}

// Load reads the session with the given ID: exactly one round trip of one read-only command,
// HGETALL, and no write; none at all when the client-side cache holds the session (see
// Options.ClientSideCache). It returns ErrRotated for a session rotated to a new ID, ErrNotFound for a
// session that does not exist or whose recorded
// end or absolute deadline has passed (ErrDeadlinePassed, which wraps it, for the latter), and
// ErrInvalidID, without a round trip, for a malformed ID.
func (s *Store) Load(ctx context.Context, id string) (*Record, error) {
	if !ValidID(id) {
		return nil, ErrInvalidID
	}
	h := Handle(id)
	key := s.sessionKey(h)
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("redisession/store: load: %w", err)
	}
	if _, dead := m[fieldDead]; len(m) == 0 || dead {
		s.forget(key) // an unknown ID takes no place in the client-side cache
		return nil, ErrNotFound
	}
	r, err := parseRecord(h, m)
	if err != nil {
		return nil, err
	}
	if r.successor != "" {
		return nil, ErrRotated
	}
	if err := s.openRecord(r); err != nil {
		return nil, err
	}
	// Redis removes the key when its TTL ends; this check covers a reply served from a client-side
	// cache, or one read in the instant before expiry.
	now := time.Now()
	if !now.Before(r.Meta.AbsoluteDeadline) {
		s.forget(key)
		return nil, ErrDeadlinePassed
	}
	if !now.Before(r.Meta.Expires) || r.Meta.lapse(now) {
		s.forget(key)
		return nil, ErrNotFound
	}
	return r, nil
}

// Refresh slides the TTL of the session with the given ID to min(now + its idle timeout, its absolute
// deadline) by Redis' clock, unless another request did so within the refresh granularity. It returns
// the new end, or ErrNotFound when the session is gone (ErrDeadlinePassed when it found the session
// past its absolute deadline and deleted it); it never recreates a session.
func (s *Store) Refresh(ctx context.Context, id string) (time.Time, error) {
	if !ValidID(id) {
		return time.Time{}, ErrInvalidID
	}
	key := s.sessionKey(Handle(id))
	defer s.forget(key)
	v, err := s.run(ctx, s.scripts.refresh, []string{key}, s.opts.RefreshGranularity.Milliseconds()).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("redisession/store: refresh: %w", err)
	}
	rep, err := parseReply(v)
	if err != nil {
		return time.Time{}, err
	}
	if err := rep.statusErr(); err != nil {
		return time.Time{}, err
	}
	exp, err := rep.int(1)
	return time.UnixMilli(exp), err
}

// reply is a script's answer: a status code followed by values.
type reply []any

// parseReply checks the shape every script answer shares: an array whose first element is an integer.
func parseReply(v any) (reply, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("%w: unexpected script reply %T", ErrCorrupt, v)
	}
	if _, ok := arr[0].(int64); !ok {
		return nil, fmt.Errorf("%w: unexpected script status %T", ErrCorrupt, arr[0])
	}
	return reply(arr), nil
}

func (r reply) status() int64 { return r[0].(int64) }

// statusErr maps the scripts' shared status codes to errors; statuses 1 and 2 are the caller's.
func (r reply) statusErr() error {
	switch r.status() {
	case 1, 2:
		return nil
	case 0:
		return ErrNotFound
	case -6:
		return ErrDeadlinePassed
	case -1:
		return fmt.Errorf("%w: too many fields", ErrTooLarge)
	case -2:
		return fmt.Errorf("%w: session bytes", ErrTooLarge)
	case -3:
		name, _ := r.str(1)
		return fmt.Errorf("%w: %q", ErrNotInteger, truncate(name))
	case -5:
		return fmt.Errorf("%w: metadata missing", ErrCorrupt)
	case -7:
		return ErrRotated
	case -10:
		return fmt.Errorf("%w: the session ended while it was being rotated", ErrRotated)
	default:
		return fmt.Errorf("%w: unknown script status %d", ErrCorrupt, r.status())
	}
}

func (r reply) int(i int) (int64, error) {
	if i >= len(r) {
		return 0, fmt.Errorf("%w: script reply too short", ErrCorrupt)
	}
	switch v := r[i].(type) {
	case int64:
		return v, nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: script reply element %d", ErrCorrupt, i)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%w: script reply element %d is %T", ErrCorrupt, i, r[i])
}

// str returns element i as a string; ok is false when it is absent or nil.
func (r reply) str(i int) (string, bool) {
	if i >= len(r) {
		return "", false
	}
	v, ok := r[i].(string)
	return v, ok
}

// isNil reports whether err is Redis' nil reply.
func isNil(err error) bool { return errors.Is(err, redis.Nil) }
