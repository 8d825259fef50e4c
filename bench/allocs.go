package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
)

// serialRun is what one request costs when it runs alone.
type serialRun struct {
	allocs, bytes float64
	rt            float64 // Redis round trips per request; -1 when the subject has no Redis client
}

// measureSerial runs the subject's handler in-process, one request at a time through an
// httptest.ResponseRecorder, and returns heap allocations and bytes per request, and the Redis round
// trips one request waits for: alone, nothing is batched with other requests' commands. The
// allocations include the Redis client's work and building the request and recorder, which the bare
// subject shows alone.
func measureSerial(sub *subject, scenario string, fields, runs int) (out serialRun, err error) {
	var cookie string
	serve := func(method, path string) error {
		req := httptest.NewRequest(method, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", sub.Cookie+"="+cookie)
		}
		rec := httptest.NewRecorder()
		sub.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("%s %s: %d %s", method, path, rec.Code, truncate(strings.TrimSpace(rec.Body.String())))
		}
		if sub.Cookie != "" {
			cookie = nextCookie(rec.Header(), sub.Cookie, cookie)
		}
		return nil
	}
	if err := serve(http.MethodPost, "/seed?n="+strconv.Itoa(fields)); err != nil {
		return out, err
	}
	paths := make([]string, runs+runs/10)
	method := http.MethodGet
	for i := range paths {
		switch scenario {
		case "read":
			paths[i] = "/read"
		case "write":
			method, paths[i] = http.MethodPost, "/write?v=a-"+strconv.Itoa(i)
		case "login":
			method, paths[i] = http.MethodPost, "/login?u=alloc"
		case "tabs":
			method, paths[i] = http.MethodPost, "/tab?f=t0&v="+strconv.Itoa(i+1)
		}
	}
	warm := runs / 10
	for _, p := range paths[:warm] {
		if err := serve(method, p); err != nil {
			return out, err
		}
	}
	var m0, m1 runtime.MemStats
	var rt0 int64
	runtime.GC()
	if sub.RT != nil {
		rt0 = sub.RT()
	}
	runtime.ReadMemStats(&m0)
	for _, p := range paths[warm:] {
		if err := serve(method, p); err != nil {
			return out, err
		}
	}
	runtime.ReadMemStats(&m1)
	n := float64(len(paths) - warm)
	out = serialRun{allocs: float64(m1.Mallocs-m0.Mallocs) / n, bytes: float64(m1.TotalAlloc-m0.TotalAlloc) / n, rt: -1}
	if sub.RT != nil {
		out.rt = float64(sub.RT()-rt0) / n
	}
	return out, nil
}
