package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// cliBinary is the program that creates clusters and moves slots, looked up on PATH.
	cliBinary = "redis-cli"
	// clusterNodeTimeout is cluster-node-timeout in milliseconds: short, so that a killed master is
	// failed over within a few seconds.
	clusterNodeTimeout = 2000
	// clusterTimeout bounds cluster creation and the waits for a healthy cluster (convergence takes a
	// second or two; the rest is slack for a loaded machine).
	clusterTimeout = 60 * time.Second
	// reshardTimeout bounds one redis-cli --cluster reshard, which migrates keys slot by slot.
	reshardTimeout = 2 * clusterTimeout
	// clusterSlots is the number of hash slots of every Redis Cluster.
	clusterSlots = 16384
)

// Cluster is a Redis Cluster of redis-server processes started by StartCluster.
type Cluster struct {
	// Nodes are the cluster's servers in the order they were given to redis-cli --cluster create:
	// the first masters are the initial masters, the rest their replicas.
	Nodes []*Server

	masters, replicas int
}

// StartCluster starts masters*(1+replicasPerMaster) redis-servers with cluster-enabled yes on free
// loopback ports, joins them with redis-cli --cluster create ... --cluster-replicas, and returns once
// every node reports cluster_state:ok with all 16384 slots assigned and every master has its
// replicas attached. opts, if given, configure every node (AOF, MaxMemory, Args, ...). The nodes are
// killed when the test ends. Redis Cluster needs at least 3 masters.
//
// Without redis-server or redis-cli on PATH, StartCluster fails the test when Required reports
// true and skips it otherwise: the miniredis fallback has no cluster mode.
func StartCluster(t testing.TB, masters, replicasPerMaster int, opts ...Options) *Cluster {
	t.Helper()
	if masters < 3 || replicasPerMaster < 0 {
		t.Fatalf("redistest: a cluster needs at least 3 masters and 0 or more replicas each, not %d and %d", masters, replicasPerMaster)
	}
	requireBinaries(t, "a cluster")
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.AllowFake = false
	o.Args = append(append([]string(nil), o.Args...),
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(clusterNodeTimeout),
		// A replica takes over however long its link was down: tests kill masters on purpose.
		"--cluster-replica-validity-factor", "0",
	)
	c := &Cluster{masters: masters, replicas: replicasPerMaster}
	n := masters * (1 + replicasPerMaster)
	args := []string{"--cluster", "create"}
	for range n {
		s := Start(t, o)
		c.Nodes = append(c.Nodes, s)
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	if out, err := runCLI(clusterTimeout, args...); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(t)
	return c
}

// requireBinaries skips or fails the test when redis-server or redis-cli is missing.
func requireBinaries(t testing.TB, what string) {
	t.Helper()
	_, cliErr := exec.LookPath(cliBinary)
	if Available() && cliErr == nil {
		return
	}
	if Required() {
		t.Fatalf("redistest: %s needs %s and %s on PATH; CI requires them: %s", what, serverBinary, cliBinary, installHint)
	}
	t.Skipf("redistest: %s needs %s and %s on PATH, skipping", what, serverBinary, cliBinary)
}

// runCLI runs redis-cli with args and returns its combined output.
func runCLI(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, cliBinary, args...).CombinedOutput()
	return string(out), err
}

// Addrs returns the addresses of all nodes, usable as redis.ClusterOptions.Addrs.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr()
	}
	return out
}

// Client returns a new go-redis cluster client seeded with every node's address; it is closed when
// the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	return c.ClientWith(t, &redis.ClusterOptions{})
}

// ClientWith is Client with go-redis options of the caller's choosing; Addrs is filled in when empty.
func (c *Cluster) ClientWith(t testing.TB, o *redis.ClusterOptions) *redis.ClusterClient {
	t.Helper()
	cp := *o
	if len(cp.Addrs) == 0 {
		cp.Addrs = c.Addrs()
	}
	cc := redis.NewClusterClient(&cp)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// ClusterNode is one line of CLUSTER NODES as seen by a node.
type ClusterNode struct {
	// ID is the node's 40-character cluster ID.
	ID string
	// Addr is the node's "127.0.0.1:PORT".
	Addr string
	// Master reports whether the node is a master.
	Master bool
	// Failed reports whether the node is flagged fail or fail?.
	Failed bool
	// MasterID is the ID of a replica's master, "" for a master.
	MasterID string
	// Slots is the number of hash slots the node serves.
	Slots int
	// Ranges are the inclusive ranges of the hash slots the node serves.
	Ranges [][2]int
	// ConfigEpoch is the node's config epoch (a replica's line shows its master's).
	ConfigEpoch int64
	// Open are the slots the node is importing or migrating, as CLUSTER NODES shows them on the
	// answering node's own line: "[slot->-id]" or "[slot-<-id]".
	Open []string
}

// Topology returns the cluster's nodes as the first reachable node sees them.
func (c *Cluster) Topology(t testing.TB) []ClusterNode {
	t.Helper()
	var last error
	for _, s := range c.Nodes {
		if s.Pid() == 0 {
			continue
		}
		out, err := command(s.Addr(), probeTimeout, "CLUSTER", "NODES")
		if err != nil {
			last = err
			continue
		}
		return parseClusterNodes(out)
	}
	t.Fatalf("redistest: no cluster node answers CLUSTER NODES: %v", last)
	return nil
}

// parseClusterNodes parses a CLUSTER NODES reply.
func parseClusterNodes(out string) []ClusterNode {
	var nodes []ClusterNode
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		n := ClusterNode{ID: f[0], Addr: f[1], Master: strings.Contains(f[2], "master"),
			Failed: strings.Contains(f[2], "fail")}
		if i := strings.IndexAny(n.Addr, "@,"); i >= 0 {
			n.Addr = n.Addr[:i]
		}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		n.ConfigEpoch, _ = strconv.ParseInt(f[6], 10, 64)
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				n.Open = append(n.Open, r) // a slot being imported or migrated
				continue
			}
			lo, hi, ok := strings.Cut(r, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if ok {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 == nil && err2 == nil {
				n.Slots += b - a + 1
				n.Ranges = append(n.Ranges, [2]int{a, b})
			}
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// Node returns the started server listening on addr, or nil.
func (c *Cluster) Node(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// Masters returns the servers that are currently healthy masters serving slots, as the cluster sees
// them.
func (c *Cluster) Masters(t testing.TB) []*Server {
	t.Helper()
	var out []*Server
	for _, n := range c.Topology(t) {
		if n.Master && !n.Failed && n.Slots > 0 {
			if s := c.Node(n.Addr); s != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// NodeID returns the cluster ID of s.
func (c *Cluster) NodeID(t testing.TB, s *Server) string {
	t.Helper()
	id, err := command(s.Addr(), probeTimeout, "CLUSTER", "MYID")
	if err != nil {
		t.Fatalf("redistest: CLUSTER MYID on %s: %v", s.Addr(), err)
	}
	return id
}

// MasterOf returns the master serving the hash slot of key.
func (c *Cluster) MasterOf(t testing.TB, key string) *Server {
	t.Helper()
	topo := c.Topology(t)
	var slot int
	for _, n := range topo {
		if s := c.Node(n.Addr); s != nil && s.Pid() != 0 && !n.Failed {
			out, err := command(n.Addr, probeTimeout, "CLUSTER", "KEYSLOT", key)
			if err != nil {
				t.Fatalf("redistest: CLUSTER KEYSLOT: %v", err)
			}
			slot, _ = strconv.Atoi(out)
			break
		}
	}
	for _, n := range topo {
		if !n.Master || n.Failed {
			continue
		}
		for _, r := range n.Ranges {
			if r[0] <= slot && slot <= r[1] {
				if s := c.Node(n.Addr); s != nil {
					return s
				}
			}
		}
	}
	t.Fatalf("redistest: no master serves slot %d of %q", slot, key)
	return nil
}

// Reshard moves slots hash slots from the master from to the master to with redis-cli --cluster
// reshard, migrating their keys, and waits for the cluster to be healthy again. It may run while
// clients use the cluster: they follow ASK and MOVED redirections.
//
// redis-cli refuses to reshard ("Nodes don't agree about configuration!") until every node has
// learnt, by gossip, the slot owners the last reshard or failover set; so Reshard first waits, with
// WaitHealthy and then redis-cli --cluster check itself, until the nodes agree.
func (c *Cluster) Reshard(t testing.TB, from, to *Server, slots int) {
	t.Helper()
	c.WaitHealthy(t)
	c.waitChecked(t, to)
	args := []string{"--cluster", "reshard", to.Addr(),
		"--cluster-from", c.NodeID(t, from), "--cluster-to", c.NodeID(t, to),
		"--cluster-slots", strconv.Itoa(slots), "--cluster-yes", "--cluster-pipeline", "100"}
	if out, err := runCLI(reshardTimeout, args...); err != nil {
		t.Fatalf("redistest: redis-cli --cluster reshard: %v\n%s", err, lastLines(out, logTailLines))
	}
	c.WaitHealthy(t)
}

// waitChecked polls redis-cli --cluster check through the node s until it reports that every node
// agrees about the slots' owners, no slot is open and all slots are covered, failing the test after
// clusterTimeout. redis-cli exits 0 even when the nodes disagree, so the output is what counts.
func (c *Cluster) waitChecked(t testing.TB, s *Server) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(clusterTimeout)
	for tries := 1; ; tries++ {
		out, err := runCLI(clusterTimeout, "--cluster", "check", s.Addr())
		problem := checkProblem(out, err)
		if problem == "" {
			if tries > 1 {
				t.Logf("redistest: the cluster passed redis-cli --cluster check after %d tries, %v", tries, time.Since(start).Round(time.Millisecond))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: redis-cli --cluster check still fails after %v: %s\n%s", clusterTimeout, problem, lastLines(out, logTailLines))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkProblem returns what redis-cli --cluster check found wrong in its output out (and its exit
// error err), or "" when the cluster passed.
func checkProblem(out string, err error) string {
	if err != nil {
		return err.Error()
	}
	for line := range strings.Lines(out) {
		if strings.Contains(line, "[ERR]") || strings.Contains(line, "[WARNING]") {
			return strings.TrimSpace(line)
		}
	}
	for _, want := range []string{"[OK] All nodes agree about slots configuration.", fmt.Sprintf("[OK] All %d slots covered.", clusterSlots)} {
		if !strings.Contains(out, want) {
			return "no " + strconv.Quote(want)
		}
	}
	return ""
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitHealthy waits until every running node reports cluster_state:ok with all slots assigned and
// knows every other node, every running node sees the same masters serving the same slots with the
// same config epochs and no slot open (being imported or migrated), and every master serving slots
// has as many attached replicas as the cluster was created with (counting only running servers),
// failing the test after a minute. cluster_state:ok alone does not mean the nodes agree: after a
// reshard or a failover, the nodes that were not told directly learn the new owners by gossip.
func (c *Cluster) WaitHealthy(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(clusterTimeout)
	for {
		err := c.healthy()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not healthy within %v: %v", clusterTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// healthy returns why the cluster is not yet healthy, or nil.
func (c *Cluster) healthy() error {
	running := 0
	for _, s := range c.Nodes {
		if s.Pid() != 0 {
			running++
		}
	}
	var agreed, agreedBy string // the slot configuration the first node sees, and that node
	for _, s := range c.Nodes {
		if s.Pid() == 0 {
			continue
		}
		info, err := command(s.Addr(), probeTimeout, "CLUSTER", "INFO")
		if err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
		if v := infoField(info, "cluster_state"); v != "ok" {
			return fmt.Errorf("%s: cluster_state:%s", s.Addr(), v)
		}
		if v := infoField(info, "cluster_slots_ok"); v != strconv.Itoa(clusterSlots) {
			return fmt.Errorf("%s: cluster_slots_ok:%s", s.Addr(), v)
		}
		nodes, err := command(s.Addr(), probeTimeout, "CLUSTER", "NODES")
		if err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
		known := 0
		view := parseClusterNodes(nodes)
		for _, n := range view {
			if !n.Failed && !strings.Contains(n.Addr, ":0") {
				known++
			}
			if len(n.Open) > 0 {
				return fmt.Errorf("%s sees open slots on %s: %v", s.Addr(), n.Addr, n.Open)
			}
		}
		if cfg := slotConfig(view); agreed == "" {
			agreed, agreedBy = cfg, s.Addr()
		} else if cfg != agreed {
			return fmt.Errorf("nodes disagree about the slots: %s sees %s; %s sees %s", agreedBy, agreed, s.Addr(), cfg)
		}
		if known < running {
			return fmt.Errorf("%s knows %d healthy nodes of %d running", s.Addr(), known, running)
		}
		repl, err := command(s.Addr(), probeTimeout, "INFO", "replication")
		if err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
		if infoField(repl, "role") == "slave" && infoField(repl, "master_link_status") != "up" {
			return fmt.Errorf("%s: replica link %s", s.Addr(), infoField(repl, "master_link_status"))
		}
	}
	if running == len(c.Nodes) {
		// Every master serving slots has its replicas.
		var topo []ClusterNode
		for _, s := range c.Nodes {
			if out, err := command(s.Addr(), probeTimeout, "CLUSTER", "NODES"); err == nil {
				topo = parseClusterNodes(out)
				break
			}
		}
		replicas := map[string]int{}
		for _, n := range topo {
			if !n.Master && !n.Failed {
				replicas[n.MasterID]++
			}
		}
		for _, n := range topo {
			if n.Master && n.Slots > 0 && replicas[n.ID] < c.replicas {
				return fmt.Errorf("master %s has %d replicas, want %d", n.Addr, replicas[n.ID], c.replicas)
			}
		}
	}
	return nil
}

// slotConfig sums up a CLUSTER NODES view for comparing it with another node's: each master that
// serves slots, with its config epoch and slot ranges, in node ID order.
func slotConfig(view []ClusterNode) string {
	var masters []string
	for _, n := range view {
		if n.Master && n.Slots > 0 {
			masters = append(masters, fmt.Sprintf("%s@%d:%v", n.ID, n.ConfigEpoch, n.Ranges))
		}
	}
	slices.Sort(masters)
	return strings.Join(masters, " ")
}

// FlushAll empties every master (test data only: the cluster belongs to the test) and waits until
// the replicas have caught up, so the next subtest starts from an empty cluster.
func (c *Cluster) FlushAll(t testing.TB) {
	t.Helper()
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, m := range c.Masters(t) {
		wg.Go(func() {
			if _, err := command(m.Addr(), clusterTimeout, "FLUSHALL"); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", m.Addr(), err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("redistest: FLUSHALL: %v", errs)
	}
}

// DBSize returns the number of keys on all masters together.
func (c *Cluster) DBSize(t testing.TB) int64 {
	t.Helper()
	var total int64
	for _, m := range c.Masters(t) {
		out, err := command(m.Addr(), probeTimeout, "DBSIZE")
		if err != nil {
			t.Fatalf("redistest: DBSIZE on %s: %v", m.Addr(), err)
		}
		n, _ := strconv.ParseInt(out, 10, 64)
		total += n
	}
	return total
}
