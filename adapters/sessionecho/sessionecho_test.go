package sessionecho_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	echomiddleware "github.com/labstack/echo/v4/middleware"

	"github.com/redisession/redisession/adapters/sessionecho"
	"github.com/redisession/redisession/internal/adaptertest"
	"github.com/redisession/redisession/middleware"
)

// errorLog records what echo's HTTPErrorHandler was given.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// newServer serves the adaptertest app on echo, with echo's Recover outside the session middleware
// and an HTTPErrorHandler that records its errors before echo's default answers.
func newServer(t *testing.T, e *adaptertest.Env) (string, *errorLog) {
	t.Helper()
	ec := echo.New()
	ec.HideBanner, ec.HidePort = true, true
	ec.Logger.SetOutput(io.Discard)
	errs := &errorLog{}
	ec.HTTPErrorHandler = func(err error, c echo.Context) {
		errs.add(err)
		ec.DefaultHTTPErrorHandler(err, c)
	}
	ec.Use(echomiddleware.RecoverWithConfig(echomiddleware.RecoverConfig{DisablePrintStack: true}))
	ec.Use(sessionecho.Middleware(e.Manager))
	ec.GET("/whoami", func(c echo.Context) error {
		s := sessionecho.Get(c)
		return c.String(http.StatusOK, fmt.Sprintf("user=%s k=%s", s.UserID(), s.GetString("k")))
	})
	ec.GET("/write/:writer", func(c echo.Context) error {
		s := sessionecho.Get(c)
		if c.QueryParams().Has("login") {
			if err := s.Login(adaptertest.User); err != nil {
				return err
			}
		}
		name := c.Param("writer")
		if err := s.Set("k", name); err != nil {
			return err
		}
		switch name {
		case "String":
			return c.String(http.StatusOK, "ok")
		case "JSON":
			return c.JSON(http.StatusOK, map[string]string{"k": name})
		case "HTML":
			return c.HTML(http.StatusOK, "<p>ok</p>")
		case "Blob":
			return c.Blob(http.StatusOK, "application/octet-stream", []byte("ok"))
		case "Redirect":
			return c.Redirect(http.StatusSeeOther, "/whoami")
		case "Stream":
			return c.Stream(http.StatusOK, "text/plain", strings.NewReader("ok"))
		case "NoContent":
			return c.NoContent(http.StatusNoContent)
		case "ReturnError":
			// echo's HTTPErrorHandler writes the response after the chain returned.
			return echo.NewHTTPError(http.StatusTeapot)
		case "Flush":
			c.Response().WriteHeader(http.StatusAccepted)
			c.Response().Flush()
			_, err := c.Response().Write([]byte("ok"))
			return err
		case "Hijack":
			conn, rw, err := c.Response().Hijack()
			adaptertest.AnswerHijacked(conn, rw, c.Response().Header(), err)
			return nil
		case "Nothing":
			return nil
		}
		return echo.ErrNotFound
	})
	ec.GET("/panic", func(c echo.Context) error {
		_ = sessionecho.Get(c).Set("k", "panic")
		panic("handler panics")
	})
	ec.POST("/csrf", func(c echo.Context) error {
		return c.String(http.StatusOK, "ran")
	})
	srv := httptest.NewUnstartedServer(ec)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, errs
}

func TestWriters(t *testing.T) {
	e := adaptertest.Start(t)
	base, _ := newServer(t, e)
	adaptertest.CheckWriters(t, e, base, []adaptertest.Writer{
		{Name: "String", Status: http.StatusOK},
		{Name: "JSON", Status: http.StatusOK},
		{Name: "HTML", Status: http.StatusOK},
		{Name: "Blob", Status: http.StatusOK},
		{Name: "Redirect", Status: http.StatusSeeOther},
		{Name: "Stream", Status: http.StatusOK},
		{Name: "NoContent", Status: http.StatusNoContent},
		{Name: "ReturnError", Status: http.StatusTeapot},
		{Name: "Flush", Status: http.StatusAccepted},
		{Name: "Hijack", Status: http.StatusOK},
		{Name: "Nothing", Status: http.StatusOK},
	})
}

func TestRecoverCommitsNothing(t *testing.T) {
	e := adaptertest.Start(t)
	base, _ := newServer(t, e)
	adaptertest.CheckPanic(t, e, base)
}

func TestRedisDown(t *testing.T) {
	e := adaptertest.Start(t)
	base, errs := newServer(t, e)
	r := adaptertest.CheckRedisDown(t, e, base)
	if got, want := strings.TrimSpace(r.Body), `{"message":"Service Unavailable"}`; got != want {
		t.Errorf("body %q, want echo's default error body %q", got, want)
	}
	checkHandled(t, errs.all(), http.StatusServiceUnavailable, middleware.ErrUnavailable)
}

func TestCSRF(t *testing.T) {
	e := adaptertest.Start(t)
	base, errs := newServer(t, e)
	adaptertest.CheckCSRF(t, e, base)
	checkHandled(t, errs.all(), http.StatusForbidden, middleware.ErrCSRF)
}

// checkHandled checks that echo's HTTPErrorHandler got exactly one error: an *echo.HTTPError with the
// status, wrapping target.
func checkHandled(t *testing.T, errs []error, status int, target error) {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("HTTPErrorHandler got %d errors (%v), want 1", len(errs), errs)
	}
	var he *echo.HTTPError
	if !errors.As(errs[0], &he) || he.Code != status {
		t.Errorf("HTTPErrorHandler got %v, want an *echo.HTTPError with code %d", errs[0], status)
	}
	if !errors.Is(errs[0], target) {
		t.Errorf("HTTPErrorHandler got %v, want it to wrap %v", errs[0], target)
	}
}

func TestGetWithoutMiddleware(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if s := sessionecho.Get(c); s != nil {
		t.Fatalf("Get of an unwrapped request = %v, want nil", s)
	}
}
