package sessionchi_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	chimiddleware "github.com/go-chi/chi/v5/middleware"

	"github.com/redisession/redisession/adapters/sessionchi"
	"github.com/redisession/redisession/internal/adaptertest"
	"github.com/redisession/redisession/middleware"
)

// newServer serves the adaptertest app on chi, with chi's Recoverer outside the session middleware.
func newServer(t *testing.T, e *adaptertest.Env) string {
	t.Helper()
	r := chi.NewRouter()
	r.Use(chimiddleware.Recoverer)
	r.Use(sessionchi.Middleware(e.Manager))
	r.Get("/whoami", func(w http.ResponseWriter, r *http.Request) {
		s := sessionchi.Get(r)
		fmt.Fprintf(w, "user=%s k=%s", s.UserID(), s.GetString("k"))
	})
	r.Get("/write/{writer}", func(w http.ResponseWriter, r *http.Request) {
		s := sessionchi.Get(r)
		if r.URL.Query().Has("login") {
			if err := s.Login(adaptertest.User); err != nil {
				http.Error(w, err.Error(), middleware.ErrorStatus(err))
				return
			}
		}
		name := chi.URLParam(r, "writer")
		if err := s.Set("k", name); err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		switch name {
		case "Write":
			_, _ = w.Write([]byte("ok"))
		case "WriteHeader":
			w.WriteHeader(http.StatusCreated)
		case "Redirect":
			http.Redirect(w, r, "/whoami", http.StatusSeeOther)
		case "Error":
			http.Error(w, "teapot", http.StatusTeapot)
		case "Flush":
			_ = http.NewResponseController(w).Flush()
			_, _ = io.WriteString(w, "ok")
		case "ReadFrom":
			_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("ok"))
		case "ServeContent":
			http.ServeContent(w, r, "ok.txt", time.Time{}, strings.NewReader("ok"))
		case "Hijack":
			conn, rw, err := http.NewResponseController(w).Hijack()
			adaptertest.AnswerHijacked(conn, rw, w.Header(), err)
		case "Nothing":
		default:
			http.NotFound(w, r)
		}
	})
	r.Get("/panic", func(w http.ResponseWriter, r *http.Request) {
		_ = sessionchi.Get(r).Set("k", "panic")
		panic("handler panics")
	})
	r.Post("/csrf", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ran")
	})
	srv := httptest.NewUnstartedServer(r)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestWriters(t *testing.T) {
	e := adaptertest.Start(t)
	adaptertest.CheckWriters(t, e, newServer(t, e), []adaptertest.Writer{
		{Name: "Write", Status: http.StatusOK},
		{Name: "WriteHeader", Status: http.StatusCreated},
		{Name: "Redirect", Status: http.StatusSeeOther},
		{Name: "Error", Status: http.StatusTeapot},
		{Name: "Flush", Status: http.StatusOK},
		{Name: "ReadFrom", Status: http.StatusOK},
		{Name: "ServeContent", Status: http.StatusOK},
		{Name: "Hijack", Status: http.StatusOK},
		{Name: "Nothing", Status: http.StatusOK},
	})
}

func TestRecovererCommitsNothing(t *testing.T) {
	e := adaptertest.Start(t)
	adaptertest.CheckPanic(t, e, newServer(t, e))
}

func TestRedisDown(t *testing.T) {
	e := adaptertest.Start(t)
	r := adaptertest.CheckRedisDown(t, e, newServer(t, e))
	// chi has no error path of its own: Options.ErrorHandler answers, by default in plain text.
	if got := strings.TrimSpace(r.Body); got != http.StatusText(http.StatusServiceUnavailable) {
		t.Errorf("body %q, want the default error handler's", got)
	}
}

func TestCSRF(t *testing.T) {
	e := adaptertest.Start(t)
	adaptertest.CheckCSRF(t, e, newServer(t, e))
}

func TestGetWithoutMiddleware(t *testing.T) {
	if s := sessionchi.Get(httptest.NewRequest(http.MethodGet, "/", nil)); s != nil {
		t.Fatalf("Get of an unwrapped request = %v, want nil", s)
	}
}
