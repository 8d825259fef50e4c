package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/boj/redistore"
	ginsessions "github.com/gin-contrib/sessions"
	ginredis "github.com/gin-contrib/sessions/redis"
	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	gsessions "github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/adapters/sessionchi"
	"github.com/redisession/redisession/adapters/sessionecho"
	"github.com/redisession/redisession/adapters/sessiongin"
	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// kind sorts subjects: the ceilings, redisession, and the peers it is measured against.
type kind string

const (
	kindCeiling kind = "ceiling"
	kindOurs    kind = "redisession"
	kindPeer    kind = "peer"
)

// subject is one library (or ceiling) serving the application.
type subject struct {
	Key       string
	Name      string
	Label     string // for the chart
	Kind      kind
	Cookie    string       // the session cookie's name
	Handler   http.Handler // router, session middleware and handlers
	RT        func() int64 // Redis round trips so far, counted in the client; nil when the subject never talks to Redis
	Scenarios []string     // the scenarios it takes part in; nil for all
	Note      string
	close     func()
}

func (s *subject) supports(scenario string) bool {
	if s.Scenarios == nil {
		return true
	}
	for _, sc := range s.Scenarios {
		if sc == scenario {
			return true
		}
	}
	return false
}

// subjectDef builds one subject on the Redis at addr.
type subjectDef struct {
	key   string
	build func(addr string, cfg config) (*subject, error)
}

var subjectDefs = []subjectDef{
	{"bare", buildBare},
	{"bare-redis", buildBareRedis},
	{"rs-nethttp", buildRSNetHTTP},
	{"rs-nethttp-csc", buildRSNetHTTPCached},
	{"rs-chi", buildRSChi},
	{"rs-gin", buildRSGin},
	{"rs-echo", buildRSEcho},
	{"scs", func(addr string, cfg config) (*subject, error) { return buildSCS(addr, false) }},
	{"scs-idle", func(addr string, cfg config) (*subject, error) { return buildSCS(addr, true) }},
	{"gorilla", buildGorilla},
	{"gin-contrib", buildGinContrib},
}

func init() { gin.SetMode(gin.ReleaseMode) }

// ---- ceilings ----

// buildBare is the first ceiling: the same routes with no session at all.
func buildBare(string, config) (*subject, error) {
	a := app[hctx]{
		seed:   func(hctx, int) error { return nil },
		read:   func(hctx) (string, error) { return fieldValue(7), nil },
		write:  func(hctx, string) error { return nil },
		login:  func(hctx, string) error { return nil },
		setTab: func(hctx, string, string) error { return nil },
		tabs:   func(hctx) ([]string, error) { return nil, nil },
	}
	return &subject{Key: "bare", Label: "bare handler (no session)", Name: "bare handler, no session", Kind: kindCeiling, Handler: httpRoutes(a),
		Scenarios: []string{"read", "write"}, Note: "no Redis, no session: the HTTP stack's own cost"}, nil
}

// buildBareRedis is the second ceiling: a handler doing by hand what a session read needs and no
// more. It hashes the cookie's ID, reads the session hash with one HGETALL, and slides the TTL
// (PEXPIREAT and the recorded end, pipelined) only when the recorded end has fallen more than a
// minute behind; a write is one pipelined HSET + PEXPIREAT.
func buildBareRedis(addr string, _ config) (*subject, error) {
	rdb, rt := newGoRedis(addr)
	const (
		idle        = 30 * time.Minute
		granularity = time.Minute
		cookieName  = "sid"
	)
	key := func(r *http.Request) (string, bool) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			return "", false
		}
		sum := sha256.Sum256([]byte(c.Value))
		return "bare:session:" + hex.EncodeToString(sum[:]), true
	}
	load := func(r *http.Request) (map[string]string, error) {
		k, ok := key(r)
		if !ok {
			return nil, errMissing
		}
		ctx := r.Context()
		m, err := rdb.HGetAll(ctx, k).Result()
		if err != nil {
			return nil, err
		}
		exp, err := strconv.ParseInt(m["_exp"], 10, 64)
		if err != nil {
			return nil, errMissing
		}
		if want := time.Now().Add(idle); want.Sub(time.UnixMilli(exp)) > granularity {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.PExpireAt(ctx, k, want)
				p.HSet(ctx, k, "_exp", want.UnixMilli())
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	set := func(r *http.Request, f, v string) error {
		k, ok := key(r)
		if !ok {
			return errMissing
		}
		ctx := r.Context()
		exp := time.Now().Add(idle)
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, k, f, v, "_exp", exp.UnixMilli())
			p.PExpireAt(ctx, k, exp)
			return nil
		})
		return err
	}
	a := app[hctx]{
		seed: func(c hctx, n int) error {
			var b [32]byte
			_, _ = rand.Read(b[:])
			id := base64.RawURLEncoding.EncodeToString(b[:])
			sum := sha256.Sum256([]byte(id))
			k := "bare:session:" + hex.EncodeToString(sum[:])
			exp := time.Now().Add(idle)
			args := []any{"_exp", exp.UnixMilli()}
			for i := range n {
				args = append(args, fieldName(i), fieldValue(i))
			}
			ctx := c.r.Context()
			if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, k, args...)
				p.PExpireAt(ctx, k, exp)
				return nil
			}); err != nil {
				return err
			}
			http.SetCookie(c.w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true})
			return nil
		},
		read: func(c hctx) (string, error) {
			m, err := load(c.r)
			if err != nil {
				return "", err
			}
			v, ok := m[readField]
			if !ok {
				return "", errMissing
			}
			return v, nil
		},
		write:  func(c hctx, v string) error { return set(c.r, writeField, v) },
		login:  func(hctx, string) error { return fmt.Errorf("not supported") },
		setTab: func(c hctx, f, v string) error { return set(c.r, f, v) },
		tabs: func(c hctx) ([]string, error) {
			m, err := load(c.r)
			if err != nil {
				return nil, err
			}
			out := make([]string, tabCount)
			for i := range out {
				out[i] = m[tabField(i)]
			}
			return out, nil
		},
	}
	return &subject{Key: "bare-redis", Label: "bare HGETALL (1 round trip)", Name: "bare HGETALL, 1 round trip", Kind: kindCeiling, Cookie: cookieName,
		Handler: httpRoutes(a), RT: rt.Load, Scenarios: []string{"read", "write", "tabs"},
		Note:  "hand-written: SHA-256 of the cookie, one HGETALL, a throttled refresh; writes are one pipelined HSET+PEXPIREAT",
		close: func() { _ = rdb.Close() }}, nil
}

// ---- redisession ----

// rsManager is what the README tells users to build: a go-redis client, store.New, middleware.New.
// The cookie is allowed over plain HTTP because the bench serves plain HTTP on loopback.
func rsManager(addr string) (*middleware.Manager, *atomic.Int64, func(), error) {
	rdb, rt := newGoRedis(addr)
	return rsManagerOn(rdb, rt, store.Options{})
}

func rsManagerOn(rdb *redis.Client, rt *atomic.Int64, opts store.Options) (*middleware.Manager, *atomic.Int64, func(), error) {
	// The bench's Redis has no persistence on purpose; the check's warning is expected.
	opts.Logger = slog.New(slog.DiscardHandler)
	st, err := store.New(context.Background(), rdb, opts)
	if err != nil {
		_ = rdb.Close()
		return nil, nil, nil, err
	}
	m, err := middleware.New(st, middleware.Options{Cookie: cookie.Options{Insecure: true}})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, nil, err
	}
	return m, rt, func() { _ = rdb.Close() }, nil
}

// rsApp is the application on redisession, for any framework whose context yields the session.
func rsApp[C any](get func(C) *middleware.Session) app[C] {
	return app[C]{
		seed: func(c C, n int) error {
			s := get(c)
			for i := range n {
				if err := s.Set(fieldName(i), fieldValue(i)); err != nil {
					return err
				}
			}
			return nil
		},
		read: func(c C) (string, error) {
			var v string
			ok, err := get(c).Get(readField, &v)
			if err == nil && !ok {
				err = errMissing
			}
			return v, err
		},
		write: func(c C, v string) error { return get(c).Set(writeField, v) },
		login: func(c C, uid string) error { return get(c).Login(uid) },
		setTab: func(c C, f, v string) error {
			return get(c).Set(f, v)
		},
		tabs: func(c C) ([]string, error) {
			s := get(c)
			if err := s.Err(); err != nil {
				return nil, err
			}
			out := make([]string, tabCount)
			for i := range out {
				out[i] = s.GetString(tabField(i))
			}
			return out, nil
		},
	}
}

func buildRSNetHTTP(addr string, _ config) (*subject, error) {
	m, rt, closeFn, err := rsManager(addr)
	if err != nil {
		return nil, err
	}
	a := rsApp(func(c hctx) *middleware.Session { return middleware.Get(c.r) })
	return &subject{Key: "rs-nethttp", Label: "redisession net/http", Name: "redisession, net/http", Kind: kindOurs, Cookie: "session",
		Handler: m.Handler(httpRoutes(a)), RT: rt.Load, close: closeFn}, nil
}

// buildRSNetHTTPCached is redisession on net/http with go-redis' client-side cache, set up as
// store.NewCachedClient documents: a repeated load of a session is served from the process' cache.
func buildRSNetHTTPCached(addr string, _ config) (*subject, error) {
	rdb, err := store.NewCachedClient(&redis.Options{Addr: addr}, store.CacheOptions{})
	if err != nil {
		return nil, err
	}
	rt := new(atomic.Int64)
	rdb.AddHook(rtHook{rt})
	m, rt, closeFn, err := rsManagerOn(rdb, rt, store.Options{ClientSideCache: true})
	if err != nil {
		return nil, err
	}
	a := rsApp(func(c hctx) *middleware.Session { return middleware.Get(c.r) })
	// go-redis runs the process hook before it looks in the cache: a hit is not a round trip.
	count := func() int64 { return rt.Load() - int64(rdb.CSCStats().Hits) }
	return &subject{Key: "rs-nethttp-csc", Label: "redisession net/http + client cache", Name: "redisession, net/http, client-side cache",
		Kind: kindOurs, Cookie: "session", Handler: m.Handler(httpRoutes(a)), RT: count, close: closeFn,
		Note: "store.NewCachedClient + Options.ClientSideCache: repeated loads are served from go-redis' RESP3 client-side cache"}, nil
}

func buildRSChi(addr string, _ config) (*subject, error) {
	m, rt, closeFn, err := rsManager(addr)
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Use(sessionchi.Middleware(m))
	a := rsApp(func(c hctx) *middleware.Session { return sessionchi.Get(c.r) })
	r.Mount("/", httpRoutes(a))
	return &subject{Key: "rs-chi", Label: "redisession chi", Name: "redisession, chi", Kind: kindOurs, Cookie: "session",
		Handler: r, RT: rt.Load, close: closeFn}, nil
}

func buildRSGin(addr string, _ config) (*subject, error) {
	m, rt, closeFn, err := rsManager(addr)
	if err != nil {
		return nil, err
	}
	e := gin.New()
	e.Use(gin.Recovery(), sessiongin.Middleware(m))
	ginRoutes(e, rsApp(sessiongin.Get))
	return &subject{Key: "rs-gin", Label: "redisession gin", Name: "redisession, gin", Kind: kindOurs, Cookie: "session",
		Handler: e, RT: rt.Load, close: closeFn}, nil
}

func buildRSEcho(addr string, _ config) (*subject, error) {
	m, rt, closeFn, err := rsManager(addr)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(sessionecho.Middleware(m))
	echoRoutes(e, rsApp(sessionecho.Get))
	return &subject{Key: "rs-echo", Label: "redisession echo", Name: "redisession, echo", Kind: kindOurs, Cookie: "session",
		Handler: e, RT: rt.Load, close: closeFn}, nil
}

// ---- peers ----

// buildSCS follows the scs and goredisstore READMEs: scs.New(), Store = goredisstore.New(client),
// LoadAndSave around the mux, Put/GetString on the request context, RenewToken at login. With idle
// set, IdleTimeout is 30 minutes and Lifetime 12 hours, redisession's defaults: the configuration
// comparable to its sliding expiry.
func buildSCS(addr string, idle bool) (*subject, error) {
	rdb, rt := newGoRedis(addr)
	sm := scs.New()
	sm.Store = goredisstore.New(rdb)
	key, name, label, note := "scs", "scs v2 + goredisstore", "scs + goredisstore", "defaults: 24 h lifetime, no idle timeout"
	if idle {
		sm.IdleTimeout, sm.Lifetime = 30*time.Minute, 12*time.Hour
		key, name, label, note = "scs-idle", "scs v2 + goredisstore, IdleTimeout", "scs + goredisstore, IdleTimeout", "IdleTimeout 30 min, Lifetime 12 h: every request re-saves the session"
	}
	a := app[hctx]{
		seed: func(c hctx, n int) error {
			for i := range n {
				sm.Put(c.r.Context(), fieldName(i), fieldValue(i))
			}
			return nil
		},
		read: func(c hctx) (string, error) {
			ctx := c.r.Context()
			if !sm.Exists(ctx, readField) {
				return "", errMissing
			}
			return sm.GetString(ctx, readField), nil
		},
		write: func(c hctx, v string) error { sm.Put(c.r.Context(), writeField, v); return nil },
		login: func(c hctx, uid string) error {
			if err := sm.RenewToken(c.r.Context()); err != nil {
				return err
			}
			sm.Put(c.r.Context(), "user", uid)
			return nil
		},
		setTab: func(c hctx, f, v string) error { sm.Put(c.r.Context(), f, v); return nil },
		tabs: func(c hctx) ([]string, error) {
			out := make([]string, tabCount)
			for i := range out {
				out[i] = sm.GetString(c.r.Context(), tabField(i))
			}
			return out, nil
		},
	}
	return &subject{Key: key, Name: name, Label: label, Kind: kindPeer, Cookie: sm.Cookie.Name,
		Handler: sm.LoadAndSave(httpRoutes(a)), RT: rt.Load, Note: note, close: func() { _ = rdb.Close() }}, nil
}

// gorillaRotate moves a gorilla session to a new ID the way gorilla/sessions documents deleting one
// (MaxAge -1 and Save, which DELs the key in redistore), then saves it again with an empty ID, for
// which redistore draws a new one. The values are kept, as the other subjects keep them.
func gorillaRotate(r *http.Request, w http.ResponseWriter, s *gsessions.Session) error {
	maxAge := s.Options.MaxAge
	s.Options.MaxAge = -1
	if err := s.Save(r, w); err != nil {
		return err
	}
	s.ID, s.Options.MaxAge = "", maxAge
	return nil
}

func gorillaApp(st *redistore.RediStore, name string) app[hctx] {
	get := func(c hctx) (*gsessions.Session, error) { return st.Get(c.r, name) }
	return app[hctx]{
		seed: func(c hctx, n int) error {
			s, err := get(c)
			if err != nil {
				return err
			}
			for i := range n {
				s.Values[fieldName(i)] = fieldValue(i)
			}
			return s.Save(c.r, c.w)
		},
		read: func(c hctx) (string, error) {
			s, err := get(c)
			if err != nil {
				return "", err
			}
			v, ok := s.Values[readField].(string)
			if !ok {
				return "", errMissing
			}
			return v, nil
		},
		write: func(c hctx, v string) error {
			s, err := get(c)
			if err != nil {
				return err
			}
			s.Values[writeField] = v
			return s.Save(c.r, c.w)
		},
		login: func(c hctx, uid string) error {
			s, err := get(c)
			if err != nil {
				return err
			}
			if err := gorillaRotate(c.r, c.w, s); err != nil {
				return err
			}
			s.Values["user"] = uid
			return s.Save(c.r, c.w)
		},
		setTab: func(c hctx, f, v string) error {
			s, err := get(c)
			if err != nil {
				return err
			}
			s.Values[f] = v
			return s.Save(c.r, c.w)
		},
		tabs: func(c hctx) ([]string, error) {
			s, err := get(c)
			if err != nil {
				return nil, err
			}
			out := make([]string, tabCount)
			for i := range out {
				out[i], _ = s.Values[tabField(i)].(string)
			}
			return out, nil
		},
	}
}

// sessionKey is the 32-byte authentication key of the gorilla-based subjects.
var sessionKey = []byte("0123456789abcdef0123456789abcdef")

// buildGorilla follows the redistore README: NewRediStore(size, "tcp", addr, "", "", key), Get,
// Values, Save. The pool is NewRediStore's own (built here only to count its round trips) with more
// idle connections than the README's 10 so that 16 concurrent requests do not churn connections,
// and SetMaxLength lifts the 4096-byte default that would refuse the 20 KB session.
func buildGorilla(addr string, cfg config) (*subject, error) {
	pool, rt := redistorePool(addr, cfg.redigoPool)
	st, err := redistore.NewRediStoreWithPool(pool, sessionKey)
	if err != nil {
		return nil, err
	}
	st.SetMaxLength(1 << 20)
	const name = "session-name"
	return &subject{Key: "gorilla", Label: "gorilla/sessions + redistore", Name: "gorilla/sessions + redistore", Kind: kindPeer, Cookie: name,
		Handler: httpRoutes(gorillaApp(st, name)), RT: rt.Load,
		Note:  fmt.Sprintf("gob; pool of %d idle conns with redistore's PING on borrow; login rotates with MaxAge -1 + Save, then a new ID", cfg.redigoPool),
		close: func() { _ = st.Close() }}, nil
}

// buildGinContrib follows the gin-contrib/sessions README: redis.NewStore(size, "tcp", addr, "", "",
// key), r.Use(sessions.Sessions("mysession", store)), sessions.Default(c), Get/Set/Save. Its pool is
// the same as gorilla's. gin-contrib/sessions has no call to change the session ID; login reaches
// the underlying gorilla session to rotate it the same way.
func buildGinContrib(addr string, cfg config) (*subject, error) {
	pool, rt := redistorePool(addr, cfg.redigoPool)
	st, err := ginredis.NewStoreWithPool(pool, sessionKey)
	if err != nil {
		return nil, err
	}
	rs, err := ginredis.GetRedisStore(st)
	if err != nil {
		return nil, err
	}
	rs.SetMaxLength(1 << 20)
	const name = "mysession"
	e := gin.New()
	e.Use(gin.Recovery(), ginsessions.Sessions(name, st))
	save := func(s ginsessions.Session) error { return s.Save() }
	a := app[*gin.Context]{
		seed: func(c *gin.Context, n int) error {
			s := ginsessions.Default(c)
			for i := range n {
				s.Set(fieldName(i), fieldValue(i))
			}
			return save(s)
		},
		read: func(c *gin.Context) (string, error) {
			v, ok := ginsessions.Default(c).Get(readField).(string)
			if !ok {
				return "", errMissing
			}
			return v, nil
		},
		write: func(c *gin.Context, v string) error {
			s := ginsessions.Default(c)
			s.Set(writeField, v)
			return save(s)
		},
		login: func(c *gin.Context, uid string) error {
			s := ginsessions.Default(c)
			g, ok := s.(interface{ Session() *gsessions.Session })
			if !ok {
				return fmt.Errorf("gin-contrib session without Session()")
			}
			if err := gorillaRotate(c.Request, c.Writer, g.Session()); err != nil {
				return err
			}
			s.Set("user", uid)
			return save(s)
		},
		setTab: func(c *gin.Context, f, v string) error {
			s := ginsessions.Default(c)
			s.Set(f, v)
			return save(s)
		},
		tabs: func(c *gin.Context) ([]string, error) {
			s := ginsessions.Default(c)
			out := make([]string, tabCount)
			for i := range out {
				out[i], _ = s.Get(tabField(i)).(string)
			}
			return out, nil
		},
	}
	ginRoutes(e, a)
	return &subject{Key: "gin-contrib", Label: "gin-contrib/sessions redis", Name: "gin-contrib/sessions, redis", Kind: kindPeer, Cookie: name,
		Handler: e, RT: rt.Load,
		Note:  "redistore underneath (same pool); no rotation API, login rotates the underlying gorilla session",
		close: func() { _ = rs.Close() }}, nil
}
