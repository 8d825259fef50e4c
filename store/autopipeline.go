package store

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// autopipelineMin is the number of this store's writes in flight, the new one included, from which a
// write script goes through go-redis' autopipeliner: batching concurrent writes into one round trip
// raises write throughput several times under load (see docs/client-cache.md), while a lone write
// sent through it would only pay the batcher's hand-off.
const autopipelineMin = 2

// writePath routes the store's write scripts.
type writePath struct {
	ap       redis.Scripter // the client's blocking autopipeliner; nil sends every write directly
	min      int64          // writes in flight, the new one included, from which ap is used
	inflight atomic.Int64
}

// run runs a write script: through the autopipeliner when enough of this store's writes are in
// flight, directly otherwise. Either way it returns once Redis has answered.
func (s *Store) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	w := &s.writes
	if w.ap == nil {
		return sc.Run(ctx, s.rdb, keys, args...)
	}
	n := w.inflight.Add(1)
	defer w.inflight.Add(-1)
	if n >= w.min {
		return sc.Run(ctx, w.ap, keys, args...)
	}
	return sc.Run(ctx, s.rdb, keys, args...)
}

// attachAutopipeline takes the client's blocking autopipeliner for the write path unless
// Options.DisableAutoPipeline is set; a client without one (a Ring) sends every write directly.
func (s *Store) attachAutopipeline() {
	if s.opts.DisableAutoPipeline {
		return
	}
	ap, err := s.rdb.AutoPipeline()
	if err != nil || ap == nil {
		return
	}
	s.writes.ap, s.writes.min = ap, autopipelineMin
}
