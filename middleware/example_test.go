package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"testing"

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
	m, err := middleware.New(st, middleware.Options{Cookie: cookieForTests()})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		n, err := middleware.Get(r).Increment("visits", 1)
		if err != nil {
			http.Error(w, err.Error(), middleware.ErrorStatus(err))
			return
		}
		fmt.Fprintf(w, "visit %d", n)
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for range 3 {
		resp, err := client.Get(srv.URL + "/visit")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// visit 1
	// visit 2
	// visit 3
}

// cookieForTests allows the plain-http cookies that httptest servers need.
func cookieForTests() cookie.Options { return cookie.Options{Insecure: true} }
