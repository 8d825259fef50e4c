package sessiongin_test

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

	"github.com/gin-gonic/gin"

	"github.com/redisession/redisession/adapters/sessiongin"
	"github.com/redisession/redisession/internal/adaptertest"
	"github.com/redisession/redisession/middleware"
)

func init() { gin.SetMode(gin.TestMode) }

// outcome is what a gin middleware outside the session's saw once the chain returned.
type outcome struct {
	aborted bool
	status  int
	errs    []error
}

// outcomes records the outcome of every request that did not panic.
type outcomes struct {
	mu  sync.Mutex
	all []outcome
}

func (o *outcomes) observe(c *gin.Context) {
	c.Next()
	var errs []error
	for _, e := range c.Errors {
		errs = append(errs, e.Err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, outcome{aborted: c.IsAborted(), status: c.Writer.Status(), errs: errs})
}

func (o *outcomes) last(t *testing.T) outcome {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.all) == 0 {
		t.Fatal("no request observed")
	}
	return o.all[len(o.all)-1]
}

// newServer serves the adaptertest app on gin, with gin's Recovery and an observing middleware
// outside the session middleware.
func newServer(t *testing.T, e *adaptertest.Env) (string, *outcomes) {
	t.Helper()
	r := gin.New()
	seen := &outcomes{}
	r.Use(gin.RecoveryWithWriter(io.Discard), seen.observe, sessiongin.Middleware(e.Manager))
	r.GET("/whoami", func(c *gin.Context) {
		s := sessiongin.Get(c)
		c.String(http.StatusOK, "user=%s k=%s", s.UserID(), s.GetString("k"))
	})
	r.GET("/write/:writer", func(c *gin.Context) {
		s := sessiongin.Get(c)
		if _, ok := c.GetQuery("login"); ok {
			if err := s.Login(adaptertest.User); err != nil {
				c.AbortWithStatus(middleware.ErrorStatus(err))
				return
			}
		}
		name := c.Param("writer")
		if err := s.Set("k", name); err != nil {
			c.AbortWithStatus(middleware.ErrorStatus(err))
			return
		}
		switch name {
		case "String":
			c.String(http.StatusOK, "ok")
		case "JSON":
			c.JSON(http.StatusOK, gin.H{"k": name})
		case "Data":
			c.Data(http.StatusOK, "application/octet-stream", []byte("ok"))
		case "Redirect":
			c.Redirect(http.StatusSeeOther, "/whoami")
		case "Stream":
			c.Stream(func(w io.Writer) bool {
				_, _ = io.WriteString(w, "ok")
				return false
			})
		case "SSEvent":
			c.SSEvent("message", "ok")
		case "AbortWithStatus":
			c.AbortWithStatus(http.StatusUnauthorized)
		case "AbortWithStatusJSON":
			c.AbortWithStatusJSON(http.StatusPaymentRequired, gin.H{"error": "pay"})
		case "Status":
			c.Status(http.StatusCreated)
		case "WriteString":
			_, _ = c.Writer.WriteString("ok")
		case "Flush":
			c.Status(http.StatusAccepted)
			c.Writer.Flush()
			_, _ = c.Writer.Write([]byte("ok"))
		case "ResponseController":
			_ = http.NewResponseController(c.Writer).Flush()
		case "Hijack":
			conn, rw, err := c.Writer.Hijack()
			adaptertest.AnswerHijacked(conn, rw, c.Writer.Header(), err)
		case "Nothing":
		default:
			c.AbortWithStatus(http.StatusNotFound)
		}
	})
	r.GET("/panic", func(c *gin.Context) {
		_ = sessiongin.Get(c).Set("k", "panic")
		panic("handler panics")
	})
	r.POST("/csrf", func(c *gin.Context) {
		c.String(http.StatusOK, "ran")
	})
	srv := httptest.NewUnstartedServer(r)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, seen
}

func TestWriters(t *testing.T) {
	e := adaptertest.Start(t)
	base, _ := newServer(t, e)
	adaptertest.CheckWriters(t, e, base, []adaptertest.Writer{
		{Name: "String", Status: http.StatusOK},
		{Name: "JSON", Status: http.StatusOK},
		{Name: "Data", Status: http.StatusOK},
		{Name: "Redirect", Status: http.StatusSeeOther},
		{Name: "Stream", Status: http.StatusOK},
		{Name: "SSEvent", Status: http.StatusOK},
		{Name: "AbortWithStatus", Status: http.StatusUnauthorized},
		{Name: "AbortWithStatusJSON", Status: http.StatusPaymentRequired},
		{Name: "Status", Status: http.StatusCreated},
		{Name: "WriteString", Status: http.StatusOK},
		{Name: "Flush", Status: http.StatusAccepted},
		{Name: "ResponseController", Status: http.StatusOK},
		{Name: "Hijack", Status: http.StatusOK},
		{Name: "Nothing", Status: http.StatusOK},
	})
}

func TestRecoveryCommitsNothing(t *testing.T) {
	e := adaptertest.Start(t)
	base, _ := newServer(t, e)
	adaptertest.CheckPanic(t, e, base)
}

func TestRedisDown(t *testing.T) {
	e := adaptertest.Start(t)
	base, seen := newServer(t, e)
	r := adaptertest.CheckRedisDown(t, e, base)
	if got := strings.TrimSpace(r.Body); got != http.StatusText(http.StatusServiceUnavailable) {
		t.Errorf("body %q, want the default error handler's", got)
	}
	checkAborted(t, seen.last(t), http.StatusServiceUnavailable, middleware.ErrUnavailable)
}

func TestCSRF(t *testing.T) {
	e := adaptertest.Start(t)
	base, seen := newServer(t, e)
	adaptertest.CheckCSRF(t, e, base)
	checkAborted(t, seen.last(t), http.StatusForbidden, middleware.ErrCSRF)
}

// checkAborted checks that gin saw the chain aborted with the status and target in c.Errors.
func checkAborted(t *testing.T, o outcome, status int, target error) {
	t.Helper()
	if !o.aborted || o.status != status {
		t.Errorf("gin saw aborted=%v status=%d, want aborted with %d", o.aborted, o.status, status)
	}
	if len(o.errs) != 1 || !errors.Is(o.errs[0], target) {
		t.Errorf("c.Errors = %v, want one error wrapping %v", o.errs, target)
	}
}

// TestErrorHandlerBody checks that Options.ErrorHandler writes the body, and may choose the status,
// of an aborted request.
func TestErrorHandlerBody(t *testing.T) {
	e := adaptertest.Start(t)
	m, err := middleware.New(e.Manager.Store(), middleware.Options{
		Cookie: e.Manager.Options().Cookie,
		CSRF:   true,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprintf(w, `{"error":%q}`, http.StatusText(middleware.ErrorStatus(err)))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Manager = m
	base, seen := newServer(t, e)
	s := adaptertest.Do(t, http.MethodGet, base+"/write/String", nil)
	r := adaptertest.Do(t, http.MethodPost, base+"/csrf", s.Cookie)
	if r.Status != http.StatusTooManyRequests || r.Body != `{"error":"Forbidden"}` || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %d %q %q, want the ErrorHandler's response", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	checkAborted(t, seen.last(t), http.StatusTooManyRequests, middleware.ErrCSRF)
}

func TestGetWithoutMiddleware(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	if s := sessiongin.Get(c); s != nil {
		t.Fatalf("Get of an unwrapped request = %v, want nil", s)
	}
}
