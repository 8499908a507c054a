package harness

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
)

// runChaos loads a scenario, runs it against real redis-server processes and
// checks that no redis-server of the run is left behind.
func runChaos(t *testing.T, yaml string) *result.Result {
	t.Helper()
	needRedis(t)
	sc, err := scenarios.LoadBytes(t.Name()+".yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Options{Scenario: sc, Logf: func(f string, a ...any) {
		t.Logf("%6.2fs "+f, append([]any{time.Since(start).Seconds()}, a...)...)
	}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, f := range res.Faults {
		t.Logf("fault %s node=%s %.2f..%.2fs errors=%v first_err=%s recovered=%s p99_rec=%s hit %.3f->%.3f rewarm=%s evictions=%d oom=%d reconnects=%d lost=%d unknown=%d acked_after=%d notes=%q",
			f.Kind, f.Node, f.StartS, f.EndS, f.ErrorsByKind, ptr(f.FirstErrorAfterS), ptr(f.RecoveredAfterS), ptr(f.P99RecoveredAfterS),
			f.HitRateBefore, f.HitRateMin, ptr(f.RewarmS), f.Evictions, f.OOMErrors, f.Reconnects, f.LostWrites, f.UnknownWrites, f.AckedAfterStart, f.Notes)
	}
	for _, r := range res.Timeline {
		t.Logf("t=%5.1f ops=%5d err=%4d %v p99=%7.2fms hit=%.3f evicted=%d fault=%q", r.T, r.Ops, r.Errors, r.ErrorsByKind, r.P99, r.HitRate, r.EvictedKeys, r.Fault)
	}
	out, _ := exec.Command("pgrep", "-a", "redis-server").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "cacheproof-redis-") {
			t.Errorf("redis-server left behind: %s", l)
		}
	}
	return res
}

func ptr(p *float64) string {
	if p == nil {
		return "never"
	}
	return time.Duration(*p * float64(time.Second)).Round(time.Millisecond).String()
}

func faultOf(t *testing.T, res *result.Result, kind string) result.FaultReport {
	t.Helper()
	for _, f := range res.Faults {
		if f.Kind == kind {
			return f
		}
	}
	t.Fatalf("no %s fault in the report: %+v", kind, res.Faults)
	return result.FaultReport{}
}

func rowsWithFault(res *result.Result, kind string) int {
	n := 0
	for _, r := range res.Timeline {
		if strings.Contains(r.Fault, kind) {
			n++
		}
	}
	return n
}

const chaosPool = `pool: {profile: production, command_timeout: 400ms, connect_timeout: 250ms, pool_timeout: 500ms, max_retries: 1}
workload: {population: 20000, active_users: 150, commands_per_user_per_minute: 60}
driver: {op_timeout: 2s}
`

// One standalone run takes a client kill, a SIGSTOP pause, a read-only
// demotion and a SIGKILL restart in turn; the run survives all of them and
// each one's effect and recovery are in the report.
func TestFaultGauntletStandalone(t *testing.T) {
	res := runChaos(t, `
name: gauntlet
seed: 5
`+chaosPool+`
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 14s}
faults:
  - {at: 2s, kind: client-kill}
  - {at: 4s, for: 1s, kind: pause}
  - {at: 7s, for: 1500ms, kind: readonly}
  - {at: 10500ms, for: 1s, kind: restart, mode: kill}
targets:
  latency_p99: "< 50ms"
`)
	if len(res.Faults) != 4 {
		t.Fatalf("want 4 fault reports, got %d", len(res.Faults))
	}
	for _, f := range res.Faults {
		if f.RecoveredAfterS == nil {
			t.Errorf("%s: never recovered", f.Kind)
		} else if *f.RecoveredAfterS > 5 {
			t.Errorf("%s: recovered after %.2fs, implausible", f.Kind, *f.RecoveredAfterS)
		}
		if f.EndS < f.StartS || f.Node != "primary-0" {
			t.Errorf("%s: span %.2f..%.2f node %q", f.Kind, f.StartS, f.EndS, f.Node)
		}
		if rowsWithFault(res, f.Kind) == 0 {
			t.Errorf("%s: no timeline row names it", f.Kind)
		}
	}
	if ck := faultOf(t, res, "client-kill"); ck.Reconnects == 0 {
		t.Errorf("client-kill: no reconnects counted")
	}
	if p := faultOf(t, res, "pause"); p.ErrorsByKind["timeout"] == 0 {
		t.Errorf("pause: no timeouts: %v", p.ErrorsByKind)
	} else if p.EndS-p.StartS < 0.9 {
		t.Errorf("pause lasted %.2fs, want about 1s", p.EndS-p.StartS)
	}
	ro := faultOf(t, res, "readonly")
	if ro.ErrorsByKind["readonly"] == 0 || ro.FirstErrorAfterS == nil {
		t.Errorf("readonly: no READONLY errors: %v", ro.ErrorsByKind)
	}
	if ro.LostWrites != 0 {
		t.Errorf("readonly demotion lost %d acknowledged writes; the dataset must survive", ro.LostWrites)
	}
	if res.Integrity.WritesTracked == 0 || ro.AckedAfterStart == 0 {
		t.Errorf("no writes tracked through the demotion: integrity %+v, acked after start %d", res.Integrity, ro.AckedAfterStart)
	}
	rs := faultOf(t, res, "restart")
	if rs.ErrorsByKind["connection_refused"]+rs.ErrorsByKind["connection_reset"]+rs.ErrorsByKind["timeout"] == 0 {
		t.Errorf("restart: no connection errors: %v", rs.ErrorsByKind)
	}
	if rs.Reconnects == 0 {
		t.Errorf("restart: no reconnects")
	}
	if rs.HitRateMin >= rs.HitRateBefore && rs.HitRateBefore > 0 {
		t.Errorf("restart emptied the cache but the hit rate did not dip: before %.3f, min %.3f", rs.HitRateBefore, rs.HitRateMin)
	}
	if res.Users.Requests == 0 || res.Integrity.Mismatches != 0 {
		t.Errorf("requests %d, integrity %+v", res.Users.Requests, res.Integrity)
	}
	// The restart emptied the cache; Redis evicted nothing. Misses after it
	// of keys written before it are wiped, not evictions. A write
	// acknowledged just before the kill but entered in the ledger after the
	// restart began can still look evicted: allow that race a handful, not
	// the thousands of misses a restart causes.
	t.Logf("misses by cause %v, evicted_keys %d", res.Cache.MissesByCause, res.Server.EvictedKeys)
	if res.Server.EvictedKeys == 0 && res.Cache.MissesByCause["evicted"] > 5 {
		t.Errorf("%d misses classified as evicted with evicted_keys 0: %v", res.Cache.MissesByCause["evicted"], res.Cache.MissesByCause)
	}
	if res.Cache.MissesByCause["wiped"] == 0 {
		t.Errorf("no miss classified as wiped after a restart without persistence: %v", res.Cache.MissesByCause)
	}
}

// A restart without persistence empties the cache: a miss of a key written
// before it (prefilled or written during the load) is "wiped", not "cold"
// (never written) and not "evicted" (Redis evicted nothing).
func TestRestartMissesAreWiped(t *testing.T) {
	res := runChaos(t, `
name: wiped
seed: 7
`+chaosPool+`
phases:
  - {name: steady, duration: 5s}
faults:
  - {at: 2s, for: 300ms, kind: restart}
`)
	c := res.Cache
	t.Logf("misses %d by cause %v, evicted_keys %d", c.Misses, c.MissesByCause, res.Server.EvictedKeys)
	var sum uint64
	for _, n := range c.MissesByCause {
		sum += n
	}
	if sum != c.Misses {
		t.Errorf("misses by cause %v add to %d, want %d", c.MissesByCause, sum, c.Misses)
	}
	if c.MissesByCause["wiped"] == 0 {
		t.Fatalf("no miss classified as wiped: %v", c.MissesByCause)
	}
	if res.Server.EvictedKeys == 0 && c.MissesByCause["evicted"] > 5 {
		t.Errorf("%d misses classified as evicted with evicted_keys 0: %v", c.MissesByCause["evicted"], c.MissesByCause)
	}
	// Every wiped miss came after the restart began: none in a timeline
	// row before it.
	for _, r := range res.Timeline {
		if r.T < 2 && r.MissesByCause["wiped"] > 0 {
			t.Errorf("t=%.0fs, before the restart: %d wiped misses", r.T, r.MissesByCause["wiped"])
		}
	}
}

// Memory pressure under noeviction: ballast plus a lower maxmemory make
// writes fail with OOM until the limit is restored.
func TestMemoryPressureNoeviction(t *testing.T) {
	res := runChaos(t, `
name: memory-noeviction
seed: 6
target: {redis: {maxmemory: 64mb, maxmemory_policy: noeviction}}
`+chaosPool+`
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 5s}
faults:
  - {at: 2s, for: 2s, kind: memory-pressure, fraction: 0.5, ballast: 4mb}
`)
	f := faultOf(t, res, "memory-pressure")
	if f.OOMErrors == 0 || f.ErrorsByKind["oom"] != f.OOMErrors {
		t.Errorf("no OOM errors counted: %v", f.ErrorsByKind)
	}
	if f.RecoveredAfterS == nil {
		t.Error("writes never succeeded again after maxmemory was restored")
	}
	if res.Server.MaxMemory != 64<<20 {
		t.Errorf("maxmemory not restored: %d", res.Server.MaxMemory)
	}
}

// Memory pressure under allkeys-lru evicts keys instead, and the hit rate
// dips. The ballast (written first, so most recently used) pushes the
// small test dataset over the lowered limit while leaving far more
// evictable memory than Redis' own overhead, so eviction always succeeds.
func TestMemoryPressureEvicts(t *testing.T) {
	res := runChaos(t, `
name: memory-lru
seed: 7
target: {redis: {maxmemory: 64mb, maxmemory_policy: allkeys-lru}}
`+chaosPool+`
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 5s}
faults:
  - {at: 2s, for: 2s, kind: memory-pressure, maxmemory: 4mb, ballast: 4mb}
`)
	f := faultOf(t, res, "memory-pressure")
	if f.Evictions == 0 {
		t.Errorf("no evictions during memory pressure")
	}
	// allkeys-lru evicts rather than refuses. Redis still answers OOM
	// when memory that is not keys (client buffers of ~200 connections
	// on a loaded machine) alone exceeds the 4 MB limit and nothing is
	// left to evict; that may happen, but never as the rule.
	if f.OOMErrors >= f.Evictions {
		t.Errorf("allkeys-lru should evict, not refuse: %d OOM errors against %d evictions", f.OOMErrors, f.Evictions)
	} else if f.OOMErrors > 0 {
		t.Logf("%d OOM errors beside %d evictions (memory outside the keys over the limit)", f.OOMErrors, f.Evictions)
	}
	if res.Cache.MissesByCause["evicted"] == 0 {
		t.Errorf("no miss classified as evicted: %v", res.Cache.MissesByCause)
	}
}

// A latency toxic on the in-process proxy lifts p99 above the toxic's delay
// while it is in place, and only then; p99 comes back under target after.
func TestNetworkLatencyRaisesP99(t *testing.T) {
	res := runChaos(t, `
name: network-latency
seed: 8
`+chaosPool+`
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 8s}
faults:
  - {at: 2s, for: 2s, kind: network, toxic: latency, latency: 150ms, jitter: 5ms}
targets:
  latency_p99: "< 100ms"
`)
	f := faultOf(t, res, "network")
	var during, before []float64
	for _, r := range res.Timeline {
		switch {
		case r.T > f.StartS+1 && r.T <= f.EndS:
			during = append(during, r.P99)
		case r.T <= f.StartS && r.T > 1:
			before = append(before, r.P99)
		}
	}
	if len(during) == 0 || len(before) == 0 {
		t.Fatalf("rows during %v, before %v", during, before)
	}
	for _, p := range during {
		if p < 140 {
			t.Errorf("p99 %.1fms while a 150ms latency toxic was in place", p)
		}
	}
	// Before the toxic the proxy adds little: every second's p99 stays
	// under the toxic's own delay. Whether it comes back under the 100 ms
	// target afterwards is asked only of a quiet machine: with the host's
	// timer late on many wake-ups (load average over 10 on 2 cores) the
	// reconnect backlog alone keeps p99 there for seconds.
	for _, p := range before {
		if p >= 140 {
			t.Errorf("p99 %.1fms before the toxic: the proxy itself is slow", p)
		}
	}
	quiet := res.Client.HostTimer != nil && res.Client.HostTimer.LateFraction < 0.05
	switch {
	case f.P99RecoveredAfterS == nil && quiet:
		t.Errorf("p99 never came back under 100ms after the toxic was removed (host timer late %.1f%%)", 100*res.Client.HostTimer.LateFraction)
	case f.P99RecoveredAfterS == nil:
		t.Logf("p99 did not come back under 100ms on a noisy host (%+v): not judged", res.Client.HostTimer)
	}
	// What the fault did, errors or not: its worst interval p99 is at
	// least the toxic's delay, and the slowest operation at least that.
	if f.WorstP99Ms < 140 || f.WorstMaxMs < f.WorstP99Ms {
		t.Errorf("worst p99 %.1fms, max %.1fms; want >= 140ms under a 150ms toxic", f.WorstP99Ms, f.WorstMaxMs)
	}
	if f.Errors() == 0 && !f.NoneFailed() {
		t.Errorf("no errors, yet not reported as a fault during which no command failed: %+v", f)
	}
}

// SENTINEL FAILOVER promotes the replica; the manager follows it, and the
// acknowledged writes are read back from the new primary.
func TestSentinelFailover(t *testing.T) {
	res := runChaos(t, `
name: sentinel-failover
seed: 9
target: {topology: sentinel}
`+chaosPool+`
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 8s}
faults:
  - {at: 3s, kind: failover}
`)
	f := faultOf(t, res, "failover")
	promoted := false
	for _, n := range f.Notes {
		if strings.HasPrefix(n, "new primary ") && !strings.HasSuffix(n, "primary-0") {
			promoted = true
		}
	}
	if !promoted {
		t.Errorf("no new primary noted: %q", f.Notes)
	}
	if f.RecoveredAfterS == nil {
		t.Error("operations never succeeded again after the failover")
	}
	if res.Integrity.WritesTracked == 0 {
		t.Error("no writes tracked through the failover")
	}
	if res.Integrity.LostWrites != f.LostWrites {
		t.Errorf("integrity.lost_writes %d != the fault's %d", res.Integrity.LostWrites, f.LostWrites)
	}
}

// On an external deployment, a fault that would change the server is
// refused before anything starts, as a configuration error that names
// --allow-destructive, never a crash mid-run.
func TestExternalFaultNeedsAllowDestructive(t *testing.T) {
	sc, err := scenarios.LoadBytes("ext.yaml", []byte(`
name: ext
target: {backend: external, addrs: ["127.0.0.1:1"]}
phases: [{name: steady, duration: 5s}]
faults:
  - {at: 1s, kind: restart}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Options{Scenario: sc})
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, topology.ErrDestructive) || !strings.Contains(err.Error(), "allow-destructive") {
		t.Fatalf("want a ConfigError wrapping topology.ErrDestructive, got %v", err)
	}
}

// Interrupting a run in the middle of a fault ends the fault (the node is
// promoted again), still measures it, and returns a partial result.
func TestInterruptDuringFault(t *testing.T) {
	needRedis(t)
	sc, err := scenarios.LoadBytes("int.yaml", []byte(`
name: interrupt
seed: 10
`+chaosPool+`
phases:
  - {name: steady, duration: 20s}
faults:
  - {at: 1s, for: 15s, kind: readonly}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Options{Scenario: sc, Logf: func(f string, a ...any) {
		t.Logf("%6.2fs "+f, append([]any{time.Since(start).Seconds()}, a...)...)
	}})
	t.Logf("Run returned after %s", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || len(res.Faults) != 1 {
		t.Fatalf("interrupted %v, faults %+v", res.Interrupted, res.Faults)
	}
	f := res.Faults[0]
	// Planned to end at 16 s; the interrupt at 2.5 s ends it once the
	// in-flight commands drain (the drain stage ends faults), which takes
	// seconds on a loaded machine (6.4 s seen at load average 10): well
	// before its planned end is what "ended early" means.
	if f.EndS > 12 || !strings.Contains(strings.Join(f.Notes, ";"), "ended early") {
		t.Errorf("fault not ended early: %.2f..%.2f %q", f.StartS, f.EndS, f.Notes)
	}
	if f.ErrorsByKind["readonly"] == 0 {
		t.Errorf("no READONLY errors before the interrupt: %v", f.ErrorsByKind)
	}
}

// A SIGSTOP pause longer than the driver's op_timeout: commands whose first
// operation waits out the deadline abandon the rest, and those operations
// count against the verdict: every one is a latency sample (never a
// service-time one, never a request), and the lookups among them are
// lookup errors.
func TestAbandonedOperationsCount(t *testing.T) {
	res := runChaos(t, `
name: abandoned
seed: 4
pool: {profile: production, command_timeout: 2s, connect_timeout: 2s, pool_timeout: 2s, max_retries: 0}
workload: {population: 20000, active_users: 150, commands_per_user_per_minute: 60}
driver: {op_timeout: 200ms, drop_after: 10s}
phases:
  - {name: steady, duration: 4s}
faults:
  - {at: 1500ms, for: 800ms, kind: pause}
`)
	u, l := res.Users, res.Latency
	t.Logf("requests %d abandoned %d dropped %d; overall n=%d service n=%d; lookup errors %d", u.Requests, u.Abandoned, u.Dropped, l.Overall.Count, l.Service.Count, res.Cache.LookupErrors)
	if u.Abandoned == 0 {
		t.Fatal("no operation abandoned: the pause did not outlast op_timeout")
	}
	if u.Dropped != 0 {
		t.Fatalf("dropped %d: the accounting below assumes none", u.Dropped)
	}
	if got, want := uint64(l.Overall.Count), u.Requests+u.Abandoned; got != want {
		t.Errorf("latency samples %d, want requests %d + abandoned %d", got, u.Requests, u.Abandoned)
	}
	if got := uint64(l.Service.Count); got != u.Requests {
		t.Errorf("service samples %d, want the %d requests sent", got, u.Requests)
	}
	if l.Overall.Max < 200 {
		t.Errorf("max latency %.1fms, want >= op_timeout 200ms", l.Overall.Max)
	}
	if res.Cache.LookupErrors == 0 {
		t.Errorf("no lookup errors although reads were abandoned or timed out")
	}
}
