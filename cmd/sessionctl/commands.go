package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/redisession/redisession/store"
)

// sessionJSON is one session in list and show output.
type sessionJSON struct {
	Handle           string     `json:"handle"`
	UserID           string     `json:"user_id,omitempty"`
	Level            string     `json:"level,omitempty"`
	Created          *time.Time `json:"created,omitempty"`
	LastSeen         *time.Time `json:"last_seen,omitempty"`
	Expires          *time.Time `json:"expires,omitempty"`
	AbsoluteDeadline *time.Time `json:"absolute_deadline,omitempty"`
	IdleTimeoutMS    int64      `json:"idle_timeout_ms"`
	UserAgent        string     `json:"user_agent,omitempty"`
	RemoteAddr       string     `json:"remote_addr,omitempty"`
}

// toJSON converts a session's metadata for output. The CSRF token is a secret and is left out.
func toJSON(handle string, m store.Meta) sessionJSON {
	return sessionJSON{
		Handle: handle, UserID: m.UserID, Level: m.Level,
		Created: jsonTime(m.Created), LastSeen: jsonTime(m.LastSeen), Expires: jsonTime(m.Expires),
		AbsoluteDeadline: jsonTime(m.AbsoluteDeadline), IdleTimeoutMS: m.IdleTimeout.Milliseconds(),
		UserAgent: m.UserAgent, RemoteAddr: m.RemoteAddr,
	}
}

// printSessions prints sessions as a table.
func (e *env) printSessions(list []store.Info) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HANDLE\tCREATED\tLAST SEEN\tEXPIRES\tLEVEL\tADDRESS\tUSER AGENT")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Handle, when(s.Meta.Created), when(s.Meta.LastSeen),
			when(s.Meta.Expires), clean(s.Meta.Level), clean(s.Meta.RemoteAddr), shorten(clean(s.Meta.UserAgent), 60))
	}
	_ = tw.Flush()
}

// setupList defines list: a user's live sessions.
func setupList(fs *flag.FlagSet) func(e *env) int {
	user := fs.String("user", "", "the user `ID` whose sessions to list (required)")
	return func(e *env) int {
		if *user == "" {
			return e.fail("list", usagef("--user is required"))
		}
		list, err := e.st.List(e.ctx, *user)
		if err != nil {
			return e.fail("list", err)
		}
		if e.g.json {
			out := make([]sessionJSON, 0, len(list))
			for _, s := range list {
				out = append(out, toJSON(s.Handle, s.Meta))
			}
			e.printJSON(out)
			return exitOK
		}
		if len(list) == 0 {
			e.printf("user %s has no live sessions\n", clean(*user))
			return exitOK
		}
		e.printSessions(list)
		return exitOK
	}
}

// setupShow defines show: one session's metadata and field names and sizes, never its values.
func setupShow(fs *flag.FlagSet) func(e *env) int {
	handle := fs.String("handle", "", "the session's `handle`, as list prints it (required)")
	return func(e *env) int {
		if *handle == "" {
			return e.fail("show", usagef("--handle is required"))
		}
		d, err := e.st.Inspect(e.ctx, *handle)
		if errors.Is(err, store.ErrNotFound) {
			return e.fail("show", fmt.Errorf("no session with handle %s", *handle))
		}
		if err != nil {
			return e.fail("show", err)
		}
		type fieldJSON struct {
			Name  string `json:"name"`
			Bytes int64  `json:"bytes"`
		}
		var total int64
		fields := make([]fieldJSON, len(d.Fields))
		for i, f := range d.Fields {
			fields[i] = fieldJSON{f.Name, f.Bytes}
			total += f.Bytes
		}
		ttl := int64(-1)
		if d.TTL >= 0 {
			ttl = d.TTL.Milliseconds()
		}
		if e.g.json {
			e.printJSON(struct {
				sessionJSON
				TTLMS        int64       `json:"ttl_ms"`
				CSRFTokenSet bool        `json:"csrf_token_set"`
				Corrupt      bool        `json:"corrupt"`
				Fields       []fieldJSON `json:"fields"`
				FieldBytes   int64       `json:"field_bytes"`
			}{toJSON(d.Handle, d.Meta), ttl, d.Meta.CSRFToken != "", d.Corrupt, fields, total})
			return exitOK
		}
		m := d.Meta
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
		row("handle", d.Handle)
		row("key", clean(e.st.SessionKey(d.Handle)))
		row("user", clean(m.UserID))
		row("level", clean(m.Level))
		row("created", when(m.Created))
		row("last seen", when(m.LastSeen))
		row("expires", when(m.Expires))
		row("absolute deadline", when(m.AbsoluteDeadline))
		row("idle timeout", dur(m.IdleTimeout))
		if d.TTL == store.TTLNone {
			row("ttl", "NONE: this key never expires")
		} else {
			row("ttl", dur(d.TTL))
		}
		row("address", clean(m.RemoteAddr))
		row("user agent", clean(m.UserAgent))
		row("csrf token", map[bool]string{true: "set", false: "-"}[m.CSRFToken != ""])
		if d.Corrupt {
			row("corrupt", "yes: the store's metadata is missing or malformed")
		}
		_ = tw.Flush()
		e.printf("\n%d application fields, %s in values (values are never shown):\n", len(d.Fields), bytesHuman(total))
		tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		for _, f := range d.Fields {
			fmt.Fprintf(tw, "  %s\t%d B\n", clean(f.Name), f.Bytes)
		}
		_ = tw.Flush()
		return exitOK
	}
}

// setupRevoke defines revoke: all of a user's sessions (but one), behind --yes, or one session.
func setupRevoke(fs *flag.FlagSet) func(e *env) int {
	user := fs.String("user", "", "revoke this user `ID`'s sessions (with --handle: only if the session is theirs)")
	handle := fs.String("handle", "", "revoke only the session with this `handle`")
	except := fs.String("except", "", "with --user: keep the session with this `handle`")
	yes := fs.Bool("yes", false, "really revoke all of a user's sessions; without it, only print what would be revoked")
	return func(e *env) int {
		switch {
		case *handle != "" && *except != "":
			return e.fail("revoke", usagef("--except goes with --user, not with --handle"))
		case *handle != "":
			return revokeOne(e, *user, *handle)
		case *user != "":
			return revokeUser(e, *user, *except, *yes)
		default:
			return e.fail("revoke", usagef("give --user U (all of U's sessions) or --handle H (one session)"))
		}
	}
}

// revokeOne revokes one session, checking its owner when user is given.
func revokeOne(e *env, user, handle string) int {
	if !store.ValidHandle(handle) {
		return e.fail("revoke", usagef("%q is not a session handle (64 hex digits, as list prints them)", handle))
	}
	var err error
	owner := user
	if user != "" {
		err = e.st.Revoke(e.ctx, user, handle)
	} else {
		owner, err = e.st.DestroyHandle(e.ctx, handle)
	}
	if errors.Is(err, store.ErrNotFound) {
		msg := "no session with handle " + handle
		if user != "" {
			msg += " belongs to user " + clean(user)
		}
		return e.fail("revoke", errors.New(msg))
	}
	if err != nil {
		return e.fail("revoke", err)
	}
	if e.g.json {
		e.printJSON(struct {
			Revoked []string `json:"revoked"`
			UserID  string   `json:"user_id"`
		}{[]string{handle}, owner})
		return exitOK
	}
	if owner == "" {
		e.printf("revoked session %s (anonymous)\n", handle)
	} else {
		e.printf("revoked session %s of user %s\n", handle, clean(owner))
	}
	return exitOK
}

// revokeUser revokes all of a user's sessions but except, printing the plan first; without yes it
// stops there.
func revokeUser(e *env, user, except string, yes bool) int {
	if except != "" && !store.ValidHandle(except) {
		return e.fail("revoke", usagef("--except %q is not a session handle (64 hex digits, as list prints them)", except))
	}
	list, err := e.st.List(e.ctx, user)
	if err != nil {
		return e.fail("revoke", err)
	}
	var doomed []store.Info
	kept := false
	for _, s := range list {
		if s.Handle == except {
			kept = true
			continue
		}
		doomed = append(doomed, s)
	}
	if except != "" && !kept {
		// A mistyped handle would otherwise revoke every session, the one meant to be kept too.
		return e.fail("revoke", fmt.Errorf("--except %s is not a live session of user %s; nothing was revoked", except, clean(user)))
	}
	handles := make([]string, len(doomed))
	for i, s := range doomed {
		handles[i] = s.Handle
	}
	type result struct {
		UserID  string   `json:"user_id"`
		Applied bool     `json:"applied"`
		Planned []string `json:"planned"`
		Revoked int      `json:"revoked"`
		Kept    string   `json:"kept,omitempty"`
	}
	res := result{UserID: user, Planned: handles, Kept: except}
	if len(doomed) == 0 {
		if e.g.json {
			e.printJSON(res)
		} else {
			e.printf("user %s has no live sessions to revoke\n", clean(user))
		}
		return exitOK
	}
	if !yes {
		if e.g.json {
			e.printJSON(res)
		} else {
			e.printf("would revoke %d session(s) of user %s:\n", len(doomed), clean(user))
			e.printSessions(doomed)
			e.printf("\nNothing was revoked. Run again with --yes to revoke them.\n")
		}
		return exitNeedsYes
	}
	var n int
	if except != "" {
		n, err = e.st.DestroyUserExcept(e.ctx, user, except)
	} else {
		n, err = e.st.DestroyUser(e.ctx, user)
	}
	res.Applied, res.Revoked = true, n
	if err != nil {
		fmt.Fprintf(e.stderr, "sessionctl revoke: revoked %d session(s) of user %s, then failed: %v\n", n, clean(user), err)
		return exitError
	}
	if e.g.json {
		e.printJSON(res)
	} else {
		e.printf("revoked %d session(s) of user %s\n", n, clean(user))
		if except != "" {
			e.printf("kept session %s\n", except)
		}
	}
	return exitOK
}

// ttlBucket is one bar of the TTL distribution: TTLs below upTo that no earlier bucket took.
type ttlBucket struct {
	label string
	upTo  time.Duration
}

// ttlBuckets are the upper bounds of stats' TTL distribution.
var ttlBuckets = []ttlBucket{
	{"< 1m", time.Minute},
	{"1m-5m", 5 * time.Minute},
	{"5m-15m", 15 * time.Minute},
	{"15m-30m", 30 * time.Minute},
	{"30m-1h", time.Hour},
	{"1h-6h", 6 * time.Hour},
	{"6h-12h", 12 * time.Hour},
	{"12h-24h", 24 * time.Hour},
	{">= 24h", 1<<63 - 1},
}

// setupStats defines stats: counts, a memory estimate and the TTL distribution.
func setupStats(fs *flag.FlagSet) func(e *env) int {
	limit := fs.Int("limit", 1000000, "count at most `N` session keys and N user indexes (0: all of them)")
	sample := fs.Int("sample", 100, "estimate the sessions' memory from `N` of them")
	return func(e *env) int {
		if *limit < 0 || *sample < 0 {
			return e.fail("stats", usagef("--limit and --sample must not be negative"))
		}
		return stats(e, *limit, *sample)
	}
}

// stats counts sessions and index entries and estimates their memory.
func stats(e *env, limit, sampleN int) int {
	type bucket struct {
		Label string `json:"label"`
		Count int    `json:"count"`
	}
	buckets := make([]bucket, len(ttlBuckets))
	for i, b := range ttlBuckets {
		buckets[i].Label = b.label
	}
	var noTTL int
	var sample []string
	n, cut, err := e.scanSessions(limit, "stats: session keys", func(hs []string) error {
		ttls, err := e.st.SessionTTLs(e.ctx, hs)
		if err != nil {
			return err
		}
		for _, t := range ttls {
			switch {
			case t == store.TTLNone:
				noTTL++
			case t == store.TTLMissing:
			default:
				i := slices.IndexFunc(ttlBuckets, func(b ttlBucket) bool { return t < b.upTo })
				buckets[i].Count++
			}
		}
		if k := sampleN - len(sample); k > 0 {
			sample = append(sample, hs[:min(k, len(hs))]...)
		}
		return nil
	})
	if err != nil {
		return e.fail("stats", err)
	}
	var avg, est int64
	if len(sample) > 0 {
		mem, err := e.st.SessionMemory(e.ctx, sample)
		if err != nil {
			return e.fail("stats", err)
		}
		var sum int64
		for _, m := range mem {
			sum += m
		}
		avg = sum / int64(len(mem))
		est = avg * int64(n)
	}
	var members int64
	ni, icut, err := e.scanIndexes(limit, "stats: user indexes", func(uids []string) error {
		sizes, err := e.st.IndexSizes(e.ctx, uids)
		for _, s := range sizes {
			members += s
		}
		return err
	})
	if err != nil {
		return e.fail("stats", err)
	}
	if e.g.json {
		e.printJSON(struct {
			Sessions         int      `json:"sessions"`
			SessionsComplete bool     `json:"sessions_complete"`
			WithoutTTL       int      `json:"without_ttl"`
			Indexes          int      `json:"indexes"`
			IndexMembers     int64    `json:"index_members"`
			IndexesComplete  bool     `json:"indexes_complete"`
			Sampled          int      `json:"sampled"`
			AvgBytes         int64    `json:"avg_bytes"`
			EstimateBytes    int64    `json:"estimate_bytes"`
			TTL              []bucket `json:"ttl"`
		}{n, !cut, noTTL, ni, members, !icut, len(sample), avg, est, buckets})
		return exitOK
	}
	atLeast := func(cut bool) string {
		if cut {
			return " (at least: stopped at --limit)"
		}
		return ""
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sessions\t%d%s\n", n, atLeast(cut))
	fmt.Fprintf(tw, "user indexes\t%d, with %d members%s\n", ni, members, atLeast(icut))
	if len(sample) > 0 {
		fmt.Fprintf(tw, "session memory\tabout %s (average %s over %d sampled)\n", bytesHuman(est), bytesHuman(avg), len(sample))
	}
	_ = tw.Flush()
	e.printf("\nremaining TTL:\n")
	tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, b := range buckets {
		fmt.Fprintf(tw, "  %s\t%d\n", b.Label, b.Count)
	}
	fmt.Fprintf(tw, "  no TTL\t%d\n", noTTL)
	_ = tw.Flush()
	return exitOK
}

// setupRepair defines repair-index: pruning dangling members and re-indexing lost sessions, behind --yes.
func setupRepair(fs *flag.FlagSet) func(e *env) int {
	limit := fs.Int("limit", 0, "examine at most `N` user indexes and N session keys (0: all of them)")
	yes := fs.Bool("yes", false, "really repair; without it, only print what would be done")
	return func(e *env) int {
		if *limit < 0 {
			return e.fail("repair-index", usagef("--limit must not be negative"))
		}
		return repair(e, *limit, *yes)
	}
}

// repair removes index members whose session is gone and re-indexes sessions missing from their
// user's index, printing the plan first; without yes it stops there.
func repair(e *env, limit int, yes bool) int {
	ctx := e.ctx
	dangling := map[string][]string{}
	var danglingCount int
	_, _, err := e.scanIndexes(limit, "repair-index: user indexes", func(uids []string) error {
		for _, uid := range uids {
			dead, _, err := e.st.Dangling(ctx, uid)
			if err != nil {
				return err
			}
			if len(dead) > 0 {
				dangling[uid] = append(dangling[uid], dead...)
				danglingCount += len(dead)
			}
		}
		return nil
	})
	if err != nil {
		return e.fail("repair-index", err)
	}
	var unindexed []string
	_, _, err = e.scanSessions(limit, "repair-index: session keys", func(hs []string) error {
		un, err := e.st.Unindexed(ctx, hs)
		unindexed = append(unindexed, un...)
		return err
	})
	if err != nil {
		return e.fail("repair-index", err)
	}
	if len(unindexed) > 0 {
		// A session being created right now is indexed a round trip later: ask again.
		time.Sleep(unindexedRecheckDelay)
		if unindexed, err = e.st.Unindexed(ctx, unindexed); err != nil {
			return e.fail("repair-index", err)
		}
	}

	type plan struct {
		Applied   bool                `json:"applied"`
		Dangling  map[string][]string `json:"dangling"`
		Unindexed []string            `json:"unindexed"`
		Pruned    int                 `json:"pruned"`
		Reindexed int                 `json:"reindexed"`
	}
	p := plan{Dangling: dangling, Unindexed: unindexed}
	if p.Unindexed == nil {
		p.Unindexed = []string{}
	}
	users := sortedKeys(dangling)
	if !e.g.json {
		if danglingCount == 0 && len(unindexed) == 0 {
			e.printf("the index is consistent: nothing to repair\n")
			return exitOK
		}
		verb := "would"
		if yes {
			verb = "will"
		}
		if danglingCount > 0 {
			e.printf("%s remove %d dangling member(s) from %d user index(es):\n", verb, danglingCount, len(users))
			for _, u := range users {
				e.printf("  user %s: %d\n", clean(u), len(dangling[u]))
			}
		}
		if len(unindexed) > 0 {
			e.printf("%s re-index %d session(s) missing from their user's index:\n", verb, len(unindexed))
			for _, h := range unindexed {
				e.printf("  %s\n", clean(h))
			}
		}
	}
	if danglingCount == 0 && len(unindexed) == 0 {
		e.printJSON(p)
		return exitOK
	}
	if !yes {
		if e.g.json {
			e.printJSON(p)
		} else {
			e.printf("\nNothing was changed. Run again with --yes to repair.\n")
		}
		return exitNeedsYes
	}
	p.Applied = true
	for _, u := range users {
		n, err := e.st.PruneDangling(ctx, u, dangling[u])
		p.Pruned += n
		if err != nil {
			return e.fail("repair-index", fmt.Errorf("after pruning %d member(s): %w", p.Pruned, err))
		}
	}
	for _, h := range unindexed {
		_, ok, err := e.st.Reindex(ctx, h)
		if err != nil {
			return e.fail("repair-index", fmt.Errorf("after pruning %d member(s) and re-indexing %d session(s): %w", p.Pruned, p.Reindexed, err))
		}
		if ok {
			p.Reindexed++
		}
	}
	if e.g.json {
		e.printJSON(p)
	} else {
		e.printf("removed %d dangling member(s), re-indexed %d session(s)\n", p.Pruned, p.Reindexed)
	}
	return exitOK
}
