package harness

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/selfmeasure"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/topology/topologytest"
)

func TestMain(m *testing.M) {
	selfmeasure.HostProbeMain() // runs with the host timer probe, as cacheproof does
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/HdrHistogram/hdrhistogram-go.init"),
		// Toxiproxy v2.5.0's no-op toxic sends a chunk to the next stub
		// with a bare channel send (toxics/noop.go), so when a toxic is
		// removed (link.go RemoveToxic restarts the stub before it) while
		// the connection's writer has already ended, that goroutine waits
		// forever: Toxiproxy's own leak, one per such link, seen once in
		// CI (stop 33) after a network fault's removal. Every goroutine of
		// ours is still checked.
		goleak.IgnoreTopFunction("github.com/Shopify/toxiproxy/v2/toxics.(*NoopToxic).Pipe"))
}

func needRedis(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not on PATH (apt-get install redis-server): %v", err)
	}
}

// standaloneRedis starts a redis-server on loopback for the test (stopped
// at its end) and returns it with a development-profile manager config
// pointed at it: no sentinel, no background health check, no invalidation
// channel (a test that wants one sets it).
func standaloneRedis(t *testing.T) (topology.Deployment, pool.Config) {
	dep := topologytest.Standalone(t)
	cfg, _ := pool.ProfileConfig(pool.ProfileDevelopment)
	cfg.Addrs, cfg.EnableSentinel, cfg.HealthCheckInterval, cfg.InvalidationChannel = dep.Endpoints().Addrs, false, 0, ""
	return dep, cfg
}

// runYAML loads a scenario from text and runs it; a load or run error ends
// the test.
func runYAML(t *testing.T, name, yaml string) *result.Result {
	t.Helper()
	sc, err := scenarios.LoadBytes(name, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Scenario: sc})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

const smallScenario = `
name: harness-smoke
seed: 3
workload: {population: 20000, active_users: 300, commands_per_user_per_minute: 120}
phases:
  - {name: warmup, duration: 2s, record: false}
  - {name: steady, duration: 3s}
`

// A short run against a real redis-server: operations happen, the hit rate
// is hits/(hits+misses), values verify, the timeline has a row per second
// and the verdict is decided by the targets.
func TestShortRun(t *testing.T) {
	needRedis(t)
	sc, err := scenarios.LoadBytes("smoke.yaml", []byte(smallScenario))
	if err != nil {
		t.Fatal(err)
	}
	var samples int
	res, err := Run(context.Background(), Options{Scenario: sc, OnSample: func(Sample) { samples++ }})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Users.Requests == 0 || res.Users.Commands == 0 {
		t.Fatalf("no operations recorded: %+v", res.Users)
	}
	// The host timer probe (this test binary serves as one: TestMain calls
	// HostProbeMain) ran over the 3 s window at about 200 wake-ups a second.
	if h := res.Client.HostTimer; h == nil {
		t.Errorf("no host timer figure (note %q)", res.Client.HostTimerNote)
	} else if h.Wakes < 200 || h.Wakes > 1500 || h.Late > h.Wakes || len(h.Over) != len(selfmeasure.HostProbeBounds) {
		t.Errorf("host timer over a 3 s window: %+v", h)
	}
	// The real report, client section and all, is what the schema says.
	var js bytes.Buffer
	if err := report.WriteJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateJSON(js.Bytes()); err != nil {
		t.Errorf("the run's report does not validate: %v", err)
	}
	c := res.Cache
	if c.Hits+c.Misses == 0 {
		t.Fatal("no lookups")
	}
	if want := float64(c.Hits) / float64(c.Hits+c.Misses+c.LookupErrors); math.Abs(c.HitRate-want) > 1e-12 {
		t.Errorf("hit_rate %v != hits/(hits+misses+lookup_errors) %v", c.HitRate, want)
	}
	if want := float64(c.Hits) / float64(c.Hits+c.Misses); math.Abs(c.AnsweredHitRate-want) > 1e-12 {
		t.Errorf("answered_hit_rate %v != hits/(hits+misses) %v", c.AnsweredHitRate, want)
	}
	if c.Misses > 0 && c.MissesByCause["cold"]+c.MissesByCause["expired"]+c.MissesByCause["evicted"]+c.MissesByCause["wiped"] != c.Misses {
		t.Errorf("misses by cause %v do not add up to %d", c.MissesByCause, c.Misses)
	}
	if res.Integrity.Checked == 0 || res.Integrity.Mismatches != 0 {
		t.Errorf("integrity: %+v", res.Integrity)
	}
	if res.Latency.Overall.Count == 0 || res.Latency.Overall.P99 <= 0 || res.Latency.Overall.Max < res.Latency.Overall.P99 {
		t.Errorf("latency: %+v", res.Latency.Overall)
	}
	if _, ok := res.Latency.ByOp["get"]; !ok {
		t.Errorf("no per-op latency for get: %v", res.Latency.ByOp)
	}
	if res.Verdict != result.VerdictPass && res.Verdict != result.VerdictFail {
		t.Errorf("verdict %q", res.Verdict)
	}
	if len(res.Targets) != len(result.DefaultTargets()) {
		t.Errorf("want the %d default targets, got %+v", len(result.DefaultTargets()), res.Targets)
	}
	if len(res.Timeline) < 4 || samples != len(res.Timeline) {
		t.Errorf("timeline rows %d, samples %d", len(res.Timeline), samples)
	}
	if res.Server.RedisVersion == "" || res.Server.MaxMemory != 256<<20 {
		t.Errorf("server: %+v", res.Server)
	}
	if len(res.Phases) != 2 || res.Phases[0].Recorded || !res.Phases[1].Recorded || res.Phases[0].Requests == 0 {
		t.Errorf("phases: %+v", res.Phases)
	}
	// Warm-up is excluded from the totals.
	if res.Phases[1].Requests != res.Users.Requests {
		t.Errorf("recorded requests %d != steady phase %d", res.Users.Requests, res.Phases[1].Requests)
	}
	// Redis's own cost over the recorded phases, beside the tool's.
	if res.Server.Commands == 0 || res.Server.CPUSeconds <= 0 || res.Server.CPUPerCommandUs <= 0 {
		t.Errorf("server cost: %v s CPU, %d commands, %vµs each", res.Server.CPUSeconds, res.Server.Commands, res.Server.CPUPerCommandUs)
	}
	if res.Client.CPUPerRedisCommandUs <= 0 || res.Client.CPUVsRedis <= 0 {
		t.Errorf("client cost: %vµs per Redis command, %v× Redis", res.Client.CPUPerRedisCommandUs, res.Client.CPUVsRedis)
	}
	if _, ok := res.HDR["overall"]; !ok {
		t.Error("no encoded overall histogram")
	}
	t.Logf("requests=%d hit=%.3f p50=%.3fms p99=%.3fms late=%d", res.Users.Requests, c.HitRate, res.Latency.Overall.P50, res.Latency.Overall.P99, res.Users.Late)
}

// Cancelling the context stops the run early with a partial, marked result.
func TestInterruptedRun(t *testing.T) {
	needRedis(t)
	sc, err := scenarios.LoadBytes("smoke.yaml", []byte(smallScenario))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.DurationS >= 5 {
		t.Errorf("interrupted=%v duration=%v", res.Interrupted, res.DurationS)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("interrupt took %s", time.Since(start))
	}
}

// A missing redis-server binary is an environment error (exit 3).
func TestMissingRedisIsEnvError(t *testing.T) {
	sc, err := scenarios.LoadBytes("smoke.yaml", []byte(smallScenario))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Options{Scenario: sc, RedisServer: "/nonexistent/redis-server"})
	var env *EnvError
	if err == nil || !asEnv(err, &env) {
		t.Fatalf("want EnvError, got %v", err)
	}
}

func asEnv(err error, target **EnvError) bool {
	e, ok := err.(*EnvError)
	if ok {
		*target = e
	}
	return ok
}

// Prefill replays history so the run starts warm: the first recorded second
// already hits about as often as a long-running cache would, and the keys
// written carry staggered remaining TTLs.
func TestPrefillStartsWarm(t *testing.T) {
	needRedis(t)
	const body = `
name: prefill
seed: 4
workload: {population: 20000, active_users: 300, commands_per_user_per_minute: 60, prefill: 3m}
phases:
  - {name: steady, duration: 3s}
`
	cold, err := scenarios.LoadBytes("cold.yaml", []byte(strings.Replace(body, ", prefill: 3m", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	warm, err := scenarios.LoadBytes("warm.yaml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := Run(context.Background(), Options{Scenario: cold})
	if err != nil {
		t.Fatal(err)
	}
	rw, err := Run(context.Background(), Options{Scenario: warm})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hit rate cold %.3f, prefilled %.3f; notes %v", rc.Cache.HitRate, rw.Cache.HitRate, rw.Notes)
	if rw.Cache.HitRate < rc.Cache.HitRate+0.15 || rw.Cache.HitRate < 0.85 {
		t.Errorf("prefilled hit rate %.3f vs cold %.3f: prefill did not warm the cache", rw.Cache.HitRate, rc.Cache.HitRate)
	}
	var noted bool
	for _, n := range rw.Notes {
		noted = noted || strings.HasPrefix(n, "prefill: replayed 3m0s of history")
	}
	if !noted {
		t.Errorf("no prefill note: %v", rw.Notes)
	}
	if rw.Cache.MissesByCause["evicted"] != 0 {
		t.Errorf("misses classified as evicted with nothing evicted: %v", rw.Cache.MissesByCause)
	}
}

func TestCrossCheckNotes(t *testing.T) {
	if n := crossCheck(map[string]uint64{"evicted": 5}, 0, 10); len(n) != 1 || !strings.Contains(n[0], "Redis evicted no key") {
		t.Errorf("evicted misses without evictions: %v", n)
	}
	if n := crossCheck(map[string]uint64{"evicted": 5, "expired": 3}, 100, 10); len(n) != 0 {
		t.Errorf("consistent counts gave notes: %v", n)
	}
}

// A run against a real redis-server says what it ran under: the tool's CPU,
// memory and GC settings, and Redis's own GET and SET latency.
func TestRunReportsClientAndServerLatency(t *testing.T) {
	needRedis(t)
	res := runYAML(t, "smoke.yaml", smallScenario)
	c := res.Client
	t.Logf("client %+v", c)
	if c.CPUSeconds <= 0 || c.PeakRSSBytes <= 0 || c.GOMAXPROCS <= 0 || c.NumCPU <= 0 {
		t.Errorf("client figures missing: %+v", c)
	}
	if c.GOGC == "" || c.GOGCSource == "" || c.GOMEMLIMIT == "" || c.GOMEMLIMITSource == "" {
		t.Errorf("GC settings missing: %+v", c)
	}
	if os.Getenv("GOMEMLIMIT") == "" && (c.GOMEMLIMITSource != "tool" || c.GOMEMLIMIT == "off") {
		t.Errorf("gomemlimit %s (%s), want the run's soft limit (tool)", c.GOMEMLIMIT, c.GOMEMLIMITSource)
	}
	if c.ConnReadBufferBytes != pool.ConnReadBufferBytes || c.ConnWriteBufferBytes != pool.ConnWriteBufferBytes || c.ConnBufferSource != "tool" {
		t.Errorf("connection buffers %d / %d (%s), want the pool's %d / %d (tool)", c.ConnReadBufferBytes, c.ConnWriteBufferBytes, c.ConnBufferSource, pool.ConnReadBufferBytes, pool.ConnWriteBufferBytes)
	}
	// The window is the recorded phase (3 s of 5), not the whole load.
	if c.WindowS < 2.5 || c.WindowS > 4.5 {
		t.Errorf("window_s %v, want about the 3 s steady phase", c.WindowS)
	}
	if c.CPUPerRequestUs <= 0 {
		t.Errorf("cpu_us_per_request %v", c.CPUPerRequestUs)
	}
	// Every command of the window split at its reply's arrival: at least
	// one a recorded request (a request is one or more commands), the
	// split ordered, and inside the latency the run recorded.
	w := c.ReplyWait
	if w == nil {
		t.Fatal("no client.reply_wait on Linux over loopback")
	}
	if int64(w.Count) < res.Latency.Overall.Count/2 || w.ArrivalP50Ms <= 0 || w.ArrivalP99Ms < w.ArrivalP50Ms || w.WaitP99Ms < w.WaitP50Ms || w.WaitP999Ms < w.WaitP99Ms {
		t.Errorf("reply_wait %+v for %d recorded operations", *w, res.Latency.Overall.Count)
	}
	if w.ArrivalP50Ms > res.Latency.Overall.Max {
		t.Errorf("median arrival %.3f ms beyond the slowest operation %.3f ms", w.ArrivalP50Ms, res.Latency.Overall.Max)
	}
	t.Logf("server latency %+v", res.Server.LatencyStats)
	for _, cmd := range []string{"get", "set"} {
		l, ok := res.Server.LatencyStats[cmd]
		if !ok {
			t.Errorf("no server latency for %s: %v", cmd, res.Server.LatencyStats)
			continue
		}
		if l.Calls == 0 || l.P50 <= 0 || l.P99 < l.P50 || l.P999 < l.P99 {
			t.Errorf("server latency %s: %+v", cmd, l)
		}
	}
	for _, cmd := range []string{"info", "config|resetstat", "ping"} {
		if _, ok := res.Server.LatencyStats[cmd]; ok {
			t.Errorf("the tool's own %s is reported as cache traffic", cmd)
		}
	}
}

// A family the scenario gives its own TTL (ttl:, no tier) has it in Redis:
// the manager expires its keys by their whole pattern (driver:{id}:loc and
// driver:{id}:eta each their own), as it does the seed's own TTLs, and the
// driver's writes of it succeed. The run is against an external
// redis-server without a key prefix, so its keys stay for TTL to read.
func TestDefinedFamilyTTLInRedis(t *testing.T) {
	needRedis(t)
	dep := startDeployment(t)
	sc, err := scenarios.LoadBytes("ttl.yaml", []byte(`
name: defined-ttl
seed: 4
target: {backend: external, addrs: ["`+dep.Endpoints().Addrs[0]+`"]}
pool: {profile: development, key_prefix: ""}
workload:
  population: 2000
  active_users: 100
  commands_per_user_per_minute: 240
  instances: 2
  catalogue: none
  families:
    - {name: cart, key: "cart:{discordId}", ttl: 7m, mean_size: 200b, weight: 10, writes: 0.5}
    - {name: page, key: "page:{id}", keys: 200, tier: meta, mean_size: 200b, weight: 10}
    - {name: loc, key: "driver:{id}:loc", keys: 50, ttl: 3m, mean_size: 64b, weight: 5, producer: {every: 1s}}
    - {name: eta, key: "driver:{id}:eta", keys: 50, ttl: 9m, mean_size: 64b, weight: 5, writes: 0.5}
    - {name: surge, key: "surge:{city}", keys: 3, type: hash, fields: 40, write: replace_pipeline, tier: meta, mean_size: 16b, weight: 5, producer: {rate: 20}}
phases:
  - {name: steady, duration: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 0 {
		t.Errorf("errors writing the families: %v", res.Errors)
	}
	ctx := context.Background()
	for _, c := range []struct {
		pattern  string
		min, max int64
	}{{"cart:*", 6 * 60, 7 * 60}, {"page:*", 55 * 60, 60 * 60}, {"driver:*:loc", 2 * 60, 3 * 60}, {"driver:*:eta", 8 * 60, 9 * 60}} {
		keys, err := dep.Do(ctx, "primary-0", "KEYS", c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		ks, _ := keys.([]any)
		if len(ks) == 0 {
			t.Errorf("no %s key in Redis after the run", c.pattern)
			continue
		}
		for _, k := range ks[:min(len(ks), 20)] {
			ttl, err := dep.Do(ctx, "primary-0", "TTL", k)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := ttl.(int64); n < c.min || n > c.max {
				t.Errorf("%s: TTL %v, want %d..%d s", k, ttl, c.min, c.max)
			}
		}
	}
	// The surge producer's writes replace each city's hash whole: every
	// one of its 40 fields is there.
	for city := range 3 {
		n, err := dep.Do(ctx, "primary-0", "HLEN", fmt.Sprintf("surge:%d", city))
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(40) {
			t.Errorf("surge:%d holds %v fields, want all 40", city, n)
		}
	}
}
