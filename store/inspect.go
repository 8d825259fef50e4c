package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file holds the operator's view of the data: reading one session without its values, and
// walking every session and index with SCAN. Applications do not need any of it; cmd/sessionctl does.
// Nothing here sends KEYS or deletes by pattern.

// ErrInvalidHandle means a handle is not 64 lowercase hex digits, the shape Handle produces; nothing
// was sent to Redis.
var ErrInvalidHandle = errors.New("redisession/store: invalid session handle")

// Sentinel TTLs reported by SessionTTLs and Details.TTL, as PTTL reports them.
const (
	// TTLNone means the key exists but has no TTL: something other than the store wrote it, since
	// every key the store writes has one.
	TTLNone time.Duration = -1
	// TTLMissing means the key does not exist (any more).
	TTLMissing time.Duration = -2
)

// ValidHandle reports whether h has the shape Handle produces: 64 lowercase hex digits.
func ValidHandle(h string) bool { return validHandle(h) }

// SessionKey returns the Redis key of the session with the given handle.
func (s *Store) SessionKey(handle string) string { return s.sessionKey(handle) }

// IndexKey returns the Redis key of the index of uid's sessions.
func (s *Store) IndexKey(uid string) string { return s.userKey(uid) }

// FieldInfo describes one application field by its name and the size of its value, never by the
// value itself.
type FieldInfo struct {
	// Name is the field's name.
	Name string
	// Bytes is the length of the field's encoded value.
	Bytes int64
}

// Details is an operator's view of one session: its metadata, its TTL and the names and sizes of its
// application fields, but none of their values.
type Details struct {
	// Handle is the session's handle.
	Handle string
	// Meta is the session's metadata. When Corrupt is set it holds only what could be parsed.
	Meta Meta
	// TTL is the key's remaining time to live as Redis reports it, or TTLNone when it has none.
	TTL time.Duration
	// Fields lists the application fields, sorted by name.
	Fields []FieldInfo
	// Corrupt is true when the metadata the store always writes (creation time, deadline, idle
	// timeout, TTL end, last use) is missing or malformed: the hash was not written by the store, or
	// was altered by hand.
	Corrupt bool
}

// inspectFields are the metadata fields Inspect reads.
var inspectFields = [...]string{fieldCreated, fieldAbsolute, fieldIdle, fieldExpires, fieldSeen, fieldUser, fieldLevel, fieldAgent, fieldAddr, fieldCSRF}

// Inspect reads the session with the given handle for an operator: metadata, TTL, and the names and
// value sizes of its application fields (HMGET, HKEYS, PTTL, then HSTRLEN per field), never the
// values, which may hold personal data. Unlike Load it also returns sessions whose metadata is
// corrupt (see Details.Corrupt) and does not hide a session whose deadline has passed but whose key
// Redis has not yet removed. It returns ErrNotFound when there is no such key and ErrInvalidHandle
// for a malformed handle.
func (s *Store) Inspect(ctx context.Context, handle string) (*Details, error) {
	if !validHandle(handle) {
		return nil, ErrInvalidHandle
	}
	key := s.sessionKey(handle)
	pipe := s.rdb.Pipeline()
	metaCmd := pipe.HMGet(ctx, key, inspectFields[:]...)
	keysCmd := pipe.HKeys(ctx, key)
	ttlCmd := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return nil, fmt.Errorf("redisession/store: inspect: %w", err)
	}
	if ttlCmd.Val() == TTLMissing {
		return nil, ErrNotFound
	}
	m := make(map[string]string, len(inspectFields))
	for i, v := range metaCmd.Val() {
		if str, ok := v.(string); ok {
			m[inspectFields[i]] = str
		}
	}
	d := &Details{Handle: handle, TTL: ttlCmd.Val(), Fields: []FieldInfo{}}
	if r, err := parseRecord(handle, m); err == nil {
		d.Meta = r.Meta
	} else {
		d.Corrupt = true
		d.Meta = Meta{UserID: m[fieldUser], Level: m[fieldLevel], UserAgent: m[fieldAgent], RemoteAddr: m[fieldAddr], CSRFToken: m[fieldCSRF]}
	}
	var names []string
	for _, k := range keysCmd.Val() {
		if !strings.HasPrefix(k, ReservedPrefix) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return d, nil
	}
	slices.Sort(names)
	pipe = s.rdb.Pipeline()
	sizes := make([]*redis.IntCmd, len(names))
	for i, n := range names {
		sizes[i] = pipe.HStrLen(ctx, key, n)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return nil, fmt.Errorf("redisession/store: inspect: %w", err)
	}
	for i, n := range names {
		d.Fields = append(d.Fields, FieldInfo{Name: n, Bytes: sizes[i].Val()})
	}
	return d, nil
}

// SessionTTLs returns the remaining TTL of each handle's session key in one pipelined round trip of
// PTTL commands: TTLNone for a key without a TTL and TTLMissing for a key that is gone. The handles
// are used as given, so a key found by ScanSessions that is not a well-formed handle still works.
func (s *Store) SessionTTLs(ctx context.Context, handles []string) ([]time.Duration, error) {
	if len(handles) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.DurationCmd, len(handles))
	for i, h := range handles {
		cmds[i] = pipe.PTTL(ctx, s.sessionKey(h))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisession/store: ttl: %w", err)
	}
	out := make([]time.Duration, len(handles))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// SessionMemory returns the bytes Redis reports (MEMORY USAGE) for each handle's session key, in one
// pipelined round trip; a missing key counts 0.
func (s *Store) SessionMemory(ctx context.Context, handles []string) ([]int64, error) {
	if len(handles) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(handles))
	for i, h := range handles {
		cmds[i] = pipe.MemoryUsage(ctx, s.sessionKey(h))
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNil(err) {
		return nil, fmt.Errorf("redisession/store: memory usage: %w", err)
	}
	out := make([]int64, len(handles))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// IndexSizes returns the number of members (ZCARD) of each user's session index, in one pipelined
// round trip; a missing index counts 0.
func (s *Store) IndexSizes(ctx context.Context, uids []string) ([]int64, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(uids))
	for i, u := range uids {
		cmds[i] = pipe.ZCard(ctx, s.userKey(u))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisession/store: index size: %w", err)
	}
	out := make([]int64, len(uids))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// ScanSessions walks every session key with SCAN MATCH <prefix>session:* (never KEYS, so the server
// stays responsive however many keys it holds) and calls fn with each non-empty batch of handles one
// SCAN call returns; count is SCAN's COUNT hint (0 means 500). A handle is the part of the key after
// "<prefix>session:", normally a well-formed handle. SCAN may return a key more than once, and keys
// created or deleted during the walk may or may not be seen. On Cluster every master is walked in
// turn. The walk stops at the first error, from Redis or from fn, which ScanSessions returns: fn can
// end a walk early by returning an error of its own.
func (s *Store) ScanSessions(ctx context.Context, count int64, fn func(handles []string) error) error {
	head := s.opts.Prefix + "session:"
	return s.scan(ctx, globEscape(head)+"*", count, func(keys []string) error {
		hs := make([]string, 0, len(keys))
		for _, k := range keys {
			if h, ok := strings.CutPrefix(k, head); ok {
				hs = append(hs, h)
			}
		}
		if len(hs) == 0 {
			return nil
		}
		return fn(hs)
	})
}

// ScanIndexes walks every user index with SCAN MATCH <prefix>user:*:sessions, like ScanSessions, and
// calls fn with each non-empty batch of user IDs.
func (s *Store) ScanIndexes(ctx context.Context, count int64, fn func(uids []string) error) error {
	head, tail := s.opts.Prefix+"user:", ":sessions"
	return s.scan(ctx, globEscape(head)+"*"+globEscape(tail), count, func(keys []string) error {
		uids := make([]string, 0, len(keys))
		for _, k := range keys {
			if rest, ok := strings.CutPrefix(k, head); ok {
				if uid, ok := strings.CutSuffix(rest, tail); ok && uid != "" {
					uids = append(uids, uid)
				}
			}
		}
		if len(uids) == 0 {
			return nil
		}
		return fn(uids)
	})
}

// scan runs SCAN MATCH pattern over the standalone server, or over each Cluster master in turn, and
// calls fn with every non-empty page of keys.
func (s *Store) scan(ctx context.Context, pattern string, count int64, fn func(keys []string) error) error {
	if count <= 0 {
		count = 500
	}
	walk := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, count).Result()
			if err != nil {
				return fmt.Errorf("redisession/store: scan: %w", err)
			}
			if len(keys) > 0 {
				if err := fn(keys); err != nil {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	cc, ok := s.rdb.(*redis.ClusterClient)
	if !ok {
		return walk(ctx, s.rdb)
	}
	// ForEachMaster runs its callbacks concurrently; fn is promised one batch at a time.
	var mu sync.Mutex
	return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		return walk(ctx, node)
	})
}

// globEscape escapes the characters SCAN MATCH treats specially, so a prefix such as "app[1]:" is
// matched literally.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseMillis parses a unix-millisecond metadata value; ok is false when it is absent or malformed.
func parseMillis(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}
