package store_test

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// The limits of FuzzCommit's store: small, so that inputs reach every one of them.
const (
	fuzzMaxFields = 6
	fuzzMaxBytes  = 160
	fuzzMaxValue  = 40
	fuzzMaxIncr   = 1 << 50 // the store's bound on one increment
)

// fuzzNames are the field names inputs pick from; fuzzBadNames are names Commit must refuse.
var (
	fuzzNames    = []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	fuzzBadNames = []string{"", "_n", "_size", "_abs", strings.Repeat("n", 257)}
)

// fuzzValues are the stored values and set values inputs pick from: canonical integers at and past
// the edges of int64 and of the script's two exact halves, and everything string2ll refuses.
var fuzzValues = []string{
	"0", "1", "-1", "7", "42", "-42", "01", "+1", " 1", "1 ", "-0", "00", "-", "", "1e3", "0x1", "1.0", "x",
	"\"text\"", "1\x00", "9223372036854775807", "-9223372036854775808", "9223372036854775806",
	"-9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999",
	"999999999", "1000000000", "-999999999", "-1000000000", "1000000001", "999999999999999999",
	"1125899906842624", "-1125899906842624", "9223372036853650183", "-9223372036853650184",
	strings.Repeat("v", fuzzMaxValue), strings.Repeat("w", fuzzMaxValue+1),
}

// fuzzDeltas are the increments inputs pick from; the last ones are out of the store's range.
var fuzzDeltas = []int64{0, 1, -1, 2, -2, 41, 999999999, 1000000000, -1000000000, 1 << 50, -(1 << 50),
	1<<50 - 1, -(1<<50 - 1), 1<<50 + 1, math.MaxInt64, math.MinInt64}

// fuzzInput reads a fuzz input; past its end every byte reads as 0.
type fuzzInput []byte

func (in *fuzzInput) next() byte {
	if len(*in) == 0 {
		return 0
	}
	b := (*in)[0]
	*in = (*in)[1:]
	return b
}

func (in *fuzzInput) name() string {
	b := in.next()
	if b >= 240 {
		return fuzzBadNames[int(b-240)%len(fuzzBadNames)]
	}
	return fuzzNames[int(b)%len(fuzzNames)]
}

// value is one of fuzzValues, raw bytes, or a run of digits (leading zeros and 20+ digits included).
func (in *fuzzInput) value() string {
	b := in.next()
	switch {
	case int(b) < len(fuzzValues):
		return fuzzValues[b]
	case b < 200:
		n := min(int(in.next())%(fuzzMaxValue+4), len(*in))
		v := string((*in)[:n])
		*in = (*in)[n:]
		return v
	default:
		var sb strings.Builder
		if b%2 == 1 {
			sb.WriteByte('-')
		}
		for range int(b-200) % 24 {
			sb.WriteByte('0' + in.next()%10)
		}
		return sb.String()
	}
}

func (in *fuzzInput) delta() int64 {
	b := in.next()
	if int(b) < len(fuzzDeltas) {
		return fuzzDeltas[b]
	}
	var raw [8]byte
	for i := range raw {
		raw[i] = in.next()
	}
	return int64(binary.LittleEndian.Uint64(raw[:])) >> (b % 64)
}

// decodeCommit turns a fuzz input into a session's fields (within the store's limits, which Create
// enforces) and the changes of one commit. The input is a count of seeded fields, then name/value
// pairs, then operations until it ends: 0 set, 1 delete, 2 increment, 3 many deletes.
func decodeCommit(data []byte) (map[string]string, store.Changes) {
	in := fuzzInput(data)
	seeded := map[string]string{}
	for range int(in.next()) % (fuzzMaxFields + 2) {
		seeded[fuzzNames[int(in.next())%len(fuzzNames)]] = in.value()
	}
	size := 0
	for _, k := range slices.Sorted(maps.Keys(seeded)) {
		v := seeded[k]
		if len(v) > fuzzMaxValue || size+len(k)+len(v) > fuzzMaxBytes || len(seeded) > fuzzMaxFields {
			delete(seeded, k)
			continue
		}
		size += len(k) + len(v)
	}
	var c store.Changes
	for len(in) > 0 {
		switch in.next() % 4 {
		case 0:
			if c.Set == nil {
				c.Set = map[string]string{}
			}
			name := in.name()
			c.Set[name] = in.value()
		case 1:
			c.Delete = append(c.Delete, in.name())
		case 2:
			if c.Incr == nil {
				c.Incr = map[string]int64{}
			}
			name := in.name()
			c.Incr[name] = in.delta()
		case 3:
			for i := range int(in.next()) % (2 * fuzzMaxFields) {
				c.Delete = append(c.Delete, "z"+strconv.Itoa(i))
			}
		}
	}
	return seeded, c
}

// validChanges is the store's own check of Changes, restated: the bound on their number, the names,
// a name used once, the value sizes and the increment range.
func validChanges(c store.Changes) bool {
	if len(c.Set)+len(c.Incr) > fuzzMaxFields || len(c.Delete) > fuzzMaxFields {
		return false
	}
	seen := map[string]bool{}
	ok := func(name string) bool {
		if name == "" || len(name) > 256 || strings.HasPrefix(name, "_") || seen[name] {
			return false
		}
		seen[name] = true
		return true
	}
	for k, v := range c.Set {
		if !ok(k) || len(v) > fuzzMaxValue {
			return false
		}
	}
	for _, k := range c.Delete {
		if !ok(k) {
			return false
		}
	}
	for k, by := range c.Incr {
		if !ok(k) || by > fuzzMaxIncr || by < -fuzzMaxIncr {
			return false
		}
	}
	return true
}

// applyModel applies valid changes to fields by Redis' rules and returns the new fields and
// incremented values, or the error Commit must return: ErrNotInteger for a value HINCRBY refuses
// (anything but the canonical decimal of an int64) or a sum past int64, else ErrTooLarge over the
// limits.
func applyModel(fields map[string]string, c store.Changes) (map[string]string, map[string]int64, error) {
	out := maps.Clone(fields)
	maps.Copy(out, c.Set)
	for _, k := range c.Delete {
		delete(out, k)
	}
	var incs map[string]int64
	for k, by := range c.Incr {
		v, ok := out[k]
		if !ok {
			v = "0"
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || strconv.FormatInt(n, 10) != v ||
			(by > 0 && n > math.MaxInt64-by) || (by < 0 && n < math.MinInt64-by) {
			return nil, nil, store.ErrNotInteger
		}
		out[k] = strconv.FormatInt(n+by, 10)
		if incs == nil {
			incs = map[string]int64{}
		}
		incs[k] = n + by
	}
	size := 0
	for k, v := range out {
		size += len(k) + len(v)
	}
	if len(out) > fuzzMaxFields || size > fuzzMaxBytes {
		return nil, nil, store.ErrTooLarge
	}
	return out, incs, nil
}

func splitHash(h map[string]string) (app, meta map[string]string) {
	app, meta = map[string]string{}, map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(k, store.ReservedPrefix) {
			meta[k] = v
		} else {
			app[k] = v
		}
	}
	return app, meta
}

// fuzzSeed encodes a seed input: seeded name/value pairs (indexes into fuzzNames and fuzzValues),
// then raw operation bytes.
func fuzzSeed(seeded [][2]int, ops ...byte) []byte {
	out := []byte{byte(len(seeded))}
	for _, p := range seeded {
		out = append(out, byte(p[0]), byte(p[1]))
	}
	return append(out, ops...)
}

func valueIndex(v string) byte { return byte(slices.Index(fuzzValues, v)) }

func deltaIndex(d int64) byte { return byte(slices.Index(fuzzDeltas, d)) }

// FuzzCommit commits fuzz-chosen sets, deletes and increments to a session seeded with fuzz-chosen
// values, non-canonical integers among them, on a real redis-server, and holds the commit to its
// invariant: either it succeeds and the hash is the model's result of applying the changes, or it
// fails (exactly when the model says it must) and the hash is byte for byte what it was; and _n and
// _size always count the application fields truly.
func FuzzCommit(f *testing.F) {
	const inc, set, del, many = 2, 0, 1, 3
	for _, seed := range [][]byte{
		fuzzSeed(nil),
		fuzzSeed([][2]int{{0, 1}}, inc, 0, deltaIndex(1)),
		fuzzSeed([][2]int{{0, int(valueIndex("01"))}, {1, 1}}, set, 2, 3, del, 1, inc, 0, deltaIndex(1)),
		fuzzSeed([][2]int{{0, int(valueIndex("+1"))}}, set, 2, 3, inc, 0, deltaIndex(1)),
		fuzzSeed([][2]int{{0, int(valueIndex(" 1"))}}, set, 2, 3, inc, 0, deltaIndex(1)),
		fuzzSeed([][2]int{{0, int(valueIndex("-0"))}}, set, 2, 3, inc, 0, deltaIndex(1)),
		fuzzSeed([][2]int{{0, int(valueIndex("1e3"))}}, set, 2, 3, inc, 0, deltaIndex(1)),
		fuzzSeed([][2]int{{0, int(valueIndex(""))}}, set, 2, 3, inc, 0, deltaIndex(1)),
		fuzzSeed([][2]int{{0, int(valueIndex("9223372036854775807"))}, {1, 3}}, del, 1, inc, 0, deltaIndex(1)),
		fuzzSeed([][2]int{{0, int(valueIndex("-9223372036854775808"))}}, set, 1, 1, inc, 0, deltaIndex(-1)),
		fuzzSeed([][2]int{{0, int(valueIndex("9223372036854775806"))}}, inc, 0, deltaIndex(1), inc, 1, deltaIndex(-1)),
		fuzzSeed([][2]int{{0, int(valueIndex("-9223372036853650184"))}}, inc, 0, deltaIndex(-(1 << 50))),
		fuzzSeed([][2]int{{0, int(valueIndex("-999999999"))}}, inc, 0, deltaIndex(1000000000)),
		fuzzSeed([][2]int{{0, 1}, {1, 2}, {2, 3}}, many, 11, set, 3, 4),
		fuzzSeed([][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}, set, 5, 6, set, 6, 7, inc, 7, 0),
		fuzzSeed([][2]int{{0, 1}}, set, 1, valueIndex(strings.Repeat("w", fuzzMaxValue+1))),
		fuzzSeed([][2]int{{0, 1}}, set, 240, 1),
		fuzzSeed([][2]int{{0, 1}}, set, 1, 1, del, 1),
		fuzzSeed([][2]int{{0, 1}}, inc, 0, deltaIndex(1<<50+1)),
		fuzzSeed([][2]int{{0, 1}}, set, 1, 250, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9),
	} {
		f.Add(seed)
	}
	srv := redistest.Start(f, redistest.Options{})
	rdb := srv.Client(f)
	ctx := context.Background()
	s, err := store.New(ctx, rdb, store.Options{SkipChecks: true, MaxFields: fuzzMaxFields,
		MaxSessionBytes: fuzzMaxBytes, MaxValueBytes: fuzzMaxValue, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		seeded, c := decodeCommit(data)
		id, _, err := s.Create(ctx, store.NewSession{Fields: seeded})
		if err != nil {
			t.Fatalf("Create(%q): %v", seeded, err)
		}
		key := s.SessionKey(store.Handle(id))
		defer rdb.Del(context.Background(), key)
		before := hashOf(t, rdb, key)
		if err := countAndSizeError(before); err != nil {
			t.Fatalf("after Create: %v", err)
		}
		res, err := s.Commit(ctx, id, c)
		after := hashOf(t, rdb, key)
		if e := countAndSizeError(after); e != nil {
			t.Fatalf("after Commit (error %v): %v", err, e)
		}
		var (
			want     map[string]string
			wantIncr map[string]int64
			wantErr  error
		)
		if validChanges(c) {
			want, wantIncr, wantErr = applyModel(seeded, c)
		} else {
			wantErr = errors.New("refused by the store's checks")
		}
		if err != nil || wantErr != nil {
			if err == nil {
				t.Fatalf("Commit(%+v) on %q succeeded, want %v", c, seeded, wantErr)
			}
			if wantErr == nil {
				t.Fatalf("Commit(%+v) on %q = %v, want success", c, seeded, err)
			}
			if (errors.Is(wantErr, store.ErrNotInteger) || errors.Is(wantErr, store.ErrTooLarge)) && !errors.Is(err, wantErr) {
				t.Fatalf("Commit(%+v) on %q = %v, want %v", c, seeded, err, wantErr)
			}
			if !maps.Equal(before, after) {
				t.Fatalf("refused Commit(%+v) = %v changed the hash:\nbefore %q\nafter  %q", c, err, before, after)
			}
			return
		}
		app, meta := splitHash(after)
		if !maps.Equal(app, want) {
			t.Fatalf("Commit(%+v) on %q: fields %q, want %q", c, seeded, app, want)
		}
		if !maps.Equal(res.Incremented, wantIncr) {
			t.Fatalf("Commit(%+v) on %q: Incremented %v, want %v", c, seeded, res.Incremented, wantIncr)
		}
		_, metaBefore := splitHash(before)
		for _, k := range []string{"_exp", "_seen", "_n", "_size"} {
			delete(meta, k)
			delete(metaBefore, k)
		}
		if !maps.Equal(meta, metaBefore) {
			t.Fatalf("Commit changed metadata: %q, was %q", meta, metaBefore)
		}
	})
}
