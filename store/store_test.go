package store_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

func TestCreateLoadRoundTrip(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	id := e.create(t, store.NewSession{
		Meta:   store.Meta{UserID: "alice", Level: "user", UserAgent: "curl", RemoteAddr: "127.0.0.1", CSRFToken: "tok"},
		Fields: map[string]string{"theme": `"dark"`},
	})
	if !store.ValidID(id) {
		t.Fatalf("Create returned a malformed id %q", id)
	}
	r := e.load(t, id)
	if r.Fields["theme"] != `"dark"` || len(r.Fields) != 1 {
		t.Errorf("fields = %v", r.Fields)
	}
	m := r.Meta
	if m.UserID != "alice" || m.Level != "user" || m.UserAgent != "curl" || m.RemoteAddr != "127.0.0.1" || m.CSRFToken != "tok" {
		t.Errorf("meta = %+v", m)
	}
	if m.IdleTimeout != store.DefaultIdleTimeout {
		t.Errorf("idle = %v", m.IdleTimeout)
	}
	if d := m.AbsoluteDeadline.Sub(m.Created); d != store.DefaultAbsoluteTimeout {
		t.Errorf("absolute deadline - created = %v", d)
	}
	if r.Handle != store.Handle(id) {
		t.Errorf("handle = %s", r.Handle)
	}
}

func TestRawIDNeverInRedis(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "u1"}, Fields: map[string]string{"a": "1"}})
	ctx := ctxT(t)
	keys, err := e.rdb.Keys(ctx, "*").Result() // test-only: a server this test started
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, id) {
			t.Errorf("key %q contains the raw id", k)
		}
		if v, _ := e.rdb.Dump(ctx, k).Result(); strings.Contains(v, id) {
			t.Errorf("value of %q contains the raw id", k)
		}
	}
	want := "session:" + store.Handle(id)
	if n, _ := e.rdb.Exists(ctx, want).Result(); n != 1 {
		t.Errorf("key %s missing; keys: %v", want, keys)
	}
}

func TestBadInputIsRefusedWithoutWriting(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, MaxValueBytes: 16}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Fields: map[string]string{"keep": "1"}})
	for _, tc := range []struct {
		name string
		id   string
		c    store.Changes
		want error
	}{
		{"empty id", "", store.Changes{Set: map[string]string{"a": "1"}}, store.ErrInvalidID},
		{"short id", "abc", store.Changes{Set: map[string]string{"a": "1"}}, store.ErrInvalidID},
		{"bad charset", strings.Repeat("*", 43), store.Changes{Set: map[string]string{"a": "1"}}, store.ErrInvalidID},
		{"reserved name", id, store.Changes{Set: map[string]string{"_uid": "mallory"}}, store.ErrReservedField},
		{"reserved delete", id, store.Changes{Delete: []string{"_abs"}}, store.ErrReservedField},
		{"reserved incr", id, store.Changes{Incr: map[string]int64{"_exp": 1}}, store.ErrReservedField},
		{"empty name", id, store.Changes{Set: map[string]string{"": "1"}}, store.ErrReservedField},
		{"long name", id, store.Changes{Set: map[string]string{strings.Repeat("n", 300): "1"}}, store.ErrReservedField},
		{"value too large", id, store.Changes{Set: map[string]string{"a": strings.Repeat("x", 17), "b": "ok"}}, store.ErrTooLarge},
		{"name twice", id, store.Changes{Set: map[string]string{"a": "1"}, Delete: []string{"a"}}, store.ErrInvalidChanges},
		{"incr out of range", id, store.Changes{Incr: map[string]int64{"n": 1 << 60}}, store.ErrInvalidChanges},
		{"incr of a non-integer", id, store.Changes{Set: map[string]string{"b": "2"}, Incr: map[string]int64{"keep2": 1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.store.Commit(ctx, tc.id, tc.c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Commit error = %v, want %v", err, tc.want)
			}
		})
	}
	// Only the last, valid commit wrote anything.
	r := e.load(t, id)
	if len(r.Fields) != 3 || r.Fields["b"] != "2" || r.Fields["keep2"] != "1" {
		t.Errorf("fields after refused commits = %v", r.Fields)
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"z": "9"}, Incr: map[string]int64{"b": 1, "keep": 1}}); err != nil {
		t.Fatal(err)
	}
	// An increment of a field that holds text refuses the whole commit.
	_, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"y": "1"}, Incr: map[string]int64{"t": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"t": `"text"`}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"w": "1"}, Incr: map[string]int64{"t": 1}})
	if !errors.Is(err, store.ErrNotInteger) {
		t.Fatalf("incr of text: %v", err)
	}
	if _, ok := e.load(t, id).Fields["w"]; ok {
		t.Error("a refused commit wrote a field")
	}
	if _, err := e.store.Load(ctx, "x"); !errors.Is(err, store.ErrInvalidID) {
		t.Errorf("Load(bad id) = %v", err)
	}
}

func TestSizeLimitsAreCheckedBeforeWriting(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, MaxFields: 3, MaxSessionBytes: 40}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Fields: map[string]string{"a": "1", "b": "2"}})
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"c": "3", "d": "4"}}); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("4 fields with MaxFields 3: %v", err)
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"c": strings.Repeat("x", 40)}}); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("over MaxSessionBytes: %v", err)
	}
	if n := len(e.load(t, id).Fields); n != 2 {
		t.Fatalf("refused commits wrote: %d fields", n)
	}
	// Replacing and deleting count correctly: size goes down, so this fits.
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"c": strings.Repeat("x", 30)}, Delete: []string{"a", "b"}}); err != nil {
		t.Fatalf("shrinking commit: %v", err)
	}
	if _, _, err := e.store.Create(ctx, store.NewSession{Fields: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}}); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("Create over MaxFields: %v", err)
	}
}

func TestCorruptHashIsAnError(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	id, err := store.NewID()
	if err != nil {
		t.Fatal(err)
	}
	key := "session:" + store.Handle(id)
	e.rdb.HSet(ctx, key, "_abs", "not-a-number", "_idle", "x", "_exp", "1", "_created", "1", "_seen", "1")
	e.rdb.Expire(ctx, key, time.Minute)
	if _, err := e.store.Load(ctx, id); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Load corrupt = %v", err)
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"a": "1"}}); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Commit corrupt = %v", err)
	}
}

func TestEveryKeyHasATTL(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, MaxSessionsPerUser: 2}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	var ids []string
	for i := range 4 {
		ids = append(ids, e.create(t, store.NewSession{Meta: store.Meta{UserID: fmt.Sprint("u", i%2)}, Fields: map[string]string{"a": "1"}}))
	}
	anon := e.create(t, store.NewSession{})
	steps := []func() error{
		func() error {
			_, err := e.store.Commit(ctx, ids[0], store.Changes{Set: map[string]string{"b": "2"}, Incr: map[string]int64{"n": 1}})
			return err
		},
		func() error { _, err := e.store.Refresh(ctx, ids[1]); return err },
		func() error { _, err := e.store.CompareAndSet(ctx, ids[2], "c", nil, ptr("1")); return err },
		func() error {
			_, _, err := e.store.Rotate(ctx, anon, store.NewSession{Meta: store.Meta{UserID: "u0"}}, store.Changes{Set: map[string]string{"x": "1"}})
			return err
		},
		func() error { return e.store.Destroy(ctx, ids[3]) },
		func() error { _, err := e.store.List(ctx, "u0"); return err },
		func() error { _, err := e.store.DestroyOthers(ctx, "u1", ids[1]); return err },
		func() error {
			_, err := e.store.Commit(ctx, ids[3], store.Changes{Set: map[string]string{"zombie": "1"}})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("step %d: %v", i, err)
		}
		if n := e.assertAllKeysHaveTTL(t); n == 0 {
			t.Fatalf("step %d: no keys at all", i)
		}
	}
}

func TestIdleTimeoutEndsAnUnusedSession(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, IdleTimeout: 600 * time.Millisecond}, redistest.Options{})
	ctx := ctxT(t)
	used := e.create(t, store.NewSession{})
	unused := e.create(t, store.NewSession{})
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if _, err := e.store.Commit(ctx, used, store.Changes{Incr: map[string]int64{"n": 1}}); err != nil {
			t.Fatalf("a session in use idled out: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := e.store.Load(ctx, unused); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unused session after 2.5× its idle timeout: %v", err)
	}
	if n, _ := e.rdb.Exists(ctx, "session:"+store.Handle(unused)).Result(); n != 0 {
		t.Error("Redis still holds the idle session's key")
	}
}

func TestAbsoluteTimeoutEndsASessionInContinuousUse(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, IdleTimeout: 5 * time.Second, AbsoluteTimeout: 1200 * time.Millisecond}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "u"}})
	start := time.Now()
	var endedAt time.Duration
	for time.Since(start) < 4*time.Second {
		_, err := e.store.Commit(ctx, id, store.Changes{Incr: map[string]int64{"n": 1}})
		if errors.Is(err, store.ErrNotFound) {
			endedAt = time.Since(start)
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Refresh(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if endedAt == 0 {
		t.Fatal("a continuously used session outlived its absolute timeout by 3s")
	}
	if endedAt < time.Second {
		t.Fatalf("session ended after %v, before its absolute timeout", endedAt)
	}
	if ttl := e.rdb.PTTL(ctx, "session:"+store.Handle(id)).Val(); ttl > 0 {
		t.Errorf("key survives with TTL %v", ttl)
	}
}

// A session seen past its absolute deadline is reported as ErrDeadlinePassed, which is also
// ErrNotFound, by each operation that can see it; one that is simply gone is ErrNotFound alone.
// Redis normally removes the key at the deadline itself (its TTL never passes it); here each key is
// kept alive past it, as a client-side cache or a read in the instant before expiry would see it.
func TestDeadlinePassedIsTellableFromNotFound(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, IdleTimeout: time.Hour}, redistest.Options{})
	ctx := ctxT(t)
	const life = 300 * time.Millisecond
	ids := map[string]string{}
	for _, op := range []string{"load", "commit", "refresh", "cas"} {
		ids[op] = e.create(t, store.NewSession{AbsoluteTimeout: life, Fields: map[string]string{"a": "1"}})
		if err := e.rdb.PExpire(ctx, "session:"+store.Handle(ids[op]), time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(life + 100*time.Millisecond)
	ops := map[string]func(id string) error{
		"load": func(id string) error { _, err := e.store.Load(ctx, id); return err },
		"commit": func(id string) error {
			_, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"a": "2"}})
			return err
		},
		"refresh": func(id string) error { _, err := e.store.Refresh(ctx, id); return err },
		"cas":     func(id string) error { _, err := e.store.CompareAndSet(ctx, id, "a", ptr("1"), ptr("2")); return err },
	}
	for op, run := range ops {
		err := run(ids[op])
		if !errors.Is(err, store.ErrDeadlinePassed) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s past the deadline = %v, want ErrDeadlinePassed and ErrNotFound", op, err)
		}
		if op != "load" && e.rdb.Exists(ctx, "session:"+store.Handle(ids[op])).Val() != 0 {
			t.Errorf("%s found the session past its deadline and left its key", op)
		}
		// Gone now (or, for load, destroyed): plain ErrNotFound.
		if err := e.store.Destroy(ctx, ids[op]); err != nil {
			t.Fatal(err)
		}
		if err := run(ids[op]); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDeadlinePassed) {
			t.Errorf("%s of a gone session = %v, want ErrNotFound alone", op, err)
		}
	}
}

func TestReadsRefreshTheTTLOnlyOccasionally(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, IdleTimeout: time.Hour}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{})
	before := redistest.CommandCalls(t, e.rdb, "pexpireat")
	hget := redistest.CommandCalls(t, e.rdb, "hgetall")
	for range 100 {
		r := e.load(t, id)
		if e.store.NeedsRefresh(r, time.Now()) {
			if _, err := e.store.Refresh(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	pexp := redistest.CommandCalls(t, e.rdb, "pexpireat") - before
	if pexp > 2 {
		t.Errorf("100 loads caused %d PEXPIREATs, want at most 2", pexp)
	}
	if n := redistest.CommandCalls(t, e.rdb, "hgetall") - hget; n != 100 {
		t.Errorf("100 loads sent %d HGETALLs", n)
	}
}

func TestRefreshSlidesTheTTL(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, IdleTimeout: 2 * time.Second, RefreshGranularity: 100 * time.Millisecond}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{})
	time.Sleep(300 * time.Millisecond)
	r := e.load(t, id)
	if !e.store.NeedsRefresh(r, time.Now()) {
		t.Fatal("after 300ms with a 100ms granularity, NeedsRefresh is false")
	}
	exp, err := e.store.Refresh(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.After(r.Meta.Expires) {
		t.Errorf("Refresh did not move the end: %v -> %v", r.Meta.Expires, exp)
	}
	if e.store.NeedsRefresh(e.load(t, id), time.Now()) {
		t.Error("NeedsRefresh right after a refresh")
	}
	if ttl := e.rdb.PTTL(ctx, "session:"+store.Handle(id)).Val(); ttl < 1700*time.Millisecond {
		t.Errorf("PTTL after refresh = %v", ttl)
	}
}

func TestCommitAfterDestroyRecreatesNothing(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "u"}})
	if err := e.store.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"a": "1"}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Commit after Destroy = %v, want ErrNotFound", err)
	}
	if _, err := e.store.Refresh(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Refresh after Destroy = %v", err)
	}
	if _, err := e.store.CompareAndSet(ctx, id, "a", nil, ptr("1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CompareAndSet after Destroy = %v", err)
	}
	if n := e.rdb.DBSize(ctx).Val(); n != 0 {
		t.Errorf("%d keys left after destroying the only session", n)
	}
	if err := e.store.Destroy(ctx, id); err != nil {
		t.Errorf("second Destroy = %v, want nil (idempotent)", err)
	}
}

func TestConcurrentWritersOfDifferentFieldsLoseNothing(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{})
	const writers, writes = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*writes)
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				field := fmt.Sprintf("w%d_%d", w, i)
				if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{field: fmt.Sprint(i), fmt.Sprint("last", w): fmt.Sprint(i)}}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r := e.load(t, id)
	if len(r.Fields) != writers*writes+writers {
		t.Fatalf("%d fields, want %d", len(r.Fields), writers*writes+writers)
	}
	for w := range writers {
		if r.Fields[fmt.Sprint("last", w)] != fmt.Sprint(writes-1) {
			t.Errorf("writer %d's last field = %q", w, r.Fields[fmt.Sprint("last", w)])
		}
	}
}

func TestConcurrentIncrementsSumExactly(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{})
	const workers, each = 8, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]bool{}
	for range workers {
		wg.Go(func() {
			for range each {
				res, err := e.store.Commit(ctx, id, store.Changes{Incr: map[string]int64{"n": 1}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[res.Incremented["n"]] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	n, err := store.Int(e.load(t, id).Fields["n"])
	if err != nil || n != workers*each {
		t.Fatalf("n = %d (%v), want %d", n, err, workers*each)
	}
	if len(seen) != workers*each {
		t.Errorf("increments returned %d distinct values, want %d", len(seen), workers*each)
	}
}

func TestCompareAndSetUnderContentionLosesNothing(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	var conflicts sync.Map
	for w := range workers {
		wg.Go(func() {
			for range each {
				// Read-modify-write of a list held in one field: append our mark.
				cur := e.load(t, id).Fields["list"]
				var old *string
				if cur != "" {
					old = ptr(cur)
				}
				for {
					next := cur + fmt.Sprint(w)
					got, err := e.store.CompareAndSet(ctx, id, "list", old, &next)
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrConflict) {
						t.Error(err)
						return
					}
					conflicts.Store(w, true)
					old, cur = got, ""
					if got != nil {
						cur = *got
					}
				}
			}
		})
	}
	wg.Wait()
	list := e.load(t, id).Fields["list"]
	if len(list) != workers*each {
		t.Fatalf("list has %d marks, want %d", len(list), workers*each)
	}
	for w := range workers {
		if c := strings.Count(list, fmt.Sprint(w)); c != each {
			t.Errorf("worker %d has %d marks, want %d", w, c, each)
		}
	}
	// CAS expecting absence fails on a present field, and deleting works.
	if _, err := e.store.CompareAndSet(ctx, id, "list", nil, ptr("x")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CAS expecting absence: %v", err)
	}
	if _, err := e.store.CompareAndSet(ctx, id, "list", &list, nil); err != nil {
		t.Errorf("CAS delete: %v", err)
	}
	if _, ok := e.load(t, id).Fields["list"]; ok {
		t.Error("CAS delete left the field")
	}
}

func TestRotateLeavesTheOldIDDeadAndTheIndexRight(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	old := e.create(t, store.NewSession{Meta: store.Meta{UserID: "bob"}, Fields: map[string]string{"cart": "3", "n": "1"}})
	created := e.load(t, old).Meta.Created
	// Another tab writes after this request loaded: the rotation must keep it.
	if _, err := e.store.Commit(ctx, old, store.Changes{Set: map[string]string{"other_tab": "1"}}); err != nil {
		t.Fatal(err)
	}
	newID, rec, err := e.store.Rotate(ctx, old, store.NewSession{
		Meta: store.Meta{UserID: "bob", Level: "elevated"}, IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour, Created: created,
	}, store.Changes{Set: map[string]string{"x": "1"}, Delete: []string{"cart"}, Incr: map[string]int64{"n": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if newID == old {
		t.Fatal("Rotate kept the ID")
	}
	// The old ID is dead: it reads as rotated (no session) and refuses writes, never forwarding.
	if _, err := e.store.Load(ctx, old); !errors.Is(err, store.ErrRotated) {
		t.Fatalf("old ID after rotate: %v", err)
	}
	if _, err := e.store.Commit(ctx, old, store.Changes{Set: map[string]string{"a": "1"}}); !errors.Is(err, store.ErrRotated) {
		t.Fatalf("commit on old ID after rotate: %v", err)
	}
	r := e.load(t, newID)
	want := map[string]string{"n": "3", "x": "1", "other_tab": "1"}
	if fmt.Sprint(r.Fields) != fmt.Sprint(want) {
		t.Errorf("fields = %v, want %v", r.Fields, want)
	}
	if r.Meta.Level != "elevated" || r.Meta.IdleTimeout != time.Minute || !r.Meta.Created.Equal(created) || rec.Handle != r.Handle {
		t.Errorf("meta = %+v", r.Meta)
	}
	members := e.rdb.ZRange(ctx, "user:bob:sessions", 0, -1).Val()
	if len(members) != 1 || members[0] != store.Handle(newID) {
		t.Errorf("index = %v, want only the new handle", members)
	}
	if _, _, err := e.store.Rotate(ctx, old, store.NewSession{Meta: store.Meta{UserID: "bob"}}, store.Changes{}); !errors.Is(err, store.ErrRotated) {
		t.Errorf("Rotate of a rotated id = %v", err)
	}
}

func TestElevationNeverExtendsTheAbsoluteDeadline(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, AbsoluteTimeout: time.Hour}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "u"}})
	r := e.load(t, id)
	_, rec, err := e.store.Rotate(ctx, id, store.NewSession{Meta: store.Meta{UserID: "u", Level: "elevated"},
		AbsoluteTimeout: 2 * time.Hour, AbsoluteCap: r.Meta.AbsoluteDeadline}, store.Changes{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Meta.AbsoluteDeadline.After(r.Meta.AbsoluteDeadline) {
		t.Errorf("elevation moved the deadline from %v to %v", r.Meta.AbsoluteDeadline, rec.Meta.AbsoluteDeadline)
	}
}

func TestUserIndex(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	a := e.create(t, store.NewSession{Meta: store.Meta{UserID: "carol", UserAgent: "phone"}})
	b := e.create(t, store.NewSession{Meta: store.Meta{UserID: "carol", UserAgent: "laptop"}})
	c := e.create(t, store.NewSession{Meta: store.Meta{UserID: "carol", UserAgent: "tablet"}})
	other := e.create(t, store.NewSession{Meta: store.Meta{UserID: "dave"}})

	list, err := e.store.List(ctx, "carol")
	if err != nil || len(list) != 3 {
		t.Fatalf("List = %v, %v", list, err)
	}
	agents := map[string]bool{}
	for _, in := range list {
		agents[in.Meta.UserAgent] = true
		if store.ValidID(in.Handle) {
			t.Errorf("handle %q has the shape of a session id", in.Handle)
		}
	}
	if !agents["phone"] || !agents["laptop"] || !agents["tablet"] {
		t.Errorf("agents = %v", agents)
	}
	// A handle is honoured only for its owner.
	if err := e.store.Revoke(ctx, "dave", store.Handle(a)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("dave revoking carol's session: %v", err)
	}
	if err := e.store.Revoke(ctx, "carol", "not-a-handle"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("garbage handle: %v", err)
	}
	if err := e.store.Revoke(ctx, "carol", store.Handle(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Load(ctx, a); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("revoked session still loads")
	}
	n, err := e.store.DestroyOthers(ctx, "carol", b)
	if err != nil || n != 1 {
		t.Fatalf("DestroyOthers = %d, %v", n, err)
	}
	if _, err := e.store.Load(ctx, c); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("DestroyOthers left another session")
	}
	e.load(t, b)
	n, err = e.store.DestroyUser(ctx, "carol")
	if err != nil || n != 1 {
		t.Fatalf("DestroyUser = %d, %v", n, err)
	}
	if _, err := e.store.Load(ctx, b); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("DestroyUser left the current session")
	}
	if n := e.rdb.Exists(ctx, "user:carol:sessions").Val(); n != 0 {
		t.Error("empty index key left behind")
	}
	e.load(t, other)
}

func TestPerUserCapDestroysTheOldest(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, MaxSessionsPerUser: 2}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	first := e.create(t, store.NewSession{Meta: store.Meta{UserID: "eve"}})
	time.Sleep(5 * time.Millisecond)
	second := e.create(t, store.NewSession{Meta: store.Meta{UserID: "eve"}})
	time.Sleep(5 * time.Millisecond)
	third := e.create(t, store.NewSession{Meta: store.Meta{UserID: "eve"}})
	if _, err := e.store.Load(ctx, first); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("oldest session survived the cap: %v", err)
	}
	e.load(t, second)
	e.load(t, third)
	if n := e.rdb.ZCard(ctx, "user:eve:sessions").Val(); n != 2 {
		t.Errorf("index has %d members", n)
	}
}

func TestIndexPrunesExpiredMembers(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, IdleTimeout: 300 * time.Millisecond, AbsoluteTimeout: 600 * time.Millisecond}, redistest.Options{})
	ctx := ctxT(t)
	for range 3 {
		e.create(t, store.NewSession{Meta: store.Meta{UserID: "frank"}})
	}
	// One more with long timeouts so the index itself stays.
	live := e.create(t, store.NewSession{Meta: store.Meta{UserID: "frank"}, IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour})
	time.Sleep(900 * time.Millisecond)
	list, err := e.store.List(ctx, "frank")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Handle != store.Handle(live) {
		t.Fatalf("List = %+v", list)
	}
	if n := e.rdb.ZCard(ctx, "user:frank:sessions").Val(); n != 1 {
		t.Errorf("index still has %d members", n)
	}
	if ttl := e.rdb.PTTL(ctx, "user:frank:sessions").Val(); ttl < 59*time.Minute {
		t.Errorf("index TTL %v is shorter than its newest member's deadline", ttl)
	}
}

func TestIdledOutMembersArePrunedOnList(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	gone := e.create(t, store.NewSession{Meta: store.Meta{UserID: "gina"}})
	e.create(t, store.NewSession{Meta: store.Meta{UserID: "gina"}})
	// The session key vanishes without the index knowing (a TTL ran out, or a crash mid-destroy).
	e.rdb.Del(ctx, "session:"+store.Handle(gone))
	list, err := e.store.List(ctx, "gina")
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if n := e.rdb.ZCard(ctx, "user:gina:sessions").Val(); n != 1 {
		t.Errorf("dangling member not pruned: %d members", n)
	}
}

func TestPerUserCapCountsOnlyLiveSessions(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, MaxSessionsPerUser: 2}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	live := e.create(t, store.NewSession{Meta: store.Meta{UserID: "jo"}, AbsoluteTimeout: time.Hour})
	idled := e.create(t, store.NewSession{Meta: store.Meta{UserID: "jo"}, AbsoluteTimeout: 2 * time.Hour})
	// The second session idles out: its key is gone, its index entry stays until its deadline.
	e.rdb.Del(ctx, "session:"+store.Handle(idled))
	third := e.create(t, store.NewSession{Meta: store.Meta{UserID: "jo"}, AbsoluteTimeout: 3 * time.Hour})
	e.load(t, live)
	e.load(t, third)
}

func TestACLRulesEscapeThePrefix(t *testing.T) {
	r := store.ACLRules("a*b?[c]:")
	if !strings.Contains(r, `~a\*b\?\[c\]:session:*`) {
		t.Errorf("ACLRules did not escape the prefix: %s", r)
	}
}
