package result

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// synthRun builds a recorded run of n one-second windows whose latencies
// (µs) come from draw(second, rng); hits and misses per second from hitRate.
func synthRun(t *testing.T, n, perSecond int, hitRate float64, draw func(sec int, rng *rand.Rand) int64, seed uint64) *Result {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	all := NewHistogram()
	r := &Result{Phases: []PhaseReport{{Name: "steady", Recorded: true, StartS: 0, EndS: float64(n)}}}
	for s := 0; s < n; s++ {
		h := NewHistogram()
		for i := 0; i < perSecond; i++ {
			v := draw(s, rng)
			_ = h.RecordValue(v)
			_ = all.RecordValue(v)
		}
		hits := uint64(math.Round(hitRate * float64(perSecond)))
		r.Timeline = append(r.Timeline, TimelineRow{T: float64(s + 1), Phase: "steady", Ops: uint64(perSecond),
			Hits: hits, Misses: uint64(perSecond) - hits, LatencyHist: NewWindowHist(h)})
		r.Cache.Hits += hits
		r.Cache.Misses += uint64(perSecond) - hits
	}
	r.Latency.Overall = Summarize(all)
	r.Users.Requests = uint64(n * perSecond)
	return r
}

func target(t *testing.T, name, expr string) Target {
	t.Helper()
	tg, err := ParseTarget(TargetSpec{Name: name, Expr: expr})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// lognormal draws around median µs with a spread that puts p99 near
// median·e^(2.33σ).
func lognormal(medianUs, sigma float64) func(int, *rand.Rand) int64 {
	return func(_ int, rng *rand.Rand) int64 {
		return int64(medianUs * math.Exp(sigma*rng.NormFloat64()))
	}
}

func TestWindowHistQuantileMatchesHDR(t *testing.T) {
	r := synthRun(t, 30, 2000, 0.95, lognormal(400, 0.8), 1)
	var acc windowAcc
	for _, q := range []string{"p50", "p90", "p99", "p999"} {
		got, ok := latencyWindow(q)(r.recordedRows(), &acc)
		want := r.Latency.Overall.Quantile(q)
		if !ok || math.Abs(got-want)/want > 0.05 {
			t.Errorf("%s from window histograms = %.3f ms, HDR says %.3f ms (want within 5 %%)", q, got, want)
		}
	}
}

func TestJudgeSteadyRunDecides(t *testing.T) {
	// p99 ≈ 400µs·e^(2.33·0.8) ≈ 2.6 ms, far under 5 ms: pass with a
	// narrow interval; the same run against 1 ms fails.
	r := synthRun(t, 60, 2000, 0.97, lognormal(400, 0.8), 2)
	pass := Judge([]*Result{r}, target(t, "latency_p99", "< 5ms"))
	if pass.Verdict != VerdictPass || !pass.Pass || pass.Interval == nil {
		t.Fatalf("steady run: %+v, want pass with an interval", pass)
	}
	if pass.Interval.Low > pass.Observed || pass.Interval.High < pass.Observed {
		t.Errorf("interval %+v does not contain observed %.3f", pass.Interval, pass.Observed)
	}
	if w := (pass.Interval.High - pass.Interval.Low) / pass.Observed; w > 0.2 {
		t.Errorf("steady run's interval is %.0f%% of its value wide: %+v", 100*w, pass.Interval)
	}
	if !strings.Contains(pass.Interval.Method, "60 one-second windows") {
		t.Errorf("method %q does not say what was resampled", pass.Interval.Method)
	}
	fail := Judge([]*Result{r}, target(t, "latency_p99", "< 1ms"))
	if fail.Verdict != VerdictFail || fail.Pass {
		t.Errorf("p99 %.2f ms against 1 ms: %+v, want fail", fail.Observed, fail)
	}
	// A seeded workload's hit rate repeats run to run: exact within a run.
	hr := Judge([]*Result{r}, target(t, "hit_rate", ">= 96.9%"))
	if hr.Verdict != VerdictPass || hr.Interval != nil {
		t.Errorf("hit rate 97%% against 96.9%%: %+v, want pass without an interval", hr)
	}
}

func TestJudgeBurstyRunIsInconclusive(t *testing.T) {
	// A quiet run whose tail comes from three stalled seconds: whether p99
	// lands over 5 ms depends on whether the stalls are in the sample, so
	// a bound between the quiet and the stalled p99 is not decided.
	stalled := map[int]bool{10: true, 40: true, 41: true}
	draw := func(s int, rng *rand.Rand) int64 {
		if stalled[s] && rng.Float64() < 0.5 {
			return int64(5000 + rng.Float64()*15000)
		}
		return int64(300 * math.Exp(0.5*rng.NormFloat64()))
	}
	r := synthRun(t, 60, 2000, 0.97, draw, 3)
	got := Judge([]*Result{r}, target(t, "latency_p99", "< 5ms"))
	if got.Verdict != VerdictInconclusive || got.Pass {
		t.Fatalf("bursty run (p99 %.2f ms, interval %+v): verdict %s, want inconclusive", got.Observed, got.Interval, got.Verdict)
	}
	if !strings.Contains(got.Evidence, "lies inside") {
		t.Errorf("evidence %q does not say why", got.Evidence)
	}
	if VerdictOf([]TargetResult{got, {Verdict: VerdictPass, Pass: true}}) != VerdictInconclusive {
		t.Error("a run with an inconclusive target and no failure must be inconclusive")
	}
	if VerdictOf([]TargetResult{got, {Verdict: VerdictFail}}) != VerdictFail {
		t.Error("a failed target fails the run whatever else is undecided")
	}
}

func TestJudgeNoiseExplainsLatencyMiss(t *testing.T) {
	// p99 from intended start over the bound on every second, while the
	// send-to-reply time and Redis held it and the late starts are within
	// what the host probe saw: inconclusive, naming the evidence.
	r := synthRun(t, 60, 2000, 0.97, lognormal(2500, 0.5), 4)
	r.Latency.Service = Summary{Count: 120000, P50: 0.3, P90: 0.6, P99: 1.1, P999: 2, Max: 9}
	r.Server.LatencyStats = map[string]ServerLatency{"get": {Calls: 1, P99: 0.03, P999: 0.05}}
	r.Users.Commands, r.Users.Late = 30000, 600 // 2 %
	r.Client.HostTimer = &HostTimer{Wakes: 12000, Late: 180, LateFraction: 0.015, MaxMs: 14}
	tg := target(t, "latency_p99", "< 5ms")
	got := Judge([]*Result{r}, tg)
	if got.Observed < 5 {
		t.Fatalf("synthetic p99 %.2f ms should miss 5 ms", got.Observed)
	}
	if got.Verdict != VerdictInconclusive || !strings.Contains(got.Evidence, "measured noise") {
		t.Fatalf("miss explained by the host: %+v, want inconclusive with the evidence", got)
	}
	// The same miss on a quiet host (probe saw almost nothing late) fails.
	r.Client.HostTimer = &HostTimer{Wakes: 12000, Late: 2, LateFraction: 0.0002, MaxMs: 1.2}
	if got := Judge([]*Result{r}, tg); got.Verdict != VerdictFail {
		t.Errorf("quiet host, late starts 100x its floor: %s, want fail", got.Verdict)
	}
	// Or when the service time itself broke the bound.
	r.Client.HostTimer = &HostTimer{Wakes: 12000, Late: 180, LateFraction: 0.015, MaxMs: 14}
	r.Latency.Service.P99 = 6
	if got := Judge([]*Result{r}, tg); got.Verdict != VerdictFail {
		t.Errorf("service p99 over the bound: %s, want fail", got.Verdict)
	}
}

func TestJudgeSchedulingExplainsLatencyMiss(t *testing.T) {
	// p99 over the bound, the host probe quiet (so the machine's noise
	// does not explain it), but the tool's own goroutines waited for a
	// thread about as long as the miss: inconclusive, naming the delay.
	r := synthRun(t, 60, 2000, 0.97, lognormal(2500, 0.5), 4)
	r.Latency.Service = Summary{Count: 120000, P50: 0.3, P90: 0.6, P99: 5.5, P999: 8, Max: 12}
	r.Server.LatencyStats = map[string]ServerLatency{"get": {Calls: 1, P99: 0.03, P999: 0.05}}
	r.Client.HostTimer = &HostTimer{Wakes: 12000, Late: 2, LateFraction: 0.0002, MaxMs: 1.2}
	tg := target(t, "latency_p99", "< 5ms")
	observed := Judge([]*Result{r}, tg).Observed
	if observed < 5 {
		t.Fatalf("synthetic p99 %.2f ms should miss 5 ms", observed)
	}
	if got := Judge([]*Result{r}, tg); got.Verdict != VerdictFail {
		t.Fatalf("no scheduling figure: %s, want fail", got.Verdict)
	}
	r.Client.Sched = &SchedLatency{Count: 500000, P50Ms: 0.02, P99Ms: observed - 4.5, P999Ms: observed, Over1msFraction: 0.02}
	got := Judge([]*Result{r}, tg)
	if got.Verdict != VerdictInconclusive || !strings.Contains(got.Evidence, "scheduling delay") {
		t.Fatalf("miss within the tool's scheduling delay: %+v, want inconclusive with the evidence", got)
	}
	// A scheduling delay too small to cover the miss does not explain it.
	r.Client.Sched.P99Ms = observed - 5.5
	if got := Judge([]*Result{r}, tg); got.Verdict != VerdictFail {
		t.Errorf("scheduling delay short of the miss: %s, want fail", got.Verdict)
	}
	// Nor does it when Redis's own latency broke the bound.
	r.Client.Sched.P99Ms = observed - 4.5
	r.Server.LatencyStats = map[string]ServerLatency{"get": {Calls: 1, P99: 6, P999: 9}}
	if got := Judge([]*Result{r}, tg); got.Verdict != VerdictFail {
		t.Errorf("Redis's own p99 over the bound: %s, want fail", got.Verdict)
	}
	// Nor without Redis's latencystats: nothing shows the cache held.
	r.Server.LatencyStats = nil
	if got := Judge([]*Result{r}, tg); got.Verdict != VerdictFail {
		t.Errorf("no latencystats: %s, want fail", got.Verdict)
	}

	// The commands' own reply wait (kernel arrival stamps), where measured,
	// is the evidence, before the runtime's sampled delay: it explains
	// the miss when it covers it even if the sampled delay does not, and
	// a short one does not explain it even if the sampled delay would.
	r.Server.LatencyStats = map[string]ServerLatency{"get": {Calls: 1, P99: 0.03, P999: 0.05}}
	r.Client.Sched.P99Ms = observed - 5.5
	r.Client.ReplyWait = &ReplyWait{Count: 120000, ArrivalP99Ms: 0.2, WaitP50Ms: 0.05, WaitP99Ms: observed - 4.5, WaitP999Ms: observed, WaitOver1msFraction: 0.03}
	got = Judge([]*Result{r}, tg)
	if got.Verdict != VerdictInconclusive || !strings.Contains(got.Evidence, "waited") || !strings.Contains(got.Evidence, "arrival stamps") {
		t.Fatalf("miss within the commands' reply wait: %+v, want inconclusive naming it", got)
	}
	r.Client.Sched.P99Ms = observed - 4.5
	r.Client.ReplyWait.WaitP99Ms = observed - 5.5
	if got := Judge([]*Result{r}, tg); got.Verdict != VerdictFail {
		t.Errorf("reply wait short of the miss, sampled delay not: %s, want fail (the per-command figure wins)", got.Verdict)
	}
}

func TestJudgeRepeatedRuns(t *testing.T) {
	a := synthRun(t, 30, 1000, 0.96, lognormal(400, 0.8), 5)
	b := synthRun(t, 30, 1000, 0.96, lognormal(420, 0.8), 6)
	c := synthRun(t, 30, 1000, 0.96, lognormal(380, 0.8), 7)
	got := Judge([]*Result{a, b, c}, target(t, "latency_p99", "< 5ms"))
	if len(got.Runs) != 3 || got.Verdict != VerdictPass {
		t.Fatalf("three agreeing runs: %+v, want pass with three per-run values", got)
	}
	if want := Median(got.Runs); got.Observed != want {
		t.Errorf("observed %.3f, want the median of the runs %.3f", got.Observed, want)
	}
	if !strings.Contains(got.Interval.Method, "over 3 runs") {
		t.Errorf("method %q", got.Interval.Method)
	}
	// Counts: one of three runs had pool timeouts: not decided either way.
	a.Pool.Timeouts, b.Pool.Timeouts, c.Pool.Timeouts = 0, 0, 4
	pt := Judge([]*Result{a, b, c}, target(t, "pool_timeouts", "== 0"))
	if pt.Verdict != VerdictInconclusive {
		t.Errorf("pool timeouts in one of three runs: %+v, want inconclusive", pt)
	}
	a.Pool.Timeouts, b.Pool.Timeouts = 3, 5
	if pt := Judge([]*Result{a, b, c}, target(t, "pool_timeouts", "== 0")); pt.Verdict != VerdictFail {
		t.Errorf("pool timeouts in every run: %s, want fail", pt.Verdict)
	}
	// A single run's count is a fact: no interval, decided.
	if pt := Judge([]*Result{c}, target(t, "pool_timeouts", "== 0")); pt.Verdict != VerdictFail || pt.Interval != nil {
		t.Errorf("single run with 4 pool timeouts: %+v, want fail without an interval", pt)
	}
}

func TestJudgeNoDataFails(t *testing.T) {
	r := &Result{}
	got := Judge([]*Result{r}, target(t, "latency_p99", "< 5ms"))
	if got.Verdict != VerdictFail || got.Pass {
		t.Errorf("no data: %+v, want fail", got)
	}
}

func TestJudgeIsDeterministic(t *testing.T) {
	r := synthRun(t, 40, 1000, 0.96, lognormal(400, 1.0), 8)
	a := Judge([]*Result{r}, target(t, "latency_p99", "< 5ms"))
	b := Judge([]*Result{r}, target(t, "latency_p99", "< 5ms"))
	if *a.Interval != *b.Interval {
		t.Errorf("re-judging the same run gave %+v then %+v", a.Interval, b.Interval)
	}
}

func TestWindowHistAdd(t *testing.T) {
	a := WindowHist{{1, 2}, {5, 1}, {9, 4}}
	b := WindowHist{{0, 1}, {5, 2}, {12, 3}}
	got := a.Add(b)
	want := WindowHist{{0, 1}, {1, 2}, {5, 3}, {9, 4}, {12, 3}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if a[1] != [2]int32{5, 1} {
		t.Error("Add modified its receiver")
	}
}
