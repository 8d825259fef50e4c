package demo

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/redisession/redisession/middleware"
)

// Level names as the API shows them.
const (
	LevelUser     = "user"
	LevelElevated = middleware.LevelElevated
)

// SessionView is the answer of GET /api/session.
type SessionView struct {
	Authenticated bool   `json:"authenticated"`
	User          string `json:"user"`
	// Level is the effective level: user once the elevated level has lapsed.
	Level string `json:"level"`
	// ElevatedUntil is when the elevated level lapses unless the session is used again
	// (middleware.Session.LevelUntil as RFC 3339 in UTC, whole seconds rounded down), JSON null at
	// level user.
	ElevatedUntil *string                    `json:"elevated_until"`
	CSRF          string                     `json:"csrf"`
	Fields        map[string]json.RawMessage `json:"fields"`
}

// DeviceView is one entry of GET /api/sessions.
type DeviceView struct {
	Handle    string `json:"handle"`
	Created   string `json:"created"`
	LastSeen  string `json:"last_seen"`
	UserAgent string `json:"user_agent"`
	IP        string `json:"ip"`
	Current   bool   `json:"current"`
}

// UserView is the answer of POST /api/login.
type UserView struct {
	User string `json:"user"`
}

// LevelView is the answer of POST /api/elevate.
type LevelView struct {
	Level string `json:"level"`
}

// ValueView is the answer of POST /api/incr.
type ValueView struct {
	Value int64 `json:"value"`
}

// DestroyedView is the answer of POST /api/logout-others and POST /api/logout-all.
type DestroyedView struct {
	Destroyed int `json:"destroyed"`
}

// OKView is the answer of routes with nothing else to say, and of a healthy GET /healthz.
type OKView struct {
	OK bool `json:"ok"`
}

// ErrorView is the body of every error answer.
type ErrorView struct {
	Error string `json:"error"`
}

// viewSession describes s; the caller has checked that s loaded.
func viewSession(s *middleware.Session) SessionView {
	v := SessionView{User: s.UserID(), Level: levelName(s.Level()), CSRF: s.CSRFToken(), Fields: map[string]json.RawMessage{}}
	v.Authenticated = v.User != ""
	if until := s.LevelUntil(); v.Level != LevelUser && !until.IsZero() {
		u := rfc3339(until)
		v.ElevatedUntil = &u
	}
	for k, raw := range s.Values() {
		v.Fields[k] = fieldJSON(raw)
	}
	return v
}

// fieldJSON returns a field's value as JSON: the JSON codec's encoding as it is (counters are plain
// decimal integers, which are JSON too), anything else as a JSON string.
func fieldJSON(raw []byte) json.RawMessage {
	if json.Valid(raw) {
		return json.RawMessage(raw)
	}
	b, _ := json.Marshal(string(raw))
	return b
}

func levelName(level string) string {
	if level == "" {
		return LevelUser
	}
	return level
}

// viewDevices describes a user's sessions, oldest sign-in first.
func viewDevices(ds []middleware.Device) []DeviceView {
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b middleware.Device) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Handle, b.Handle)
	})
	out := make([]DeviceView, 0, len(ds))
	for _, d := range ds {
		out = append(out, DeviceView{
			Handle: d.Handle, Created: rfc3339(d.Created), LastSeen: rfc3339(d.LastSeen),
			UserAgent: d.UserAgent, IP: d.RemoteAddr, Current: d.Current,
		})
	}
	return out
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
