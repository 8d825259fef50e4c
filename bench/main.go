// Command bench measures redisession against scs, gorilla/sessions and gin-contrib/sessions, and
// against two ceilings, on a redis-server of its own, in one run: throughput, latency, Redis round
// trips, commands and bytes per request, allocations, and lost updates under concurrent tabs. It
// prints a table and whether each target is met, writes results/results.{json,md}, and draws
// ../docs/benchmarks.png and the generated part of ../docs/benchmarks.md from those results.
//
//	make bench                                  # from the repository root
//	make bench BENCHFLAGS='-duration 5s -rounds 3'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

type config struct {
	duration, warmup time.Duration
	concurrency      int
	maxRequests      int
	rounds           int
	allocRuns        int
	redigoPool       int
	sizes            []int
	scenarios        []string
	subjects         []string
	out, docs        string
	redisBin         string
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.DurationVar(&cfg.duration, "duration", 1500*time.Millisecond, "measured time per subject, scenario and size")
	fs.DurationVar(&cfg.warmup, "warmup", 300*time.Millisecond, "unmeasured warmup before each measurement")
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "concurrent clients (the tabs scenario runs 8 tabs per session)")
	fs.IntVar(&cfg.maxRequests, "max-requests", 500000, "cap on the requests of one measurement")
	fs.IntVar(&cfg.rounds, "rounds", 1, "repeat every measurement this often, interleaved; medians are reported")
	fs.IntVar(&cfg.allocRuns, "alloc-runs", 300, "sequential in-process requests per allocation measurement")
	fs.IntVar(&cfg.redigoPool, "redigo-pool", 32, "idle connections of the redistore pools (README: 10)")
	sizes := fs.String("sizes", "20,200", "session sizes in fields, comma-separated")
	scen := fs.String("scenarios", strings.Join(scenarios, ","), "scenarios, comma-separated")
	subs := fs.String("subjects", "", "subject keys to run, comma-separated (default all): "+strings.Join(subjectKeys(), ","))
	fs.StringVar(&cfg.out, "out", "results", "directory for results.json and results.md")
	fs.StringVar(&cfg.docs, "docs", "../docs", "directory for benchmarks.png and benchmarks.md; empty to skip")
	fs.StringVar(&cfg.redisBin, "redis-server", "redis-server", "redis-server binary")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 8 {
			return cfg, fmt.Errorf("-sizes: %q is not a field count of at least 8", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	for _, s := range strings.Split(*scen, ",") {
		if s = strings.TrimSpace(s); !slices.Contains(scenarios, s) {
			return cfg, fmt.Errorf("-scenarios: unknown %q", s)
		}
		cfg.scenarios = append(cfg.scenarios, s)
	}
	if *subs != "" {
		for _, s := range strings.Split(*subs, ",") {
			if s = strings.TrimSpace(s); !slices.Contains(subjectKeys(), s) {
				return cfg, fmt.Errorf("-subjects: unknown %q", s)
			}
			cfg.subjects = append(cfg.subjects, s)
		}
	}
	if cfg.concurrency < 1 || cfg.rounds < 1 || cfg.allocRuns < 10 || cfg.duration <= 0 {
		return cfg, fmt.Errorf("-concurrency, -rounds must be positive, -alloc-runs at least 10, -duration > 0")
	}
	return cfg, nil
}

func subjectKeys() []string {
	keys := make([]string, len(subjectDefs))
	for i, d := range subjectDefs {
		keys[i] = d.key
	}
	return keys
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	srv, err := startRedis(cfg.redisBin)
	if err != nil {
		return err
	}
	defer srv.stop()
	info := redis.NewClient(&redis.Options{Addr: srv.addr, PoolSize: 1})
	defer info.Close()

	machine := readMachine(ctx, info)
	fmt.Fprintf(os.Stderr, "bench: redis-server %s on %s; %d CPUs (%s), %s, load average %s\n",
		machine.Redis, srv.addr, machine.CPUs, machine.CPUModel, machine.Go, machine.LoadStart)

	var subs []*subject
	for _, d := range subjectDefs {
		if len(cfg.subjects) > 0 && !slices.Contains(cfg.subjects, d.key) {
			continue
		}
		s, err := d.build(srv.addr, cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", d.key, err)
		}
		if s.close != nil {
			defer s.close()
		}
		subs = append(subs, s)
	}

	type cellKey struct {
		sub      string
		scenario string
		fields   int
	}
	runs := map[cellKey][]cellRun{}
	var order []cellKey
	start := time.Now()
	for round := range cfg.rounds {
		for _, fields := range cfg.sizes {
			for _, scenario := range cfg.scenarios {
				// Each round starts with another subject, so that a slow spell of a busy machine
				// does not always hit the same one.
				for i := range subs {
					s := subs[(i+round)%len(subs)]
					if !s.supports(scenario) {
						continue
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
					k := cellKey{s.Key, scenario, fields}
					if _, seen := runs[k]; !seen {
						order = append(order, k)
					}
					cr, err := runCell(ctx, s, scenario, fields, cfg, info)
					if err != nil {
						return fmt.Errorf("%s %s %d fields: %w", s.Key, scenario, fields, err)
					}
					serial, err := measureSerial(s, scenario, fields, cfg.allocRuns)
					if err != nil {
						return fmt.Errorf("%s %s %d fields: serial run: %w", s.Key, scenario, fields, err)
					}
					runs[k] = append(runs[k], cellRun{cellResult: cr, serial: serial})
					fmt.Fprintf(os.Stderr, "round %d/%d  %3d fields  %-6s %-12s %8.0f req/s  p99 %6.2f ms  %d errors\n",
						round+1, cfg.rounds, fields, scenario, s.Key, float64(cr.requests)/cr.elapsed.Seconds(),
						ms(percentile(cr.latencies, 0.99)), cr.errors)
				}
			}
		}
	}
	machine.LoadEnd = loadAvg()
	machine.Elapsed = time.Since(start).Round(time.Second).String()

	bySub := map[string]*subject{}
	for _, s := range subs {
		bySub[s.Key] = s
	}
	rep := report{Machine: machine, Command: commandLine(), Config: configSummary(cfg)}
	for _, k := range order {
		rep.Results = append(rep.Results, aggregate(bySub[k.sub], k.scenario, k.fields, runs[k]))
	}
	for _, s := range subs {
		rep.Subjects = append(rep.Subjects, subjectInfo{Key: s.Key, Name: s.Name, Label: s.Label, Kind: s.Kind, Note: s.Note})
	}
	rep.Targets = evaluate(rep.Results, cfg.sizes)

	fmt.Print(rep.text())
	return rep.write(cfg)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// commandLine is how to repeat this run from the repository root.
func commandLine() string {
	if len(os.Args) <= 1 {
		return "make bench"
	}
	return "make bench BENCHFLAGS='" + strings.Join(os.Args[1:], " ") + "'"
}

func configSummary(cfg config) string {
	return fmt.Sprintf("concurrency %d over loopback HTTP/1.1 keep-alive; %v warmup + %v measured per cell (at most %d requests); %d round(s); allocations over %d sequential in-process requests; GOMAXPROCS %d",
		cfg.concurrency, cfg.warmup, cfg.duration, cfg.maxRequests, cfg.rounds, cfg.allocRuns, runtime.GOMAXPROCS(0))
}

// machine describes where the numbers came from.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	Go        string `json:"go"`
	Redis     string `json:"redis"`
	Kernel    string `json:"kernel"`
	LoadStart string `json:"load_average_start"`
	LoadEnd   string `json:"load_average_end"`
	Date      string `json:"date"`
	Elapsed   string `json:"elapsed"`
}

func readMachine(ctx context.Context, c *redis.Client) machine {
	m := machine{CPUs: runtime.NumCPU(), CPUModel: "unknown", Go: runtime.Version(), Redis: redisVersion(ctx, c),
		LoadStart: loadAvg(), Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
