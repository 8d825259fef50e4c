package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// cellRun is one round of one cell.
type cellRun struct {
	cellResult
	serial serialRun
}

// Result is one subject in one scenario at one session size, over all rounds.
type Result struct {
	Subject              string             `json:"subject"`
	Name                 string             `json:"name"`
	Kind                 kind               `json:"kind"`
	Scenario             string             `json:"scenario"`
	Fields               int                `json:"fields"`
	Requests             int64              `json:"requests"`
	Errors               int64              `json:"errors"`
	FirstError           string             `json:"first_error,omitempty"`
	Seconds              float64            `json:"seconds"`
	RPS                  float64            `json:"requests_per_second"`
	P50Ms                float64            `json:"p50_ms"`
	P99Ms                float64            `json:"p99_ms"`
	RoundTripsPerReq     *float64           `json:"redis_round_trips_per_request"`
	NetRoundTripsPerReq  *float64           `json:"redis_network_round_trips_per_request_under_load"`
	CommandsPerReq       float64            `json:"redis_commands_per_request"`
	CommandMix           map[string]float64 `json:"redis_commands_per_request_by_name,omitempty"`
	BytesToRedisPerReq   float64            `json:"bytes_to_redis_per_request"`
	BytesFromRedisPerReq float64            `json:"bytes_from_redis_per_request"`
	CPUUsPerReq          float64            `json:"process_cpu_us_per_request"`
	RedisCPUUsPerReq     float64            `json:"redis_cpu_us_per_request"`
	AllocsPerReq         float64            `json:"allocs_per_request"`
	AllocBytesPerReq     float64            `json:"alloc_bytes_per_request"`
	TabWrites            int64              `json:"tab_writes,omitempty"`
	LostUpdates          int64              `json:"lost_updates"`
	RYWMisses            int64              `json:"read_your_write_misses"`
	Rounds               int                `json:"rounds"`
}

// aggregate folds the rounds of one cell: medians of throughput and latency, totals of the rest.
func aggregate(s *subject, scenario string, fields int, runs []cellRun) Result {
	r := Result{Subject: s.Key, Name: s.Name, Kind: s.Kind, Scenario: scenario, Fields: fields, Rounds: len(runs),
		CommandMix: map[string]float64{}}
	var rps, p50, p99, allocs, allocBytes, serialRT []float64
	var rt, cmds, in, out int64
	var cpu, rcpu time.Duration
	mix := map[string]int64{}
	for _, c := range runs {
		r.Requests += c.requests
		r.Errors += c.errors
		if r.FirstError == "" {
			r.FirstError = c.firstErr
		}
		r.Seconds += c.elapsed.Seconds()
		rps = append(rps, float64(c.requests)/c.elapsed.Seconds())
		p50 = append(p50, ms(percentile(c.latencies, 0.50)))
		p99 = append(p99, ms(percentile(c.latencies, 0.99)))
		allocs = append(allocs, c.serial.allocs)
		allocBytes = append(allocBytes, c.serial.bytes)
		serialRT = append(serialRT, c.serial.rt)
		rt += c.rt
		cmds += c.stats.commands
		in += c.stats.in
		out += c.stats.out
		cpu += c.cpu
		rcpu += c.stats.cpu
		for k, v := range c.stats.perCmd {
			mix[k] += v
		}
		r.TabWrites += c.tabWrites
		r.LostUpdates += c.lost
		r.RYWMisses += c.ryw
	}
	n := float64(max(r.Requests, 1))
	r.RPS, r.P50Ms, r.P99Ms = median(rps), median(p50), median(p99)
	r.AllocsPerReq, r.AllocBytesPerReq = median(allocs), median(allocBytes)
	if s.RT != nil {
		v, w := median(serialRT), float64(rt)/n
		r.RoundTripsPerReq, r.NetRoundTripsPerReq = &v, &w
	}
	r.CommandsPerReq = float64(cmds) / n
	r.CPUUsPerReq, r.RedisCPUUsPerReq = float64(cpu.Microseconds())/n, float64(rcpu.Microseconds())/n
	r.BytesToRedisPerReq, r.BytesFromRedisPerReq = float64(in)/n, float64(out)/n
	for k, v := range mix {
		r.CommandMix[k] = round2(float64(v) / n)
	}
	return r
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// Target is one of issue 7's targets for one redisession subject at one session size.
type Target struct {
	Subject string  `json:"subject"`
	Fields  int     `json:"fields"`
	Target  string  `json:"target"`
	Value   float64 `json:"value"`
	Limit   float64 `json:"limit"`
	Met     bool    `json:"met"`
	Detail  string  `json:"detail"`
}

// evaluate checks the targets of every redisession subject against the best peer and the ceiling of
// the same run.
func evaluate(results []Result, sizes []int) []Target {
	find := func(sub, scenario string, fields int) *Result {
		for i := range results {
			if r := &results[i]; r.Subject == sub && r.Scenario == scenario && r.Fields == fields {
				return r
			}
		}
		return nil
	}
	// best returns the peer result that is best by better (a before b means a is better).
	best := func(scenario string, fields int, better func(a, b *Result) bool) *Result {
		var out *Result
		for i := range results {
			r := &results[i]
			if r.Kind == kindPeer && r.Scenario == scenario && r.Fields == fields && r.Errors == 0 && (out == nil || better(r, out)) {
				out = r
			}
		}
		return out
	}
	var out []Target
	for _, fields := range sizes {
		var ours []string
		for _, r := range results {
			if r.Kind == kindOurs && r.Fields == fields && !slices.Contains(ours, r.Subject) {
				ours = append(ours, r.Subject)
			}
		}
		bestRead := best("read", fields, func(a, b *Result) bool { return a.RPS > b.RPS })
		leanWrite := best("write", fields, func(a, b *Result) bool { return a.BytesToRedisPerReq < b.BytesToRedisPerReq })
		ceiling := find("bare-redis", "read", fields)
		for _, sub := range ours {
			add := func(t Target) {
				t.Subject, t.Fields = sub, fields
				out = append(out, t)
			}
			if r := find(sub, "read", fields); r != nil {
				if bestRead != nil {
					v := r.RPS / bestRead.RPS
					add(Target{Target: "read-only throughput ≥ 1.2× best peer", Value: v, Limit: 1.2, Met: v >= 1.2 && r.Errors == 0,
						Detail: fmt.Sprintf("%.0f vs %.0f req/s (%s): %.2f×; by CPU per request %.2f×", r.RPS, bestRead.RPS, bestRead.Subject, v, cpuRatio(bestRead, r))})
				}
				if ceiling != nil {
					v := r.RPS / ceiling.RPS
					add(Target{Target: "read-only throughput ≥ 0.85× bare 1-round-trip ceiling", Value: v, Limit: 0.85, Met: v >= 0.85 && r.Errors == 0,
						Detail: fmt.Sprintf("%.0f vs %.0f req/s: %.2f×; by CPU per request %.2f×", r.RPS, ceiling.RPS, v, cpuRatio(ceiling, r))})
				}
				if r.RoundTripsPerReq != nil {
					v := *r.RoundTripsPerReq
					add(Target{Target: "≤ 1 Redis round trip per read-only request", Value: v, Limit: 1, Met: v <= 1.005,
						Detail: fmt.Sprintf("%.2f round trips (%.2f on the wire under load), %.2f commands run in Redis", v, *r.NetRoundTripsPerReq, r.CommandsPerReq)})
				}
			}
			if r := find(sub, "write", fields); r != nil {
				limit := 0.1
				if fields >= 200 {
					limit = 0.02
				}
				if leanWrite != nil {
					v := r.BytesToRedisPerReq / leanWrite.BytesToRedisPerReq
					add(Target{Target: fmt.Sprintf("bytes to Redis per one-field write ≤ 1/%.0f of best peer", 1/limit), Value: v, Limit: limit,
						Met:    v <= limit && r.Errors == 0,
						Detail: fmt.Sprintf("%.0f vs %.0f B (%s): 1/%.1f", r.BytesToRedisPerReq, leanWrite.BytesToRedisPerReq, leanWrite.Subject, 1/v)})
				}
				if r.RoundTripsPerReq != nil {
					v := *r.RoundTripsPerReq
					add(Target{Target: "≤ 2 Redis round trips per write request", Value: v, Limit: 2, Met: v <= 2.005,
						Detail: fmt.Sprintf("%.2f round trips (%.2f on the wire under load), %.2f commands run in Redis", v, *r.NetRoundTripsPerReq, r.CommandsPerReq)})
				}
			}
			if r := find(sub, "tabs", fields); r != nil {
				v := float64(r.LostUpdates + r.RYWMisses)
				add(Target{Target: "zero lost updates and read-your-write misses (8 tabs)", Value: v, Limit: 0,
					Met:    v == 0 && r.Errors == 0 && r.TabWrites > 0,
					Detail: fmt.Sprintf("%d lost, %d RYW misses in %d acknowledged tab writes, %d errors", r.LostUpdates, r.RYWMisses, r.TabWrites, r.Errors)})
			}
		}
	}
	return out
}

// cpuRatio is how many times more CPU (the bench process and redis-server together) a request of
// ref costs than one of r: the throughput ratio to expect where, as on a small machine, the CPU is
// the limit. It is steadier than measured throughput when other work shares the machine.
func cpuRatio(ref, r *Result) float64 {
	own := r.CPUUsPerReq + r.RedisCPUUsPerReq
	if own == 0 {
		return 0
	}
	return (ref.CPUUsPerReq + ref.RedisCPUUsPerReq) / own
}

type subjectInfo struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Label string `json:"label"`
	Kind  kind   `json:"kind"`
	Note  string `json:"note,omitempty"`
}

type report struct {
	Machine  machine       `json:"machine"`
	Command  string        `json:"command"`
	Config   string        `json:"config"`
	Subjects []subjectInfo `json:"subjects"`
	Results  []Result      `json:"results"`
	Targets  []Target      `json:"targets"`
}

var columns = []string{"subject", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "Redis µs/req", "RT/req", "net RT/req", "cmds/req", "B→Redis/req", "B←Redis/req", "allocs/req", "KB alloc/req", "lost", "RYW miss", "errors"}

func (r Result) cells() []string {
	rt, nrt := "—", "—"
	if r.RoundTripsPerReq != nil {
		rt, nrt = fmt.Sprintf("%.2f", *r.RoundTripsPerReq), fmt.Sprintf("%.2f", *r.NetRoundTripsPerReq)
	}
	lost, ryw := "—", "—"
	if r.Scenario == "tabs" {
		lost, ryw = fmt.Sprint(r.LostUpdates), fmt.Sprint(r.RYWMisses)
	}
	return []string{r.Subject, fmt.Sprintf("%.0f", r.RPS), fmt.Sprintf("%.2f", r.P50Ms), fmt.Sprintf("%.2f", r.P99Ms),
		fmt.Sprintf("%.0f", r.CPUUsPerReq), fmt.Sprintf("%.1f", r.RedisCPUUsPerReq), rt, nrt,
		fmt.Sprintf("%.2f", r.CommandsPerReq), fmt.Sprintf("%.0f", r.BytesToRedisPerReq), fmt.Sprintf("%.0f", r.BytesFromRedisPerReq),
		fmt.Sprintf("%.0f", r.AllocsPerReq), fmt.Sprintf("%.1f", r.AllocBytesPerReq/1024), lost, ryw, fmt.Sprint(r.Errors)}
}

// groups returns the results by (fields, scenario), in run order.
func (rep report) groups() (keys [][2]any, by map[[2]any][]Result) {
	by = map[[2]any][]Result{}
	for _, r := range rep.Results {
		k := [2]any{r.Fields, r.Scenario}
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
	}
	return keys, by
}

var scenarioTitle = map[string]string{
	"read":  "read-only request (one field read)",
	"write": "one-field write",
	"login": "login with ID rotation",
	"tabs":  "8 concurrent tabs of one session, each writing its own field then reading all (2 sessions × 8 tabs)",
}

func (rep report) text() string {
	var b strings.Builder
	keys, by := rep.groups()
	for _, k := range keys {
		fmt.Fprintf(&b, "\n== %d fields: %s\n", k[0], scenarioTitle[k[1].(string)])
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, strings.Join(columns, "\t")+"\t")
		for _, r := range by[k] {
			fmt.Fprintln(tw, strings.Join(r.cells(), "\t")+"\t")
		}
		_ = tw.Flush()
		for _, r := range by[k] {
			if r.FirstError != "" {
				fmt.Fprintf(&b, "  %s: %d errors, first: %s\n", r.Subject, r.Errors, r.FirstError)
			}
		}
	}
	fmt.Fprintf(&b, "\n== targets (issue 7), against the best peer and the ceiling of this run\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, t := range rep.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%d fields\t%s\t%s\n", met(t.Met), t.Subject, t.Fields, t.Target, t.Detail)
	}
	_ = tw.Flush()
	return b.String()
}

func met(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

// markdown renders the machine, the command, the tables and the targets.
func (rep report) markdown() string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "Command: `%s` (from the repository root)\n\n", rep.Command)
	fmt.Fprintf(&b, "Machine: %d CPUs, %s; %s; %s; redis-server %s; load average %s at the start, %s at the end; run of %s, %s.\n\n",
		m.CPUs, m.CPUModel, m.Kernel, m.Go, m.Redis, m.LoadStart, m.LoadEnd, m.Date, m.Elapsed)
	fmt.Fprintf(&b, "Setup: %s. Redis: its own redis-server on a free loopback port, no persistence, noeviction.\n\n", rep.Config)
	b.WriteString("Columns: CPU µs/req = CPU time of the bench process (load generator, HTTP server, session library, Redis client) per request; " +
		"Redis µs/req = redis-server's CPU time per request (INFO cpu); both are steadier than req/s on a busy machine. " +
		"RT/req = Redis round trips one request waits for, counted in the Redis client while requests run one at a time (a pipeline or a script call is one); " +
		"net RT/req = round trips on the wire per request under the concurrent load, where go-redis' autopipelining may carry several requests' commands in one; " +
		"cmds/req = commands Redis executed per request (INFO commandstats, which counts the commands inside a Lua script too); " +
		"B→Redis/req and B←Redis/req = bytes Redis received and sent per request (INFO stats total_net_input_bytes / total_net_output_bytes); " +
		"allocs/req and KB alloc/req = heap allocations of one request served in-process through httptest.NewRecorder " +
		"(Redis client included; the bare row is the harness and net/http alone); lost = acknowledged tab writes later found overwritten by an older value; " +
		"RYW miss = a tab's read right after its acknowledged write not showing it.\n\n")
	b.WriteString("Subjects:\n\n")
	for _, s := range rep.Subjects {
		fmt.Fprintf(&b, "- `%s`: %s (%s)", s.Key, s.Name, s.Kind)
		if s.Note != "" {
			fmt.Fprintf(&b, ": %s", s.Note)
		}
		b.WriteString("\n")
	}
	keys, by := rep.groups()
	for _, k := range keys {
		fmt.Fprintf(&b, "\n#### %d fields: %s\n\n", k[0], scenarioTitle[k[1].(string)])
		b.WriteString("| " + strings.Join(columns, " | ") + " |\n|")
		for i := range columns {
			if i == 0 {
				b.WriteString("---|")
			} else {
				b.WriteString("---:|")
			}
		}
		b.WriteString("\n")
		for _, r := range by[k] {
			c := r.cells()
			c[0] = "`" + c[0] + "`"
			b.WriteString("| " + strings.Join(c, " | ") + " |\n")
		}
		for _, r := range by[k] {
			if r.FirstError != "" {
				fmt.Fprintf(&b, "\n`%s`: %d errors, first: %s\n", r.Subject, r.Errors, strings.ReplaceAll(r.FirstError, "|", "/"))
			}
		}
	}
	b.WriteString("\n#### Targets\n\n| | subject | fields | target | measured |\n|---|---|---:|---|---|\n")
	for _, t := range rep.Targets {
		fmt.Fprintf(&b, "| %s | `%s` | %d | %s | %s |\n", met(t.Met), t.Subject, t.Fields, t.Target, t.Detail)
	}
	return b.String()
}

const (
	docsBegin = "<!-- bench:begin: generated by `make bench` from bench/results/results.json; edits here are overwritten -->"
	docsEnd   = "<!-- bench:end -->"
)

// write stores results.json and results.md, and with cfg.docs set draws the chart and refreshes the
// generated part of benchmarks.md.
func (rep report) write(cfg config) error {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(cfg.out, "results.json"), append(js, '\n')); err != nil {
		return err
	}
	md := "# Benchmark results\n\nGenerated by `make bench`; see docs/benchmarks.md for what the numbers mean.\n\n" + rep.markdown()
	if err := writeFile(filepath.Join(cfg.out, "results.md"), []byte(md)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s and %s\n", filepath.Join(cfg.out, "results.json"), filepath.Join(cfg.out, "results.md"))
	if cfg.docs == "" {
		return nil
	}
	if err := os.MkdirAll(cfg.docs, 0o755); err != nil {
		return err
	}
	png := filepath.Join(cfg.docs, "benchmarks.png")
	if err := drawChart(rep, png); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	doc := filepath.Join(cfg.docs, "benchmarks.md")
	old, err := os.ReadFile(doc)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	gen := docsBegin + "\n\n" + rep.markdown() + "\n" + docsEnd
	var text string
	if i, j := strings.Index(string(old), docsBegin), strings.Index(string(old), docsEnd); i >= 0 && j > i {
		text = string(old[:i]) + gen + string(old[j+len(docsEnd):])
	} else {
		text = "# Benchmarks\n\n![throughput and bytes to Redis per request](benchmarks.png)\n\n" + gen + "\n" + string(old)
	}
	if err := writeFile(doc, []byte(text)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s and the generated part of %s\n", png, doc)
	return nil
}

// writeFile writes through a temporary file, so an interrupted run leaves the old file whole.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
