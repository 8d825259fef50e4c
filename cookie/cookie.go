package cookie

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// ErrInvalidOptions is wrapped by every error New returns; the wrapping message names the
// offending field. Use errors.Is(err, ErrInvalidOptions) to recognise a configuration mistake.
var ErrInvalidOptions = errors.New("redisession/cookie: invalid options")

// ErrInvalidID is returned by Encode and Cookie when the ID is not a well-formed session ID (see
// ValidID). The ID itself is never included in the error.
var ErrInvalidID = errors.New("redisession/cookie: invalid session id")

// ErrExpired is returned by Cookie, when Options.Persist is set, if the session's absolute deadline
// is the zero time or not in the future: there is no lifetime left to give the cookie.
var ErrExpired = errors.New("redisession/cookie: session deadline is missing or has passed")

const (
	// defaultName is the cookie name used when Options.Name is empty and the prefix cannot apply.
	defaultName = "session"
	// defaultHostName is the default name of a Secure, host-only cookie with Path "/": the __Host-
	// prefix makes browsers refuse the cookie from a sibling subdomain or over plain HTTP.
	defaultHostName = "__Host-session"
	// defaultPath is the cookie path used when Options.Path is empty.
	defaultPath = "/"

	// idLen is the length of a session ID: 32 bytes in unpadded base64url.
	idLen = 43
	// minHashKeyLen is the shortest accepted HMAC key, in bytes: as long as the SHA-256 output.
	minHashKeyLen = 32
	// maxSignedLen bounds a signed cookie value, checked before any decoding or HMAC. A signed ID
	// is about 140 bytes today; the margin only covers longer timestamps.
	maxSignedLen = 256
	// minSignedInner is the shortest securecookie payload for an ID: "T|" + base64url(ID) with
	// padding (60 bytes) + "|" + a 32-byte HMAC-SHA256, with a one-digit timestamp T.
	minSignedInner = 1 + 1 + 60 + 1 + 32
	// minSignedLen is minSignedInner encoded as padded base64url.
	minSignedLen = (minSignedInner + 2) / 3 * 4
	// maxPathLen is the longest accepted Path; RFC 6265bis user agents ignore longer attributes.
	maxPathLen = 1024
	// maxCookieAge caps Max-Age at 400 days, the limit RFC 6265bis user agents apply anyway.
	maxCookieAge = 400 * 24 * time.Hour

	hostPrefix   = "__Host-"
	securePrefix = "__Secure-"
)

// Options configures a Codec. The zero value is the secure default: a host-only, Secure, HttpOnly,
// SameSite=Lax cookie named "__Host-session" with Path "/", lasting for the browser session and
// carrying the bare, unsigned session ID.
type Options struct {
	// Name is the cookie name. It must be an RFC 6265 token. The default (empty) is "__Host-session"
	// for a Secure, host-only cookie with Path "/", and "session" otherwise (Insecure, a Domain or
	// another Path, where browsers would refuse the prefix).
	// A name starting with "__Host-" requires Secure, no Domain and Path "/"; a name starting with
	// "__Secure-" requires Secure (the prefixes are matched case-insensitively, as browsers do).
	Name string

	// Path is the cookie's Path attribute. It must start with "/" and contain only printable ASCII
	// other than ';'. The default (empty) is "/".
	Path string

	// Domain is the cookie's Domain attribute. The default (empty) omits it, which makes the
	// cookie host-only: it is sent back only to the exact host that set it. A non-empty Domain
	// must be a DNS name (IP addresses are refused) and shares the cookie with every subdomain.
	Domain string

	// Insecure drops the Secure attribute so the cookie also travels over plain HTTP. The default
	// (false) sets Secure. Set it only for plain-http local development.
	Insecure bool

	// AllowScript drops the HttpOnly attribute so page scripts can read the cookie. The default
	// (false) sets HttpOnly, which keeps the session ID out of reach of injected scripts.
	AllowScript bool

	// SameSite is the cookie's SameSite attribute. The default (0) means http.SameSiteLaxMode.
	// http.SameSiteNoneMode requires Secure. http.SameSiteDefaultMode omits the attribute and
	// leaves the choice to the browser.
	SameSite http.SameSite

	// Partitioned sets the Partitioned attribute (CHIPS), which requires Secure. The default
	// (false) leaves it unset.
	Partitioned bool

	// Persist makes the cookie outlive the browser session: Max-Age and Expires follow the
	// session's absolute deadline, capped at 400 days. The default (false) issues a
	// browser-session cookie with neither Max-Age nor Expires.
	Persist bool

	// HashKeys are HMAC-SHA256 keys for signing the cookie value with gorilla/securecookie, each
	// at least 32 bytes. The first key signs; every key verifies, so keys rotate by putting the
	// new key first and keeping the old ones until their cookies have expired. The default
	// (empty) carries the bare session ID, unsigned. Keys are copied by New.
	HashKeys [][]byte
}

// withDefaults returns a copy of o with defaults applied and its keys deep-copied, so that later
// changes to the caller's slices cannot alter a Codec.
func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = defaultPath
	}
	if o.Name == "" {
		o.Name = defaultName
		if !o.Insecure && o.Domain == "" && o.Path == defaultPath {
			o.Name = defaultHostName
		}
	}
	if o.SameSite == 0 {
		o.SameSite = http.SameSiteLaxMode
	}
	o.HashKeys = copyKeys(o.HashKeys)
	return o
}

func copyKeys(keys [][]byte) [][]byte {
	if len(keys) == 0 {
		return nil
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = append([]byte(nil), k...)
	}
	return out
}

// invalid wraps ErrInvalidOptions with a message naming the problem.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
}

// validate checks options that already have their defaults applied.
func (o Options) validate() error {
	secure := !o.Insecure

	if !isToken(o.Name) {
		return invalid("name %q is not a valid cookie name (RFC 6265 token: printable ASCII without separators)", o.Name)
	}
	if hasPrefixFold(o.Name, hostPrefix) {
		switch {
		case !secure:
			return invalid("name %q: the __Host- prefix requires Secure (Insecure must be false)", o.Name)
		case o.Domain != "":
			return invalid("name %q: the __Host- prefix forbids a Domain (got %q)", o.Name, o.Domain)
		case o.Path != "/":
			return invalid("name %q: the __Host- prefix requires Path \"/\" (got %q)", o.Name, o.Path)
		}
	}
	if hasPrefixFold(o.Name, securePrefix) && !secure {
		return invalid("name %q: the __Secure- prefix requires Secure (Insecure must be false)", o.Name)
	}

	if !strings.HasPrefix(o.Path, "/") {
		return invalid("path %q must start with \"/\"", o.Path)
	}
	if len(o.Path) > maxPathLen {
		return invalid("path is %d bytes; at most %d are allowed", len(o.Path), maxPathLen)
	}
	for i := 0; i < len(o.Path); i++ {
		if b := o.Path[i]; b < 0x20 || b >= 0x7f || b == ';' {
			return invalid("path %q contains %q; ';', control characters and non-ASCII bytes are not allowed", o.Path, b)
		}
	}

	if o.Domain != "" && !isCookieDomain(o.Domain) {
		return invalid("domain %q is not a valid domain name (leave it empty for a host-only cookie)", o.Domain)
	}

	switch o.SameSite {
	case http.SameSiteDefaultMode, http.SameSiteLaxMode, http.SameSiteStrictMode:
	case http.SameSiteNoneMode:
		if !secure {
			return invalid("SameSite=None requires Secure (Insecure must be false)")
		}
	default:
		return invalid("unknown SameSite value %d", int(o.SameSite))
	}

	if o.Partitioned && !secure {
		return invalid("Partitioned requires Secure (Insecure must be false)")
	}

	for i, k := range o.HashKeys {
		if len(k) < minHashKeyLen {
			return invalid("hash key %d is %d bytes; at least %d are required", i, len(k), minHashKeyLen)
		}
	}
	return nil
}

// Codec reads and writes the session cookie. It is built once by New, never changes afterwards,
// and is safe for concurrent use.
type Codec struct {
	opts   Options
	codecs []*securecookie.SecureCookie // one per hash key, first signs; empty: bare IDs
	now    func() time.Time
}

// New validates opts, applies its defaults and returns a Codec. It returns an error wrapping
// ErrInvalidOptions, naming the problem, for any combination a browser would reject or mishandle.
func New(opts Options) (*Codec, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Codec{opts: o, now: time.Now}
	for _, k := range o.HashKeys {
		// No block key: the ID is already opaque, so only authenticity matters.
		sc := securecookie.New(k, nil)
		// The ID travels as raw bytes; no gob or JSON decoding of attacker input.
		sc.SetSerializer(securecookie.NopEncoder{})
		// 0 turns securecookie's own timestamp check off. The store enforces the session's
		// idle and absolute deadlines; a second, cookie-side clock would only log out users
		// whose cookie was not re-issued within securecookie's default 30 days.
		sc.MaxAge(0)
		sc.MaxLength(maxSignedLen)
		c.codecs = append(c.codecs, sc)
	}
	// Belt and braces: net/http silently drops attributes it considers invalid, so confirm it
	// accepts the cookie we would write.
	probe := c.base()
	probe.Value = strings.Repeat("A", idLen)
	if err := probe.Valid(); err != nil {
		return nil, invalid("%v", err)
	}
	return c, nil
}

// Name returns the cookie name, "session" unless Options.Name said otherwise.
func (c *Codec) Name() string {
	return c.opts.Name
}

// Options returns the options in effect, with defaults applied (Name "session", Path "/", SameSite
// Lax when they were left empty). HashKeys is a fresh copy.
func (c *Codec) Options() Options {
	o := c.opts
	o.HashKeys = copyKeys(o.HashKeys)
	return o
}

// Read returns the session ID carried by r's cookie, or "" when there is none or it is invalid in
// any way: wrong length, foreign characters, padding, a quoted value, a bad signature, or garbage.
// If several cookies carry the name, the first valid one wins. Read never writes a response and
// never logs the cookie value.
func (c *Codec) Read(r *http.Request) string {
	if r == nil {
		return ""
	}
	for _, ck := range r.CookiesNamed(c.opts.Name) {
		if ck.Quoted {
			// We never issue quoted values; net/http has stripped the quotes.
			continue
		}
		if id, ok := c.Parse(ck.Value); ok {
			return id
		}
	}
	return ""
}

// Parse checks a raw cookie value and returns the session ID it carries and true, or "" and false
// if it is not valid. Without hash keys (the default) a valid value is exactly a ValidID; with hash
// keys it must be an ID signed by one of them under this cookie name. Length and characters are
// checked before any decoding or HMAC.
func (c *Codec) Parse(value string) (string, bool) {
	if len(c.codecs) == 0 {
		if ValidID(value) {
			return value, true
		}
		return "", false
	}
	if len(value) < minSignedLen || len(value) > maxSignedLen {
		return "", false
	}
	for i := 0; i < len(value); i++ {
		if !isBase64URLByte(value[i]) && value[i] != '=' {
			return "", false
		}
	}
	for _, sc := range c.codecs {
		var b []byte
		if err := sc.Decode(c.opts.Name, value, &b); err != nil {
			continue
		}
		if id := string(b); ValidID(id) {
			return id, true
		}
	}
	return "", false
}

// Encode returns the cookie value for id: id itself by default, or id signed with the first hash
// key when Options.HashKeys is set. It returns ErrInvalidID if id is not a ValidID.
func (c *Codec) Encode(id string) (string, error) {
	if !ValidID(id) {
		return "", ErrInvalidID
	}
	if len(c.codecs) == 0 {
		return id, nil
	}
	v, err := c.codecs[0].Encode(c.opts.Name, []byte(id))
	if err != nil {
		return "", fmt.Errorf("redisession/cookie: signing the session id: %w", err)
	}
	return v, nil
}

// Cookie returns the cookie to set for id. expires is the session's absolute deadline: with
// Options.Persist it sets Max-Age (rounded up to whole seconds, capped at 400 days) and Expires,
// and must lie in the future or ErrExpired is returned; by default (no Persist) it is ignored and
// the cookie lasts for the browser session. It returns ErrInvalidID if id is not a ValidID.
func (c *Codec) Cookie(id string, expires time.Time) (*http.Cookie, error) {
	v, err := c.Encode(id)
	if err != nil {
		return nil, err
	}
	ck := c.base()
	ck.Value = v
	if c.opts.Persist {
		now := c.now()
		if expires.IsZero() || !expires.After(now) {
			return nil, ErrExpired
		}
		left := expires.Sub(now) // saturates rather than overflows for far-future deadlines
		if left > maxCookieAge {
			left = maxCookieAge
			expires = now.Add(maxCookieAge)
		}
		// Round up: a deadline 0.4s away must not become Max-Age 0, which means "no Max-Age".
		ck.MaxAge = int((left + time.Second - 1) / time.Second)
		ck.Expires = expires.UTC()
	}
	return ck, nil
}

// Clear returns a cookie that makes the browser delete the session cookie: empty value, Max-Age
// 0 (MaxAge -1 in net/http terms), Expires in 1970, and the same Name, Path, Domain and flags as
// the cookies Cookie issues, so that it replaces them.
func (c *Codec) Clear() *http.Cookie {
	ck := c.base()
	ck.MaxAge = -1
	ck.Expires = time.Unix(0, 0).UTC()
	return ck
}

// base returns a cookie with the configured name and attributes and no value.
func (c *Codec) base() *http.Cookie {
	return &http.Cookie{
		Name:        c.opts.Name,
		Path:        c.opts.Path,
		Domain:      c.opts.Domain,
		Secure:      !c.opts.Insecure,
		HttpOnly:    !c.opts.AllowScript,
		SameSite:    c.opts.SameSite,
		Partitioned: c.opts.Partitioned,
	}
}

// ValidID reports whether id has the exact shape of a session ID: 43 characters of unpadded
// base64url ([A-Za-z0-9_-]) in canonical form, which decodes to exactly 32 bytes. It allocates
// nothing and looks at no store.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isBase64URLByte(id[i]) {
			return false
		}
	}
	// 43 characters carry 258 bits for 256 bits of data: the last character's two low bits must
	// be zero, or several strings would decode to the same 32 bytes.
	return base64URLValue(id[idLen-1])&0x3 == 0
}

func isBase64URLByte(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}

// base64URLValue returns the 6-bit value of a base64url character known to be valid.
func base64URLValue(b byte) byte {
	switch {
	case 'A' <= b && b <= 'Z':
		return b - 'A'
	case 'a' <= b && b <= 'z':
		return b - 'a' + 26
	case '0' <= b && b <= '9':
		return b - '0' + 52
	case b == '-':
		return 62
	default:
		return 63
	}
}

// isToken reports whether s is an RFC 6265 cookie-name: an RFC 2616 token, one or more printable
// ASCII characters other than separators.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= 0x20 || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// isCookieDomain reports whether d is acceptable as a Domain attribute: a DNS name of letters,
// digits and hyphens, optionally with one leading dot (which browsers ignore). Labels are 1 to 63
// bytes and neither start nor end with '-'; at least one letter is required, so IP addresses are
// refused; a trailing dot is refused.
func isCookieDomain(d string) bool {
	d = strings.TrimPrefix(d, ".")
	if d == "" || len(d) > 253 {
		return false
	}
	letter := false
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			switch {
			case 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z':
				letter = true
			case '0' <= b && b <= '9' || b == '-':
			default:
				return false
			}
		}
	}
	return letter
}
