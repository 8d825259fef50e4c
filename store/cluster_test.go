package store_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// onCluster is set while TestStoreSuiteOnCluster re-runs the suite: newEnv then gives each test a
// store on a redis.ClusterClient of this cluster, emptied before the test.
var onCluster *redistest.Cluster

// clusterSuite are the store tests that run unchanged on Redis Cluster. Left out are the tests that
// restart a server (env.srv), read KEYS on one connection, or need the miniredis fallback.
var clusterSuite = map[string]func(*testing.T){
	"CreateLoadRoundTrip":             TestCreateLoadRoundTrip,
	"BadInputIsRefusedWithoutWriting": TestBadInputIsRefusedWithoutWriting,
	"SizeLimits":                      TestSizeLimitsAreCheckedBeforeWriting,
	"CorruptHash":                     TestCorruptHashIsAnError,
	"EveryKeyHasATTL":                 TestEveryKeyHasATTL,
	"IdleTimeout":                     TestIdleTimeoutEndsAnUnusedSession,
	"AbsoluteTimeout":                 TestAbsoluteTimeoutEndsASessionInContinuousUse,
	"ReadsRefreshOnlyOccasionally":    TestReadsRefreshTheTTLOnlyOccasionally,
	"RefreshSlides":                   TestRefreshSlidesTheTTL,
	"CommitAfterDestroy":              TestCommitAfterDestroyRecreatesNothing,
	"ConcurrentWriters":               TestConcurrentWritersOfDifferentFieldsLoseNothing,
	"ConcurrentIncrements":            TestConcurrentIncrementsSumExactly,
	"CompareAndSet":                   TestCompareAndSetUnderContentionLosesNothing,
	"Rotate":                          TestRotateLeavesTheOldIDDeadAndTheIndexRight,
	"Elevation":                       TestElevationNeverExtendsTheAbsoluteDeadline,
	"UserIndex":                       TestUserIndex,
	"PerUserCap":                      TestPerUserCapDestroysTheOldest,
	"IndexPrunesExpired":              TestIndexPrunesExpiredMembers,
	"IdledOutMembersPruned":           TestIdledOutMembersArePrunedOnList,
	"PerUserCapCountsLive":            TestPerUserCapCountsOnlyLiveSessions,
	"EncryptedFields":                 TestEncryptedFieldsHoldNoPlaintextInRedis,
	"EncryptedCASAndIncrement":        TestEncryptedFieldCompareAndSetAndIncrement,
}

// TestStoreSuiteOnCluster runs the store suite against a real Redis Cluster of three masters with a
// replica each, through redis.NewClusterClient: every script touches one key, so sessions and user
// indexes spread over the masters and nothing needs a hash tag.
func TestStoreSuiteOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a six-node Redis Cluster")
	}
	c := redistest.StartCluster(t, 3, 1)
	onCluster = c
	t.Cleanup(func() { onCluster = nil })
	for name, test := range clusterSuite {
		t.Run(name, func(t *testing.T) {
			c.FlushAll(t)
			test(t)
		})
	}
}

// TestSessionAndIndexOnDifferentMasters checks, on a cluster, that a user whose index and sessions
// live on different masters can log in, rotate, list devices and log out everywhere.
func TestSessionAndIndexOnDifferentMasters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a six-node Redis Cluster")
	}
	c := redistest.StartCluster(t, 3, 1)
	onCluster = c
	t.Cleanup(func() { onCluster = nil })
	e := newEnv(t, store.Options{SkipChecks: true}, redistest.Options{})
	ctx := ctxT(t)
	const uid = "spread"
	indexOn := c.MasterOf(t, e.store.IndexKey(uid))
	var ids []string
	elsewhere := 0
	for len(ids) < 6 {
		id := e.create(t, store.NewSession{Meta: store.Meta{UserID: uid}})
		ids = append(ids, id)
		if c.MasterOf(t, e.store.SessionKey(store.Handle(id))) != indexOn {
			elsewhere++
		}
	}
	if elsewhere == 0 {
		t.Fatal("no session landed on another master than the index; the test proves nothing")
	}
	rotated, _, err := e.store.Rotate(ctx, ids[0], store.NewSession{Meta: store.Meta{UserID: uid, Level: "elevated"}}, store.Changes{})
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	rotatedFrom := ids[0]
	ids[0] = rotated
	list, err := e.store.List(ctx, uid)
	if err != nil || len(list) != len(ids) {
		t.Fatalf("List = %d sessions, %v; want %d", len(list), err, len(ids))
	}
	n, err := e.store.DestroyOthers(ctx, uid, ids[0])
	if err != nil || n != len(ids)-1 {
		t.Fatalf("DestroyOthers = %d, %v", n, err)
	}
	n, err = e.store.DestroyUser(ctx, uid)
	if err != nil || n != 1 {
		t.Fatalf("DestroyUser = %d, %v", n, err)
	}
	for _, id := range ids {
		if _, err := e.store.Load(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a session survived logout everywhere: %v", err)
		}
	}
	// What may be left is the rotated-away old key, marked and dying within store.RotationGrace.
	if keys := c.DBSize(t); keys > 1 {
		t.Errorf("%d keys left after logout everywhere", keys)
	}
	if _, err := e.store.Load(ctx, rotatedFrom); err != nil && !errors.Is(err, store.ErrRotated) && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the rotated-away ID loads as %v", err)
	}
}

// newClusterEnv is newEnv on the cluster of TestStoreSuiteOnCluster.
func newClusterEnv(t *testing.T, opts store.Options) *env {
	t.Helper()
	rdb := onCluster.Client(t)
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := store.New(context.Background(), rdb, opts)
	if err != nil {
		t.Fatalf("store.New on a cluster: %v", err)
	}
	return &env{rdb: rdb, store: s, logs: logs}
}
