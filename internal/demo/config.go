package demo

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redisession/redisession/middleware"
)

// Environment variables the examples read, the same in every example.
const (
	EnvAddr                    = "ADDR"
	EnvRedisURL                = "REDIS_URL"
	EnvRedisCluster            = "REDIS_CLUSTER"
	EnvSentinelMaster          = "REDIS_SENTINEL_MASTER"
	EnvClientCache             = "SESSION_CLIENT_CACHE"
	EnvPrefix                  = "SESSION_PREFIX"
	EnvIdleTimeout             = "SESSION_IDLE_TIMEOUT"
	EnvAbsoluteTimeout         = "SESSION_ABSOLUTE_TIMEOUT"
	EnvElevatedIdleTimeout     = "SESSION_ELEVATED_IDLE_TIMEOUT"
	EnvElevatedAbsoluteTimeout = "SESSION_ELEVATED_ABSOLUTE_TIMEOUT"
	EnvElevatedOnExpiry        = "SESSION_ELEVATED_ON_EXPIRY"
	EnvCookieSecure            = "COOKIE_SECURE"
	EnvHashKey                 = "SESSION_HASH_KEY"
)

// Defaults of the variables that have one.
const (
	DefaultAddr                    = "127.0.0.1:8080"
	DefaultIdleTimeout             = 30 * time.Minute
	DefaultAbsoluteTimeout         = 12 * time.Hour
	DefaultElevatedIdleTimeout     = 5 * time.Minute
	DefaultElevatedAbsoluteTimeout = 15 * time.Minute
	DefaultElevatedOnExpiry        = OnExpiryStepDown
)

// The values of SESSION_ELEVATED_ON_EXPIRY.
const (
	// OnExpiryStepDown: when the elevated level lapses the session goes on at level user, under its
	// own timeouts, its fields intact.
	OnExpiryStepDown = "step-down"
	// OnExpiryLogout: when the elevated level lapses the session ends.
	OnExpiryLogout = "logout"
)

// minHashKeyBytes is the shortest SESSION_HASH_KEY accepted, decoded: as long as an HMAC-SHA256.
const minHashKeyBytes = 32

// maxPrefixBytes bounds SESSION_PREFIX, which starts every Redis key the app writes.
const maxPrefixBytes = 64

// ErrConfig is wrapped by every error LoadConfig returns; the message names each offending variable.
var ErrConfig = errors.New("invalid configuration")

// Config is an example's configuration, read from the environment by LoadConfig.
type Config struct {
	// Addr is the listen address (ADDR).
	Addr string
	// Redis says which Redis to use (REDIS_URL, REDIS_CLUSTER, REDIS_SENTINEL_MASTER).
	Redis RedisConfig
	// ClientCache serves session reads from go-redis' client-side cache where it can
	// (SESSION_CLIENT_CACHE): standalone and Sentinel; refused with Cluster; ignored on the embedded
	// Redis.
	ClientCache bool
	// Prefix starts every Redis key (SESSION_PREFIX).
	Prefix string
	// IdleTimeout and AbsoluteTimeout are the ordinary level's timeouts (SESSION_IDLE_TIMEOUT,
	// SESSION_ABSOLUTE_TIMEOUT).
	IdleTimeout, AbsoluteTimeout time.Duration
	// ElevatedIdleTimeout and ElevatedAbsoluteTimeout are the elevated level's own timeouts, from
	// /api/elevate on (SESSION_ELEVATED_IDLE_TIMEOUT, SESSION_ELEVATED_ABSOLUTE_TIMEOUT): the level
	// lapses when the session is unused for ElevatedIdleTimeout, and ElevatedAbsoluteTimeout after
	// the elevation however much it is used, never later than the session's own absolute deadline.
	// The session keeps its own timeouts whatever its level.
	ElevatedIdleTimeout, ElevatedAbsoluteTimeout time.Duration
	// ElevatedOnExpiry says what the elevated level's lapse does (SESSION_ELEVATED_ON_EXPIRY,
	// "step-down" or "logout"): middleware.StepDown, the session goes on at level user, or
	// middleware.EndSession, the session ends.
	ElevatedOnExpiry middleware.LevelExpiry
	// CookieSecure sets the cookie's Secure flag (COOKIE_SECURE).
	CookieSecure bool
	// HashKey signs the cookie; nil leaves it unsigned (SESSION_HASH_KEY).
	HashKey []byte
}

// LoadConfig reads the configuration through getenv (os.Getenv in the examples). A variable that is
// unset or empty takes its default. Every invalid value is reported, each naming its variable, in one
// error wrapping ErrConfig; secrets (SESSION_HASH_KEY, a password in REDIS_URL) are never repeated.
func LoadConfig(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		Addr:                    p.addr(EnvAddr, DefaultAddr),
		ClientCache:             p.boolean(EnvClientCache, false),
		Prefix:                  p.prefix(EnvPrefix),
		IdleTimeout:             p.duration(EnvIdleTimeout, DefaultIdleTimeout),
		AbsoluteTimeout:         p.duration(EnvAbsoluteTimeout, DefaultAbsoluteTimeout),
		ElevatedIdleTimeout:     p.duration(EnvElevatedIdleTimeout, DefaultElevatedIdleTimeout),
		ElevatedAbsoluteTimeout: p.duration(EnvElevatedAbsoluteTimeout, DefaultElevatedAbsoluteTimeout),
		ElevatedOnExpiry:        p.onExpiry(EnvElevatedOnExpiry, DefaultElevatedOnExpiry),
		CookieSecure:            p.boolean(EnvCookieSecure, true),
		HashKey:                 p.hashKey(EnvHashKey),
	}
	c.Redis = p.redis()
	if c.ClientCache && c.Redis.Mode == RedisCluster {
		p.fail(EnvClientCache, "cannot be combined with %s=true: go-redis has no client-side cache on Redis Cluster", EnvRedisCluster)
	}
	if len(p.errs) > 0 {
		return Config{}, configError(p.errs)
	}
	return c, nil
}

// configError lists every invalid variable, one per line, and wraps ErrConfig and each error.
type configError []error

func (e configError) Error() string {
	var b strings.Builder
	b.WriteString(ErrConfig.Error() + ":")
	for _, err := range e {
		b.WriteString("\n  " + err.Error())
	}
	return b.String()
}

// Unwrap returns ErrConfig and the errors, for errors.Is and errors.As.
func (e configError) Unwrap() []error { return append([]error{ErrConfig}, e...) }

// parser reads variables and collects one error per invalid one.
type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) get(name string) string { return strings.TrimSpace(p.getenv(name)) }

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
}

// addr reads a host:port listen address; the port must be numeric (0 picks a free one).
func (p *parser) addr(name, def string) string {
	v := p.get(name)
	if v == "" {
		return def
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		p.fail(name, "%q is not a host:port listen address", v)
		return ""
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		p.fail(name, "%q has no port number between 0 and 65535", v)
		return ""
	}
	return v
}

// boolean reads true or false (also 1, 0, t, f, TRUE, FALSE and the like, as strconv.ParseBool).
func (p *parser) boolean(name string, def bool) bool {
	v := p.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, "%q is not true or false", v)
		return def
	}
	return b
}

// duration reads a positive Go duration of at least a millisecond, such as 30m or 1h30m.
func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		p.fail(name, "%q is not a Go duration such as 30m or 1h30m", v)
	case d < time.Millisecond:
		p.fail(name, "%q must be at least 1ms", v)
	default:
		return d
	}
	return def
}

// onExpiry reads what a level's lapse does: step-down (middleware.StepDown) or logout
// (middleware.EndSession), in any case.
func (p *parser) onExpiry(name, def string) middleware.LevelExpiry {
	v := strings.ToLower(p.get(name))
	if v == "" {
		v = def
	}
	switch v {
	case OnExpiryStepDown:
		return middleware.StepDown
	case OnExpiryLogout:
		return middleware.EndSession
	}
	p.fail(name, "%q is neither %s nor %s", p.get(name), OnExpiryStepDown, OnExpiryLogout)
	return middleware.StepDown
}

// prefix reads a key prefix: printable, at most 64 bytes, and without the braces of a Cluster hash
// tag, which would put every session in one slot.
func (p *parser) prefix(name string) string {
	v := p.getenv(name)
	switch {
	case len(v) > maxPrefixBytes:
		p.fail(name, "longer than %d bytes", maxPrefixBytes)
	case strings.ContainsAny(v, "{}"):
		p.fail(name, "%q contains a Cluster hash tag brace ({ or })", v)
	case strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0:
		p.fail(name, "%q contains spaces or unprintable characters", v)
	default:
		return v
	}
	return ""
}

// hashKey reads a base64 key (standard or URL alphabet, padded or not) of at least 32 bytes. The
// value is a secret: messages never repeat it.
func (p *parser) hashKey(name string) []byte {
	v := p.get(name)
	if v == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(v); err == nil {
			if len(k) < minHashKeyBytes {
				p.fail(name, "decodes to %d bytes; at least %d are needed (e.g. openssl rand -base64 32)", len(k), minHashKeyBytes)
				return nil
			}
			return k
		}
	}
	p.fail(name, "is not base64 (e.g. openssl rand -base64 32)")
	return nil
}
