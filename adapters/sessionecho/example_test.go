package sessionecho_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/redisession/redisession/adapters/sessionecho"
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

	e := echo.New()
	e.Use(sessionecho.Middleware(m))
	e.POST("/login", func(c echo.Context) error {
		if err := sessionecho.Get(c).Login("alice"); err != nil {
			return echo.NewHTTPError(middleware.ErrorStatus(err)).SetInternal(err)
		}
		return c.Redirect(http.StatusSeeOther, "/visit")
	})
	e.GET("/visit", func(c echo.Context) error {
		s := sessionecho.Get(c)
		n, err := s.Increment("visits", 1)
		if err != nil {
			return echo.NewHTTPError(middleware.ErrorStatus(err)).SetInternal(err)
		}
		return c.String(http.StatusOK, fmt.Sprintf("%s, visit %d", s.UserID(), n))
	})
	srv := httptest.NewServer(e)
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
