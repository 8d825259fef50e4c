package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file makes destroys durable across a failover (Options.DurableDestroy): Redis replicates
// asynchronously, so a master that acknowledged a logout and then died before its replica had the
// DEL would hand the session back to whoever holds its cookie once the replica is promoted. A
// durable destroy ends with one fence write per session key it ended (fence.lua) on one pinned
// connection to the key's master, then WAIT on that connection. WAIT waits for the master's
// replication offset as of the connection's last write (Redis 7.2 and later; 7.0 takes the offset
// after any command of the connection), so the destroy's own commands, which go through the pool or
// the autopipeliner, are not what it counts: the fence is, and since it is written after the
// destroy (and after any earlier destroy of the same key by another request or app node), the
// replicas' acknowledgement covers them. The fence also checks that the session is still gone on
// the master it reaches: after a failover during the call the destroy may have been lost with the
// old master, and the call must not report it durable.

//go:embed fence.lua
var fenceLua string

// fenceScript is fence.lua; it touches one key.
var fenceScript = redis.NewScript(fenceLua)

// DefaultDurableTimeout bounds the wait for replicas of a durable destroy when
// DurableOptions.Timeout is zero.
const DefaultDurableTimeout = time.Second

// ErrNotDurable means a destroy (logout, logout everywhere, lockout, revoke) was applied on the
// master it reached but is not confirmed to have reached Options.DurableDestroy.Replicas replicas:
// fewer acknowledged within DurableDestroy.Timeout, the wait itself failed (the master went away),
// or a failover during the call brought a destroyed session back (the message says which). A
// failover now could still bring the session back, so the operation did not succeed: callers answer
// it as a temporary failure (503) and retry. Retrying is safe: destroys are idempotent, and a
// retried durable destroy waits for the replicas again, also for a session it finds already gone.
// Functions that report what they destroyed (DestroyUser, DestroyUserHandles, DestroyHandle) return
// it together with this error.
var ErrNotDurable = errors.New("redisession/store: destroy not confirmed by enough replicas")

// DurableOptions make destroys wait for replicas; see Options.DurableDestroy.
type DurableOptions struct {
	// Replicas is how many replicas must acknowledge a destroy (Redis WAIT) before it returns
	// without error. Default: 0, a destroy returns once the master has applied it.
	Replicas int
	// Timeout bounds the wait for the replicas' acknowledgement; it must be at least 1ms (WAIT with
	// 0 would block forever). It adds to the request only when replicas lag or are down: an
	// acknowledgement normally takes one round trip to the replica. A waiting destroy holds one
	// connection of the client's pool. Default: 1 second (DefaultDurableTimeout) when Replicas is
	// set. Keep it below the request deadline, or the deadline ends the wait first (the error still
	// wraps ErrNotDurable).
	Timeout time.Duration
}

// withDefaults checks d and fills in the default timeout.
func (d DurableOptions) withDefaults() (DurableOptions, error) {
	if d.Replicas < 0 || d.Timeout < 0 {
		return d, fmt.Errorf("%w: DurableDestroy has a negative Replicas or Timeout", ErrInvalidOptions)
	}
	if d.Replicas == 0 {
		return d, nil
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultDurableTimeout
	}
	if d.Timeout < time.Millisecond {
		return d, fmt.Errorf("%w: DurableDestroy.Timeout must be at least 1ms (%v)",
			ErrInvalidOptions, d.Timeout)
	}
	return d, nil
}

// checkDurable refuses a client a durable destroy cannot pin a connection of: WAIT must run on the
// connection that wrote, which needs a *redis.Client (standalone or Sentinel) or, per master, a
// *redis.ClusterClient.
func (s *Store) checkDurable() error {
	if s.opts.DurableDestroy.Replicas == 0 {
		return nil
	}
	switch s.rdb.(type) {
	case *redis.Client, *redis.ClusterClient:
		return nil
	}
	return fmt.Errorf("%w: DurableDestroy needs a *redis.Client (standalone or Sentinel) "+
		"or a *redis.ClusterClient, not a %T", ErrInvalidOptions, s.rdb)
}

// fenceHandle names the fence key a durable destroy writes when it ended no session key (a retried
// logout everywhere that finds the index already empty), so that its wait still covers what an
// earlier attempt destroyed. No session ID hashes to it.
var fenceHandle = strings.Repeat("0", 64)

// fenceCtxKey carries a durable destroy's fenceSet in its context.
type fenceCtxKey struct{}

// fenceSet collects the session keys a durable destroy ran destroy.lua on.
type fenceSet struct {
	mu    sync.Mutex
	keys  []string
	ended map[string]bool // the destroy deleted the key or found its tombstone: it must stay dead
}

// noteDestroyed records, for a durable destroy under way in ctx, that destroy.lua ran on key; ended
// says it deleted a session or found a rotated session's tombstone there (rather than nothing, or
// another user's session). Outside a durable destroy it does nothing.
func noteDestroyed(ctx context.Context, key string, ended bool) {
	fs, _ := ctx.Value(fenceCtxKey{}).(*fenceSet)
	if fs == nil {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, seen := fs.ended[key]; !seen {
		fs.keys = append(fs.keys, key)
	}
	fs.ended[key] = fs.ended[key] || ended
}

// durably runs op, a destroy; with Options.DurableDestroy set it then waits until the replicas have
// every session key op ended (see the top of this file). An error of op is returned as it is,
// without waiting; an error of the wait wraps ErrNotDurable.
func (s *Store) durably(ctx context.Context, op func(context.Context) error) error {
	if s.opts.DurableDestroy.Replicas == 0 {
		return op(ctx)
	}
	fs := &fenceSet{ended: map[string]bool{}}
	if err := op(context.WithValue(ctx, fenceCtxKey{}, fs)); err != nil {
		return err
	}
	return s.awaitReplicas(ctx, fs)
}

// awaitReplicas fences the keys of fs and waits for the replicas, on each master that holds one.
func (s *Store) awaitReplicas(ctx context.Context, fs *fenceSet) error {
	fs.mu.Lock()
	keys, ended := fs.keys, fs.ended
	fs.mu.Unlock()
	switch c := s.rdb.(type) {
	case *redis.Client:
		if len(keys) == 0 {
			keys = []string{s.sessionKey(fenceHandle)}
		}
		return s.fenceAndWait(ctx, c, keys, ended)
	case *redis.ClusterClient:
		// Each master fences and waits for its own replicas; a master no key lives on is not
		// asked (so a call that ended no session key waits for nothing: see docs/reliability.md).
		var order []*redis.Client
		groups := map[*redis.Client][]string{}
		for _, k := range keys {
			node, err := c.MasterForKey(ctx, k)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrNotDurable, err)
			}
			if _, ok := groups[node]; !ok {
				order = append(order, node)
			}
			groups[node] = append(groups[node], k)
		}
		errs := make([]error, len(order))
		var wg sync.WaitGroup
		for i, node := range order {
			wg.Go(func() { errs[i] = s.fenceAndWait(ctx, node, groups[node], ended) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return s.checkDurable() // New refused any other client already
}

// fenceAndWait runs fence.lua on each of keys, all on one master, then WAIT, on one connection of
// node. It fails when a key whose session the destroy ended holds a live session again (a failover
// lost the destroy) or when fewer replicas than asked acknowledge in time.
func (s *Store) fenceAndWait(ctx context.Context, node *redis.Client, keys []string, ended map[string]bool) error {
	conn := node.Conn()
	defer func() { _ = conn.Close() }()
	cmds, err := fence(ctx, conn, keys)
	for _, k := range keys {
		s.forget(k)
	}
	if err != nil {
		return fmt.Errorf("%w: fence: %w", ErrNotDurable, err)
	}
	live := 0
	for i, c := range cmds {
		v, err := c.Int64()
		if err != nil {
			return fmt.Errorf("%w: fence: %w", ErrNotDurable, err)
		}
		if v == 0 && ended[keys[i]] {
			live++
		}
	}
	if live > 0 {
		return fmt.Errorf("%w: %d destroyed session(s) live again on the current master "+
			"(a failover lost the destroy); destroy again", ErrNotDurable, live)
	}
	d := s.opts.DurableDestroy
	// WAIT goes alone, not in the fence pipeline: go-redis gives a lone WAIT a read deadline of its
	// timeout plus a margin, and a pipeline only the client's ReadTimeout.
	n, err := conn.Wait(ctx, d.Replicas, d.Timeout).Result()
	if err != nil {
		return fmt.Errorf("%w: wait: %w", ErrNotDurable, err)
	}
	if n < int64(d.Replicas) {
		return fmt.Errorf("%w: %d of %d replica(s) acknowledged within %v", ErrNotDurable, n, d.Replicas, d.Timeout)
	}
	return nil
}

// fence runs fence.lua on each of keys in one pipeline on conn, by EVALSHA, and by EVAL when the
// server does not know the script (a restarted or newly promoted master).
func fence(ctx context.Context, conn *redis.Conn, keys []string) ([]*redis.Cmd, error) {
	life := tombstoneLife.Milliseconds()
	send := func(eval bool) ([]*redis.Cmd, error) {
		cmds := make([]*redis.Cmd, len(keys))
		_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				if eval {
					cmds[i] = fenceScript.Eval(ctx, p, []string{k}, life)
				} else {
					cmds[i] = fenceScript.EvalSha(ctx, p, []string{k}, life)
				}
			}
			return nil
		})
		return cmds, err
	}
	cmds, err := send(false)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmds, err = send(true)
	}
	return cmds, err
}
