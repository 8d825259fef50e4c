package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// usableSessions returns the handles of uid's session keys that a request could still use (not
// rotated away, not a tombstone), scanning every key, and fails the test for one missing from uid's
// index: a live session that logout-all would not find.
func (e *env) usableSessions(t *testing.T, uid string) []string {
	t.Helper()
	ctx := ctxT(t)
	var out []string
	scan := func(c redis.Cmdable) {
		iter := c.Scan(ctx, 0, "session:*", 200).Iterator()
		for iter.Next(ctx) {
			v, err := c.HMGet(ctx, iter.Val(), "_abs", "_rot", "_dead", "_uid").Result()
			if err != nil {
				t.Fatalf("HMGET %s: %v", iter.Val(), err)
			}
			if v[0] == nil || v[1] != nil || v[2] != nil || v[3] != uid {
				continue
			}
			h := iter.Val()[len("session:"):]
			out = append(out, h)
			if _, err := e.rdb.ZScore(ctx, "user:"+uid+":sessions", h).Result(); err != nil {
				t.Errorf("live session %.8s… of %s is missing from its index: %v", h, uid, err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("SCAN: %v", err)
		}
	}
	if _, ok := e.rdb.(*redis.ClusterClient); ok {
		for _, m := range onCluster.Masters(t) {
			scan(m.Client(t))
		}
	} else {
		scan(e.rdb)
	}
	return out
}

func TestConcurrentRotationsOfOneSessionLeaveOneLiveID(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	const rounds, tabs = 30, 6
	for round := range rounds {
		uid := fmt.Sprint("fork", round)
		id := e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}, Fields: map[string]string{"cart": "1"}})
		var wins atomic.Int32
		var winner atomic.Value
		var wg sync.WaitGroup
		for tab := range tabs {
			wg.Go(func() {
				// Half elevate, half log in again: every rotation of one session competes.
				r := store.Rotation{Session: store.NewSession{Meta: store.Meta{UserID: uid, Level: "elevated"}}, PrivilegeChange: tab%2 == 0}
				if tab%3 == 0 {
					// Pending changes take the two-step path; none, on one server, the one-script path.
					r.Changes = store.Changes{Set: map[string]string{"tab": fmt.Sprint(tab)}}
				}
				got, err := e.store.RotateSession(ctx, id, r)
				switch {
				case err == nil:
					wins.Add(1)
					winner.Store(got.ID)
				case !errors.Is(err, store.ErrRotated):
					t.Errorf("round %d: a losing rotation failed with %v, want ErrRotated", round, err)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d of %d concurrent rotations won, want exactly 1", round, n, tabs)
		}
		live := e.usableSessions(t, uid)
		if len(live) != 1 || live[0] != store.Handle(winner.Load().(string)) {
			t.Fatalf("round %d: %d live sessions after the rotations, want the winner's alone", round, len(live))
		}
		if r := e.load(t, winner.Load().(string)); r.Fields["cart"] != "1" {
			t.Errorf("round %d: the winner lost the cart: %v", round, r.Fields)
		}
	}
}

// Every kind of logout, racing a privilege change of the session it ends: once both have returned
// (and the logout answered), the user has no live session, whichever came first.
func TestLogoutsRacingAPrivilegeChangeAreNeverUndone(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	logouts := map[string]func(uid, id string) error{
		"logout":     func(_, id string) error { return e.store.Destroy(ctx, id) },
		"logout-all": func(uid, _ string) error { _, err := e.store.DestroyUser(ctx, uid); return err },
		"revoke": func(uid, id string) error {
			return ignore(e.store.Revoke(ctx, uid, store.Handle(id)), store.ErrNotFound)
		},
		"lockout": func(uid, _ string) error { _, err := e.store.DestroyUserHandles(ctx, uid, ""); return err },
		"other-tab": func(uid, _ string) error {
			_, err := e.store.DestroyOthers(ctx, uid, e.create(t, store.NewSession{}))
			return err
		},
		"operator": func(_, id string) error {
			return ignore(ignoreOwner(e.store.DestroyHandle(ctx, store.Handle(id))), store.ErrNotFound)
		},
		"logout-then": func(_, id string) error { return e.store.Destroy(ctx, id) },
	}
	const rounds = 40
	for name, logout := range logouts {
		undone := 0
		for round := range rounds {
			uid := fmt.Sprintf("%s%d", name, round)
			id := e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}})
			var wg sync.WaitGroup
			var rotated atomic.Value
			wg.Go(func() {
				rot := store.Rotation{Session: store.NewSession{Meta: store.Meta{Level: "elevated"}}, PrivilegeChange: true}
				if round%2 == 0 {
					// A known user and no pending changes: the one-script path; else the two-step one.
					rot.Session.Meta.UserID = uid
				} else {
					rot.Changes = store.Changes{Set: map[string]string{"x": "1"}}
				}
				r, err := e.store.RotateSession(ctx, id, rot)
				if err == nil {
					rotated.Store(r.ID)
				} else if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrRotated) {
					t.Errorf("%s round %d: rotation failed with %v", name, round, err)
				}
			})
			wg.Go(func() {
				if err := logout(uid, id); err != nil {
					t.Errorf("%s round %d: %v", name, round, err)
				}
			})
			wg.Wait()
			if name == "other-tab" {
				continue // logs out the others of a session the user does not hold: nothing to check
			}
			if live := e.usableSessions(t, uid); len(live) != 0 {
				undone++
			}
			if v := rotated.Load(); v != nil {
				if _, err := e.store.Load(ctx, v.(string)); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s round %d: the rotated session survived the logout: %v", name, round, err)
				}
			}
		}
		if undone > 0 {
			t.Errorf("%s: %d of %d rounds left the user a live session after the logout answered", name, undone, rounds)
		}
	}
}

func ignore(err, want error) error {
	if errors.Is(err, want) {
		return nil
	}
	return err
}

func ignoreOwner(_ string, err error) error { return err }

// Writes of other tabs racing a rotation: each acknowledged write is in the new session, each refused
// one (ErrRotated) is not, and none is silently lost.
func TestCommitsRacingARotationAreCarriedOrRefused(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	const rounds, writers = 20, 6
	for round := range rounds {
		uid := fmt.Sprint("tabs", round)
		id := e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}})
		var mu sync.Mutex
		acked, refused := map[string]bool{}, map[string]bool{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				for i := 0; ; i++ {
					f := fmt.Sprintf("w%d_%d", w, i)
					_, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{f: "1"}, Incr: map[string]int64{"n": 1}})
					mu.Lock()
					if err == nil {
						acked[f] = true
					} else {
						refused[f] = true
					}
					mu.Unlock()
					if err != nil {
						if !errors.Is(err, store.ErrRotated) {
							t.Errorf("round %d: commit failed with %v, want ErrRotated", round, err)
						}
						return
					}
				}
			})
		}
		var newID string
		wg.Go(func() {
			<-start
			rot := store.Rotation{Session: store.NewSession{Meta: store.Meta{UserID: uid}}}
			if round%2 == 1 {
				rot.Changes = store.Changes{Set: map[string]string{"rotator": "1"}} // the two-step path
			}
			r, err := e.store.RotateSession(ctx, id, rot)
			if err != nil {
				t.Errorf("round %d: rotation: %v", round, err)
				return
			}
			newID = r.ID
		})
		close(start)
		wg.Wait()
		if newID == "" {
			t.FailNow()
		}
		got := e.load(t, newID).Fields
		for f := range acked {
			if got[f] != "1" {
				t.Errorf("round %d: acknowledged write %s is missing from the rotated session", round, f)
			}
		}
		for f := range refused {
			if _, ok := got[f]; ok {
				t.Errorf("round %d: refused write %s reached the rotated session", round, f)
			}
		}
		if n, ok := got["n"]; (ok || len(acked) > 0) && n != fmt.Sprint(len(acked)) {
			t.Errorf("round %d: counter %s, want %d acknowledged increments", round, got["n"], len(acked))
		}
		if len(acked) == 0 {
			t.Logf("round %d: the rotation beat every writer", round)
		}
	}
}

func TestRotationAtTheCapEvictsNoOtherDevice(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true, MaxSessionsPerUser: 2}, redistest.Options{})
	ctx := ctxT(t)
	phone := e.create(t, store.NewSession{Meta: store.Meta{UserID: "cap"}})
	laptop := e.create(t, store.NewSession{Meta: store.Meta{UserID: "cap"}})
	r, err := e.store.RotateSession(ctx, laptop, store.Rotation{Session: store.NewSession{Meta: store.Meta{Level: "elevated"}}, PrivilegeChange: true})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := e.store.RotateSession(ctx, r.ID, store.Rotation{Session: store.NewSession{Meta: store.Meta{UserID: "cap"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.load(t, phone)
	e.load(t, r2.ID)
	if n := e.rdb.ZCard(ctx, "user:cap:sessions").Val(); n != 2 {
		t.Errorf("index holds %d members after two rotations at the cap, want 2", n)
	}
	// A third device still evicts the oldest, as the cap says.
	e.create(t, store.NewSession{Meta: store.Meta{UserID: "cap"}})
	if live := e.usableSessions(t, "cap"); len(live) != 2 {
		t.Errorf("%d live sessions after a third login at a cap of 2", len(live))
	}
}

func TestPrivilegeChangeNeverCreatesASession(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{AllowFake: true})
	ctx := ctxT(t)
	level := store.Rotation{Session: store.NewSession{Meta: store.Meta{Level: "elevated"}}, PrivilegeChange: true}
	gone := e.create(t, store.NewSession{Meta: store.Meta{UserID: "pc"}})
	if err := e.store.Destroy(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.RotateSession(ctx, gone, level); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("privilege change of a destroyed session = %v, want ErrNotFound", err)
	}
	anon := e.create(t, store.NewSession{})
	if _, err := e.store.RotateSession(ctx, anon, level); !errors.Is(err, store.ErrNoUser) {
		t.Errorf("privilege change of an anonymous session = %v, want ErrNoUser", err)
	}
	other := e.create(t, store.NewSession{Meta: store.Meta{UserID: "pc"}})
	wrongUser := level
	wrongUser.Session.Meta.UserID = "mallory"
	if _, err := e.store.RotateSession(ctx, other, wrongUser); !errors.Is(err, store.ErrNoUser) {
		t.Errorf("privilege change for another user = %v, want ErrNoUser", err)
	}
	e.load(t, anon)
	e.load(t, other)
	if live := e.usableSessions(t, "pc"); len(live) != 1 {
		t.Errorf("%d live sessions of pc, want the one untouched", len(live))
	}
}

// failingHook fails one Redis command of a rotation, before it reaches Redis or after it ran (a lost
// reply), to prove that a failure at any step leaves no fork and no unindexed live session.
type failingHook struct {
	armed atomic.Bool
	step  int32 // the script call to fail, counted from 1 once armed
	after bool  // let the command run, then lose its reply
	all   bool  // count every command, not only script calls
	seen  atomic.Int32
}

var errInjected = errors.New("injected failure")

func (h *failingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *failingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *failingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		script := cmd.Name() == "evalsha" || cmd.Name() == "eval"
		if !h.armed.Load() || (!h.all && !script) || h.seen.Add(1) != h.step {
			return next(ctx, cmd)
		}
		if h.after {
			_ = next(ctx, cmd)
		}
		cmd.SetErr(errInjected)
		return errInjected
	}
}

func TestARotationFailingAtAnyStepLeavesNoForkAndNoUnindexedSession(t *testing.T) {
	for _, cap := range []int{0, 2} {
		// A rotation on warm scripts, counted: every script call it makes is a step to fail.
		steps := int32(0)
		for step := int32(1); step == 1 || step <= steps; step++ {
			for _, after := range []bool{false, true} {
				name := fmt.Sprintf("cap%d/step%d/lost-reply=%v", cap, step, after)
				t.Run(name, func(t *testing.T) {
					e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
					hook := &failingHook{step: step, after: after}
					c := e.srv.Client(t)
					c.AddHook(hook)
					st, err := store.New(ctxT(t), c, store.Options{SkipChecks: true, MaxSessionsPerUser: cap, DisableAutoPipeline: true})
					if err != nil {
						t.Fatal(err)
					}
					ctx := ctxT(t)
					levelFor := func(uid string) store.Rotation {
						r := store.Rotation{Session: store.NewSession{Meta: store.Meta{Level: "elevated"}}, PrivilegeChange: true}
						if cap == 0 {
							// A pending change: the two-step path; with the cap, the one-script path.
							r.Changes = store.Changes{Set: map[string]string{"x": "1"}}
						} else {
							r.Session.Meta.UserID = uid
						}
						return r
					}
					warm := e.create(t, store.NewSession{Meta: store.Meta{UserID: "warm"}})
					r, err := st.RotateSession(ctx, warm, levelFor("warm")) // loads every script it runs
					if err != nil {
						t.Fatal(err)
					}
					hook.step = 0
					hook.armed.Store(true)
					if _, err := st.RotateSession(ctx, r.ID, levelFor("warm")); err != nil {
						t.Fatal(err)
					}
					hook.armed.Store(false)
					steps = hook.seen.Swap(0)
					hook.step = step
					uid := "inj"
					other := e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}})
					id := e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}, Fields: map[string]string{"cart": "1"}})
					hook.armed.Store(true)
					_, err = st.RotateSession(ctx, id, levelFor(uid))
					hook.armed.Store(false)
					if !errors.Is(err, errInjected) {
						t.Fatalf("rotation = %v, want the injected failure (of %d steps)", err, steps)
					}
					live := e.usableSessions(t, uid)
					// The other device is untouched; of this one, at most one ID lives on (the old
					// one while the first step has not run, else none or the never-returned new one).
					if len(live) > 2 || !contains(live, store.Handle(other)) {
						t.Fatalf("live sessions after the failure: %d (other device kept: %v)", len(live), contains(live, store.Handle(other)))
					}
					if step == 1 && !after && !contains(live, store.Handle(id)) {
						t.Error("a rotation that never reached Redis ended the old session")
					}
					// Logout everywhere still finds everything that lives.
					if _, err := e.store.DestroyUser(ctx, uid); err != nil {
						t.Fatal(err)
					}
					if live := e.usableSessions(t, uid); len(live) != 0 {
						t.Errorf("%d sessions survived logout everywhere after the failed rotation", len(live))
					}
				})
			}
		}
		if steps < 1 {
			t.Errorf("cap %d: a rotation made no script call", cap)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A logout failing at any of its steps (the destroy script of the old ID, its successor's, an index
// removal) leaves no live session outside its user's index, and the logout, retried, completes.
func TestALogoutFailingAtAnyStepHidesNoLiveSession(t *testing.T) {
	for _, op := range []string{"logout-rotated-id", "logout-all"} {
		for step := int32(1); step <= 4; step++ {
			for _, after := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/step%d/lost-reply=%v", op, step, after), func(t *testing.T) {
					e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
					ctx := ctxT(t)
					hook := &failingHook{step: step, after: after, all: true}
					c := e.srv.Client(t)
					c.AddHook(hook)
					st, err := store.New(ctx, c, store.Options{SkipChecks: true, DisableAutoPipeline: true})
					if err != nil {
						t.Fatal(err)
					}
					uid := "half"
					e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}})
					old := e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}})
					if _, err := e.store.RotateSession(ctx, old, store.Rotation{Session: store.NewSession{Meta: store.Meta{UserID: uid}}}); err != nil {
						t.Fatal(err)
					}
					logout := func(s *store.Store) error {
						if op == "logout-all" {
							_, err := s.DestroyUser(ctx, uid)
							return err
						}
						return s.Destroy(ctx, old)
					}
					hook.armed.Store(true)
					err = logout(st)
					hook.armed.Store(false)
					e.usableSessions(t, uid) // fails the test for a live session outside the index
					if err == nil {
						return // the failed step was not one this logout needed
					}
					if !errors.Is(err, errInjected) {
						t.Fatalf("logout = %v", err)
					}
					if err := logout(e.store); err != nil {
						t.Fatalf("retried logout: %v", err)
					}
					want := 0
					if op != "logout-all" {
						want = 1 // the other device
					}
					if live := e.usableSessions(t, uid); len(live) != want {
						t.Errorf("%d live sessions after the retried logout, want %d", len(live), want)
					}
				})
			}
		}
	}
}

// The per-user cap destroys a pushed-out session before removing its index member: a destroy that
// fails leaves the member, so logout everywhere still finds the session.
func TestACapEvictionThatFailsLeavesTheSessionIndexed(t *testing.T) {
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	hook := &failingHook{}
	c := e.srv.Client(t)
	c.AddHook(hook)
	st, err := store.New(ctx, c, store.Options{SkipChecks: true, MaxSessionsPerUser: 1, DisableAutoPipeline: true})
	if err != nil {
		t.Fatal(err)
	}
	login := func() (string, error) {
		id, _, err := st.Create(ctx, store.NewSession{Meta: store.Meta{UserID: "evict"}})
		return id, err
	}
	// Warm: a second login evicts the first, loading every script an eviction runs.
	for range 2 {
		if _, err := login(); err != nil {
			t.Fatal(err)
		}
	}
	// Counted: a third login evicts the second; its last script call is the eviction's destroy.
	hook.armed.Store(true)
	third, err := login()
	hook.armed.Store(false)
	if err != nil {
		t.Fatal(err)
	}
	hook.step = hook.seen.Swap(0)
	hook.armed.Store(true)
	_, err = login()
	hook.armed.Store(false)
	if !errors.Is(err, errInjected) {
		t.Fatalf("login with a failing eviction = %v", err)
	}
	if _, err := e.store.Load(ctx, third); err != nil {
		t.Fatalf("the session whose eviction failed: %v", err)
	}
	second := third
	live := e.usableSessions(t, "evict") // fails for a live session outside the index
	if !contains(live, store.Handle(second)) {
		t.Fatal("the session whose eviction failed is not live")
	}
	if n, err := e.store.DestroyUser(ctx, "evict"); err != nil || n != len(live) {
		t.Errorf("logout everywhere destroyed %d of %d live sessions: %v", n, len(live), err)
	}
}
