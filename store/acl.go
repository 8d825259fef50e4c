package store

import "strings"

// aclCommands are every command the store sends, directly or from its scripts (Redis checks a script's
// commands against the caller's ACL too), and nothing else.
var aclCommands = [...]string{
	"ping", "hgetall", "hmget", "hget", "hset", "hdel", "hexists", "hstrlen", "hincrby",
	"del", "exists", "copy", "pexpire", "pexpireat", "pttl", "time", "zadd", "zrem", "zrange", "zremrangebyscore", "zcard",
	"evalsha", "eval", "wait", "config|get",
}

// ACLRules returns the Redis ACL rules of a least-privilege user for a store with the given key
// prefix: only the store's key patterns, only the commands it sends, no @dangerous command (CONFIG GET
// is allowed alone so that New can verify the eviction policy; drop "+config|get" to forbid it, and
// New will log that the policy could not be verified). Use it as
//
//	ACL SETUSER app on >password <rules>
func ACLRules(prefix string) string {
	var b strings.Builder
	// Escape what a key pattern treats specially, so the prefix matches only itself.
	p := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(prefix)
	b.WriteString("resetkeys ~" + p + "session:* ~" + p + "user:* resetchannels -@all +@connection -@dangerous")
	for _, c := range aclCommands {
		b.WriteString(" +" + c)
	}
	return b.String()
}
