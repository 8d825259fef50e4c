package sessionchi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/redisession/redisession/adapters/sessionchi"
	"github.com/redisession/redisession/cookie"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/middleware"
	"github.com/redisession/redisession/store"
)

// exampleRedis is the address of a redis-server TestMain started for the examples.
var exampleRedis string

func TestMain(m *testing.M) {
	os.Exit(redistest.RunMain(m, &exampleRedis))
}

func Example() {
	rdb := redistest.ExampleClient(exampleRedis)
	defer rdb.Close()
	st, err := store.New(context.Background(), rdb, store.Options{SkipChecks: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Insecure: the example's test server speaks plain HTTP.
	m, err := middleware.New(st, middleware.Options{Cookie: cookie.Options{Insecure: true}})
	if err != nil {
		fmt.Println(err)
		return
	}

	r := chi.NewRouter()
	r.Use(sessionchi.Middleware(m))
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := sessionchi.Get(r).Login("alice"); err != nil {
			http.Error(w, http.StatusText(middleware.ErrorStatus(err)), middleware.ErrorStatus(err))
			return
		}
		http.Redirect(w, r, "/visit", http.StatusSeeOther)
	})
	r.Get("/visit", func(w http.ResponseWriter, r *http.Request) {
		s := sessionchi.Get(r)
		n, err := s.Increment("visits", 1)
		if err != nil {
			http.Error(w, http.StatusText(middleware.ErrorStatus(err)), middleware.ErrorStatus(err))
			return
		}
		fmt.Fprintf(w, "%s, visit %d", s.UserID(), n)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	show := func(resp *http.Response, err error) {
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
	}
	show(client.Post(srv.URL+"/login", "", nil)) // follows the redirect to /visit
	show(client.Get(srv.URL + "/visit"))
	// Output:
	// alice, visit 1
	// alice, visit 2
}
