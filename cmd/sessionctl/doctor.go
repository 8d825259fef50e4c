package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redisession/redisession/store"
)

// severity grades a finding.
type severity int

const (
	sevOK severity = iota
	sevWarning
	sevError
)

// String returns "ok", "warning" or "error".
func (s severity) String() string {
	switch s {
	case sevOK:
		return "ok"
	case sevWarning:
		return "warning"
	default:
		return "error"
	}
}

// MarshalText encodes the severity as its name in JSON.
func (s severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// finding is one result of doctor: what was checked, how bad it is, what was seen and how to fix it.
type finding struct {
	Check    string         `json:"check"`
	Severity severity       `json:"severity"`
	Message  string         `json:"message"`
	Fix      string         `json:"fix,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
}

// maxExamples bounds the keys, handles or users a finding names.
const maxExamples = 10

// Memory headroom thresholds, as fractions of maxmemory.
const (
	memoryWarning = 0.75
	memoryError   = 0.90
)

// unindexedRecheckDelay is how long doctor waits before asking again about sessions that were not
// in their user's index: a session being created right then is indexed one round trip later.
const unindexedRecheckDelay = 250 * time.Millisecond

// fixPolicy is the fix for any eviction policy other than noeviction.
const fixPolicy = "Keep sessions on a Redis of their own with maxmemory-policy noeviction: CONFIG SET maxmemory-policy noeviction, " +
	"and the same in redis.conf (or the provider's parameter group) so that a restart keeps it; size maxmemory for the sessions (docs/operations.md)."

// doctor holds one run of the doctor command.
type doctor struct {
	e        *env
	limit    int
	sample   int
	aclUser  string
	findings []finding
	info     map[string]string // nil when INFO failed
	infoErr  error
}

// setupDoctor defines doctor: every check, graded, with its fix.
func setupDoctor(fs *flag.FlagSet) func(e *env) int {
	limit := fs.Int("limit", 100000, "check at most `N` session keys and N user indexes (0: all of them)")
	sample := fs.Int("sample", 100, "estimate the sessions' memory from `N` of them")
	aclUser := fs.String("acl-user", "", "check the permissions of this ACL `user`, e.g. the application's (default: the connected user)")
	return func(e *env) int {
		if *limit < 0 || *sample < 0 {
			return e.fail("doctor", usagef("--limit and --sample must not be negative"))
		}
		d := &doctor{e: e, limit: *limit, sample: *sample, aclUser: *aclUser}
		d.run()
		return d.report()
	}
}

// add records a finding.
func (d *doctor) add(f finding) { d.findings = append(d.findings, f) }

// unknown records a check that could not be made, as a warning: doctor cannot vouch for it.
func (d *doctor) unknown(check, what string, err error) {
	d.add(finding{Check: check, Severity: sevWarning,
		Message: fmt.Sprintf("%s could not be checked: %v", what, err),
		Fix:     "Run doctor as a user allowed INFO, CONFIG GET, SCAN, PTTL, MEMORY USAGE and ACL DRYRUN (docs/operations.md has an operator ACL), or check this by hand."})
}

// run makes every check in turn. Only a failed connection stops it early.
func (d *doctor) run() {
	if !d.checkServer() {
		return
	}
	d.checkEviction()
	d.checkMemory()
	d.checkReplication()
	d.checkACL()
	d.checkSessions()
	d.checkIndexes()
}

// worst returns the most severe finding's severity.
func (d *doctor) worst() severity {
	w := sevOK
	for _, f := range d.findings {
		w = max(w, f.Severity)
	}
	return w
}

// report prints the findings and returns the exit status.
func (d *doctor) report() int {
	w := d.worst()
	if d.e.g.json {
		d.e.printJSON(struct {
			Server   string    `json:"server"`
			Prefix   string    `json:"prefix"`
			Worst    severity  `json:"worst"`
			Findings []finding `json:"findings"`
		}{d.e.addr(), d.e.g.prefix, w, d.findings})
	} else {
		d.e.printf("sessionctl doctor: %s, key prefix %q\n\n", d.e.addr(), d.e.g.prefix)
		counts := map[severity]int{}
		for _, f := range d.findings {
			counts[f.Severity]++
			d.e.printf("%-8s %-19s %s\n", strings.ToUpper(f.Severity.String()), f.Check, f.Message)
			if f.Fix != "" && f.Severity != sevOK {
				d.e.printf("%-8s %-19s fix: %s\n", "", "", f.Fix)
			}
		}
		d.e.printf("\n%d ok, %d warning(s), %d error(s).\n", counts[sevOK], counts[sevWarning], counts[sevError])
	}
	switch w {
	case sevOK:
		return exitOK
	case sevWarning:
		return exitWarning
	default:
		return exitError
	}
}

// checkServer pings the server and reads INFO; it reports false when the server cannot be reached.
func (d *doctor) checkServer() bool {
	ctx := d.e.ctx
	if err := d.e.rdb.Ping(ctx).Err(); err != nil {
		d.add(finding{Check: "server", Severity: sevError,
			Message: fmt.Sprintf("cannot reach Redis at %s: %v", d.e.addr(), err),
			Fix:     "Check --redis-url (or REDIS_URL), the network path, and the user name and password."})
		return false
	}
	raw, err := d.e.rdb.Info(ctx).Result()
	if err != nil {
		d.infoErr = err
	} else {
		d.info = parseInfo(raw)
	}
	user := d.connectedUser()
	if d.info == nil {
		d.add(finding{Check: "server", Severity: sevOK,
			Message: fmt.Sprintf("connected to %s as user %q; INFO is denied (%v), so memory, persistence and replication are partly unknown", d.e.addr(), user, err)})
		return true
	}
	mode := d.info["redis_mode"]
	f := finding{Check: "server", Severity: sevOK,
		Message: fmt.Sprintf("Redis %s (%s) at %s, connected as user %q", d.info["redis_version"], mode, d.e.addr(), user),
		Details: map[string]any{"version": d.info["redis_version"], "mode": mode, "user": user}}
	if mode == "cluster" {
		f.Severity = sevWarning
		f.Message += ": in Cluster mode sessionctl sees only this node's keys"
		f.Fix = "Run doctor against each master; revoke and repair-index need a standalone or Sentinel-managed server."
	}
	d.add(f)
	return true
}

// connectedUser returns the ACL user of the connection: ACL WHOAMI, else the URL's user name, else
// "default".
func (d *doctor) connectedUser() string {
	if u, err := d.e.rdb.Do(d.e.ctx, "ACL", "WHOAMI").Text(); err == nil && u != "" {
		return u
	}
	if d.e.opts.Username != "" {
		return d.e.opts.Username
	}
	return "default"
}

// checkEviction reports the eviction policy and persistence, from the store's own Check (so doctor
// and the application's startup agree), with INFO as a fallback where CONFIG is unavailable.
func (d *doctor) checkEviction() {
	ctx := d.e.ctx
	h, err := d.e.st.Check(ctx)
	if err != nil && !errors.Is(err, store.ErrEvictionPolicy) {
		d.unknown("eviction-policy", "the eviction policy", err)
		d.unknown("persistence", "persistence", err)
		return
	}

	policy, source := h.Policy, ""
	if !h.PolicyVerified && d.info != nil && d.info["maxmemory_policy"] != "" {
		policy, source = d.info["maxmemory_policy"], " (read from INFO: CONFIG is unavailable)"
	}
	f := finding{Check: "eviction-policy", Details: map[string]any{"policy": policy}}
	switch {
	case policy == "":
		f.Severity = sevWarning
		f.Message = "the eviction policy could not be verified: CONFIG GET is unavailable (renamed, or denied by ACL), and INFO too"
		f.Fix = "Check maxmemory-policy in the provider's console or redis.conf: it must be noeviction. Or run doctor as a user allowed CONFIG GET."
	case policy == "noeviction":
		f.Severity = sevOK
		f.Message = "maxmemory-policy is noeviction" + source + ": when memory runs out Redis refuses writes, so logins fail visibly instead of sessions vanishing"
	case strings.HasPrefix(policy, "allkeys-"):
		f.Severity = sevError
		f.Message = "maxmemory-policy is " + policy + source + ": when memory runs out Redis silently deletes live sessions (users are logged out at random) and user indexes (logout-everywhere then misses sessions)"
		f.Fix = fixPolicy
	case strings.HasPrefix(policy, "volatile-"):
		f.Severity = sevWarning
		f.Message = "maxmemory-policy is " + policy + source + ": every session and index has a TTL, so any of them may be evicted when memory runs out: users are logged out at random, and logout-everywhere misses sessions whose index was evicted"
		f.Fix = fixPolicy
	default:
		f.Severity = sevWarning
		f.Message = "maxmemory-policy is " + policy + source + ", which doctor does not know"
		f.Fix = fixPolicy
	}
	d.add(f)
	d.checkPersistence(h)
}

// checkPersistence reports AOF, RDB and fsync, and failing persistence.
func (d *doctor) checkPersistence(h store.Health) {
	f := finding{Check: "persistence", Details: map[string]any{"aof": h.AOF, "rdb": h.RDB, "verified": h.PersistenceVerified}}
	const fixOn = "Turn on the append-only file: CONFIG SET appendonly yes, CONFIG SET appendfsync everysec, and the same in redis.conf (docs/operations.md)."
	switch {
	case h.PersistenceVerified && h.AOF:
		fsync := d.configGet("appendfsync")
		f.Details["appendfsync"] = fsync
		switch fsync {
		case "everysec":
			f.Message = "AOF is on with appendfsync everysec: a crash loses at most about a second of logins and session writes"
		case "always":
			f.Message = "AOF is on with appendfsync always: no acknowledged write is lost, at a cost in write latency and throughput"
		case "no":
			f.Severity = sevWarning
			f.Message = "AOF is on with appendfsync no: the kernel decides when writes reach the disk, so a machine crash can lose about 30 seconds of logins and session writes"
			f.Fix = "CONFIG SET appendfsync everysec, and the same in redis.conf."
		default:
			f.Message = "AOF is on (appendfsync could not be read)"
		}
	case h.PersistenceVerified && h.RDB:
		save := d.configGet("save")
		f.Details["save"] = save
		f.Message = fmt.Sprintf("RDB snapshots are on (save %q), AOF is off: a crash loses the sessions created or changed since the last snapshot, logging those users out; AOF with appendfsync everysec would lose at most a second", save)
	case h.PersistenceVerified:
		f.Severity = sevWarning
		f.Message = "neither AOF nor RDB persistence is on: a Redis restart or crash logs every user out"
		f.Fix = fixOn
	case d.info != nil && d.info["aof_enabled"] == "1":
		f.Severity = sevWarning
		f.Message = "AOF is on (read from INFO), but appendfsync could not be verified: CONFIG is unavailable (renamed, or denied by ACL)"
		f.Fix = "Make sure appendfsync is everysec in the provider's console or redis.conf, or run doctor as a user allowed CONFIG GET."
	case d.info != nil && d.info["aof_enabled"] == "0":
		f.Severity = sevWarning
		f.Message = "AOF is off (read from INFO), and whether RDB snapshots are scheduled could not be verified: CONFIG is unavailable (renamed, or denied by ACL); without either, a restart logs every user out"
		f.Fix = "Confirm persistence in the provider's console or redis.conf; best is appendonly yes with appendfsync everysec."
	default:
		f.Severity = sevWarning
		f.Message = "persistence could not be verified: CONFIG and INFO are unavailable"
		f.Fix = "Confirm persistence in the provider's console or redis.conf; best is appendonly yes with appendfsync everysec."
	}
	d.add(f)

	if d.info == nil {
		return
	}
	var failing []string
	for _, p := range [...]struct{ field, what string }{
		{"rdb_last_bgsave_status", "the last RDB snapshot"},
		{"aof_last_write_status", "the last AOF write"},
		{"aof_last_bgrewrite_status", "the last AOF rewrite"},
	} {
		if d.info[p.field] == "err" {
			failing = append(failing, p.what)
		}
	}
	if len(failing) > 0 {
		d.add(finding{Check: "persistence-failures", Severity: sevError,
			Message: strings.Join(failing, ", ") + " failed: recent session writes are not safe on disk, and with stop-writes-on-bgsave-error (the default) Redis refuses every write, so logins fail",
			Fix:     "Read the Redis log: a full disk, wrong permissions, or a fork that fails for lack of memory (set vm.overcommit_memory = 1)."})
	}
}

// configGet returns one CONFIG GET value, or "" when it cannot be read.
func (d *doctor) configGet(name string) string {
	m, err := d.e.rdb.ConfigGet(d.e.ctx, name).Result()
	if err != nil {
		return ""
	}
	return m[name]
}

// checkMemory reports maxmemory headroom, evictions and writes refused for lack of memory.
func (d *doctor) checkMemory() {
	if d.info == nil {
		d.unknown("memory", "memory headroom", d.infoErr)
		return
	}
	used, _ := strconv.ParseInt(d.info["used_memory"], 10, 64)
	limit, _ := strconv.ParseInt(d.info["maxmemory"], 10, 64)
	f := finding{Check: "memory", Details: map[string]any{"used_memory": used, "maxmemory": limit}}
	const fixFull = "Raise maxmemory (and the machine's memory), shorten the idle or absolute timeouts, or keep less in each session (docs/operations.md explains the sizing)."
	switch ratio := float64(used) / float64(limit); {
	case limit == 0:
		f.Severity = sevWarning
		f.Message = fmt.Sprintf("maxmemory is not set (used_memory %s): Redis grows until the machine runs out of memory, and then the kernel's OOM killer ends it, losing every session written since the last persisted write", bytesHuman(used))
		f.Fix = "Set maxmemory to the sessions' size with headroom (average session × peak sessions × 2), leaving the machine memory for a persistence fork; see docs/operations.md."
	case ratio >= memoryError:
		f.Severity = sevError
		f.Message = fmt.Sprintf("used_memory is %s of maxmemory %s (%.0f%%): new logins and session writes will soon be refused with OOM errors (or, under an eviction policy, sessions evicted)", bytesHuman(used), bytesHuman(limit), 100*ratio)
		f.Fix = fixFull
	case ratio >= memoryWarning:
		f.Severity = sevWarning
		f.Message = fmt.Sprintf("used_memory is %s of maxmemory %s (%.0f%%): headroom is getting thin", bytesHuman(used), bytesHuman(limit), 100*ratio)
		f.Fix = fixFull
	default:
		f.Message = fmt.Sprintf("used_memory is %s of maxmemory %s (%.0f%%)", bytesHuman(used), bytesHuman(limit), 100*ratio)
	}
	d.add(f)

	evicted, _ := strconv.ParseInt(d.info["evicted_keys"], 10, 64)
	oom := errorCount(d.info["errorstat_OOM"])
	g := finding{Check: "evictions", Details: map[string]any{"evicted_keys": evicted, "oom_errors": oom}}
	var msgs []string
	if evicted > 0 {
		msgs = append(msgs, fmt.Sprintf("Redis has evicted %d keys since it started: sessions may have vanished and users been logged out", evicted))
		g.Fix = fixPolicy
	}
	if oom > 0 {
		msgs = append(msgs, fmt.Sprintf("%d commands were refused with OOM since Redis started: logins or session writes failed", oom))
		g.Fix = strings.TrimSpace(g.Fix + " " + fixFull)
	}
	if len(msgs) > 0 {
		g.Severity = sevWarning
		g.Message = strings.Join(msgs, "; ")
	} else {
		g.Message = "no key evicted and no write refused for lack of memory since Redis started"
	}
	d.add(g)
}

// errorCount parses an INFO errorstats value such as "count=3".
func errorCount(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(v, "count="), 10, 64)
	return n
}

// checkReplication reports the server's role.
func (d *doctor) checkReplication() {
	if d.info == nil {
		d.unknown("replication", "the replication role", d.infoErr)
		return
	}
	f := finding{Check: "replication", Details: map[string]any{"role": d.info["role"]}}
	switch role := d.info["role"]; role {
	case "master":
		f.Message = fmt.Sprintf("this is a master with %s connected replica(s)", orDash(d.info["connected_slaves"]))
	case "slave":
		f.Severity = sevWarning
		f.Message = fmt.Sprintf("this is a read-only replica of %s:%s (link %s): revoke and repair-index fail here, and what it shows may lag behind the master",
			d.info["master_host"], d.info["master_port"], orDash(d.info["master_link_status"]))
		f.Fix = "Point --redis-url at the master (with Sentinel, ask it for the current master)."
	default:
		f.Severity = sevWarning
		f.Message = fmt.Sprintf("the replication role is unknown (%q)", role)
	}
	d.add(f)
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dangerousProbes are the commands no session instance's application user should be able to run.
var dangerousProbes = []struct {
	name string
	argv []string
}{
	{"FLUSHALL", []string{"FLUSHALL"}},
	{"FLUSHDB", []string{"FLUSHDB"}},
	{"KEYS", []string{"KEYS", "*"}},
	{"CONFIG SET", []string{"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}},
}

// optionalCommands may be missing from the application's ACL: the store works without them.
var optionalCommands = map[string]string{
	"ping":       "",
	"config|get": "CONFIG GET is denied, so the application's startup check cannot verify the eviction policy and persistence",
}

// requiredArgs gives, for each command the store's ACL rules grant, the arguments of a well-formed
// call to check with ACL DRYRUN, which checks arity and key patterns. "S" stands for a session key
// and "I" for an index key under the prefix.
var requiredArgs = map[string][]string{
	"ping": {}, "time": {},
	"hgetall": {"S"}, "hmget": {"S", "_abs"}, "hget": {"S", "_uid"}, "hset": {"S", "f", "v"},
	"hdel": {"S", "f"}, "hexists": {"S", "f"}, "hstrlen": {"S", "f"}, "hincrby": {"S", "f", "1"},
	"del": {"S"}, "exists": {"S"}, "pexpireat": {"S", "1"},
	"zadd": {"I", "1", "m"}, "zrem": {"I", "m"}, "zrange": {"I", "0", "-1"},
	"zremrangebyscore": {"I", "-inf", "1"}, "zcard": {"I"},
	"evalsha": {"0000000000000000000000000000000000000000", "1", "S"}, "eval": {"return 1", "1", "S"},
	"config|get": {"maxmemory-policy"},
}

// storeCommands returns the commands store.ACLRules grants: what the store sends.
func storeCommands(prefix string) []string {
	var out []string
	for _, tok := range strings.Fields(store.ACLRules(prefix)) {
		if c, ok := strings.CutPrefix(tok, "+"); ok && !strings.HasPrefix(c, "@") {
			out = append(out, c)
		}
	}
	return out
}

// probe builds the argv to dry-run for one store command.
func (d *doctor) probe(cmd string) []string {
	argv := strings.Split(strings.ToUpper(cmd), "|")
	for _, a := range requiredArgs[cmd] {
		switch a {
		case "S":
			a = d.e.st.SessionKey(strings.Repeat("0", 64))
		case "I":
			a = d.e.st.IndexKey("sessionctl-doctor")
		}
		argv = append(argv, a)
	}
	return argv
}

// dryRun asks whether user may run argv, without running it (ACL DRYRUN, Redis 7 and later). It
// returns "" when allowed, and otherwise Redis' reason.
func (d *doctor) dryRun(user string, argv []string) (string, error) {
	args := []any{"ACL", "DRYRUN", user}
	for _, a := range argv {
		args = append(args, a)
	}
	res, err := d.e.rdb.Do(d.e.ctx, args...).Text()
	if err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "ERR Command '") && strings.HasSuffix(msg, "not found") {
			// Renamed away (rename-command) or disabled: nobody can run it.
			return "the command is renamed or disabled", nil
		}
		return "", err
	}
	if res == "OK" {
		return "", nil
	}
	return res, nil
}

// checkACL reports whether the user may run destructive commands, and whether it may run everything
// the store needs. It only ever asks ACL DRYRUN: the commands themselves are never sent.
func (d *doctor) checkACL() {
	user, chosen := d.aclUser, true
	if user == "" {
		user, chosen = d.connectedUser(), false
	}
	// Never suggest resetting the connected or default user: that would lock the operator out.
	appUser := "APP_USER"
	if chosen && user != "default" {
		appUser = user
	}
	fixLine := fmt.Sprintf("Give the application a user of its own with least privilege: ACL SETUSER %s reset on >PASSWORD %s, then persist it (ACL SAVE with an aclfile, or the provider's console); see docs/operations.md.", appUser, store.ACLRules(d.e.g.prefix))
	var allowed []string
	for _, p := range dangerousProbes {
		reason, err := d.dryRun(user, p.argv)
		if err != nil {
			d.aclUnknown(user, err)
			return
		}
		if reason == "" {
			allowed = append(allowed, p.name)
		}
	}
	var missing, grants, notes []string
	for _, c := range storeCommands(d.e.g.prefix) {
		if _, ok := requiredArgs[c]; !ok {
			continue // a command doctor cannot probe; the store's own ACL test covers it
		}
		reason, err := d.dryRun(user, d.probe(c))
		if err != nil {
			d.aclUnknown(user, err)
			return
		}
		if reason == "" {
			continue
		}
		if note, optional := optionalCommands[c]; optional {
			if note != "" {
				notes = append(notes, note)
			}
			continue
		}
		missing = append(missing, fmt.Sprintf("%s (%s)", strings.ToUpper(strings.ReplaceAll(c, "|", " ")), reason))
		grants = append(grants, "+"+c)
	}

	details := map[string]any{"user": user, "dangerous_allowed": allowed, "store_commands_denied": missing}
	if len(missing) > 0 {
		d.add(finding{Check: "acl-store", Severity: sevError, Details: details,
			Message: fmt.Sprintf("user %q may not run commands the store sends: %s; the application will fail", user, strings.Join(missing, "; ")),
			Fix: fmt.Sprintf("Grant what is missing, e.g. ACL SETUSER %s %s, and make sure its key patterns include ~%ssession:* and ~%suser:* (the full least-privilege rules are: %s).",
				appUser, strings.Join(grants, " "), d.e.g.prefix, d.e.g.prefix, store.ACLRules(d.e.g.prefix))})
	}
	f := finding{Check: "acl", Details: details}
	if len(allowed) > 0 {
		f.Severity = sevWarning
		f.Message = fmt.Sprintf("user %q may run %s: one mistaken command, or anyone holding these credentials, can delete every session (FLUSHALL, FLUSHDB), stall the server (KEYS) or make it evict sessions (CONFIG SET)", user, strings.Join(allowed, ", "))
		if !chosen {
			f.Message += "; this is the user sessionctl connected as: check the application's user with --acl-user"
		}
		f.Fix = fixLine
	} else {
		f.Message = fmt.Sprintf("user %q may not run FLUSHALL, FLUSHDB, KEYS or CONFIG SET", user)
		if len(missing) == 0 {
			f.Message += ", and may run every command the store sends on its keys"
		}
	}
	if len(notes) > 0 {
		f.Message += " (" + strings.Join(notes, "; ") + ")"
	}
	d.add(f)
}

// aclUnknown records that the user's permissions could not be read.
func (d *doctor) aclUnknown(user string, err error) {
	msg := err.Error()
	f := finding{Check: "acl", Severity: sevWarning, Details: map[string]any{"user": user, "error": msg}}
	if strings.Contains(msg, "User '") && strings.Contains(msg, "not found") {
		f.Severity = sevError
		f.Message = fmt.Sprintf("ACL user %q does not exist", user)
		f.Fix = "Check --acl-user: it names the user the application logs in as."
		d.add(f)
		return
	}
	f.Message = fmt.Sprintf("whether user %q may run FLUSHALL, FLUSHDB, KEYS or CONFIG is unknown: ACL DRYRUN failed (%s); it needs Redis 7 or later and permission for ACL DRYRUN", user, msg)
	f.Fix = fmt.Sprintf("Run doctor as an administrator with --acl-user %s, or read the user's rules with ACL GETUSER %s.", user, user)
	d.add(f)
}

// checkSessions walks the session keys: keys without a TTL, sessions missing from their user's
// index, and the count and memory of sessions.
func (d *doctor) checkSessions() {
	ctx := d.e.ctx
	var noTTL, unindexed, sample []string
	noTTLCount := 0
	n, cut, err := d.e.scanSessions(d.limit, "doctor: session keys", func(hs []string) error {
		ttls, err := d.e.st.SessionTTLs(ctx, hs)
		if err != nil {
			return err
		}
		for i, t := range ttls {
			if t == store.TTLNone {
				noTTLCount++
				if len(noTTL) < maxExamples {
					noTTL = append(noTTL, hs[i])
				}
			}
		}
		un, err := d.e.st.Unindexed(ctx, hs)
		if err != nil {
			return err
		}
		unindexed = append(unindexed, un...)
		if k := d.sample - len(sample); k > 0 {
			sample = append(sample, hs[:min(k, len(hs))]...)
		}
		return nil
	})
	if err != nil {
		d.unknown("session-ttl", "session keys", err)
		return
	}
	scope := fmt.Sprintf("%d session keys", n)
	if cut {
		scope = fmt.Sprintf("the first %d session keys (stopped at --limit)", n)
	}

	f := finding{Check: "session-ttl", Details: map[string]any{"scanned": n, "complete": !cut, "without_ttl": noTTLCount}}
	if noTTLCount > 0 {
		keys := make([]string, len(noTTL))
		for i, h := range noTTL {
			keys[i] = clean(d.e.st.SessionKey(h))
		}
		f.Details["examples"] = keys
		f.Severity = sevError
		f.Message = fmt.Sprintf("%d of %s have no TTL (e.g. %s): they never expire, so they outlive logout by idle timeout and absolute deadline, and pile up in memory; the store never writes a session key without a TTL, so something else wrote these",
			noTTLCount, scope, strings.Join(keys, ", "))
		f.Fix = "Find what wrote them (sessionctl show --handle H shows one without its values), then remove each with sessionctl revoke --handle H; never DEL by pattern."
	} else if n == 0 {
		f.Message = "no session keys found under the prefix"
	} else {
		f.Message = fmt.Sprintf("all %s have a TTL", scope)
	}
	d.add(f)

	if len(unindexed) > 0 {
		time.Sleep(unindexedRecheckDelay)
		again, err := d.e.st.Unindexed(ctx, unindexed)
		if err != nil {
			d.unknown("unindexed", "sessions missing from their user's index", err)
		} else {
			unindexed = again
		}
	}
	u := finding{Check: "unindexed", Details: map[string]any{"count": len(unindexed)}}
	if len(unindexed) > 0 {
		u.Details["examples"] = unindexed[:min(maxExamples, len(unindexed))]
		u.Severity = sevError
		u.Message = fmt.Sprintf("%d sessions belong to a user but are missing from that user's index: revoking the user's sessions (logout everywhere, a compromised account) would miss them; left by a crash between creating and indexing a session, or an evicted index", len(unindexed))
		u.Fix = "sessionctl repair-index (to see the plan), then sessionctl repair-index --yes to re-index them."
	} else {
		u.Message = fmt.Sprintf("every signed-in user's session among %s is in that user's index", scope)
	}
	d.add(u)

	s := finding{Check: "sessions", Details: map[string]any{"count": n, "complete": !cut}}
	count := fmt.Sprintf("%d sessions", n)
	if cut {
		count = fmt.Sprintf("at least %d sessions", n)
	}
	s.Message = count
	if len(sample) > 0 {
		mem, err := d.e.st.SessionMemory(ctx, sample)
		if err != nil {
			s.Message += fmt.Sprintf(" (memory estimate unavailable: %v)", err)
		} else {
			var sum int64
			for _, m := range mem {
				sum += m
			}
			avg := sum / int64(len(mem))
			est := avg * int64(n)
			s.Details["sampled"] = len(mem)
			s.Details["avg_bytes"] = avg
			s.Details["estimate_bytes"] = est
			s.Message += fmt.Sprintf(", about %s (average %s over %d sampled)", bytesHuman(est), bytesHuman(avg), len(mem))
		}
	}
	d.add(s)
}

// checkIndexes walks the user indexes for members whose session is gone.
func (d *doctor) checkIndexes() {
	ctx := d.e.ctx
	var dangling, members int
	var examples []string
	n, cut, err := d.e.scanIndexes(d.limit, "doctor: user indexes", func(uids []string) error {
		for _, uid := range uids {
			dead, total, err := d.e.st.Dangling(ctx, uid)
			if err != nil {
				return err
			}
			members += total
			dangling += len(dead)
			if len(dead) > 0 && len(examples) < maxExamples {
				examples = append(examples, clean(uid))
			}
		}
		return nil
	})
	if err != nil {
		d.unknown("index", "the user indexes", err)
		return
	}
	scope := fmt.Sprintf("%d user indexes", n)
	if cut {
		scope = fmt.Sprintf("the first %d user indexes (stopped at --limit)", n)
	}
	f := finding{Check: "index", Details: map[string]any{"indexes": n, "members": members, "dangling": dangling, "complete": !cut}}
	if dangling > 0 {
		f.Details["users"] = examples
		f.Severity = sevWarning
		f.Message = fmt.Sprintf("%d of %d members of %s point at sessions that no longer exist (users %s): sessions that idled out, or a crash between deleting a session and unindexing it; the store skips them, but they use memory and count against MaxSessionsPerUser until pruned",
			dangling, members, scope, strings.Join(examples, ", "))
		f.Fix = "sessionctl repair-index (to see the plan), then sessionctl repair-index --yes."
	} else if n == 0 {
		f.Message = "no user indexes found under the prefix"
	} else {
		f.Message = fmt.Sprintf("all %d members of %s point at existing sessions", members, scope)
	}
	d.add(f)
}

// parseInfo splits an INFO reply into its name:value fields.
func parseInfo(raw string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(raw) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
