package sessiongin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/redisession/redisession/adapters/sessiongin"
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), sessiongin.Middleware(m))
	r.POST("/login", func(c *gin.Context) {
		if err := sessiongin.Get(c).Login("alice"); err != nil {
			_ = c.AbortWithError(middleware.ErrorStatus(err), err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/visit")
	})
	r.GET("/visit", func(c *gin.Context) {
		s := sessiongin.Get(c)
		n, err := s.Increment("visits", 1)
		if err != nil {
			_ = c.AbortWithError(middleware.ErrorStatus(err), err)
			return
		}
		c.String(http.StatusOK, "%s, visit %d", s.UserID(), n)
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
