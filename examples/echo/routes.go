package main

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/redisession/redisession/adapters/sessionecho"
	"github.com/redisession/redisession/internal/demo"
)

// routes builds an echo instance with the session middleware installed once, after echo's Recover (so
// a panicking handler commits nothing); each handler reaches its session with sessionecho.Get(c).
// Failures, the session store's included, go through echo's HTTPErrorHandler, which answers in JSON.
func routes(app *demo.App) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = jsonErrors
	e.Use(middleware.Recover())
	e.Use(sessionecho.Middleware(app.Manager))

	e.GET("/", func(c echo.Context) error {
		p := app.Page(sessionecho.Get(c))
		p.SetHeaders(c.Response().Header())
		return c.HTMLBlob(p.Status, p.HTML)
	})
	e.GET("/healthz", func(c echo.Context) error {
		return reply(c, app.Health(c.Request().Context()))
	})
	api := e.Group("/api")
	api.GET("/session", func(c echo.Context) error {
		return reply(c, app.Session(sessionecho.Get(c)))
	})
	api.POST("/login", func(c echo.Context) error {
		return reply(c, app.Login(sessionecho.Get(c), c.FormValue("user")))
	})
	api.POST("/elevate", func(c echo.Context) error {
		return reply(c, app.Elevate(sessionecho.Get(c)))
	})
	api.POST("/set", func(c echo.Context) error {
		return reply(c, app.Set(sessionecho.Get(c), c.FormValue("key"), c.FormValue("value")))
	})
	api.POST("/incr", func(c echo.Context) error {
		return reply(c, app.Incr(sessionecho.Get(c), c.FormValue("key")))
	})
	api.POST("/delete", func(c echo.Context) error {
		return reply(c, app.Delete(sessionecho.Get(c), c.FormValue("key")))
	})
	api.POST("/logout", func(c echo.Context) error {
		return reply(c, app.Logout(sessionecho.Get(c)))
	})
	api.POST("/logout-others", func(c echo.Context) error {
		return reply(c, app.LogoutOthers(sessionecho.Get(c)))
	})
	api.POST("/logout-all", func(c echo.Context) error {
		return reply(c, app.LogoutAll(sessionecho.Get(c)))
	})
	api.GET("/sessions", func(c echo.Context) error {
		return reply(c, app.Sessions(sessionecho.Get(c)))
	})
	api.POST("/sessions/revoke", func(c echo.Context) error {
		return reply(c, app.Revoke(sessionecho.Get(c), c.FormValue("handle")))
	})
	return e
}

// reply writes r with echo's JSON writer.
func reply(c echo.Context, r demo.Reply) error { return c.JSON(r.Status, r.Body) }
