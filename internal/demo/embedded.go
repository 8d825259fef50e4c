package demo

import (
	"fmt"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// expiryTick is how often the embedded Redis expires keys whose TTL has run out.
const expiryTick = time.Second

// embedded is an in-process Redis (miniredis) on a free loopback port. miniredis only counts TTLs
// down when told to, so a ticker advances them with the wall clock, as a real server would: idle and
// absolute timeouts then end sessions in the embedded Redis too. The ticker works in memory and sends
// no command.
type embedded struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	done sync.WaitGroup
}

func startEmbedded() (*embedded, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("starting the embedded Redis: %w", err)
	}
	e := &embedded{mr: mr, stop: make(chan struct{})}
	e.done.Go(e.expire)
	return e, nil
}

// expire advances the TTLs by the time that passed, once per tick, until close.
func (e *embedded) expire() {
	t := time.NewTicker(expiryTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			e.mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

func (e *embedded) addr() string { return e.mr.Addr() }

func (e *embedded) close() {
	close(e.stop)
	e.done.Wait()
	e.mr.Close()
}
