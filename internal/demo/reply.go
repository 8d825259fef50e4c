package demo

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/redisession/redisession/middleware"
)

// ErrBadInput means a form value is missing or out of range; it answers 400.
var ErrBadInput = errors.New("bad input")

// Reply is what a route answers: an HTTP status and the value its body carries as JSON. Each example
// writes it with its framework's JSON writer (c.JSON(r.Status, r.Body) in echo and gin, WriteJSON
// for net/http and chi).
type Reply struct {
	Status int
	Body   any
}

func ok(v any) Reply { return Reply{Status: http.StatusOK, Body: v} }

// Fail is the Reply for err: the status middleware.ErrorStatus gives (400 for ErrBadInput) and an
// ErrorView. Server-side failures are described by their status text only, since their errors may
// name internal addresses.
func Fail(err error) Reply {
	code := middleware.ErrorStatus(err)
	if errors.Is(err, ErrBadInput) {
		code = http.StatusBadRequest
	}
	msg := http.StatusText(code)
	if code < http.StatusInternalServerError {
		msg = err.Error()
	}
	return Reply{Status: code, Body: ErrorView{Error: msg}}
}

// StatusReply is the Reply for a bare status, e.g. a router's own 404 or 405.
func StatusReply(code int) Reply {
	return Reply{Status: code, Body: ErrorView{Error: http.StatusText(code)}}
}

// WriteJSON writes r with net/http.
func WriteJSON(w http.ResponseWriter, r Reply) {
	b, err := json.Marshal(r.Body)
	if err != nil {
		r, b = StatusReply(http.StatusInternalServerError), []byte(`{"error":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(r.Status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteError answers a failure of the session machinery (Redis unreachable, a missing CSRF token) with
// Fail(err). It is the session manager's ErrorHandler, so net/http and chi answer those failures in
// JSON like every other route; the echo and gin adapters send them down their framework's own error
// path instead.
func WriteError(w http.ResponseWriter, _ *http.Request, err error) { WriteJSON(w, Fail(err)) }
