package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

var scenarios = []string{"read", "write", "login", "tabs"}

// client is one browser: its own session cookie over a shared keep-alive transport.
type client struct {
	base, cookieName, cookie string
	hc                       *http.Client
	fixed                    bool // keep the cookie whatever the server sets (the tabs share one)
	buf                      bytes.Buffer
}

// do sends one request and returns the status and body; the body is valid until the next call.
func (c *client) do(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookieName+"="+c.cookie)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	c.buf.Reset()
	_, err = c.buf.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if !c.fixed {
		c.cookie = nextCookie(resp.Header, c.cookieName, c.cookie)
	}
	return resp.StatusCode, c.buf.Bytes(), err
}

// nextCookie applies the Set-Cookie lines for name in h, in order, to cur.
func nextCookie(h http.Header, name, cur string) string {
	for _, line := range h.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(line)
		if err != nil || ck.Name != name {
			continue
		}
		if ck.MaxAge < 0 || ck.Value == "" {
			cur = ""
		} else {
			cur = ck.Value
		}
	}
	return cur
}

// cellResult is what one load run of one subject and scenario measured.
type cellResult struct {
	requests, errors int64
	firstErr         string
	elapsed          time.Duration
	latencies        []time.Duration
	rt               int64
	stats            statsDelta
	lost, ryw        int64
	tabWrites        int64
	cpu              time.Duration // this process' CPU time: load generator, server, Redis client
}

// tabSession is the shared state of the tabs of one session.
type tabSession struct {
	cookie string
	acked  [tabCount]atomic.Int64 // the last value each tab's write was acknowledged for
	mu     sync.Mutex
	lost   map[[2]int64]struct{} // (tab, value) pairs seen overwritten by an older value
}

func (t *tabSession) markLost(tab int, v int64) {
	t.mu.Lock()
	t.lost[[2]int64{int64(tab), v}] = struct{}{}
	t.mu.Unlock()
}

// parseTabs reads "v0,v1,…,v7"; an absent field counts as 0.
func parseTabs(b []byte) ([tabCount]int64, error) {
	var out [tabCount]int64
	parts := strings.Split(string(b), ",")
	if len(parts) != tabCount {
		return out, fmt.Errorf("tabs reply %q", truncate(string(b)))
	}
	for i, p := range parts {
		if p == "" {
			continue
		}
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return out, fmt.Errorf("tabs reply %q", truncate(string(b)))
		}
		out[i] = n
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// runCell serves sub on a loopback listener and drives it with cfg.concurrency clients: seeding,
// warmup, then the measured run, bracketed by INFO readings of the server and the round-trip counter.
func runCell(ctx context.Context, sub *subject, scenario string, fields int, cfg config, info *redis.Client) (cellResult, error) {
	srv := httptest.NewServer(sub.Handler)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConns: 4 * cfg.concurrency, MaxIdleConnsPerHost: 4 * cfg.concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	// Seed: one session per client, or one per 8 tabs.
	clients := make([]*client, cfg.concurrency)
	var tabs []*tabSession
	if scenario == "tabs" {
		tabs = make([]*tabSession, (cfg.concurrency+tabCount-1)/tabCount)
	}
	for i := range clients {
		c := &client{base: srv.URL, cookieName: sub.Cookie, hc: hc}
		clients[i] = c
		if scenario == "tabs" {
			ts := tabs[i/tabCount]
			if ts == nil {
				seed := &client{base: srv.URL, cookieName: sub.Cookie, hc: hc}
				if err := seedSession(ctx, seed, sub, fields); err != nil {
					return cellResult{}, err
				}
				ts = &tabSession{cookie: seed.cookie, lost: map[[2]int64]struct{}{}}
				tabs[i/tabCount] = ts
			}
			c.cookie, c.fixed = ts.cookie, true
			continue
		}
		if err := seedSession(ctx, c, sub, fields); err != nil {
			return cellResult{}, err
		}
	}

	var (
		res      cellResult
		mu       sync.Mutex
		counter  atomic.Int64 // requests started in the measured phase
		counting atomic.Bool  // lost updates and misses are counted in the measured phase only
	)
	phase := func(d time.Duration, measure bool) {
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []time.Duration
				if measure {
					lat = make([]time.Duration, 0, 4096)
				}
				var reqs, errs, ryw, writes int64
				var firstErr string
				fail := func(err string) {
					errs++
					if firstErr == "" {
						firstErr = err
					}
				}
				send := func(method, path string) ([]byte, bool) {
					start := time.Now()
					code, body, err := c.do(ctx, method, path)
					if measure {
						lat = append(lat, time.Since(start))
					}
					reqs++
					switch {
					case err != nil:
						fail(err.Error())
						return nil, false
					case code != http.StatusOK:
						fail(fmt.Sprintf("%s %s: %d %s", method, path, code, truncate(strings.TrimSpace(string(body)))))
						return nil, false
					}
					return body, true
				}
				var k int64
				if scenario == "tabs" {
					k = tabs[i/tabCount].acked[i%tabCount].Load()
				}
				for time.Now().Before(deadline) && (!measure || counter.Add(1) <= int64(cfg.maxRequests)) {
					switch scenario {
					case "read":
						send(http.MethodGet, "/read")
					case "write":
						k++
						send(http.MethodPost, "/write?v="+strconv.Itoa(i)+"-"+strconv.FormatInt(k, 10))
					case "login":
						send(http.MethodPost, "/login?u=user"+strconv.Itoa(i))
						if c.cookie == "" {
							fail("login left the client without a session cookie")
							return
						}
					case "tabs":
						ts, tab := tabs[i/tabCount], i%tabCount
						k++
						if _, ok := send(http.MethodPost, "/tab?f="+tabField(tab)+"&v="+strconv.FormatInt(k, 10)); !ok {
							continue
						}
						writes++
						ts.acked[tab].Store(k)
						var snap [tabCount]int64
						for j := range snap {
							snap[j] = ts.acked[j].Load()
						}
						body, ok := send(http.MethodGet, "/tabs")
						if !ok {
							continue
						}
						got, err := parseTabs(body)
						if err != nil {
							fail(err.Error())
							continue
						}
						if !counting.Load() {
							continue
						}
						if got[tab] != k {
							ryw++
						}
						for j := range got {
							if got[j] < snap[j] {
								ts.markLost(j, snap[j])
							}
						}
					}
				}
				mu.Lock()
				if measure {
					res.requests += reqs
					res.errors += errs
					res.ryw += ryw
					res.tabWrites += writes
					res.latencies = append(res.latencies, lat...)
					if res.firstErr == "" {
						res.firstErr = firstErr
					}
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
	}

	phase(cfg.warmup, false)
	var rt0 int64
	if sub.RT != nil {
		rt0 = sub.RT()
	}
	st0, err := readStats(ctx, info)
	if err != nil {
		return res, err
	}
	counting.Store(true)
	cpu0, start := processCPU(), time.Now()
	phase(cfg.duration, true)
	res.elapsed, res.cpu = time.Since(start), processCPU()-cpu0
	st1, err := readStats(ctx, info)
	if err != nil {
		return res, err
	}
	res.stats = diffStats(st0, st1)
	if sub.RT != nil {
		res.rt = sub.RT() - rt0
	}

	// A last look at each tab session, once every tab has stopped: an acknowledged write that is
	// not there now was lost even if no read caught it in the act.
	for _, ts := range tabs {
		c := &client{base: srv.URL, cookieName: sub.Cookie, cookie: ts.cookie, hc: hc, fixed: true}
		code, body, err := c.do(ctx, http.MethodGet, "/tabs")
		if err != nil || code != http.StatusOK {
			return res, fmt.Errorf("final tabs read: %v %d", err, code)
		}
		got, err := parseTabs(body)
		if err != nil {
			return res, err
		}
		for j := range got {
			if a := ts.acked[j].Load(); got[j] < a {
				ts.markLost(j, a)
			}
		}
		res.lost += int64(len(ts.lost))
	}
	slices.Sort(res.latencies)
	return res, nil
}

// seedSession creates c's session with n fields.
func seedSession(ctx context.Context, c *client, sub *subject, n int) error {
	code, body, err := c.do(ctx, http.MethodPost, "/seed?n="+strconv.Itoa(n))
	if err != nil {
		return fmt.Errorf("%s: seed: %w", sub.Key, err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s: seed: %d %s", sub.Key, code, truncate(string(body)))
	}
	if sub.Cookie != "" && c.cookie == "" {
		return fmt.Errorf("%s: seed set no %q cookie", sub.Key, sub.Cookie)
	}
	return nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}
