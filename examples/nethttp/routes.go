package main

import (
	"net/http"

	"github.com/redisession/redisession/internal/demo"
	"github.com/redisession/redisession/middleware"
)

// routes wires the contract's routes into a ServeMux and wraps it, once, in the session middleware;
// each handler reaches its session with middleware.Get(r).
func routes(app *demo.App) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteHTML(w, app.Page(middleware.Get(r)))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Health(r.Context()))
	})
	mux.HandleFunc("GET /api/session", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Session(middleware.Get(r)))
	})
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Login(middleware.Get(r), r.PostFormValue("user")))
	})
	mux.HandleFunc("POST /api/elevate", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Elevate(middleware.Get(r)))
	})
	mux.HandleFunc("POST /api/set", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Set(middleware.Get(r), r.PostFormValue("key"), r.PostFormValue("value")))
	})
	mux.HandleFunc("POST /api/incr", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Incr(middleware.Get(r), r.PostFormValue("key")))
	})
	mux.HandleFunc("POST /api/delete", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Delete(middleware.Get(r), r.PostFormValue("key")))
	})
	mux.HandleFunc("POST /api/logout", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Logout(middleware.Get(r)))
	})
	mux.HandleFunc("POST /api/logout-others", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.LogoutOthers(middleware.Get(r)))
	})
	mux.HandleFunc("POST /api/logout-all", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.LogoutAll(middleware.Get(r)))
	})
	mux.HandleFunc("GET /api/sessions", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Sessions(middleware.Get(r)))
	})
	mux.HandleFunc("POST /api/sessions/revoke", func(w http.ResponseWriter, r *http.Request) {
		demo.WriteJSON(w, app.Revoke(middleware.Get(r), r.PostFormValue("handle")))
	})
	return app.Manager.Handler(mux)
}
