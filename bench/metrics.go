package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	redigo "github.com/gomodule/redigo/redis"
	"github.com/redis/go-redis/v9"
)

// Round trips are counted on the client side: INFO commandstats also counts the commands a Lua
// script runs inside Redis, so it cannot tell one EVALSHA round trip from a chain of round trips.

// rtHook counts the round trips of a go-redis client: one per command, one per pipeline.
type rtHook struct{ n *atomic.Int64 }

func (h rtHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h rtHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h rtHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// newGoRedis returns a go-redis client with the library defaults and a round-trip counter.
func newGoRedis(addr string) (*redis.Client, *atomic.Int64) {
	n := new(atomic.Int64)
	c := redis.NewClient(&redis.Options{Addr: addr})
	c.AddHook(rtHook{n})
	return c, n
}

// countingConn counts the round trips of a redigo connection: each Do of a command and each Flush.
type countingConn struct {
	redigo.Conn
	n *atomic.Int64
}

func (c countingConn) Do(cmd string, args ...any) (any, error) {
	if cmd != "" {
		c.n.Add(1)
	}
	return c.Conn.Do(cmd, args...)
}

func (c countingConn) Flush() error {
	c.n.Add(1)
	return c.Conn.Flush()
}

// redistorePool is the pool redistore.NewRediStore builds (MaxIdle size, 240 s idle timeout, a PING
// on every borrow), with its connections counted.
func redistorePool(addr string, size int) (*redigo.Pool, *atomic.Int64) {
	n := new(atomic.Int64)
	return &redigo.Pool{
		MaxIdle:     size,
		IdleTimeout: 240 * time.Second,
		TestOnBorrow: func(c redigo.Conn, _ time.Time) error {
			_, err := c.Do("PING")
			return err
		},
		Dial: func() (redigo.Conn, error) {
			c, err := redigo.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, n}, nil
		},
	}, n
}

// serverStats is one reading of INFO stats and commandstats.
type serverStats struct {
	in, out  int64            // total_net_input_bytes, total_net_output_bytes
	cpu      float64          // used_cpu_user + used_cpu_sys, seconds
	calls    map[string]int64 // per command, INFO itself excluded
	infoSize int64            // bytes of the INFO reply, which the next reading's output counts
}

// infoRequest is the request readStats sends; its bytes land in the next reading's input total.
var infoRequest = encodeRESP("INFO", "stats", "cpu", "commandstats")

func readStats(ctx context.Context, c *redis.Client) (serverStats, error) {
	info, err := c.Do(ctx, "INFO", "stats", "cpu", "commandstats").Text()
	if err != nil {
		return serverStats{}, err
	}
	st := serverStats{calls: map[string]int64{}, infoSize: int64(len(info)) + 16}
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "total_net_input_bytes:"):
			st.in, _ = strconv.ParseInt(strings.TrimPrefix(line, "total_net_input_bytes:"), 10, 64)
		case strings.HasPrefix(line, "total_net_output_bytes:"):
			st.out, _ = strconv.ParseInt(strings.TrimPrefix(line, "total_net_output_bytes:"), 10, 64)
		case strings.HasPrefix(line, "used_cpu_user:"), strings.HasPrefix(line, "used_cpu_sys:"):
			_, v, _ := strings.Cut(line, ":")
			f, _ := strconv.ParseFloat(v, 64)
			st.cpu += f
		case strings.HasPrefix(line, "cmdstat_"):
			name, rest, _ := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
			if name == "info" {
				continue
			}
			for f := range strings.SplitSeq(rest, ",") {
				if v, ok := strings.CutPrefix(f, "calls="); ok {
					st.calls[name], _ = strconv.ParseInt(v, 10, 64)
				}
			}
		}
	}
	return st, nil
}

// statsDelta is what the server did between two readings, less the bench's own INFO.
type statsDelta struct {
	in, out  int64
	cpu      time.Duration // Redis' CPU time
	commands int64
	perCmd   map[string]int64
}

func diffStats(a, b serverStats) statsDelta {
	d := statsDelta{in: b.in - a.in - int64(len(infoRequest)), out: b.out - a.out - a.infoSize, perCmd: map[string]int64{},
		cpu: time.Duration((b.cpu - a.cpu) * float64(time.Second))}
	for name, n := range b.calls {
		if k := n - a.calls[name]; k > 0 {
			d.perCmd[name] = k
			d.commands += k
		}
	}
	d.in, d.out = max(d.in, 0), max(d.out, 0)
	return d
}

func encodeRESP(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// redisVersion returns the server's redis_version.
func redisVersion(ctx context.Context, c *redis.Client) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v
		}
	}
	return "unknown"
}

// processCPU returns the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
