package main

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/redisession/redisession/internal/demo"
)

// jsonErrors is the echo instance's HTTPErrorHandler: every failure, echo's own (404, 405) and the
// session store's (503 when Redis is down, 403 for a missing CSRF token), answers with the same JSON
// error body as the other examples.
func jsonErrors(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	r := demo.Fail(err)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		r = demo.StatusReply(he.Code)
		if he.Internal != nil {
			r = demo.Fail(he.Internal)
		}
		r.Status = he.Code
	}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(r.Status)
	} else {
		err = c.JSON(r.Status, r.Body)
	}
	if err != nil {
		c.Logger().Error(err)
	}
}
