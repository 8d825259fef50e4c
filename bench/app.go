package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
)

// The same small application runs on every subject, written with each library's own API:
//
//	POST /seed?n=N       creates a session holding N fields f000… of ~92 bytes each
//	GET  /read           reads one field (f007) and answers with it: the read-only request
//	POST /write?v=K      replaces one field (f005) with a new value of the same size
//	POST /login?u=U      logs user U in, moving the session to a new ID where the library can
//	POST /tab?f=tI&v=K   sets tab I's own field to K (the 8-tab scenario)
//	GET  /tabs           answers with the 8 tab fields, comma-separated
//
// A read that does not find its field is an error: a subject cannot look fast by losing sessions.

const (
	readField  = "f007"
	writeField = "f005"
	tabCount   = 8
	valueLen   = 90
)

func fieldName(i int) string { return fmt.Sprintf("f%03d", i) }

// fieldValue is the seeded value of field i: 90 bytes, ~92 once JSON-encoded.
func fieldValue(i int) string { return pad(fmt.Sprintf("value-%03d-", i)) }

// writeValue is the value a write request stores: as long as a seeded one.
func writeValue(v string) string { return pad("written-" + v + "-") }

func pad(s string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	b.Grow(valueLen)
	b.WriteString(s)
	for i := 0; b.Len() < valueLen; i++ {
		b.WriteByte(alphabet[(i*7+len(s))%len(alphabet)])
	}
	return b.String()
}

func tabField(i int) string { return "t" + strconv.Itoa(i) }

var errMissing = errors.New("field missing: session lost or not loaded")

// app is one subject's implementation of the application, on its framework's context type C.
type app[C any] struct {
	seed   func(c C, n int) error
	read   func(c C) (string, error)
	write  func(c C, v string) error
	login  func(c C, uid string) error
	setTab func(c C, f, v string) error
	tabs   func(c C) ([]string, error)
}

// hctx is the net/http context.
type hctx struct {
	w http.ResponseWriter
	r *http.Request
}

// httpRoutes serves a on a ServeMux.
func httpRoutes(a app[hctx]) *http.ServeMux {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, body string, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, body)
	}
	mux.HandleFunc("POST /seed", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		reply(w, "ok", a.seed(hctx{w, r}, n))
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		v, err := a.read(hctx{w, r})
		reply(w, v, err)
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		reply(w, "ok", a.write(hctx{w, r}, writeValue(r.URL.Query().Get("v"))))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		reply(w, "ok", a.login(hctx{w, r}, r.URL.Query().Get("u")))
	})
	mux.HandleFunc("POST /tab", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		reply(w, "ok", a.setTab(hctx{w, r}, q.Get("f"), q.Get("v")))
	})
	mux.HandleFunc("GET /tabs", func(w http.ResponseWriter, r *http.Request) {
		v, err := a.tabs(hctx{w, r})
		reply(w, strings.Join(v, ","), err)
	})
	return mux
}

// ginRoutes serves a on a gin engine.
func ginRoutes(e *gin.Engine, a app[*gin.Context]) {
	reply := func(c *gin.Context, body string, err error) {
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, body)
	}
	e.POST("/seed", func(c *gin.Context) {
		n, _ := strconv.Atoi(c.Query("n"))
		reply(c, "ok", a.seed(c, n))
	})
	e.GET("/read", func(c *gin.Context) {
		v, err := a.read(c)
		reply(c, v, err)
	})
	e.POST("/write", func(c *gin.Context) { reply(c, "ok", a.write(c, writeValue(c.Query("v")))) })
	e.POST("/login", func(c *gin.Context) { reply(c, "ok", a.login(c, c.Query("u"))) })
	e.POST("/tab", func(c *gin.Context) { reply(c, "ok", a.setTab(c, c.Query("f"), c.Query("v"))) })
	e.GET("/tabs", func(c *gin.Context) {
		v, err := a.tabs(c)
		reply(c, strings.Join(v, ","), err)
	})
}

// echoRoutes serves a on an echo instance.
func echoRoutes(e *echo.Echo, a app[echo.Context]) {
	reply := func(c echo.Context, body string, err error) error {
		if err != nil {
			return c.String(http.StatusInternalServerError, err.Error())
		}
		return c.String(http.StatusOK, body)
	}
	e.POST("/seed", func(c echo.Context) error {
		n, _ := strconv.Atoi(c.QueryParam("n"))
		return reply(c, "ok", a.seed(c, n))
	})
	e.GET("/read", func(c echo.Context) error {
		v, err := a.read(c)
		return reply(c, v, err)
	})
	e.POST("/write", func(c echo.Context) error { return reply(c, "ok", a.write(c, writeValue(c.QueryParam("v")))) })
	e.POST("/login", func(c echo.Context) error { return reply(c, "ok", a.login(c, c.QueryParam("u"))) })
	e.POST("/tab", func(c echo.Context) error {
		return reply(c, "ok", a.setTab(c, c.QueryParam("f"), c.QueryParam("v")))
	})
	e.GET("/tabs", func(c echo.Context) error {
		v, err := a.tabs(c)
		return reply(c, strings.Join(v, ","), err)
	})
}
