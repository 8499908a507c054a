package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

func rowOf(c report.Comparison, metric string) report.CompareRow {
	for _, r := range c.Rows {
		if r.Metric == metric {
			return r
		}
	}
	return report.CompareRow{Metric: "missing " + metric}
}

func TestCompareSameRunDoesNotRegress(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	c, err := report.Compare(base, base, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	if c.Regressed {
		t.Errorf("a report compared with itself regressed: %+v", c.Rows)
	}
	// Another seed of the same load is noise, well within 10 %. Compare
	// refuses another seed unless forced.
	other := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 2})
	c, err = report.CompareWith(base, other, report.CompareOptions{MaxRegression: 0.25, Force: true})
	if err != nil || len(c.Rows) == 0 {
		t.Fatalf("forced comparison: %v, %d rows", err, len(c.Rows))
	}
	for _, r := range c.Rows {
		if r.Regressed && strings.HasPrefix(r.Metric, "latency_p50") {
			t.Errorf("p50 noise between seeds flagged: %+v", r)
		}
	}
}

func TestCompareFindsSlowerRun(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	slow := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1, Slowdown: 1.5})
	c, err := report.Compare(base, slow, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Regressed {
		t.Fatal("a 1.5x slower run must regress at 10 %")
	}
	p99 := rowOf(c, "latency_p99")
	if !p99.Regressed || p99.Change < 0.4 || p99.Change > 0.6 {
		t.Errorf("p99 row: %+v", p99)
	}
	if rowOf(c, "hit_rate").Regressed {
		t.Error("hit rate did not change and must not regress")
	}
	// The same slowdown passes a 60 % tolerance.
	if c, _ := report.Compare(base, slow, 0.60); c.Regressed {
		for _, r := range c.Rows {
			if r.Regressed {
				t.Errorf("regressed at 60 %%: %+v", r)
			}
		}
	}
	var buf bytes.Buffer
	if err := c.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"latency_p99", "REGRESSED", "hit_rate", "fault 1 restart recovered_after_s", "REGRESSION:"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCompareRecoveryAndIntegrity(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Faults[0].RecoveredAfterS = nil // never recovered
	cur.Integrity.LostWrites = 1
	c, err := report.Compare(base, cur, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if r := rowOf(c, "fault 1 restart recovered_after_s"); !r.Regressed || r.CurText != "never" {
		t.Errorf("never-recovered fault must regress: %+v", r)
	}
	if r := rowOf(c, "lost_writes"); !r.Regressed {
		t.Errorf("a lost write must regress at any tolerance: %+v", r)
	}
	// Recovery one second slower is within sampling resolution.
	cur = reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Faults[0].RecoveredAfterS = result.Seconds(*base.Faults[0].RecoveredAfterS + 0.9)
	c, _ = report.Compare(base, cur, 0.1)
	if r := rowOf(c, "fault 1 restart recovered_after_s"); r.Regressed {
		t.Errorf("0.9 s slower recovery is below the 1 s sampling floor: %+v", r)
	}
	if _, err := report.Compare(base, cur, -1); err == nil {
		t.Error("negative tolerance must be rejected")
	}
}

func TestCompareVerdictFlip(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 30, NoFaults: true})
	base.Finalize(result.LoadTargets([]result.TargetSpec{{Name: "latency_p99", Expr: "< 1s"}}))
	cur := reporttest.Sample(reporttest.Options{Seconds: 30, NoFaults: true})
	cur.Finalize(result.LoadTargets([]result.TargetSpec{{Name: "latency_p99", Expr: "< 0.1ms"}}))
	c, _ := report.Compare(base, cur, 10)
	if r := rowOf(c, "verdict"); !r.Regressed || !c.Regressed {
		t.Errorf("pass turning into fail must regress: %+v", r)
	}
}

// compare reads the judged hit rate: the same hits and misses with failed
// lookups on top is a worse cache, not the same one.
func TestCompareHitRateCountsLookupErrors(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Cache.LookupErrors = (cur.Cache.Hits + cur.Cache.Misses) / 10
	cur.Finalize(cur.TargetSpecs())
	c, err := report.Compare(base, cur, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	row := rowOf(c, "hit_rate")
	want := result.LookupHitRate(cur.Cache.Hits, cur.Cache.Misses, cur.Cache.LookupErrors)
	if row.Cur != want || row.Base != base.Cache.HitRate || row.Cur >= row.Base {
		t.Errorf("hit_rate row %+v, want cur %v (judged)", row, want)
	}
}

// withHitRate sets a sample's lookups to hits of 10,000 with no failures,
// and every recorded second's lookups to the same hit rate (single runs are
// compared second by second).
func withHitRate(r *result.Result, hits uint64) *result.Result {
	r.Cache.Hits, r.Cache.Misses, r.Cache.LookupErrors = hits, 10_000-hits, 0
	reporttest.SetTimelineHitRate(r, float64(hits)/10_000)
	return r
}

// The hit rate is gated through the miss rate: 95 % to 94 % is 20 % more
// lookups sent to the origin, a regression at 10 % although the hit rate
// moved only 1 %. With a points budget the hit rate gates on its drop.
func TestCompareGatesHitRateOnMissRate(t *testing.T) {
	base := withHitRate(reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1}), 9_500)
	cur := withHitRate(reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1}), 9_400)
	c, err := report.Compare(base, cur, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	miss := rowOf(c, "miss_rate")
	if !miss.Regressed || !c.Regressed || miss.BaseText != "5%" || miss.CurText != "6%" || miss.Change < 0.199 || miss.Change > 0.201 {
		t.Errorf("95%% -> 94%% must regress as a 20%% rise of the miss rate: %+v", miss)
	}
	if hit := rowOf(c, "hit_rate"); hit.Regressed || hit.Note != "gated through miss_rate" {
		t.Errorf("hit_rate row: %+v", hit)
	}
	// A rise of the miss rate within the tolerance passes: 5 % to 5.4 %.
	if c, _ := report.Compare(base, withHitRate(reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1}), 9_460), 0.10); rowOf(c, "miss_rate").Regressed {
		t.Errorf("an 8%% rise of misses regressed at 10%%: %+v", rowOf(c, "miss_rate"))
	}
	// By points: a one-point drop passes 1.5 points and fails 0.5 points.
	for _, tc := range []struct {
		points float64
		want   bool
	}{{0.015, false}, {0.01, false}, {0.005, true}} {
		pts := tc.points
		c, err := report.CompareWith(base, cur, report.CompareOptions{MaxRegression: 0.10, MaxHitRateDrop: &pts})
		if err != nil {
			t.Fatal(err)
		}
		if hit := rowOf(c, "hit_rate"); hit.Regressed != tc.want || rowOf(c, "miss_rate").Regressed || c.Regressed != tc.want {
			t.Errorf("max drop %v points: hit_rate %+v, miss_rate %+v", pts*100, hit, rowOf(c, "miss_rate"))
		}
		var buf bytes.Buffer
		if err := c.WriteTable(&buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "points)") {
			t.Errorf("table does not state the points budget:\n%s", buf.String())
		}
	}
}

// What the base measured and the new run did not is a regression: no data
// never passes a gate.
func TestCompareMissingInNewReportRegresses(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Latency.Service = result.Summary{}
	cur.Integrity.WritesTracked = 0
	c, err := report.Compare(base, cur, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"service_p99", "lost_writes"} {
		if r := rowOf(c, m); !r.Regressed || r.CurText != "n/a" || r.Note != "no data in the new report" {
			t.Errorf("%s missing in the new report must regress: %+v", m, r)
		}
	}
	// The other way round (new in this report) is not a regression.
	c, _ = report.Compare(cur, base, 0.5)
	if r := rowOf(c, "service_p99"); r.Regressed || r.BaseText != "n/a" {
		t.Errorf("service_p99 only in the new report: %+v", r)
	}
	// A run in which no operation ran has no data for any count, hit rate
	// or latency.
	idle := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	idle.Users.Requests, idle.Users.OpsPerSec = 0, 0
	idle.Cache = result.CacheReport{}
	idle.Latency = result.LatencyReport{}
	c, _ = report.Compare(base, idle, 10)
	for _, m := range []string{"latency_p99", "hit_rate", "error_rate", "pool_timeout_rate", "dropped_rate", "ops_per_sec"} {
		if r := rowOf(c, m); !r.Regressed {
			t.Errorf("%s of a run with no operations must regress: %+v", m, r)
		}
	}
	// A fault the base injected and the new run did not.
	cur = reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Faults = cur.Faults[:1]
	cur.Faults[0].Injected = false
	c, _ = report.Compare(base, cur, 10)
	if r := rowOf(c, "fault 1 restart"); !r.Regressed || r.CurText != "not injected" {
		t.Errorf("fault not injected in the new run: %+v", r)
	}
	if r := rowOf(c, "fault 2 memory_pressure"); !r.Regressed || r.CurText != "absent" {
		t.Errorf("fault absent from the new run: %+v", r)
	}
}

// Reports of different loads are refused: another scenario, seed, number of
// active users or recorded length says nothing about the cache. Force
// compares them anyway and keeps what differed as warnings.
func TestCompareRefusesDifferentLoads(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cases := map[string]struct {
		change func(r *result.Result)
		want   string
	}{
		"scenario": {func(r *result.Result) { r.Scenario.Name = "soak" }, `scenario "restart-under-load" vs "soak"`},
		"seed":     {func(r *result.Result) { r.Scenario.Seed = 7 }, "seed 1 vs 7"},
		"users":    {func(r *result.Result) { r.Users.Active = 5_000 }, "active users 10,000 vs 5,000"},
		"length":   {func(r *result.Result) { r.Phases[1].EndS -= 10 }, "recorded 50s vs 40s"},
	}
	for name, tc := range cases {
		cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
		tc.change(cur)
		_, err := report.Compare(base, cur, 0.1)
		var inc *report.IncomparableError
		if !errors.As(err, &inc) || len(inc.Differences) != 1 || inc.Differences[0] != tc.want {
			t.Errorf("%s: err %v, want an IncomparableError with %q", name, err, tc.want)
			continue
		}
		c, err := report.CompareWith(base, cur, report.CompareOptions{MaxRegression: 0.1, Force: true})
		if err != nil || len(c.Warnings) != 1 || c.Warnings[0] != tc.want || len(c.Rows) == 0 {
			t.Errorf("%s forced: err %v, warnings %q", name, err, c.Warnings)
		}
		var buf bytes.Buffer
		_ = c.WriteTable(&buf)
		if !strings.Contains(buf.String(), "warning: compared despite a different load: "+tc.want) {
			t.Errorf("%s: table lacks the warning:\n%s", name, buf.String())
		}
	}
	// Within tolerance: recorded seconds within 2 % or 1 s, users within 1 %.
	cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Phases[1].EndS -= 0.9
	cur.Users.Active -= 50
	if _, err := report.Compare(base, cur, 0.1); err != nil {
		t.Errorf("0.9 s shorter and 0.5 %% fewer users must compare: %v", err)
	}
}

// The layer: a stale read more than the base regresses at any tolerance;
// rate-limit denials and CAS conflicts are shown with their change and
// never gate; whether the bot re-warmed after a fault is shown beside its
// recovery.
func TestCompareLayer(t *testing.T) {
	layer := func(stale, denied, conflicts uint64) *result.LayerReport {
		return &result.LayerReport{Instances: 4, RateLimit: result.RateLimitReport{Allowed: 5000, Denied: denied}, CAS: result.CASReport{Conflicts: conflicts},
			NearCache: result.NearCacheReport{Families: []string{"guild_locale"}, Hits: 9000, StaleReads: stale}}
	}
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	base.Layer = layer(2, 100, 50)
	base.Faults[0].Warming = &result.FaultWarming{Warmed: false}

	cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Layer = layer(2, 400, 900)
	cur.Faults[0].Warming = &result.FaultWarming{Warmed: true, Keys: 2000}
	c, err := report.Compare(base, cur, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"rate_limit_denied", "cas_conflicts"} {
		r := rowOf(c, m)
		if r.Regressed || r.Change < 2 || !strings.Contains(r.Note, "not gated") {
			t.Errorf("%s: want shown as a change, not gated: %+v", m, r)
		}
	}
	if r := rowOf(c, "stale_reads"); r.Regressed || r.BaseText != "2" || r.CurText != "2" {
		t.Errorf("stale reads unchanged: %+v", r)
	}
	if r := rowOf(c, "fault 1 restart warmed"); r.BaseText != "no" || r.CurText != "yes" || !strings.Contains(r.Note, "warming differs") || r.Regressed {
		t.Errorf("warming row: %+v", r)
	}
	if c.Regressed {
		var bad []string
		for _, r := range c.Rows {
			if r.Regressed {
				bad = append(bad, r.Metric)
			}
		}
		t.Errorf("more denials and conflicts regressed the comparison: %v", bad)
	}

	cur.Layer = layer(3, 100, 50)
	c, _ = report.Compare(base, cur, 10)
	if r := rowOf(c, "stale_reads"); !r.Regressed || !c.Regressed {
		t.Errorf("one more stale read must regress at any tolerance: %+v", r)
	}
	var buf bytes.Buffer
	if err := c.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "stale_reads") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}

	// A report without the layer (written before it, or the base lacked
	// it) shows no layer rows and gates nothing on them.
	base.Layer = nil
	c, _ = report.Compare(base, cur, 0.10)
	if r := rowOf(c, "stale_reads"); r.Regressed || r.BaseText != "n/a" {
		t.Errorf("stale reads new in this report: %+v", r)
	}
}

// samples are runs of one load (the same seed) whose latencies differ by
// the given factors: the spread of a set of runs.
func samples(factors ...float64) []*result.Result {
	var rs []*result.Result
	for _, f := range factors {
		rs = append(rs, reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1, Slowdown: f, NoFaults: true}))
	}
	return rs
}

// Sets of at least four runs a side are compared run against run: medians,
// a bootstrap interval over runs, an exact permutation test.
func TestCompareSetsOfRuns(t *testing.T) {
	base := samples(1, 1.02, 0.98, 1.01, 0.99)
	c, err := report.CompareSets(base, samples(1.01, 0.99, 1, 1.03, 0.97), report.CompareOptions{MaxRegression: 0.10})
	if err != nil {
		t.Fatal(err)
	}
	if c.Regressed || c.BaseRuns != 5 || c.NewRuns != 5 || !strings.HasPrefix(c.Method, "over runs (5 base, 5 new)") {
		t.Errorf("A/A sets: regressed %v, runs %d/%d, method %q", c.Regressed, c.BaseRuns, c.NewRuns, c.Method)
	}
	c, err = report.CompareSets(base, samples(1.5, 1.52, 1.48, 1.51, 1.49), report.CompareOptions{MaxRegression: 0.10})
	if err != nil {
		t.Fatal(err)
	}
	p99 := rowOf(c, "latency_p99")
	// Every new run slower than every base run: the smallest two-sided
	// p-value of 5 against 5, 2 of the 252 splits.
	if !p99.Regressed || p99.P == nil || math.Abs(*p99.P-2.0/252) > 1e-9 || p99.Interval == nil || p99.Interval.Low <= 0.10 || p99.Change < 0.4 || p99.Change > 0.6 {
		t.Errorf("1.5x slower sets: p99 %+v (p %v, interval %+v)", p99, p99.P, p99.Interval)
	}
	if !strings.HasPrefix(p99.BaseText, "median ") {
		t.Errorf("a set's figure is its median: %q", p99.BaseText)
	}
	// Three runs a side cannot reach 5 % by permutation (20 splits): they
	// are compared by their seconds.
	c, _ = report.CompareSets(base[:3], samples(1.5, 1.52, 1.48), report.CompareOptions{MaxRegression: 0.10})
	if !strings.HasPrefix(c.Method, "over recorded seconds") || !rowOf(c, "latency_p99").Regressed {
		t.Errorf("3 against 3: method %q, p99 %+v", c.Method, rowOf(c, "latency_p99"))
	}
	// A set whose runs are of different loads is refused.
	odd := samples(1, 1, 1, 1)
	odd[2].Users.Active = 100
	var inc *report.IncomparableError
	if _, err := report.CompareSets(base, odd, report.CompareOptions{MaxRegression: 0.1}); !errors.As(err, &inc) || !strings.Contains(err.Error(), "within a side: active users") {
		t.Errorf("mixed loads within a side: %v", err)
	}
}

// A change beyond the tolerance that is not significant is inconclusive,
// and so is a significant latency rise the host timer probe's lateness
// reaches: neither exits 1.
func TestCompareInconclusive(t *testing.T) {
	base := samples(1, 1.02, 0.98, 1.01)
	// Two of four new runs slow: beyond 10 % in the median, not
	// significant.
	c, err := report.CompareSets(base, samples(1, 1.6, 1.01, 1.7), report.CompareOptions{MaxRegression: 0.10})
	if err != nil {
		t.Fatal(err)
	}
	p99 := rowOf(c, "latency_p99")
	if p99.Regressed || p99.Verdict != report.CompareInconclusive || !strings.Contains(p99.Note, "not significant") || c.Regressed || !c.Inconclusive {
		t.Errorf("half the runs slow: %+v, comparison regressed %v inconclusive %v", p99, c.Regressed, c.Inconclusive)
	}
	var buf bytes.Buffer
	if err := c.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "INCONCLUSIVE:") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}

	// Single runs: 1.3x slower is significant second by second; with a
	// host that woke 5 % of its probe's sleeps over 10 ms late, the p99's
	// rise is within what the machine alone could do; its p50's is not.
	one := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	slow := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1, Slowdown: 1.3})
	c, _ = report.Compare(one, slow, 0.10)
	if r := rowOf(c, "latency_p99"); !r.Regressed {
		t.Fatalf("1.3x slower single run, quiet host: %+v", r)
	}
	slow.Client.HostTimer = &result.HostTimer{Wakes: 10_000, Late: 900, LateFraction: 0.09, MaxMs: 80,
		Over: []result.HostTimerBound{{OverUs: 100, Wakes: 2000}, {OverUs: 1000, Wakes: 900}, {OverUs: 10_000, Wakes: 500}}}
	c, _ = report.Compare(one, slow, 0.10)
	if r := rowOf(c, "latency_p99"); r.Regressed || r.Verdict != report.CompareInconclusive || !strings.Contains(r.Note, "host timer") {
		t.Errorf("p99 within the host's reach: %+v", r)
	}
	if r := rowOf(c, "latency_p50"); !r.Regressed {
		t.Errorf("p50 beyond the host's reach (10%% of wake-ups over 0.1 ms cannot move a median): %+v", r)
	}
	if c.NewHostLate == nil || *c.NewHostLate != 0.09 || c.BaseHostLate != nil {
		t.Errorf("host late shares: base %v new %v", c.BaseHostLate, c.NewHostLate)
	}
}

// Single runs are compared over their recorded seconds only: a warm-up
// that was slow in one run says nothing.
func TestCompareSingleRunsSkipUnrecordedSeconds(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	warm := 0
	for i := range cur.Timeline {
		if cur.Timeline[i].Phase == "warmup" {
			cur.Timeline[i].P50 *= 50
			cur.Timeline[i].P99 *= 50
			cur.Timeline[i].Errors += 1000
			warm++
		}
	}
	if warm == 0 {
		t.Fatal("the sample has no warm-up seconds")
	}
	c, err := report.Compare(base, cur, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"latency_p50", "latency_p99", "error_rate"} {
		if r := rowOf(c, m); r.Verdict != report.CompareNoChange || r.Change != 0 {
			t.Errorf("%s changed by the warm-up: %+v", m, r)
		}
	}
	if !strings.Contains(c.Method, "over recorded seconds (50 base, 50 new)") {
		t.Errorf("method %q", c.Method)
	}
}

// The JSON output carries every row's interval, p-value and verdict.
func TestCompareJSON(t *testing.T) {
	c, err := report.Compare(reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1}),
		reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1, Slowdown: 2}), 0.10)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back report.Comparison
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	p99 := rowOf(back, "latency_p99")
	if !back.Regressed || p99.Verdict != report.CompareRegressed || p99.Interval == nil || p99.Interval.Confidence != 0.95 || p99.P == nil || back.Method == "" {
		t.Errorf("JSON round trip: %+v", p99)
	}
}

// A change from nothing to something is infinite; JSON says null.
func TestCompareJSONInfiniteChange(t *testing.T) {
	base, cur := samples(1, 1, 1, 1), samples(1, 1, 1, 1)
	for i := range base {
		base[i].Users.Dropped, cur[i].Users.Dropped = 0, 500
	}
	c, err := report.CompareSets(base, cur, report.CompareOptions{MaxRegression: 0.10})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"metric": "dropped_rate"`) || !strings.Contains(buf.String(), `"change": null`) {
		t.Errorf("dropped from 0 to 500 in JSON:\n%s", buf.String())
	}
}
