package store_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

// aclEnv is set while TestStoreSuiteAsLeastPrivilegeUser re-runs the suite: newEnv then gives the
// store a client that logs in as a user with store.ACLRules only.
const aclEnv = "REDISESSION_TEST_ACL_USER"

func TestStoreSuiteAsLeastPrivilegeUser(t *testing.T) {
	if !redistest.Available() && !redistest.Required() {
		t.Skip("needs a real redis-server for ACLs")
	}
	suite := map[string]func(*testing.T){
		"CreateLoadRoundTrip":             TestCreateLoadRoundTrip,
		"BadInputIsRefusedWithoutWriting": TestBadInputIsRefusedWithoutWriting,
		"SizeLimits":                      TestSizeLimitsAreCheckedBeforeWriting,
		"EveryKeyHasATTL":                 TestEveryKeyHasATTL,
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
		"IdledOutMembersPruned":           TestIdledOutMembersArePrunedOnList,
	}
	for name, test := range suite {
		t.Run(name, func(t *testing.T) {
			t.Setenv(aclEnv, "1")
			test(t)
		})
	}
}

func TestLeastPrivilegeUserIsDeniedDestructiveCommands(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{ACL: []string{"user app on >pw " + store.ACLRules("")}})
	app := srv.ClientAs(t, "app", "pw")
	ctx := context.Background()
	for _, cmd := range [][]any{
		{"FLUSHALL"}, {"FLUSHDB"}, {"KEYS", "*"}, {"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"},
		{"SET", "session:x", "1"}, {"HSET", "other:key", "a", "1"},
	} {
		err := app.Do(ctx, cmd...).Err()
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%v as the least-privilege user: %v, want NOPERM", cmd, err)
		}
	}
	// What New needs works: CONFIG GET for the checks.
	s, err := store.New(ctx, app, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New as the least-privilege user: %v", err)
	}
	if _, _, err := s.Create(ctx, store.NewSession{Meta: store.Meta{UserID: "u"}}); err != nil {
		t.Fatalf("Create as the least-privilege user: %v", err)
	}
}

func TestACLRulesHonourThePrefix(t *testing.T) {
	r := store.ACLRules("app1:")
	for _, want := range []string{"~app1:session:*", "~app1:user:*", "-@dangerous", "+evalsha"} {
		if !strings.Contains(r, want) {
			t.Errorf("ACLRules(%q) = %q lacks %q", "app1:", r, want)
		}
	}
	if strings.Contains(r, "+@all") || strings.Contains(r, "~*") {
		t.Errorf("ACLRules grants too much: %q", r)
	}
}
