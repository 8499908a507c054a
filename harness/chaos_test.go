package harness

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/scenarios"
)

// runChaos loads a scenario, runs it against real redis-server processes and
// checks that no redis-server of the run is left behind.
func runChaos(t *testing.T, yaml string) *report.Result {
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

func faultOf(t *testing.T, res *report.Result, kind string) report.FaultReport {
	t.Helper()
	for _, f := range res.Faults {
		if f.Kind == kind {
			return f
		}
	}
	t.Fatalf("no %s fault in the report: %+v", kind, res.Faults)
	return report.FaultReport{}
}

func rowsWithFault(res *report.Result, kind string) int {
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
}
