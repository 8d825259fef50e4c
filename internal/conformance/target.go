package conformance

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisession/redisession/internal/redistest"
)

// topology is the kind of Redis a suite runs its apps on.
type topology int

const (
	// single is one redis-server: Run and RunClientCache.
	single topology = iota
	// cluster is a Redis Cluster of clusterMasters masters with clusterReplicas replicas each,
	// which the apps reach with REDIS_CLUSTER=true: RunCluster.
	cluster
)

// The shape of every cluster RunCluster starts: the smallest Redis Cluster with a replica per master.
const (
	clusterMasters  = 3
	clusterReplicas = 1
)

// start starts a fresh Redis of this topology for one test, every server configured by opts. It
// skips or fails the test as redistest.Start and redistest.StartCluster do when redis-server (and,
// for a cluster, redis-cli) is missing.
func (tp topology) start(t testing.TB, opts redistest.Options) target {
	t.Helper()
	if tp == cluster {
		return target{cluster: redistest.StartCluster(t, clusterMasters, clusterReplicas, opts)}
	}
	return target{server: redistest.Start(t, opts)}
}

// target is one Redis that apps run on and the harness inspects: either one redis-server or one
// Redis Cluster, exactly one of the two fields set.
type target struct {
	server  *redistest.Server
	cluster *redistest.Cluster
}

// topology returns the kind of Redis t is.
func (tg target) topology() topology {
	if tg.cluster != nil {
		return cluster
	}
	return single
}

// env returns the variables that point an app at the Redis: REDIS_URL and, for a cluster,
// REDIS_CLUSTER=true with every node named in the seed URL.
func (tg target) env() map[string]string {
	if tg.cluster != nil {
		return map[string]string{"REDIS_URL": seedURL(tg.cluster.Addrs()), "REDIS_CLUSTER": "true"}
	}
	return map[string]string{"REDIS_URL": tg.server.URL()}
}

// withEnv returns the target's variables (see env) with more added on top.
func (tg target) withEnv(more map[string]string) map[string]string {
	env := tg.env()
	maps.Copy(env, more)
	return env
}

// client returns a new client that inspects the Redis: a *redis.Client for one server, a
// *redis.ClusterClient seeded with every node for a cluster. It is closed when the test ends.
func (tg target) client(t testing.TB) redis.UniversalClient {
	t.Helper()
	if tg.cluster != nil {
		return tg.cluster.Client(t)
	}
	return tg.server.Client(t)
}

// stop shuts the whole Redis down gracefully: the server, or every node of the cluster, one after the
// other within a moment, well inside the cluster's node timeout, so that no replica is promoted.
func (tg target) stop(t testing.TB) {
	t.Helper()
	if tg.cluster == nil {
		tg.server.Stop(t)
		return
	}
	for _, n := range tg.cluster.Nodes {
		n.Stop(t)
	}
}

// restart starts a stopped Redis again on the same ports and data, and for a cluster waits until it
// is healthy again. Cluster nodes come back in their creation order, masters first, so that every
// master is up before its replica and no replica takes its place.
func (tg target) restart(t testing.TB) {
	t.Helper()
	if tg.cluster == nil {
		tg.server.Restart(t)
		return
	}
	for _, n := range tg.cluster.Nodes {
		n.Restart(t)
	}
	tg.cluster.WaitHealthy(t)
}

// oneMaster returns a server that holds data: the server itself, or a master of a cluster that is not
// the first seed, so that a setting found there was not found by chance on the node an app talks to
// first.
func (tg target) oneMaster(t testing.TB) *redistest.Server {
	t.Helper()
	if tg.cluster == nil {
		return tg.server
	}
	ms := tg.cluster.Masters(t)
	if len(ms) == 0 {
		t.Fatal("the cluster has no healthy master")
	}
	for _, m := range ms {
		if m.Addr() != tg.cluster.Addrs()[0] {
			return m
		}
	}
	return ms[len(ms)-1]
}

// eachMaster calls fn with a client of the one server, or concurrently with a client of every master
// of a cluster (go-redis' ClusterClient.ForEachMaster), and returns the first error.
func eachMaster(ctx context.Context, rdb redis.UniversalClient, fn func(context.Context, *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	default:
		return fmt.Errorf("cannot inspect a %T", rdb)
	}
}

// masterClients returns a client of every master behind rdb, listed once: the master clients of a
// ClusterClient, which talk to their node directly without reloading the cluster's layout first as
// every ForEachMaster does, or rdb itself for one server.
func masterClients(ctx context.Context, rdb redis.UniversalClient) ([]*redis.Client, error) {
	var mu sync.Mutex
	var out []*redis.Client
	err := eachMaster(ctx, rdb, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, c)
		return nil
	})
	return out, err
}

// withQuery returns the URL u with one more query parameter name=value.
func withQuery(t testing.TB, u, name, value string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parsing %s: %v", u, err)
	}
	q := p.Query()
	q.Add(name, value)
	p.RawQuery = q.Encode()
	return p.String()
}
