package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
)

// knownCapacity is a Redis slowed on purpose: one pooled connection
// (max_conns: 1, one bot instance) through the in-process proxy with a 5 ms latency toxic on
// every reply for the whole run. Operations on one connection follow one
// another, so the link carries at most 1 / 5 ms = 200 operations per second
// (Redis's own time is microseconds); as the offered load nears that, the
// pool queue (pool wait is in the latency from intended start) grows
// without bound and p99 crosses 100 ms. At 60 commands per user per minute
// and about 7 operations per command, that is near 27 users.
const knownCapacity = `
name: capacity-known
seed: 5
workload: {population: 20000, active_users: 12, commands_per_user_per_minute: 60, prefill: 0s, instances: 1}
pool: {max_conns: 1, min_idle: 0}
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 3s}
faults:
  - {at: 0s, for: 4s, kind: network, toxic: latency, latency: 5ms}
targets:
  latency_p99: "< 100ms"
  hit_rate: "off"
capacity: {vary: users, from: 6, to: 96, precision: 20%}
`

const linkOpsPerSec = 200.0 // 1 connection / 5 ms

// The search against the slowed Redis finds the knee where the link's
// 200 ops/s says it is, within the precision, names the pool and p99, and
// writes capacity.json, capacity.html and every step's own reports; the
// design point (12 users) holds, so the exit code is 0.
func TestCapacityFindsKnownKnee(t *testing.T) {
	path := writeScenario(t, knownCapacity)
	out := filepath.Join(t.TempDir(), "out")
	r := run(t, "capacity", "-s", path, "-o", out, "--junit", filepath.Join(out, "junit.xml"), "--progress", "lines")
	// --progress lines: each step's own status lines, from its start.
	if !regexp.MustCompile(`(?m)^\[\s*\d+s/\s*4s\] steady .* ops/s`).MatchString(r.stderr) {
		t.Errorf("no step progress lines in stderr:\n%s", r.stderr)
	}
	t.Logf("stderr:\n%s\nstdout:\n%s", r.stderr, r.stdout)
	f, err := os.Open(filepath.Join(out, "capacity.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := report.ReadCapacityJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Answer
	if a.AtLeast && a.Limit == result.LimitTool {
		// The machine was too busy for the tool to keep its schedule: the
		// answer must then say so and claim no knee.
		if !strings.Contains(a.Headline, "not a knee") || r.stdout == "" {
			t.Fatalf("tool-limited answer without saying so: %q", a.Headline)
		}
		t.Skipf("the load generator limited the run on this machine (%s); no knee to check", a.Evidence)
	}
	if r.code != exitOK || !a.DesignHolds || c.Verdict != result.VerdictPass {
		t.Fatalf("exit %d, design holds %v: %s", r.code, a.DesignHolds, a.Headline)
	}
	if a.AtLeast || a.MaxLoad == 0 || a.FailLoad <= a.MaxLoad {
		t.Fatalf("no knee found: %+v", a)
	}
	if gap := a.FailLoad - a.MaxLoad; gap > 0.2*a.MaxLoad && gap > 1 {
		t.Errorf("gap %v between %v and %v is above the 20%% precision", gap, a.MaxLoad, a.FailLoad)
	}
	// The known answer: the link carries at most 200 ops/s, so the highest
	// holding step measured no more than that, and a queue that breaks p99
	// needs the link well loaded (over half its capacity).
	var failOps float64
	for _, s := range c.Steps {
		if s.Load == a.FailLoad {
			failOps = s.OpsPerSec
		}
	}
	if a.MaxOpsPerSec > linkOpsPerSec || failOps < 0.5*linkOpsPerSec || failOps > 1.05*linkOpsPerSec {
		t.Errorf("knee between %.0f ops/s (holds) and %.0f ops/s (breaks); the link's capacity is %.0f ops/s", a.MaxOpsPerSec, failOps, linkOpsPerSec)
	}
	if a.Broke == nil || a.Broke.Name != "latency_p99" {
		t.Errorf("first to break %+v, want latency_p99", a.Broke)
	}
	if a.Limit != result.LimitPool {
		t.Errorf("limit %s (%s), want pool", a.Limit, a.Evidence)
	}
	if a.Headroom <= 1 || !strings.Contains(r.stdout, a.Headline) {
		t.Errorf("headroom %v; stdout lacks the headline", a.Headroom)
	}
	for _, s := range c.Steps {
		if _, err := os.Stat(filepath.Join(out, s.Report, "report.json")); err != nil || s.Users != int(s.Load) {
			t.Errorf("step %d: report %q: %v (users %d)", s.N, s.Report, err, s.Users)
		}
	}
	for _, name := range []string{"capacity.html", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}

// Usage errors exit 2 before anything runs; an external Redis needs
// --max-load.
func TestCapacityUsage(t *testing.T) {
	for _, args := range [][]string{
		{"capacity"},
		{"capacity", "-s", "baseline", "--vary", "colour"},
		{"capacity", "-s", "baseline", "--from", "0"},
		{"capacity", "-s", "baseline", "--from", "100", "--to", "50"},
		{"capacity", "-s", "baseline", "--precision", "150%"},
		{"capacity", "-s", "baseline", "--confirm", "0"},
		{"capacity", "-s", "baseline", "--progress", "colour"},
		// A search whose top is below the design point would never measure it.
		{"capacity", "-s", "baseline", "--from", "1000", "--to", "5000"},
		{"capacity", "-s", "baseline", "--max-load", "5000"},
		{"capacity", "-s", "baseline", "--vary", "max_conns", "--from", "1", "--to", "2"},
		{"capacity", "-s", writeScenario(t, "name: ext\ntarget: {backend: external, addrs: [\"127.0.0.1:1\"]}\n")},
	} {
		if r := run(t, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
	r := run(t, "capacity", "-s", writeScenario(t, "name: ext\ntarget: {backend: external, addrs: [\"127.0.0.1:1\"]}\n"))
	if !strings.Contains(r.stderr, "--max-load") {
		t.Errorf("external without --max-load: %s", r.stderr)
	}
	// A maxmemory sweep's sizes: a bad one names its flag.
	for flag, args := range map[string][]string{
		"--from":      {"--vary", "maxmemory", "--from", "lots", "--to", "512mb"},
		"--to":        {"--vary", "maxmemory", "--from", "16mb", "--to", "-1mb"},
		"--precision": {"--vary", "maxmemory", "--from", "16mb", "--to", "512mb", "--precision", "some"},
		"maxmemory":   {"--vary", "maxmemory", "--set", "target.redis.maxmemory=0"},
	} {
		r := run(t, append([]string{"capacity", "-s", "baseline"}, args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, flag) {
			t.Errorf("%v: exit %d, want 2 naming %s\n%s", args, r.code, flag, r.stderr)
		}
	}
	if r := run(t, "capacity", "-s", "baseline", "--from", "1000", "--to", "5000"); !strings.Contains(r.stderr, "below the design point") {
		t.Errorf("--to below the design point: %s", r.stderr)
	}
}

// A step whose Redis cannot start ends the search with exit 3, and the
// capacity report is still written.
func TestCapacityEnvironment(t *testing.T) {
	out := t.TempDir()
	r := run(t, "capacity", "-s", writeScenario(t, knownCapacity), "-o", out, "--redis-server", "/nonexistent/redis-server")
	if r.code != exitEnvironment || !strings.Contains(r.stderr, "redis-server") {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "capacity.json")); err != nil {
		t.Error(err)
	}
}

// --vary max_conns at a fixed load sizes the pool: 40 users offer about
// 290 ops/s to connections that carry 200 ops/s each behind the 5 ms
// toxic, so one connection cannot hold it and a few can.
func TestCapacitySizesPool(t *testing.T) {
	path := writeScenario(t, strings.Replace(knownCapacity, "active_users: 12", "active_users: 40", 1))
	out := filepath.Join(t.TempDir(), "out")
	r := run(t, "capacity", "-s", path, "-o", out, "--vary", "max_conns", "--from", "1", "--to", "8")
	t.Logf("stderr:\n%s\nstdout:\n%s", r.stderr, r.stdout)
	f, err := os.Open(filepath.Join(out, "capacity.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := report.ReadCapacityJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Answer
	if a.Limit == result.LimitTool {
		t.Skipf("the load generator limited the run on this machine: %s", a.Evidence)
	}
	if !c.Knob || a.MinHolding < 2 || a.MinHolding > 4 || a.FailLoad >= a.MinHolding {
		t.Fatalf("want 2 to 4 connections to hold and fewer to fail: %+v", a)
	}
	// The scenario's own pool (max_conns: 1) does not hold: exit 1.
	if r.code != exitTargetMiss || a.DesignHolds || a.Limit != result.LimitPool {
		t.Errorf("exit %d, design holds %v, limit %s", r.code, a.DesignHolds, a.Limit)
	}
}

// --vary maxmemory runs every step with its own maxmemory: each step's
// Redis reports the size the search asked for (the step report's
// server.maxmemory, read from INFO), and the sweep carries cacheproof
// size's prediction for every step beside the measured hit rate. Small
// and short: 2mb from, 8mb to, the scenario's 4mb; every target holds,
// so the sweep walks down from 2mb to 1mb and measures 4mb on its own.
func TestCapacityVariesMaxMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("three real runs and a calibration: about 30 s")
	}
	path := writeScenario(t, `
name: capacity-maxmemory
seed: 3
target: {redis: {maxmemory: 4mb, maxmemory_policy: allkeys-lru}}
workload: {population: 2000, active_users: 10, commands_per_user_per_minute: 60, prefill: 0s, instances: 1}
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 2s}
targets:
  hit_rate: "off"
  latency_p99: "< 5s"
`)
	out := filepath.Join(t.TempDir(), "out")
	r := run(t, "capacity", "-s", path, "-o", out, "--vary", "maxmemory", "--from", "2mb", "--to", "8mb", "--confirm", "1", "--max-steps", "3")
	t.Logf("stderr:\n%s\nstdout:\n%s", r.stderr, r.stdout)
	f, err := os.Open(filepath.Join(out, "capacity.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := report.ReadCapacityJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Vary != "maxmemory" || c.DesignPoint != 4<<20 || len(c.Steps) < 2 {
		t.Fatalf("vary %s design %v steps %d", c.Vary, c.DesignPoint, len(c.Steps))
	}
	sizes := map[float64]bool{}
	for _, st := range c.Steps {
		sizes[st.Load] = true
		sf, err := os.Open(filepath.Join(out, st.Report, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := report.ReadJSON(sf)
		sf.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Server.MaxMemory != int64(st.Load) || st.MaxMemory != int64(st.Load) {
			t.Errorf("step %d at %v bytes: its Redis reported maxmemory %d (capacity.json %d)", st.N, st.Load, res.Server.MaxMemory, st.MaxMemory)
		}
		if st.PredictedHitRate == nil {
			t.Errorf("step %d: no predicted hit rate (notes %v)", st.N, c.Notes)
		}
	}
	if len(sizes) < 2 || !sizes[4<<20] {
		t.Errorf("sizes run %v: want at least two, the scenario's 4mb among them", sizes)
	}
	if c.Prediction == nil || c.Prediction.Policy != "allkeys-lru" || len(c.Prediction.Curve) == 0 {
		t.Errorf("prediction %+v", c.Prediction)
	}
	html, err := os.ReadFile(filepath.Join(out, "capacity.html"))
	if err != nil || !strings.Contains(string(html), "measured and predicted") {
		t.Errorf("capacity.html has no prediction chart (%v)", err)
	}
	if !strings.Contains(r.stdout, "against measured") || !strings.Contains(r.stderr, "Redis reported") {
		t.Errorf("console has no predicted/measured table or reported maxmemory")
	}
}
