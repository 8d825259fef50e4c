package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

func TestInspectShowsMetadataAndFieldSizesButNoValues(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{
		Meta:   store.Meta{UserID: "ann", UserAgent: "curl/8", RemoteAddr: "192.0.2.1", CSRFToken: "tok"},
		Fields: map[string]string{"cart": `["a","b"]`, "email": `"ann@example.com"`},
	})
	d, err := e.store.Inspect(ctx, store.Handle(id))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.FieldInfo{{Name: "cart", Bytes: 9}, {Name: "email", Bytes: 17}}
	if !slices.Equal(d.Fields, want) {
		t.Errorf("Fields = %v, want %v", d.Fields, want)
	}
	if d.Corrupt || d.Meta.UserID != "ann" || d.Meta.UserAgent != "curl/8" || d.Meta.Created.IsZero() || d.Meta.IdleTimeout != store.DefaultIdleTimeout {
		t.Errorf("Details = %+v", d)
	}
	if d.TTL <= 0 || d.TTL > store.DefaultIdleTimeout {
		t.Errorf("TTL = %v", d.TTL)
	}

	if _, err := e.store.Inspect(ctx, "nope"); !errors.Is(err, store.ErrInvalidHandle) {
		t.Errorf("Inspect(bad handle) = %v", err)
	}
	if _, err := e.store.Inspect(ctx, store.Handle("missing")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Inspect(missing) = %v", err)
	}

	// A hash the store did not write: reported, not refused, so an operator can see what it is.
	h := store.Handle("foreign")
	e.rdb.HSet(ctx, e.store.SessionKey(h), "x", "12345")
	d, err = e.store.Inspect(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Corrupt || d.TTL != store.TTLNone || len(d.Fields) != 1 || d.Fields[0] != (store.FieldInfo{Name: "x", Bytes: 5}) {
		t.Errorf("foreign hash: %+v", d)
	}
}

func TestScanWalksEverySessionAndIndexUnderAGlobbyPrefix(t *testing.T) {
	// Unescaped, "t[1]:session:*" would match "t1:session:..." and miss the real keys.
	const prefix = "t[1]:"
	e := newEnv(t, store.Options{SkipChecks: true, Prefix: prefix}, redistest.Options{})
	ctx := ctxT(t)
	e.rdb.Set(ctx, "t1:session:decoy", "1", time.Minute)
	e.rdb.Set(ctx, "t1:user:decoy:sessions", "1", time.Minute)
	want := map[string]bool{}
	for i := range 1200 {
		var uid string
		if i%3 == 0 {
			uid = fmt.Sprintf("org:%d", i%7) // a ':' inside a user ID
		}
		id := e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}})
		want[store.Handle(id)] = true
	}
	got := map[string]bool{}
	batches := 0
	err := e.store.ScanSessions(ctx, 100, func(hs []string) error {
		batches++
		for _, h := range hs {
			got[h] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || batches < 2 {
		t.Fatalf("ScanSessions saw %d handles in %d batches, want %d in several", len(got), batches, len(want))
	}
	for h := range got {
		if !want[h] {
			t.Errorf("unexpected handle %q", h)
		}
	}

	var uids []string
	if err := e.store.ScanIndexes(ctx, 0, func(u []string) error { uids = append(uids, u...); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	if len(uids) != 7 || uids[0] != "org:0" {
		t.Errorf("ScanIndexes = %v", uids)
	}
	sizes, err := e.store.IndexSizes(ctx, append(uids, "nobody"))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	if total != 400 || sizes[len(sizes)-1] != 0 {
		t.Errorf("IndexSizes = %v (total %d), want 400 members", sizes, total)
	}

	stop := errors.New("stop")
	calls := 0
	if err := e.store.ScanSessions(ctx, 100, func([]string) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("early stop: err %v after %d calls", err, calls)
	}
}

func TestSessionTTLsAndMemory(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	live := store.Handle(e.create(t, store.NewSession{Fields: map[string]string{"a": "1"}}))
	noTTL := store.Handle("no-ttl")
	e.rdb.HSet(ctx, e.store.SessionKey(noTTL), "a", "1")
	gone := store.Handle("gone")
	ttls, err := e.store.SessionTTLs(ctx, []string{live, noTTL, gone})
	if err != nil {
		t.Fatal(err)
	}
	if ttls[0] <= 0 || ttls[1] != store.TTLNone || ttls[2] != store.TTLMissing {
		t.Errorf("SessionTTLs = %v", ttls)
	}
	mem, err := e.store.SessionMemory(ctx, []string{live, gone})
	if err != nil {
		t.Fatal(err)
	}
	if mem[0] <= 0 || mem[1] != 0 {
		t.Errorf("SessionMemory = %v", mem)
	}
}

func TestDanglingMembersAreFoundAndPruned(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	keep := store.Handle(e.create(t, store.NewSession{Meta: store.Meta{UserID: "bo"}}))
	lost := store.Handle(e.create(t, store.NewSession{Meta: store.Meta{UserID: "bo"}}))
	// A crash between deleting the session and unindexing it.
	e.rdb.Del(ctx, e.store.SessionKey(lost))
	dead, total, err := e.store.Dangling(ctx, "bo")
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || !slices.Equal(dead, []string{lost}) {
		t.Fatalf("Dangling = %v of %d", dead, total)
	}
	// A live handle passed by mistake is never removed.
	n, err := e.store.PruneDangling(ctx, "bo", []string{lost, keep})
	if err != nil || n != 1 {
		t.Fatalf("PruneDangling = %d, %v", n, err)
	}
	if dead, total, _ := e.store.Dangling(ctx, "bo"); len(dead) != 0 || total != 1 {
		t.Errorf("after prune: %v of %d", dead, total)
	}
	if dead, total, err := e.store.Dangling(ctx, "nobody"); err != nil || len(dead) != 0 || total != 0 {
		t.Errorf("Dangling(nobody) = %v, %d, %v", dead, total, err)
	}
}

func TestUnindexedSessionsAreFoundAndReindexed(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	h := store.Handle(e.create(t, store.NewSession{Meta: store.Meta{UserID: "cy"}}))
	ok := store.Handle(e.create(t, store.NewSession{Meta: store.Meta{UserID: "cy"}}))
	anon := store.Handle(e.create(t, store.NewSession{}))
	str := store.Handle("a string")
	e.rdb.Set(ctx, e.store.SessionKey(str), "x", time.Minute)
	// A crash between creating the session and indexing it.
	e.rdb.ZRem(ctx, e.store.IndexKey("cy"), h)
	got, err := e.store.Unindexed(ctx, []string{h, ok, anon, str, store.Handle("gone")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{h}) {
		t.Fatalf("Unindexed = %v, want [%s]", got, h)
	}
	if list, _ := e.store.List(ctx, "cy"); len(list) != 1 {
		t.Fatalf("List before reindex = %d sessions", len(list))
	}
	owner, indexed, err := e.store.Reindex(ctx, h)
	if err != nil || owner != "cy" || !indexed {
		t.Fatalf("Reindex = %q, %v, %v", owner, indexed, err)
	}
	if _, indexed, err := e.store.Reindex(ctx, anon); err != nil || indexed {
		t.Errorf("Reindex(anonymous) = %v, %v", indexed, err)
	}
	if got, _ := e.store.Unindexed(ctx, []string{h}); len(got) != 0 {
		t.Errorf("still unindexed: %v", got)
	}
	// Logout everywhere reaches it again.
	if n, err := e.store.DestroyUser(ctx, "cy"); err != nil || n != 2 {
		t.Errorf("DestroyUser = %d, %v", n, err)
	}
	e.assertAllKeysHaveTTL(t)
}

func TestDestroyByHandle(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	a := store.Handle(e.create(t, store.NewSession{Meta: store.Meta{UserID: "di"}}))
	b := store.Handle(e.create(t, store.NewSession{Meta: store.Meta{UserID: "di"}}))
	c := store.Handle(e.create(t, store.NewSession{Meta: store.Meta{UserID: "di"}}))
	anon := store.Handle(e.create(t, store.NewSession{}))

	if owner, err := e.store.DestroyHandle(ctx, a); err != nil || owner != "di" {
		t.Fatalf("DestroyHandle = %q, %v", owner, err)
	}
	if _, err := e.store.DestroyHandle(ctx, a); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DestroyHandle again = %v", err)
	}
	if owner, err := e.store.DestroyHandle(ctx, anon); err != nil || owner != "" {
		t.Errorf("DestroyHandle(anonymous) = %q, %v", owner, err)
	}
	if _, err := e.store.DestroyHandle(ctx, "zz"); !errors.Is(err, store.ErrInvalidHandle) {
		t.Errorf("DestroyHandle(bad) = %v", err)
	}
	if n, _ := e.rdb.ZCard(ctx, e.store.IndexKey("di")).Result(); n != 2 {
		t.Errorf("index has %d members after DestroyHandle, want 2", n)
	}

	if n, err := e.store.DestroyUserExcept(ctx, "di", c); err != nil || n != 1 {
		t.Fatalf("DestroyUserExcept = %d, %v", n, err)
	}
	list, err := e.store.List(ctx, "di")
	if err != nil || len(list) != 1 || list[0].Handle != c {
		t.Errorf("left after DestroyUserExcept: %v, %v (b was %s)", list, err, b)
	}
	if _, err := e.store.DestroyUserExcept(ctx, "di", "bad"); !errors.Is(err, store.ErrInvalidHandle) {
		t.Errorf("DestroyUserExcept(bad) = %v", err)
	}
}
