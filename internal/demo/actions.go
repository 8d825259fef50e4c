package demo

import (
	"context"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redisession/redisession/middleware"
)

// healthTimeout bounds the PING of GET /healthz.
const healthTimeout = 2 * time.Second

// maxUserBytes bounds the user name /api/login accepts.
const maxUserBytes = 64

// The actions below are the routes' behaviour, one method per route of the contract. Each takes the
// request's session (from middleware.Get or an adapter's Get) and the form values, and returns the
// Reply to write. A nil session, from a router the session middleware does not wrap, answers 500.

// Health answers GET /healthz: 200 {"ok":true} when Redis answers PING, else 503 {"ok":false}. It
// touches no session.
func (a *App) Health(ctx context.Context) Reply {
	if err := a.Redis.Ping(ctx, healthTimeout); err != nil {
		a.Log.WarnContext(ctx, "health check: Redis does not answer", "err", err)
		return Reply{Status: 503, Body: OKView{OK: false}}
	}
	return ok(OKView{OK: true})
}

// Session answers GET /api/session. It only reads: a visitor without a session gets no cookie and
// costs Redis nothing.
func (a *App) Session(s *middleware.Session) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	return ok(viewSession(s))
}

// Login answers POST /api/login: the session moves to a new ID indexed under the user.
func (a *App) Login(s *middleware.Session, user string) Reply {
	if err := checkUser(user); err != nil {
		return Fail(err)
	}
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	if err := s.Login(user); err != nil {
		return Fail(err)
	}
	return ok(UserView{User: user})
}

// Elevate answers POST /api/elevate: a new ID at the elevated level, which has timeouts of its own
// (idle, and absolute from now but never past the session's own deadline); when one passes the
// level lapses, and the session goes on at level user or ends, as SESSION_ELEVATED_ON_EXPIRY says.
// The session keeps its own idle timeout and absolute deadline. 401 without a user.
func (a *App) Elevate(s *middleware.Session) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	if err := s.SetLevel(middleware.LevelElevated); err != nil {
		return Fail(err)
	}
	return ok(LevelView{Level: LevelElevated})
}

// Set answers POST /api/set: one field set to a string; 400 for a reserved or empty name.
func (a *App) Set(s *middleware.Session, key, value string) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	if err := s.Set(key, value); err != nil {
		return Fail(err)
	}
	return ok(OKView{OK: true})
}

// Incr answers POST /api/incr: the integer field plus one, atomically in Redis.
func (a *App) Incr(s *middleware.Session, key string) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	n, err := s.Increment(key, 1)
	if err != nil {
		return Fail(err)
	}
	return ok(ValueView{Value: n})
}

// Delete answers POST /api/delete: one field removed.
func (a *App) Delete(s *middleware.Session, key string) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	if err := s.Delete(key); err != nil {
		return Fail(err)
	}
	return ok(OKView{OK: true})
}

// Logout answers POST /api/logout: this session destroyed and its cookie cleared.
func (a *App) Logout(s *middleware.Session) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	if err := s.Logout(); err != nil {
		return Fail(err)
	}
	return ok(OKView{OK: true})
}

// LogoutOthers answers POST /api/logout-others: the user's other sessions destroyed.
func (a *App) LogoutOthers(s *middleware.Session) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	n, err := s.LogoutOthers()
	if err != nil {
		return Fail(err)
	}
	return ok(DestroyedView{Destroyed: n})
}

// LogoutAll answers POST /api/logout-all: every session of the user destroyed, this one too.
func (a *App) LogoutAll(s *middleware.Session) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	n, err := s.LogoutAll()
	if err != nil {
		return Fail(err)
	}
	return ok(DestroyedView{Destroyed: n})
}

// Sessions answers GET /api/sessions: the user's live sessions, this one marked current.
func (a *App) Sessions(s *middleware.Session) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	ds, err := s.Sessions()
	if err != nil {
		return Fail(err)
	}
	return ok(viewDevices(ds))
}

// Revoke answers POST /api/sessions/revoke: one of the user's own sessions destroyed by its handle;
// 404 for a handle that is not one of them.
func (a *App) Revoke(s *middleware.Session, handle string) Reply {
	if err := loaded(s); err != nil {
		return Fail(err)
	}
	if err := s.Revoke(handle); err != nil {
		return Fail(err)
	}
	return ok(OKView{OK: true})
}

// loaded returns ErrNoSession for a request the middleware did not wrap, or the error loading the
// session met (Redis unreachable: 503).
func loaded(s *middleware.Session) error {
	if s == nil {
		return middleware.ErrNoSession
	}
	return s.Err()
}

// checkUser accepts 1 to 64 bytes of printable UTF-8 without spaces at either end.
func checkUser(user string) error {
	switch {
	case user == "":
		return fmt.Errorf("%w: the form field user is required", ErrBadInput)
	case len(user) > maxUserBytes:
		return fmt.Errorf("%w: user is longer than %d bytes", ErrBadInput, maxUserBytes)
	case !utf8.ValidString(user):
		return fmt.Errorf("%w: user is not UTF-8", ErrBadInput)
	}
	for _, r := range user {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: user holds an unprintable character", ErrBadInput)
		}
	}
	if unicode.IsSpace(rune(user[0])) || unicode.IsSpace(rune(user[len(user)-1])) {
		return fmt.Errorf("%w: user starts or ends with a space", ErrBadInput)
	}
	return nil
}
