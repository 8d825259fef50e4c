package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/redisession/redisession/adapters/sessionchi"
	"github.com/redisession/redisession/internal/demo"
)

// routes builds a chi router with the session middleware installed once, after chi's Recoverer (so a
// panicking handler commits nothing); each handler reaches its session with sessionchi.Get(r).
func routes(app *demo.App) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(sessionchi.Middleware(app.Manager))

	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteHTML(w, app.Page(sessionchi.Get(r)))
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Health(r.Context()))
	})
	r.Route("/api", func(r chi.Router) {
		r.Get("/session", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Session(sessionchi.Get(r)))
		})
		r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Login(sessionchi.Get(r), r.PostFormValue("user")))
		})
		r.Post("/elevate", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Elevate(sessionchi.Get(r)))
		})
		r.Post("/set", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Set(sessionchi.Get(r), r.PostFormValue("key"), r.PostFormValue("value")))
		})
		r.Post("/incr", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Incr(sessionchi.Get(r), r.PostFormValue("key")))
		})
		r.Post("/delete", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Delete(sessionchi.Get(r), r.PostFormValue("key")))
		})
		r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Logout(sessionchi.Get(r)))
		})
		r.Post("/logout-others", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.LogoutOthers(sessionchi.Get(r)))
		})
		r.Post("/logout-all", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.LogoutAll(sessionchi.Get(r)))
		})
		r.Get("/sessions", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Sessions(sessionchi.Get(r)))
		})
		r.Post("/sessions/revoke", func(w http.ResponseWriter, r *http.Request) {
			demo.WriteJSON(w, app.Revoke(sessionchi.Get(r), r.PostFormValue("handle")))
		})
	})
	return r
}
