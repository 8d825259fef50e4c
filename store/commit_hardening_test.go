package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// These tests need a real redis-server: the limits they attack (Lua's unpack, HINCRBY's integer rule)
// are the server's own, which the in-process fake does not share.

// hashOf returns the whole session hash, metadata included.
func hashOf(t testing.TB, rdb redis.UniversalClient, key string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		t.Fatalf("HGETALL %s: %v", key, err)
	}
	return m
}

// countAndSizeError reports whether h's _n and _size disagree with its application fields.
func countAndSizeError(h map[string]string) error {
	n, size := 0, 0
	for k, v := range h {
		if strings.HasPrefix(k, store.ReservedPrefix) {
			continue
		}
		n++
		size += len(k) + len(v)
	}
	if h["_n"] != strconv.Itoa(n) || h["_size"] != strconv.Itoa(size) {
		return fmt.Errorf("_n=%q _size=%q, the application fields are %d holding %d bytes", h["_n"], h["_size"], n, size)
	}
	return nil
}

// assertUnchanged fails unless the hash is byte for byte what it was before.
func assertUnchanged(t *testing.T, before, after map[string]string) {
	t.Helper()
	if maps.Equal(before, after) {
		return
	}
	for k, v := range after {
		if w, ok := before[k]; !ok || w != v {
			t.Errorf("field %q: %q before, %q after (present before: %v)", k, w, v, ok)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("field %q deleted", k)
		}
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

func TestACommitOfTenThousandDeletesIsRefusedWithNothingWritten(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Fields: map[string]string{"keep": "1", "gone0": "x"}})
	key := e.store.SessionKey(store.Handle(id))
	before := hashOf(t, e.rdb, key)
	_, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"new": "1"}, Delete: names("gone", 10_000)})
	if !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("Commit of 10,000 deletes = %v, want ErrTooLarge", err)
	}
	assertUnchanged(t, before, hashOf(t, e.rdb, key))
}

func TestACommitOfTenThousandSetsIsRefusedWithNothingWritten(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Fields: map[string]string{"keep": "1"}})
	key := e.store.SessionKey(store.Handle(id))
	before := hashOf(t, e.rdb, key)
	set := map[string]string{}
	for _, n := range names("f", 10_000) {
		set[n] = "v"
	}
	_, err := e.store.Commit(ctx, id, store.Changes{Set: set, Delete: []string{"keep"}})
	if !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("Commit of 10,000 sets = %v, want ErrTooLarge", err)
	}
	assertUnchanged(t, before, hashOf(t, e.rdb, key))
}

// With limits that allow them, 10,000 sets and then 10,000 deletes in one commit each succeed fully:
// no input reaches Lua's unpack limit.
func TestTenThousandChangesWithinTheLimitsAreAppliedInFull(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, MaxFields: 20_000}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Fields: map[string]string{"keep": "1"}})
	key := e.store.SessionKey(store.Handle(id))
	set := map[string]string{}
	for _, n := range names("f", 10_000) {
		set[n] = "v"
	}
	incr := map[string]int64{}
	for _, n := range names("i", 300) {
		incr[n] = 2
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: set, Incr: incr}); err != nil {
		t.Fatalf("Commit of 10,000 sets and 300 increments: %v", err)
	}
	h := hashOf(t, e.rdb, key)
	if err := countAndSizeError(h); err != nil {
		t.Fatal(err)
	}
	if h["_n"] != "10301" || h["f9999"] != "v" || h["i299"] != "2" {
		t.Fatalf("_n = %s, f9999 = %q, i299 = %q", h["_n"], h["f9999"], h["i299"])
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Delete: names("f", 10_000), Set: map[string]string{"new": "1"}}); err != nil {
		t.Fatalf("Commit of 10,000 deletes: %v", err)
	}
	h = hashOf(t, e.rdb, key)
	if err := countAndSizeError(h); err != nil {
		t.Fatal(err)
	}
	if h["_n"] != "302" || h["new"] != "1" {
		t.Fatalf("after the deletes _n = %s, new = %q", h["_n"], h["new"])
	}
}

// A commit may set or increment at most MaxFields fields and delete at most MaxFields: a session
// never holds more, so no commit that could succeed needs more. Over that, Commit refuses without a
// round trip.
func TestACommitOverTheChangeBoundIsRefusedBeforeReachingRedis(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, MaxFields: 4}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Fields: map[string]string{"a": "1"}})
	scripts := func() int64 {
		return redistest.CommandCalls(t, e.rdb, "evalsha") + redistest.CommandCalls(t, e.rdb, "eval")
	}
	calls := scripts()
	for _, c := range []store.Changes{
		{Set: map[string]string{"b": "1", "c": "1", "d": "1"}, Incr: map[string]int64{"e": 1, "f": 1}},
		{Delete: names("x", 5)},
	} {
		if _, err := e.store.Commit(ctx, id, c); !errors.Is(err, store.ErrTooLarge) {
			t.Errorf("Commit(%v) = %v, want ErrTooLarge", c, err)
		}
	}
	if n := scripts(); n != calls {
		t.Errorf("refused commits ran the script %d times", n-calls)
	}
	// At the bound it goes through.
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"b": "1", "c": "1"}, Incr: map[string]int64{"a": 1, "d": 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Delete: names("x", 4)}); err != nil {
		t.Fatal(err)
	}
}

// HINCRBY accepts what Redis' string2ll accepts and nothing else; the script applies that rule, and
// the overflow check, before its first write, so a refused increment writes nothing else either.
func TestAnIncrementOfANonIntegerOrPastInt64IsRefusedWithNothingWritten(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	for _, tc := range []struct {
		stored string
		by     int64
	}{
		{"01", 1}, {"+1", 1}, {" 1", 1}, {"1 ", 1}, {"-0", 1}, {"00", 1}, {"-01", 1}, {"1e3", 1}, {"", 1},
		{"-", 1}, {"0x10", 1}, {"1.0", 1}, {"١", 1}, {"1\x00", 1},
		{"9223372036854775807", 1}, {"-9223372036854775808", -1},
		{"9223372036854775808", 0}, {"-9223372036854775809", 0}, {"99999999999999999999", 0},
		{"9223372036854775000", 1 << 50}, {"-9223372036854775000", -(1 << 50)},
	} {
		t.Run(fmt.Sprintf("%q%+d", tc.stored, tc.by), func(t *testing.T) {
			id := e.create(t, store.NewSession{Fields: map[string]string{"n": tc.stored, "gone": "x", "kept": "y"}})
			key := e.store.SessionKey(store.Handle(id))
			before := hashOf(t, e.rdb, key)
			_, err := e.store.Commit(ctx, id, store.Changes{
				Set:    map[string]string{"new": "1", "kept": "changed"},
				Delete: []string{"gone"},
				Incr:   map[string]int64{"other": 5, "n": tc.by},
			})
			if !errors.Is(err, store.ErrNotInteger) || !strings.Contains(err.Error(), `"n"`) {
				t.Fatalf("Commit = %v, want ErrNotInteger naming n", err)
			}
			assertUnchanged(t, before, hashOf(t, e.rdb, key))
			// Redis itself agrees: its HINCRBY refuses the same value.
			if err := e.rdb.HIncrBy(ctx, key, "n", tc.by).Err(); err == nil {
				t.Errorf("HINCRBY of %q by %d succeeded on the server", tc.stored, tc.by)
			}
		})
	}
}

// Increments that Redis accepts are applied, exactly, right up to the edges of int64, and _size counts
// the new values' digits exactly.
func TestIncrementsUpToTheInt64LimitsAreExact(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	for _, tc := range []struct {
		stored string
		by     int64
		want   int64
	}{
		{"9223372036854775806", 1, 9223372036854775807},
		{"-9223372036854775807", -1, -9223372036854775808},
		{"9223372036854775807", -(1 << 50), 9223372036854775807 - 1<<50},
		{"-9223372036854775808", 1 << 50, -9223372036854775808 + 1<<50},
		{"9223372036854775807", 0, 9223372036854775807},
		{"-9223372036854775808", 0, -9223372036854775808},
		{"-1", 1, 0}, {"0", -1, -1}, {"-999999999", -1, -1000000000}, {"1000000000", -1, 999999999},
		{"-1000000000", 1000000001, 1}, {"999999999999", -1 << 50, 999999999999 - 1<<50},
		{"123456789012345678", 987654321, 123456789999999999},
	} {
		t.Run(fmt.Sprintf("%s%+d", tc.stored, tc.by), func(t *testing.T) {
			id := e.create(t, store.NewSession{Fields: map[string]string{"n": tc.stored}})
			key := e.store.SessionKey(store.Handle(id))
			res, err := e.store.Commit(ctx, id, store.Changes{Incr: map[string]int64{"n": tc.by}})
			if err != nil {
				t.Fatal(err)
			}
			h := hashOf(t, e.rdb, key)
			if res.Incremented["n"] != tc.want || h["n"] != strconv.FormatInt(tc.want, 10) {
				t.Errorf("n = %d, stored %q; want %d", res.Incremented["n"], h["n"], tc.want)
			}
			if err := countAndSizeError(h); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAValidMixedCommitAppliesEverything(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Fields: map[string]string{"a": "1", "b": "two", "c": "-7", "d": "x"}})
	key := e.store.SessionKey(store.Handle(id))
	res, err := e.store.Commit(ctx, id, store.Changes{
		Set:    map[string]string{"b": "2", "e": "new"},
		Delete: []string{"d", "absent"},
		Incr:   map[string]int64{"a": 41, "c": 7, "f": -3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Incremented["a"] != 42 || res.Incremented["c"] != 0 || res.Incremented["f"] != -3 {
		t.Errorf("Incremented = %v", res.Incremented)
	}
	h := hashOf(t, e.rdb, key)
	app := map[string]string{}
	for k, v := range h {
		if !strings.HasPrefix(k, store.ReservedPrefix) {
			app[k] = v
		}
	}
	want := map[string]string{"a": "42", "b": "2", "c": "0", "e": "new", "f": "-3"}
	if !maps.Equal(app, want) {
		t.Errorf("fields = %v, want %v", app, want)
	}
	if err := countAndSizeError(h); err != nil {
		t.Error(err)
	}
}
