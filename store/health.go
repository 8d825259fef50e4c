package store

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Health is what Check found out about the server(s) behind the client.
type Health struct {
	// Policy is the maxmemory-policy; empty when it could not be read. On Cluster, the first
	// risky policy found on any master.
	Policy string
	// PolicyVerified is false when CONFIG was unavailable (renamed, denied by ACL, managed Redis).
	PolicyVerified bool
	// AOF and RDB report the persistence that is on.
	AOF, RDB bool
	// PersistenceVerified is false when persistence could not be read.
	PersistenceVerified bool
	// Warnings are the risks found, each a full sentence; they are also logged.
	Warnings []string
}

// Check reads the eviction policy and persistence settings of every master behind the client. An
// allkeys-* policy returns ErrEvictionPolicy (unless Options.AllowEvictingPolicy) because Redis may
// then evict live sessions silently. A volatile-* policy, persistence switched off, or settings that
// cannot be read (CONFIG renamed or denied) are warnings, logged and returned in Health.Warnings.
func (s *Store) Check(ctx context.Context) (Health, error) {
	var (
		mu     sync.Mutex
		h      = Health{PolicyVerified: true, PersistenceVerified: true, AOF: true, RDB: true}
		policy []string
	)
	check := func(ctx context.Context, c *redis.Client) error {
		// Only the three settings: CONFIG GET * would also read passwords (requirepass, masterauth).
		res := map[string]string{}
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, name := range [...]string{"maxmemory-policy", "appendonly", "save"} {
				p.ConfigGet(ctx, name)
			}
			return nil
		})
		for _, cmd := range cmds {
			if m, e := cmd.(*redis.MapStringStringCmd).Result(); e == nil {
				for k, v := range m {
					res[k] = v
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			h.PolicyVerified, h.PersistenceVerified = false, false
			return nil
		}
		policy = append(policy, res["maxmemory-policy"])
		h.AOF = h.AOF && res["appendonly"] == "yes"
		h.RDB = h.RDB && strings.TrimSpace(res["save"]) != ""
		return nil
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		h.PolicyVerified, h.PersistenceVerified = false, false
	}
	if err != nil {
		return h, fmt.Errorf("redisession/store: check: %w", err)
	}
	for _, p := range policy {
		if h.Policy == "" || strings.HasPrefix(p, "allkeys-") || (strings.HasPrefix(p, "volatile-") && !strings.HasPrefix(h.Policy, "allkeys-")) {
			h.Policy = p
		}
	}
	if !h.PersistenceVerified {
		h.AOF, h.RDB = false, false
	}
	warn := func(msg string) {
		h.Warnings = append(h.Warnings, msg)
		s.log.WarnContext(ctx, "redisession: "+msg)
	}
	switch {
	case !h.PolicyVerified:
		warn("the eviction policy and persistence could not be verified (CONFIG is unavailable): make sure maxmemory-policy is noeviction and AOF or RDB is on")
	case strings.HasPrefix(h.Policy, "allkeys-"):
		if !s.opts.AllowEvictingPolicy {
			return h, fmt.Errorf("%w: maxmemory-policy is %s, under which Redis silently evicts live sessions; use noeviction (a dedicated instance), or set AllowEvictingPolicy", ErrEvictionPolicy, h.Policy)
		}
		warn("maxmemory-policy is " + h.Policy + ": Redis may evict live sessions silently (allowed by AllowEvictingPolicy)")
	case strings.HasPrefix(h.Policy, "volatile-"):
		warn("maxmemory-policy is " + h.Policy + ": every session and index has a TTL, so Redis may evict live sessions, and logout-all can miss sessions whose index was evicted; prefer noeviction on a dedicated instance")
	}
	if h.PersistenceVerified && !h.AOF && !h.RDB {
		warn("neither AOF nor RDB persistence is on: a Redis restart logs every user out; set appendonly yes")
	}
	return h, nil
}
