package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/redisession/redisession/adapters/sessiongin"
	"github.com/redisession/redisession/internal/demo"
)

// routes builds a gin engine with the session middleware installed once, after gin's Recovery (so a
// panicking handler commits nothing); each handler reaches its session with sessiongin.Get(c). A
// failure of the session store aborts with its status, gin's way.
func routes(app *demo.App) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery(), sessiongin.Middleware(app.Manager))

	r.GET("/", func(c *gin.Context) {
		p := app.Page(sessiongin.Get(c))
		p.SetHeaders(c.Writer.Header())
		c.Data(p.Status, demo.ContentType, p.HTML)
	})
	r.GET("/healthz", func(c *gin.Context) {
		reply(c, app.Health(c.Request.Context()))
	})
	api := r.Group("/api")
	api.GET("/session", func(c *gin.Context) {
		reply(c, app.Session(sessiongin.Get(c)))
	})
	api.POST("/login", func(c *gin.Context) {
		reply(c, app.Login(sessiongin.Get(c), c.PostForm("user")))
	})
	api.POST("/elevate", func(c *gin.Context) {
		reply(c, app.Elevate(sessiongin.Get(c)))
	})
	api.POST("/set", func(c *gin.Context) {
		reply(c, app.Set(sessiongin.Get(c), c.PostForm("key"), c.PostForm("value")))
	})
	api.POST("/incr", func(c *gin.Context) {
		reply(c, app.Incr(sessiongin.Get(c), c.PostForm("key")))
	})
	api.POST("/delete", func(c *gin.Context) {
		reply(c, app.Delete(sessiongin.Get(c), c.PostForm("key")))
	})
	api.POST("/logout", func(c *gin.Context) {
		reply(c, app.Logout(sessiongin.Get(c)))
	})
	api.POST("/logout-others", func(c *gin.Context) {
		reply(c, app.LogoutOthers(sessiongin.Get(c)))
	})
	api.POST("/logout-all", func(c *gin.Context) {
		reply(c, app.LogoutAll(sessiongin.Get(c)))
	})
	api.GET("/sessions", func(c *gin.Context) {
		reply(c, app.Sessions(sessiongin.Get(c)))
	})
	api.POST("/sessions/revoke", func(c *gin.Context) {
		reply(c, app.Revoke(sessiongin.Get(c), c.PostForm("handle")))
	})
	return r
}

// reply writes r with gin's JSON writer.
func reply(c *gin.Context, r demo.Reply) { c.JSON(r.Status, r.Body) }
