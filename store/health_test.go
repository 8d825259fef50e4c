package store_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

func TestEvictionAndPersistenceChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ro       redistest.Options
		opts     store.Options
		wantErr  error
		wantWarn string // "" means no warning at all
	}{
		{"allkeys-lru is refused", redistest.Options{AOF: true, MaxMemoryPolicy: "allkeys-lru"}, store.Options{}, store.ErrEvictionPolicy, ""},
		{"allkeys-random is refused", redistest.Options{AOF: true, MaxMemoryPolicy: "allkeys-random"}, store.Options{}, store.ErrEvictionPolicy, ""},
		{"allkeys-lru with override warns", redistest.Options{AOF: true, MaxMemoryPolicy: "allkeys-lru"}, store.Options{AllowEvictingPolicy: true}, nil, "may evict live sessions"},
		{"volatile-lru warns", redistest.Options{AOF: true, MaxMemoryPolicy: "volatile-lru"}, store.Options{}, nil, "logout-all can miss"},
		{"noeviction with AOF is fine", redistest.Options{AOF: true, MaxMemoryPolicy: "noeviction"}, store.Options{}, nil, ""},
		{"noeviction with RDB is fine", redistest.Options{RDB: true}, store.Options{}, nil, ""},
		{"no persistence warns", redistest.Options{}, store.Options{}, nil, "restart logs every user out"},
		{"CONFIG renamed away warns", redistest.Options{RenameConfig: true}, store.Options{}, nil, "could not be verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, tc.ro)
			var logs syncBuffer
			tc.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			s, err := store.New(context.Background(), srv.Client(t), tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("New error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if !strings.Contains(err.Error(), tc.ro.MaxMemoryPolicy) {
					t.Errorf("error %q does not name the policy", err)
				}
				return
			}
			h, err := s.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(h.Warnings, "\n")
			if tc.wantWarn == "" && got != "" {
				t.Errorf("unexpected warnings: %s", got)
			}
			if tc.wantWarn != "" && !strings.Contains(got, tc.wantWarn) {
				t.Errorf("warnings %q lack %q", got, tc.wantWarn)
			}
			if tc.wantWarn != "" && !strings.Contains(logs.String(), tc.wantWarn) {
				t.Errorf("warning not logged; log: %s", logs.String())
			}
		})
	}
}

func TestRestartWithAOFKeepsSessionsAndIndex(t *testing.T) {
	e := newEnv(t, store.Options{}, redistest.Options{AOF: true, AppendFsync: "always"})
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "hank"}, Fields: map[string]string{"a": "1"}})
	if _, err := e.store.Commit(ctx, id, store.Changes{Incr: map[string]int64{"n": 5}}); err != nil {
		t.Fatal(err)
	}
	e.srv.Stop(t)
	e.srv.Restart(t)
	var r *store.Record
	var err error
	for range 50 { // the client reconnects on its own
		if r, err = e.store.Load(ctx, id); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("session lost across restart: %v", err)
	}
	if r.Fields["a"] != "1" || r.Fields["n"] != "5" {
		t.Errorf("fields after restart = %v", r.Fields)
	}
	list, err := e.store.List(ctx, "hank")
	if err != nil || len(list) != 1 {
		t.Fatalf("index after restart: %v, %v", list, err)
	}
	e.assertAllKeysHaveTTL(t)
}
