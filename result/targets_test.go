package result

import (
	"math"
	"strings"
	"testing"
)

func TestParseExpr(t *testing.T) {
	cases := []struct {
		in   string
		want Expr
	}{
		{"< 5ms", Expr{"<", 5, UnitMs}},
		{"<= 5 ms", Expr{"<=", 5, UnitMs}},
		{">= 95%", Expr{">=", 0.95, UnitFraction}},
		{"== 0", Expr{"==", 0, ""}},
		{"< 10s", Expr{"<", 10000, UnitMs}},
		{">0.95", Expr{">", 0.95, ""}},
		{"< 500us", Expr{"<", 0.5, UnitMs}},
		{"<250µs", Expr{"<", 0.25, UnitMs}},
		{"!= 3", Expr{"!=", 3, ""}},
		{"< 1.5e3 ms", Expr{"<", 1500, UnitMs}},
	}
	for _, c := range cases {
		got, err := ParseExpr(c.in)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", c.in, err)
			continue
		}
		if got.Op != c.want.Op || got.Unit != c.want.Unit || math.Abs(got.Value-c.want.Value) > 1e-9 {
			t.Errorf("ParseExpr(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseExprErrorsSayWhatWasExpected(t *testing.T) {
	cases := map[string]string{
		"":        "expected an operator and a value",
		"5ms":     "expected an operator",
		"= 0":     `use "=="`,
		"<":       "expected a number",
		"< 5mb":   `unknown unit "mb"`,
		"< fast":  "expected a number",
		"< 1.2.3": "is not a number",
	}
	for in, want := range cases {
		_, err := ParseExpr(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseExpr(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
}

func TestKnownMetricAndSuggestions(t *testing.T) {
	for _, n := range []string{"latency_p99", "latency_p999", "service_p99", "hit_rate", "hit_rate.api", "latency_p99.session",
		"latency_p99.op.get", "latency_max.phase.steady", "hit_rate.family.stratz_profile", "recovery_time", "error_budget",
		"pool_timeouts", "errors", "error_rate", "late", "dropped", "abandoned", "integrity_mismatches", "lost_writes", "ops_per_sec", "evicted_keys"} {
		if !KnownMetric(n) {
			t.Errorf("KnownMetric(%q) = false", n)
		}
	}
	for _, n := range []string{"latency_p98", "hit_rate.api.x", "service_p99.api", "latency", "", "hit_rate.family."} {
		if KnownMetric(n) {
			t.Errorf("KnownMetric(%q) = true", n)
		}
	}
	if got := SuggestMetric("hit_rat"); got != "hit_rate" {
		t.Errorf("SuggestMetric(hit_rat) = %q", got)
	}
	if got := SuggestMetric("latency_p99.sesion", "api", "session"); got != "latency_p99.session" {
		t.Errorf("SuggestMetric = %q", got)
	}
	// Tier names are the cache layer's: the grammar takes any, and TierOf
	// gives the one a per-tier form names so the loader can check it.
	for name, want := range map[string]string{"hit_rate.apii": "apii", "latency_p99.session": "session", "hit_rate": "", "latency_p99.op.get": "", "hit_rate.family.session": "", "bogus.api": ""} {
		if got, ok := TierOf(name); got != want || ok != (want != "") {
			t.Errorf("TierOf(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	err := CheckTarget(TargetSpec{Name: "latncy_p99", Expr: "< 5ms"})
	if err == nil || !strings.Contains(err.Error(), `did you mean "latency_p99"`) {
		t.Errorf("CheckTarget typo: %v", err)
	}
	if err := CheckTarget(TargetSpec{Name: "hit_rate", Expr: ">= 95"}); err == nil || !strings.Contains(err.Error(), "95%") {
		t.Errorf("hit_rate >= 95 should be rejected with a hint, got %v", err)
	}
	if err := CheckTarget(TargetSpec{Name: "pool_timeouts", Expr: "< 5ms"}); err == nil {
		t.Error("a duration on a count metric should be rejected")
	}
	if err := CheckTarget(TargetSpec{Name: "recovery_time", Expr: "< 10s"}); err != nil {
		t.Error(err)
	}
	names := MetricNames("api", "meta")
	if len(names) < 30 || !contains(names, "hit_rate.meta") || !contains(names, "latency_p99.api") {
		t.Errorf("MetricNames too short or missing tier forms: %v", names)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func evalResult() *Result {
	return &Result{
		DurationS: 100,
		Latency: LatencyReport{
			Overall: Summary{Count: 1000, P50: 0.4, P90: 1, P99: 4.2, P999: 9, Max: 40, Mean: 0.6},
			Service: Summary{Count: 1000, P99: 3},
			ByTier:  map[string]Summary{"api": {Count: 10, P99: 6}},
			ByOp:    map[string]Summary{"get": {Count: 10, P99: 1.5}},
		},
		Cache:     CacheReport{CacheCounts: CacheCounts{Hits: 960, Misses: 40}, ByTier: map[string]CacheCounts{"api": {Hits: 80, Misses: 20}}},
		Users:     UsersReport{Requests: 1000},
		Pool:      PoolReport{Timeouts: 0},
		Errors:    map[string]uint64{"connection": 7, "timeout": 3},
		Integrity: IntegrityReport{Checked: 900, WritesTracked: 300},
		Faults: []FaultReport{
			{Kind: "restart", StartS: 50, EndS: 51, Injected: true, Occurrence: 1, Planned: 1, Params: map[string]any{"index": 0},
				RecoveredAfterS: Seconds(2.5), ErrorsByKind: map[string]uint64{"connection": 7}},
			{Kind: "pause", StartS: 70, EndS: 75, Injected: true, Occurrence: 1, Planned: 1, Params: map[string]any{"index": 1},
				RecoveredAfterS: Seconds(6), ErrorsByKind: map[string]uint64{"timeout": 3}},
		},
	}
}

func TestEvaluate(t *testing.T) {
	r := evalResult()
	cases := []struct {
		name, expr string
		pass       bool
		observed   float64
		text       string
	}{
		{"latency_p99", "< 5ms", true, 4.2, "4.2ms"},
		{"latency_p99", "< 4", false, 4.2, "4.2ms"},
		{"latency_p99", "< 4200us", false, 4.2, "4.2ms"},
		{"latency_p99.api", "< 5ms", false, 6, "6ms"},
		{"latency_p99.op.get", "<= 1.5ms", true, 1.5, "1.5ms"},
		{"service_p99", "< 5ms", true, 3, "3ms"},
		{"hit_rate", ">= 95%", true, 0.96, "96%"},
		{"hit_rate", ">= 0.97", false, 0.96, "96%"},
		{"hit_rate.api", ">= 90%", false, 0.8, "80%"},
		{"pool_timeouts", "== 0", true, 0, "0"},
		{"errors", "< 5", false, 10, "10"},
		{"error_rate", "< 2%", true, 0.01, "1%"},
		{"recovery_time", "< 10s", true, 6, "6s"},
		{"recovery_time", "< 5000ms", false, 6, "6s"},
		{"error_budget", "<= 7", true, 7, "7"},
		{"ops_per_sec", ">= 10", true, 10, "10/s"},
	}
	for _, c := range cases {
		got := Evaluate(r, LoadTargets([]TargetSpec{{Name: c.name, Expr: c.expr}}))[0]
		if got.Pass != c.pass || math.Abs(got.Observed-c.observed) > 1e-9 || got.ObservedText != c.text {
			t.Errorf("%s %s: got pass=%v observed=%v (%q) detail=%q; want pass=%v observed=%v (%q)",
				c.name, c.expr, got.Pass, got.Observed, got.ObservedText, got.Detail, c.pass, c.observed, c.text)
		}
	}
}

func TestEvaluateMissingDataAndNeverRecovered(t *testing.T) {
	r := evalResult()
	r.Faults[1].RecoveredAfterS = nil // pause at 70 s never recovered in a 100 s run
	got := Evaluate(r, LoadTargets([]TargetSpec{{Name: "recovery_time", Expr: "< 60s"}, {Name: "hit_rate.session", Expr: ">= 90%"},
		{Name: "bogus", Expr: "< 1"}, {Name: "latency_p99", Expr: "fast"}}))
	if got[0].Pass || got[0].Observed != 30 || !strings.HasPrefix(got[0].ObservedText, "≥ 30s") || !strings.Contains(got[0].Detail, "pause") {
		t.Errorf("never-recovered fault must fail with a lower bound: %+v", got[0])
	}
	if got[1].Pass || got[1].ObservedText != "no data" || !strings.Contains(got[1].Detail, "tier session") {
		t.Errorf("missing tier must fail with no data: %+v", got[1])
	}
	if got[2].Pass || !strings.Contains(got[2].Detail, "unknown metric") {
		t.Errorf("unknown metric must fail: %+v", got[2])
	}
	if got[3].Pass || !strings.Contains(got[3].Detail, "expected an operator") {
		t.Errorf("bad expression must fail: %+v", got[3])
	}
}

// A target over something that did not happen fails with "no data": a
// recovery time over no fault, over a fault that did not take effect or over
// part of a repeated fault; lost writes when no write was tracked; any count
// on a run where no operation ran.
func TestNoDataIsNotAPass(t *testing.T) {
	faultTargets := []TargetSpec{{Name: "recovery_time", Expr: "< 10s"}, {Name: "p99_recovery_time", Expr: "< 30s"}, {Name: "error_budget", Expr: "<= 1000"}}
	check := func(what string, r *Result, targets []TargetSpec, detail string) {
		t.Helper()
		for _, tr := range Evaluate(r, LoadTargets(targets)) {
			if tr.Pass || tr.ObservedText != "no data" || tr.Detail != detail {
				t.Errorf("%s: %s %s = %+v, want a failure with detail %q", what, tr.Name, tr.Expr, tr, detail)
			}
		}
	}
	none := evalResult()
	none.Faults = nil
	check("no faults", none, faultTargets, "no data: no faults injected")

	failed := evalResult()
	failed.Faults[1].Injected = false
	check("fault not injected", failed, faultTargets, "no data: pause fault at 70s did not take effect")

	// A restart every 20 s from 20 s, three planned; the run ended before
	// the third.
	partial := evalResult()
	partial.Faults = nil
	for i := 1; i <= 2; i++ {
		partial.Faults = append(partial.Faults, FaultReport{Kind: "restart", StartS: float64(20 * i), EndS: float64(20*i + 1), Injected: true,
			Occurrence: i, Planned: 3, Params: map[string]any{"index": 0, "occurrence": i - 1}, RecoveredAfterS: Seconds(1), P99RecoveredAfterS: Seconds(2)})
	}
	check("2 of 3 occurrences", partial, faultTargets, "no data: restart fault first at 20s: 2 of 3 planned occurrences injected")
	partial.Faults = append(partial.Faults, FaultReport{Kind: "restart", StartS: 60, EndS: 61, Injected: true,
		Occurrence: 3, Planned: 3, Params: map[string]any{"index": 0, "occurrence": 2}, RecoveredAfterS: Seconds(1), P99RecoveredAfterS: Seconds(2)})
	for _, tr := range Evaluate(partial, LoadTargets(faultTargets)) {
		if !tr.Pass || tr.Detail != "" {
			t.Errorf("all 3 occurrences injected: %+v", tr)
		}
	}

	untracked := evalResult()
	untracked.Integrity = IntegrityReport{}
	check("no writes tracked", untracked, []TargetSpec{{Name: "lost_writes", Expr: "== 0"}}, "no data: no writes were tracked")
	check("no values checked", untracked, []TargetSpec{{Name: "integrity_mismatches", Expr: "== 0"}}, "no data: no values were checked")

	idle := &Result{DurationS: 10, Faults: evalResult().Faults}
	counts := []TargetSpec{{Name: "pool_timeouts", Expr: "== 0"}, {Name: "errors", Expr: "== 0"}, {Name: "dropped", Expr: "== 0"},
		{Name: "abandoned", Expr: "== 0"}, {Name: "late", Expr: "< 10"}, {Name: "lost_writes", Expr: "== 0"}, {Name: "error_rate", Expr: "< 1%"}}
	check("zero operations", idle, counts, "no data: no operations ran")
	idle.Users.Dropped = 5000 // every command dropped
	if tr := Evaluate(idle, LoadTargets([]TargetSpec{{Name: "dropped", Expr: "< 10000"}}))[0]; tr.Pass || tr.Detail != "no data: no operations ran (5,000 counted)" {
		t.Errorf("all dropped: %+v", tr)
	}
	idle.Finalize(LoadTargets(DefaultTargets()))
	if idle.Verdict != VerdictFail {
		t.Errorf("a run with no operations passed the default targets: %+v", idle.Targets)
	}
}

func TestFinalizeVerdictAndDerivedRates(t *testing.T) {
	r := evalResult()
	r.Cache.HitRate = 0.5 // wrong on purpose: Finalize derives it from hits and misses
	r.Finalize(LoadTargets(DefaultTargets()))
	if r.Verdict != VerdictPass || r.SchemaVersion != SchemaVersion {
		t.Fatalf("verdict %q schema %q, targets %+v", r.Verdict, r.SchemaVersion, r.Targets)
	}
	if r.Cache.HitRate != 0.96 || r.Cache.ByTier["api"].HitRate != 0.8 {
		t.Errorf("hit rates not derived: %v %v", r.Cache.HitRate, r.Cache.ByTier["api"].HitRate)
	}
	// The run planned faults: the implicit faults_not_injected target
	// follows the given ones, once, also when re-finalized from the stored
	// targets.
	if len(r.Targets) != 5 || r.TargetSpecs()[1].Spec() != DefaultTargets()[1] || r.Targets[4].Name != FaultsNotInjected {
		t.Errorf("targets: %+v", r.Targets)
	}
	r.Pool.Timeouts = 1
	r.Finalize(r.TargetSpecs())
	if r.Verdict != VerdictFail || r.Targets[2].Pass {
		t.Errorf("one missed target must fail the run: %+v", r.Targets)
	}
}

// A GET that failed sent its caller to the origin exactly as a miss did: the
// hit_rate target (overall, per tier and per family) must count it, or a run
// whose Redis answered few lookups passes on the few it answered.
func TestFailedLookupsCountAgainstHitRate(t *testing.T) {
	r := &Result{
		DurationS: 60,
		Users:     UsersReport{Requests: 2000},
		Cache: CacheReport{CacheCounts: CacheCounts{Hits: 940, Misses: 20, LookupErrors: 40},
			ByTier:   map[string]CacheCounts{"api": {Hits: 470, Misses: 10, LookupErrors: 20}},
			ByFamily: map[string]CacheCounts{"stratz_profile": {Hits: 94, Misses: 2, LookupErrors: 4}}},
		Phases:   []PhaseReport{{Name: "steady", Recorded: true, EndS: 60, Hits: 940, Misses: 20, LookupErrors: 40}},
		Timeline: []TimelineRow{{T: 1, Hits: 90, Misses: 0, LookupErrors: 10, HitRate: 1}},
	}
	r.Finalize(LoadTargets([]TargetSpec{{Name: "hit_rate", Expr: ">= 95%"}, {Name: "hit_rate.api", Expr: ">= 95%"},
		{Name: "hit_rate.family.stratz_profile", Expr: ">= 95%"}}))
	for _, tr := range r.Targets {
		if tr.Pass || math.Abs(tr.Observed-0.94) > 1e-9 || tr.ObservedText != "94%" {
			t.Errorf("%s: 94 %% of lookups hit (2 %% answered misses, 4 %% failed), must fail >= 95%%: %+v", tr.Name, tr)
		}
	}
	answered := 940.0 / 960
	if r.Cache.HitRate != 0.94 || math.Abs(r.Cache.AnsweredHitRate-answered) > 1e-12 {
		t.Errorf("cache hit_rate %v answered %v, want 0.94 and %v", r.Cache.HitRate, r.Cache.AnsweredHitRate, answered)
	}
	if c := r.Cache.ByTier["api"]; c.HitRate != 0.94 || math.Abs(c.AnsweredHitRate-answered) > 1e-12 {
		t.Errorf("tier: %+v", c)
	}
	if c := r.Cache.ByFamily["stratz_profile"]; c.HitRate != 0.94 || math.Abs(c.AnsweredHitRate-answered) > 1e-12 {
		t.Errorf("family: %+v", c)
	}
	if r.Phases[0].HitRate != 0.94 || r.Timeline[0].HitRate != 0.9 {
		t.Errorf("phase %v timeline %v, want 0.94 and 0.9", r.Phases[0].HitRate, r.Timeline[0].HitRate)
	}
	// Lookups that all failed are 0 % hits, not "no data".
	down := &Result{Users: UsersReport{Requests: 10}, Cache: CacheReport{CacheCounts: CacheCounts{LookupErrors: 10}}}
	if tr := Evaluate(down, LoadTargets([]TargetSpec{{Name: "hit_rate", Expr: ">= 95%"}}))[0]; tr.Pass || tr.ObservedText != "0%" {
		t.Errorf("every lookup failed: %+v", tr)
	}
}

// Dropped commands are load the run was asked to apply and did not: the
// default targets must fail a run that shed any, as they fail one whose pool
// timed out. Abandoned operations are a metric of their own.
func TestDefaultTargetsFailDroppedCommands(t *testing.T) {
	found := false
	for _, d := range DefaultTargets() {
		found = found || d == TargetSpec{Name: "dropped", Expr: "== 0"}
	}
	if !found {
		t.Fatalf("dropped == 0 is not a default target: %+v", DefaultTargets())
	}
	r := evalResult()
	r.Users.Dropped = 1
	r.Finalize(LoadTargets(DefaultTargets()))
	if r.Verdict != VerdictFail {
		t.Errorf("one dropped command must fail the default targets: %+v", r.Targets)
	}
	r.Users.Dropped, r.Users.Abandoned = 0, 3
	r.Finalize(LoadTargets(DefaultTargets()))
	if r.Verdict != VerdictPass {
		t.Errorf("nothing dropped: %+v", r.Targets)
	}
	got := Evaluate(r, LoadTargets([]TargetSpec{{Name: "abandoned", Expr: "== 0"}, {Name: "abandoned", Expr: "<= 3"}}))
	if got[0].Pass || got[0].Observed != 3 || !got[1].Pass || got[0].Unit != UnitCount {
		t.Errorf("abandoned metric: %+v", got)
	}
}

// A planned fault that did not take effect fails the run whatever its
// targets: a run that promises only a latency it keeps, whose restart's
// action failed, fails on the implicit faults_not_injected target, which
// names the fault and why. A run without faults gets no such target.
func TestFaultNotInjectedFailsTheRun(t *testing.T) {
	latencyOnly := LoadTargets([]TargetSpec{{Name: "latency_p99", Expr: "< 5ms"}})
	ok := evalResult()
	ok.Finalize(latencyOnly)
	if ok.Verdict != VerdictPass || len(ok.Targets) != 2 || ok.Targets[1].Name != FaultsNotInjected || !ok.Targets[1].Pass {
		t.Fatalf("every fault injected: verdict %s, targets %+v", ok.Verdict, ok.Targets)
	}

	failed := evalResult()
	failed.Faults[0].Injected = false
	failed.Faults[0].Node = "primary-0"
	failed.Faults[0].Notes = []string{"injecting failed: SHUTDOWN: connection refused", "the fault did not take effect; figures show the run around its slot"}
	failed.Finalize(latencyOnly)
	if failed.Verdict != VerdictFail {
		t.Fatalf("a restart that did not take effect passed: %+v", failed.Targets)
	}
	tr := failed.Targets[len(failed.Targets)-1]
	want := "restart fault on primary-0 at 50s: injecting failed: SHUTDOWN: connection refused"
	if tr.Name != FaultsNotInjected || tr.Pass || tr.Verdict != VerdictFail || tr.Observed != 1 || tr.Detail != want {
		t.Errorf("implicit target %+v, want observed 1, fail, detail %q", tr, want)
	}
	// Re-judged from the stored targets (a re-rendered report): the same
	// verdict, and the implicit target once.
	failed.Finalize(failed.TargetSpecs())
	if failed.Verdict != VerdictFail || len(failed.Targets) != 2 {
		t.Errorf("re-finalized: %s %+v", failed.Verdict, failed.Targets)
	}

	// A planned repetition missing from the report counts too.
	partial := evalResult()
	partial.Faults[1].Planned = 3
	if n, detail := partial.faultsNotInjected(); n != 2 || !strings.Contains(detail, "1 of 3 planned occurrences reported") {
		t.Errorf("missing repetitions: %d %q", n, detail)
	}

	none := evalResult()
	none.Faults = nil
	none.Finalize(latencyOnly)
	if len(none.Targets) != 1 || none.Verdict != VerdictPass {
		t.Errorf("no faults planned: %s %+v", none.Verdict, none.Targets)
	}

	// Repeated runs: one run of three whose fault did not happen fails
	// the whole, never hidden by the median.
	runs := []*Result{evalResult(), failed, evalResult()}
	got := JudgeAll(runs, latencyOnly)
	if last := got[len(got)-1]; last.Name != FaultsNotInjected || last.Verdict != VerdictFail || !strings.HasPrefix(last.Detail, "run 2: ") {
		t.Errorf("repeated: %+v", last)
	}
}
