package store_test

import (
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// elevate rotates id to the elevated level with the given level timeouts.
func (e *env) elevate(t *testing.T, id string, idle, abs time.Duration, ends bool) (string, *store.Record) {
	t.Helper()
	r, err := e.store.RotateSession(ctxT(t), id, store.Rotation{PrivilegeChange: true, Session: store.NewSession{
		Meta: store.Meta{Level: "elevated"}, LevelIdleTimeout: idle, LevelAbsoluteTimeout: abs, LevelEndsSession: ends}})
	if err != nil {
		t.Fatalf("elevate: %v", err)
	}
	return r.ID, r.Record
}

func TestALapsedLevelStepsDownAtLoadAndNoWriteRevivesIt(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, IdleTimeout: time.Minute}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "lv"}, Fields: map[string]string{"cart": "1"}})
	before := e.load(t, id)
	id, _ = e.elevate(t, id, 300*time.Millisecond, time.Hour, false)
	if r := e.load(t, id); r.Meta.Level != "elevated" || r.Meta.LevelExpires.IsZero() {
		t.Fatalf("just elevated: level %q, lapses %v", r.Meta.Level, r.Meta.LevelExpires)
	}
	time.Sleep(time.Second)
	r := e.load(t, id) // one HGETALL, no write: the lapse is computed from what it returned
	if r.Meta.Level != "" || !r.Meta.LevelExpires.IsZero() || r.Fields["cart"] != "1" {
		t.Fatalf("after the level's idle timeout: level %q, fields %v", r.Meta.Level, r.Fields)
	}
	if r.Meta.IdleTimeout != time.Minute || !r.Meta.AbsoluteDeadline.Equal(before.Meta.AbsoluteDeadline) {
		t.Errorf("the session's own timeouts changed: idle %v, deadline %v (was %v)", r.Meta.IdleTimeout, r.Meta.AbsoluteDeadline, before.Meta.AbsoluteDeadline)
	}
	for _, write := range []func() error{
		func() error {
			_, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"a": "1"}})
			return err
		},
		func() error { _, err := e.store.CompareAndSet(ctx, id, "b", nil, ptr("1")); return err },
		func() error { _, err := e.store.Refresh(ctx, id); return err },
	} {
		if err := write(); err != nil {
			t.Fatal(err)
		}
		if r := e.load(t, id); r.Meta.Level != "" {
			t.Fatalf("a write after the lapse revived the level")
		}
	}
	if v := e.rdb.HMGet(ctx, "session:"+store.Handle(id), "_level", "_lidle", "_labs").Val(); v[0] != nil || v[1] != nil || v[2] != nil {
		t.Errorf("the writes left the lapsed level in Redis: %v", v)
	}
}

func TestALevelThatEndsTheSessionBoundsItsTTL(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, IdleTimeout: time.Minute}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "lv"}})
	id, rec := e.elevate(t, id, time.Hour, 800*time.Millisecond, true)
	key := "session:" + store.Handle(id)
	// In constant use, the TTL never passes the level's absolute deadline; then the session is gone.
	deadline := time.Now().Add(800 * time.Millisecond)
	for time.Now().Before(deadline.Add(3 * time.Second)) {
		_, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"tick": "1"}})
		if err != nil {
			break
		}
		if ttl := e.rdb.PTTL(ctx, key).Val(); time.Now().Add(ttl).After(rec.Meta.LevelDeadline.Add(50 * time.Millisecond)) {
			t.Fatalf("TTL %v passes the level's deadline %v", ttl, rec.Meta.LevelDeadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := e.store.Load(ctx, id); err == nil {
		t.Fatal("the session outlived the deadline of a level that ends it")
	}
}

// A user who signs in all day from scripts leaves sessions that idle out; their index members are
// pruned as logins go on, so the index, and every logout-all or device list, stays near the live
// sessions instead of growing until the members' absolute deadlines.
func TestIdledOutMembersDoNotPileUpInTheIndex(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	live := e.create(t, store.NewSession{Meta: store.Meta{UserID: "bot"}})
	peak := int64(0)
	for range 200 {
		id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "bot"}})
		e.rdb.Del(ctx, "session:"+store.Handle(id)) // it idles out, unknown to the index
		peak = max(peak, e.rdb.ZCard(ctx, "user:bot:sessions").Val())
	}
	if peak > 18 {
		t.Errorf("the index grew to %d members for 1 live session over 200 logins", peak)
	}
	list, err := e.store.List(ctx, "bot")
	if err != nil || len(list) != 1 || list[0].Handle != store.Handle(live) {
		t.Errorf("device list = %v, %v; want the one live session", list, err)
	}
	n, err := e.store.DestroyUser(ctx, "bot")
	if err != nil || n != 1 {
		t.Errorf("logout everywhere destroyed %d, %v; want 1", n, err)
	}
}
