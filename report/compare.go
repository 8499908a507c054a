package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cacheproof/cacheproof/result"
)

// CompareOptions set how Compare gates.
type CompareOptions struct {
	// MaxRegression is the tolerated relative worsening per metric
	// (0.10 = 10 %). The hit rate is gated through the miss rate, 1 - hit
	// rate: 95 % to 94 % is a 20 % rise in misses (and in origin load),
	// where the hit rate itself moved barely 1 %.
	MaxRegression float64
	// MaxHitRateDrop, when set, gates the hit rate on its absolute drop
	// instead (0.01 = one percentage point); the miss rate is then shown
	// but not gated.
	MaxHitRateDrop *float64
	// Force compares reports of different loads (scenario, seed, active
	// users, recorded seconds) instead of refusing; what differed is in
	// Comparison.Warnings.
	Force bool
	// Confidence is the intervals' coverage and one minus the significance
	// level of the tests (0 means 0.95): a metric regresses only when its
	// change is beyond the tolerance and its p-value below 1 - Confidence.
	Confidence float64
	// Resamples is the bootstrap's number of resamples (0 means 2,000).
	Resamples int
}

// Row verdicts of a comparison.
const (
	CompareRegressed    = "regressed"
	CompareImproved     = "improved"
	CompareNoChange     = "no significant change"
	CompareInconclusive = "inconclusive"
	CompareNotGated     = "not gated"
)

// IncomparableError is returned by Compare when the two reports are not
// runs of the same load, so their differences would say nothing about the
// cache: a shorter run has fewer chances at a bad tail, fewer users a lighter
// load, another seed other keys.
type IncomparableError struct {
	Differences []string
}

func (e *IncomparableError) Error() string {
	return "the reports are not runs of the same load: " + strings.Join(e.Differences, "; ")
}

// Tolerances of LoadDifferences: recorded seconds may differ by 2 % or 1 s
// (whichever is larger: phase boundaries fall on sampling seconds, and an
// interrupt stops a run between them), active users by 1 % or one user (a
// ramp's last step).
const (
	recordedTolerance = 0.02
	activeTolerance   = 0.01
)

// LoadDifferences lists what makes base and cur runs of different loads:
// scenario name, workload seed, active users, recorded seconds. Empty when
// they are comparable.
func LoadDifferences(base, cur *result.Result) []string {
	var out []string
	for _, d := range loadDiffs(base, cur) {
		out = append(out, d.text)
	}
	return out
}

// loadDiff is one load difference; moved is set for what a set scenario
// value can move by itself (active users, recorded seconds), as against
// what names another load (the scenario, the seed).
type loadDiff struct {
	text  string
	moved bool
}

func loadDiffs(base, cur *result.Result) []loadDiff {
	var d []loadDiff
	if base.Scenario.Name != cur.Scenario.Name {
		d = append(d, loadDiff{text: fmt.Sprintf("scenario %q vs %q", base.Scenario.Name, cur.Scenario.Name)})
	}
	if base.Scenario.Seed != cur.Scenario.Seed {
		d = append(d, loadDiff{text: fmt.Sprintf("seed %d vs %d", base.Scenario.Seed, cur.Scenario.Seed)})
	}
	ba, ca := float64(base.Users.Active), float64(cur.Users.Active)
	if math.Abs(ba-ca) > math.Max(1, activeTolerance*math.Max(ba, ca)) {
		d = append(d, loadDiff{text: fmt.Sprintf("active users %s vs %s", formatCount(uint64(base.Users.Active)), formatCount(uint64(cur.Users.Active))), moved: true})
	}
	bs, cs := base.RecordedSeconds(), cur.RecordedSeconds()
	if math.Abs(bs-cs) > math.Max(1, recordedTolerance*math.Max(bs, cs)) {
		d = append(d, loadDiff{text: fmt.Sprintf("recorded %s vs %s", formatSeconds(bs), formatSeconds(cs)), moved: true})
	}
	return d
}

// CompareRow is one metric of the two sides. Base and Cur are what the
// verdict judged: each side's figure for a single run (Overall) or the
// median over its runs. Change is relative ((cur-base)/base) of the tested
// statistic: for runs the median over runs; for single runs compared by
// their seconds the per-second statistic (see Comparison.Method), whose
// base and new values are BaseStat and CurStat. Interval is the
// confidence interval of that relative change (of the absolute difference
// for the hit rate gated by points), P the two-sided p-value of the test.
// Verdict is one of the Compare* constants; Regressed is Verdict ==
// CompareRegressed.
type CompareRow struct {
	Metric    string           `json:"metric"`
	Unit      string           `json:"unit"`
	Base      float64          `json:"base"`
	Cur       float64          `json:"cur"`
	BaseText  string           `json:"base_text"`
	CurText   string           `json:"cur_text"`
	BaseStat  *float64         `json:"base_stat,omitempty"`
	CurStat   *float64         `json:"cur_stat,omitempty"`
	Change    float64          `json:"change"`
	Interval  *result.Interval `json:"interval,omitempty"`
	P         *float64         `json:"p_value,omitempty"`
	Better    string           `json:"better"` // "lower" or "higher"
	Verdict   string           `json:"verdict"`
	Regressed bool             `json:"regressed"`
	Note      string           `json:"note,omitempty"`
}

// MarshalJSON writes Change as null when it is infinite (from nothing to
// something): JSON has no infinity.
func (r CompareRow) MarshalJSON() ([]byte, error) {
	type plain CompareRow
	out := struct {
		plain
		Change *float64 `json:"change"`
	}{plain: plain(r)}
	if !math.IsInf(r.Change, 0) && !math.IsNaN(r.Change) {
		out.Change = &r.Change
	}
	return json.Marshal(out)
}

// Comparison is the result of Compare.
type Comparison struct {
	Base string `json:"base"` // scenario names (and start times) of the two sides
	Cur  string `json:"new"`
	// BaseRuns and NewRuns count the reports on each side.
	BaseRuns int `json:"base_runs"`
	NewRuns  int `json:"new_runs"`
	// Method says where the intervals and p-values come from: runs, or
	// the recorded seconds of single runs.
	Method         string       `json:"method"`
	Confidence     float64      `json:"confidence"`
	MaxRegression  float64      `json:"max_regression"`
	MaxHitRateDrop *float64     `json:"max_hit_rate_drop,omitempty"`
	Rows           []CompareRow `json:"rows"`
	Regressed      bool         `json:"regressed"`
	// Inconclusive is set when no row regressed and at least one could
	// not be decided (a change beyond the tolerance that is not
	// significant, or one the machine's measured noise explains).
	Inconclusive bool `json:"inconclusive"`
	// HostLate is each side's host timer probe late share (median over its
	// runs; nil when not measured): the machine's noise at the time.
	BaseHostLate *float64 `json:"base_host_late,omitempty"`
	NewHostLate  *float64 `json:"new_host_late,omitempty"`
	// Warnings are the load differences a forced comparison went past.
	Warnings []string `json:"warnings,omitempty"`
	// Changes are the scenario values the sides set differently on the
	// command line (run --set): the change under test, when the resolved
	// scenarios agree everywhere else. Moved are the load differences it
	// made (active users, recorded seconds), compared instead of refused.
	Changes []SettingChange `json:"change_under_test,omitempty"`
	Moved   []string        `json:"moved_by_change,omitempty"`
}

// compareSpec is a metric of the table (result.Metrics) as compare reads
// it: its row's name, unit and direction, its rule (floor, strict, info,
// host noise), its figure per run and per recorded second.
type compareSpec struct {
	name   string
	unit   string
	better string
	rule   result.CompareRule
	get    func(*result.Result) (float64, bool)
	// win reads one recorded second (nil: the timeline has no per-second
	// value, so single runs cannot test it); kind says how seconds
	// combine.
	win  func(timedRow) (window, bool)
	kind statKind
}

// specOf is a metric's compare spec.
func specOf(m result.Metric) compareSpec {
	s := compareSpec{name: m.CompareRow(), unit: m.Unit, better: m.Better, rule: *m.Compare, get: m.CompareValue}
	if m.Compare.PerRequest {
		s.unit = result.UnitFraction
	}
	if m.HasPerSecond() {
		s.win = func(w timedRow) (window, bool) {
			v, weight, ok := m.CompareSecond(w.TimelineRow, w.dt)
			return window{v, weight}, ok
		}
	}
	if m.Compare.Ratio {
		s.kind = statRatio
	}
	return s
}

// worse decides whether cur is a regression from base under s's rule.
func (s compareSpec) worse(base, cur, tol float64) bool {
	return s.rule.Worse(s.better, base, cur, tol)
}

// betterBy decides whether cur is better than base beyond tol and the
// rule's floor.
func (s compareSpec) betterBy(base, cur, tol float64) bool {
	return result.CompareRule{Floor: s.rule.Floor}.Worse(flip(s.better), base, cur, tol)
}

// secondResolution is the rule of a fault's recovery times: one sampling
// interval (1 s) is below resolution.
var secondResolution = result.CompareRule{Floor: 1}

// faultErrorRule judges a fault's errors as a share of its side's
// requests, as the run's error rate is judged: a count gated raw would
// regress on a run that merely sent more requests through the same outage.
var faultErrorRule = result.CompareRule{Floor: 0.0001}

// medianRequests is a side's median requests (0 when none ran).
func medianRequests(rs []*result.Result) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = float64(r.Users.Requests)
	}
	return result.Median(v)
}

// Compare is CompareWith with a relative tolerance and nothing else set.
func Compare(base, cur *result.Result, maxRegression float64) (Comparison, error) {
	return CompareWith(base, cur, CompareOptions{MaxRegression: maxRegression})
}

// CompareWith compares two single runs: CompareSets of one report each.
func CompareWith(base, cur *result.Result, o CompareOptions) (Comparison, error) {
	if base == nil || cur == nil {
		return Comparison{}, fmt.Errorf("compare: nil report")
	}
	return CompareSets([]*result.Result{base}, []*result.Result{cur}, o)
}

// CompareSets puts the base runs and the new runs side by side: latency
// percentiles, hit and miss rate, error, pool-timeout, late, dropped and
// abandoned rates per request, integrity, throughput, and recovery per
// fault (faults are matched by position and kind). Each metric's
// difference gets an interval and a p-value (compare_stats.go: over runs
// when each side has at least four, over the recorded seconds otherwise).
// A metric regresses only when its change is worse than o.MaxRegression
// relative (and than the metric's noise floor) and significant, and the
// machine's own measured noise (the host timer probe) does not reach it; the
// hit rate through its miss rate (or by points, with o.MaxHitRateDrop).
// Lost writes, integrity mismatches and stale reads regress on any increase
// (the worst run of each side); a metric or fault the base measured and the
// new side did not, and a pass turning into a fail, always. Reports of
// different loads are refused with an *IncomparableError unless o.Force is
// set.
func CompareSets(base, cur []*result.Result, o CompareOptions) (Comparison, error) {
	if len(base) == 0 || len(cur) == 0 || slices.Contains(base, nil) || slices.Contains(cur, nil) {
		return Comparison{}, fmt.Errorf("compare: a side without reports")
	}
	maxRegression := o.MaxRegression
	if maxRegression < 0 || math.IsNaN(maxRegression) {
		return Comparison{}, fmt.Errorf("compare: max regression must be >= 0, got %v", maxRegression)
	}
	if d := o.MaxHitRateDrop; d != nil && (*d < 0 || *d > 1 || math.IsNaN(*d)) {
		return Comparison{}, fmt.Errorf("compare: max hit rate drop must be between 0 and 1 (100 points), got %v", *d)
	}
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	if o.Confidence <= 0.5 || o.Confidence >= 1 || math.IsNaN(o.Confidence) {
		return Comparison{}, fmt.Errorf("compare: confidence must be between 50%% and 100%%, got %v", o.Confidence)
	}
	if o.Resamples <= 0 {
		o.Resamples = 2000
	}
	c := Comparison{Base: describeSet(base), Cur: describeSet(cur), BaseRuns: len(base), NewRuns: len(cur),
		Confidence: o.Confidence, MaxRegression: maxRegression, MaxHitRateDrop: o.MaxHitRateDrop,
		BaseHostLate: hostLate(base), NewHostLate: hostLate(cur)}
	diffs := c.loadChecks(base, cur)
	if len(diffs) > 0 {
		if !o.Force {
			return Comparison{}, &IncomparableError{Differences: diffs}
		}
		c.Warnings = diffs
	}
	byRuns := len(base) >= minSetRuns && len(cur) >= minSetRuns
	if byRuns {
		c.Method = fmt.Sprintf("over runs (%d base, %d new): each row compares the medians of the runs; the interval is a bootstrap over runs, the p-value a Mann-Whitney rank-sum test by exact permutation", len(base), len(cur))
	} else {
		c.Method = fmt.Sprintf("over recorded seconds (%d base, %d new): change, interval and p-value are of the per-second figure (the median over seconds of a latency percentile, per-second sums for a rate), by Welch's t-test whose variance is the spread between blocks of each run's seconds (a run's level taken to vary from run to run as much as between its own blocks); base and new show the runs' overall figures", windowCount(base), windowCount(cur))
	}
	cp := comparer{o: o, byRuns: byRuns, base: base, cur: cur}
	for _, m := range result.Metrics() {
		switch {
		case m.Compare == nil:
		case m.Name == result.MetricHitRate:
			for _, r := range cp.hitRateRows(m) {
				c.add(r)
			}
		default:
			if row, ok := cp.row(specOf(m)); ok {
				c.add(row)
			}
		}
	}
	for _, r := range cp.familyRows() {
		c.add(r)
	}
	c.compareFaults(medianFaults(base), medianFaults(cur), [2]float64{medianRequests(base), medianRequests(cur)}, maxRegression)
	c.add(verdictRow(base, cur))
	c.Inconclusive = !c.Regressed && slices.ContainsFunc(c.Rows, func(r CompareRow) bool { return r.Verdict == CompareInconclusive })
	return c, nil
}

// loadChecks lists what makes the sides runs of different loads, and
// sets the change under test: the values the sides set differently on the
// command line. With set values in play the resolved scenarios must agree
// but at the set paths, and what the change itself moved (active users,
// recorded seconds) is compared, not refused.
func (c *Comparison) loadChecks(base, cur []*result.Result) []string {
	var diffs []string
	for _, side := range [][]*result.Result{base, cur} {
		for _, r := range side[1:] {
			for _, d := range LoadDifferences(side[0], r) {
				diffs = append(diffs, "within a side: "+d)
			}
			if d := overridesDiffer(side[0], r); d != "" {
				diffs = append(diffs, "within a side: "+d)
			}
		}
	}
	b, n := base[0], cur[0]
	var other []string
	if len(b.Scenario.Overrides)+len(n.Scenario.Overrides) > 0 {
		c.Changes = settingChanges(b, n)
		if other = otherSettings(b, n); len(other) > 0 {
			diffs = append(diffs, "scenario settings other than the set values differ: "+strings.Join(other, ", "))
		}
	}
	for _, d := range loadDiffs(b, n) {
		if d.moved && len(c.Changes) > 0 && len(other) == 0 {
			c.Moved = append(c.Moved, d.text)
			continue
		}
		diffs = append(diffs, d.text)
	}
	return diffs
}

// comparer holds what every row of one comparison shares.
type comparer struct {
	o         CompareOptions
	byRuns    bool
	base, cur []*result.Result
}

// values are a side's per-run figures of a metric, and whether every run
// has one.
func values(rs []*result.Result, get func(*result.Result) (float64, bool)) ([]float64, bool) {
	var v []float64
	for _, r := range rs {
		x, ok := get(r)
		if !ok {
			return nil, false
		}
		v = append(v, x)
	}
	return v, true
}

// sideText is a side's figure as shown: the single run's, or the median of
// the runs'.
func sideText(v []float64, unit string) (float64, string) {
	m := result.Median(v)
	t := result.FormatValue(m, unit)
	if len(v) > 1 {
		t = "median " + t
	}
	return m, t
}

func (cp comparer) row(s compareSpec) (CompareRow, bool) {
	bv, bok := values(cp.base, s.get)
	cv, cok := values(cp.cur, s.get)
	if !bok && !cok {
		return CompareRow{}, false
	}
	row := CompareRow{Metric: s.name, Unit: s.unit, Better: s.better}
	row.Base, row.BaseText = sideText(bv, s.unit)
	row.Cur, row.CurText = sideText(cv, s.unit)
	if !bok || !cok {
		row = missingRow(row, bok)
		if s.rule.Info {
			// Not gated, not even by its absence.
			row.Regressed, row.Verdict, row.Note = false, CompareNotGated, "in one report only; not gated"
		}
		return row, true
	}
	if s.rule.Strict {
		// Lost data is never noise: the worst run of the new side against
		// the worst of the base.
		bm, cm := slices.Max(bv), slices.Max(cv)
		row.Change = relChange(bm, cm)
		row.Regressed = cm > bm
		row.Verdict = CompareNoChange
		if row.Regressed {
			row.Verdict, row.Note = CompareRegressed, "any increase regresses (worst run of each side)"
		}
		return row, true
	}
	if s.rule.Info {
		row.Change = relChange(row.Base, row.Cur)
		row.Verdict = CompareNotGated
		if s.worse(row.Base, row.Cur, cp.o.MaxRegression) || (s.rule.Why != "" && row.Base != row.Cur) {
			row.Note = "not gated: one sample"
			if s.rule.Why != "" {
				row.Note = s.rule.Why
			}
		}
		return row, true
	}
	t, ok := cp.test(s, bv, cv)
	if !ok {
		// Single runs without a per-second value: the change is shown,
		// but nothing says whether it is more than noise.
		row.Change = relChange(row.Base, row.Cur)
		row.Verdict = CompareNoChange
		switch {
		case s.worse(row.Base, row.Cur, cp.o.MaxRegression):
			row.Verdict, row.Note = CompareInconclusive, "not testable from single runs' seconds (no per-second figure, or too few seconds); compare sets of runs"
		case s.betterBy(row.Base, row.Cur, cp.o.MaxRegression):
			row.Note = "better beyond the tolerance, not tested: no per-second figure"
		}
		return row, true
	}
	cp.judge(&row, s, t, cp.o.MaxRegression, false)
	return row, true
}

// test runs the metric's test: over runs, or over the seconds.
func (cp comparer) test(s compareSpec, bv, cv []float64) (testResult, bool) {
	if cp.byRuns {
		return testRuns(bv, cv, cp.o.Confidence, cp.o.Resamples), true
	}
	if s.win == nil {
		return testResult{}, false
	}
	t := testWindows(sideWindows(cp.base, s.win), sideWindows(cp.cur, s.win), s.kind, cp.o.Confidence)
	return t, t.tested
}

// sideWindows are every run's recorded seconds as the metric reads them.
func sideWindows(rs []*result.Result, f func(timedRow) (window, bool)) [][]window {
	out := make([][]window, len(rs))
	for i, r := range rs {
		for _, w := range recordedWindows(r) {
			if v, ok := f(w); ok {
				out[i] = append(out[i], v)
			}
		}
	}
	return out
}

func windowCount(rs []*result.Result) int {
	n := 0
	for _, r := range rs {
		n += len(recordedWindows(r))
	}
	return n
}

// judge sets a tested row's change, interval, p-value and verdict. points
// judges the absolute difference against the tolerance (the hit rate by
// points) instead of the relative change.
func (cp comparer) judge(row *CompareRow, s compareSpec, t testResult, tol float64, points bool) {
	alpha := 1 - cp.o.Confidence
	b, c := t.base, t.cur
	d := c - b
	if !cp.byRuns {
		row.BaseStat, row.CurStat = &b, &c
	}
	if b == 0 && c == 0 && t.low == 0 && t.high == 0 {
		// Nothing on either side (no errors, no drops): nothing to test.
		row.Verdict = CompareNoChange
		return
	}
	p := t.p
	row.P = &p
	row.Change = relChange(b, c)
	iv := &result.Interval{Confidence: cp.o.Confidence, Method: t.method}
	switch {
	case points:
		iv.Low, iv.High = t.low, t.high
		iv.Method += "; absolute difference"
	case b != 0:
		// Every metric is at least 0: it cannot fall by more than 100 %.
		iv.Low, iv.High = math.Max(-1, t.low/math.Abs(b)), math.Max(-1, t.high/math.Abs(b))
		iv.Method += "; relative to the base's figure"
	default:
		iv.Low, iv.High = t.low, t.high
		iv.Method += "; absolute difference (the base's figure is 0)"
	}
	row.Interval = iv
	// The interval's ends as new values: fav is the end most favourable
	// to the new side, unfav the least. A regression must be beyond the
	// tolerance even at fav (decided with confidence, as a target fails
	// only when broken at its interval's favourable end); a change whose
	// estimate is beyond it but not its favourable end is inconclusive.
	fav, unfav := c+t.low-d, c+t.high-d
	if s.better == "higher" || points {
		fav, unfav = unfav, fav
	}
	worseBy := func(v float64) bool { // v is worse than b beyond the tolerance
		if points {
			return b-v > tol+1e-12
		}
		return s.worse(b, v, tol)
	}
	betterBy := func(v float64) bool { // v is better than b beyond the tolerance
		if points {
			return v-b > tol+1e-12
		}
		return s.betterBy(b, v, tol)
	}
	significant := p < alpha
	switch {
	case worseBy(fav) && significant:
		// Worse beyond the tolerance even at the interval's favourable
		// end: decided, unless the machine's noise reaches it.
		if why := cp.hostExplains(s, b, c); why != "" {
			row.Verdict, row.Note = CompareInconclusive, why
			return
		}
		row.Verdict, row.Regressed = CompareRegressed, true
	case betterBy(unfav) && significant:
		row.Verdict = CompareImproved
	case worseBy(c) && t.minP >= alpha:
		row.Verdict = CompareInconclusive
		row.Note = fmt.Sprintf("worse beyond the tolerance; too few runs to be significant (smallest p-value %s)", formatP(t.minP))
	case worseBy(c) && !significant:
		row.Verdict = CompareInconclusive
		row.Note = fmt.Sprintf("worse beyond the tolerance but not significant (p %s)", formatP(p))
	case worseBy(c):
		row.Verdict = CompareInconclusive
		row.Note = "worse beyond the tolerance, but not at the interval's favourable end"
	default:
		row.Verdict = CompareNoChange
		if significant && b != c {
			row.Note = "changed within the tolerance"
		}
	}
}

func flip(better string) string {
	if better == "higher" {
		return "lower"
	}
	return "higher"
}

// hostExplains says why the machine's own noise, as the host timer probe
// measured it on the new side, could account for a latency or late-start
// regression ("" when it could not): a latency percentile q that rose by no
// more than the lateness the probe saw in enough of its wake-ups to reach q
// (hostReachMs), or a late-start rate within result.HostWakesPerStart times the
// probe's late share. Such a change is not the cache's, nor proven not to
// be: the row is inconclusive.
func (cp comparer) hostExplains(s compareSpec, b, c float64) string {
	if s.rule.LateStart {
		lf := hostLate(cp.cur)
		if lf != nil && *lf > 0 && c <= result.HostWakesPerStart*(*lf) {
			return fmt.Sprintf("within the machine's noise: the host timer probe woke %s%% of its sleeps over 1 ms late on the new side",
				formatNum(round(100*(*lf), 2)))
		}
		return ""
	}
	q := s.rule.Quantile
	if q == 0 || s.unit != result.UnitMs {
		return ""
	}
	var reach []float64
	for _, r := range cp.cur {
		reach = append(reach, hostReachMs(r.Client.HostTimer, q))
	}
	if rm := result.Median(reach); rm > 0 && c-b <= rm {
		return fmt.Sprintf("within the machine's noise: +%s ms, and the host timer probe on the new side was late by more than %s ms in enough wake-ups to move a p%s by up to %s ms",
			formatNum(round(c-b, 3)), formatNum(round(rm/result.HostWakesPerStart, 3)), formatNum(round(q*100, 1)), formatNum(round(rm, 3)))
	}
	return ""
}

// hostLate is the median host timer late share of a side's runs; nil when
// no run measured it.
func hostLate(rs []*result.Result) *float64 {
	var v []float64
	for _, r := range rs {
		if h := r.Client.HostTimer; h != nil && h.Wakes > 0 {
			v = append(v, h.LateFraction)
		}
	}
	if len(v) == 0 {
		return nil
	}
	m := result.Median(v)
	return &m
}

func formatP(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// missingRow marks a metric one side has and the other has not. Missing
// in the new side is a regression: what the base measured, the new run did
// not (no operations ran, no lookups, no latency), and no data must never
// pass a gate.
func missingRow(row CompareRow, inBase bool) CompareRow {
	if inBase {
		row.CurText, row.Cur = "n/a", 0
		row.Regressed, row.Verdict = true, CompareRegressed
		row.Note = "no data in the new report"
		return row
	}
	row.BaseText, row.Base = "n/a", 0
	row.Verdict = CompareNoChange
	row.Note = "not in the base report"
	return row
}

// hitRateRows are the hit_rate and miss_rate rows. By default the miss
// rate gates, relative like every other metric: at a 95 % hit rate, falling
// to 94 % sends 20 % more lookups to the origin, which a 10 % tolerance on
// the hit rate itself (a 1 % change) would never catch. With MaxHitRateDrop
// the hit rate gates on its drop in points instead.
func (cp comparer) hitRateRows(m result.Metric) []CompareRow {
	hitSpec := specOf(m)
	missSpec := hitSpec
	missSpec.name, missSpec.better, missSpec.rule = "miss_rate", flip(m.Better), result.MissRateCompare
	missSpec.get = func(r *result.Result) (float64, bool) { h, ok := hitSpec.get(r); return 1 - h, ok }
	missSpec.win = func(w timedRow) (window, bool) {
		v, weight, ok := result.MissRateCompare.PerSecond(w.TimelineRow, w.dt)
		return window{v, weight}, ok
	}
	bh, bok := values(cp.base, hitSpec.get)
	ch, cok := values(cp.cur, hitSpec.get)
	if !bok && !cok {
		return nil
	}
	hit := CompareRow{Metric: hitSpec.name, Unit: hitSpec.unit, Better: hitSpec.better}
	hit.Base, hit.BaseText = sideText(bh, hit.Unit)
	hit.Cur, hit.CurText = sideText(ch, hit.Unit)
	if !bok || !cok {
		return []CompareRow{missingRow(hit, bok)}
	}
	bm, _ := values(cp.base, missSpec.get)
	cm, _ := values(cp.cur, missSpec.get)
	miss := CompareRow{Metric: missSpec.name, Unit: missSpec.unit, Better: missSpec.better}
	miss.Base, miss.BaseText = sideText(bm, miss.Unit)
	miss.Cur, miss.CurText = sideText(cm, miss.Unit)
	ht, hok := cp.test(hitSpec, bh, ch)
	mt, mok := cp.test(missSpec, bm, cm)
	if !hok || !mok {
		hit.Change, miss.Change = relChange(hit.Base, hit.Cur), relChange(miss.Base, miss.Cur)
		hit.Verdict, miss.Verdict = CompareNotGated, CompareInconclusive
		miss.Note = "no per-second figure to test it on"
		return []CompareRow{hit, miss}
	}
	if d := cp.o.MaxHitRateDrop; d != nil {
		cp.judge(&hit, hitSpec, ht, *d, true)
		if hit.Regressed {
			hit.Note = fmt.Sprintf("dropped %s points, more than %s", formatNum(round((ht.base-ht.cur)*100, 2)), formatNum(round(*d*100, 2)))
		}
		cp.judge(&miss, missSpec, mt, cp.o.MaxRegression, false)
		if miss.Verdict == CompareRegressed || miss.Verdict == CompareInconclusive {
			miss.Note = "not gated: the hit rate is gated by points"
		}
		miss.Verdict, miss.Regressed = CompareNotGated, false
		return []CompareRow{hit, miss}
	}
	cp.judge(&miss, missSpec, mt, cp.o.MaxRegression, false)
	cp.judge(&hit, hitSpec, ht, cp.o.MaxRegression, false)
	hit.Verdict, hit.Regressed = CompareNotGated, false
	hit.Note = ""
	if hit.Cur < hit.Base {
		hit.Note = "gated through miss_rate"
	}
	return []CompareRow{hit, miss}
}

func (c *Comparison) add(row CompareRow) {
	if row.Verdict == "" {
		switch {
		case row.Regressed:
			row.Verdict = CompareRegressed
		case row.Unit != "":
			row.Verdict = CompareNoChange
		}
	}
	c.Rows = append(c.Rows, row)
	c.Regressed = c.Regressed || row.Regressed
}

func relChange(base, cur float64) float64 {
	if base == 0 {
		if cur == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return (cur - base) / math.Abs(base)
}

// verdictRow compares the sides' verdicts, each side's targets judged
// again over all of its runs with confidence (result.JudgeAll: pass, fail
// or inconclusive from the runs' intervals and the machine's measured
// noise), so a p99 that crossed its bound by chance does not flip the row.
// A base that passed against a new side that fails regresses; against one
// that is inconclusive, the row is inconclusive.
func verdictRow(base, cur []*result.Result) CompareRow {
	bv, cv := sideVerdict(base), sideVerdict(cur)
	row := CompareRow{Metric: "verdict", BaseText: verdictText(bv, base), CurText: verdictText(cv, cur), Better: "pass", Verdict: CompareNoChange}
	switch {
	case bv == result.VerdictPass && cv == result.VerdictFail:
		row.Regressed, row.Verdict = true, CompareRegressed
		row.Note = "a target that was met is now missed"
	case bv == result.VerdictPass && cv == result.VerdictInconclusive:
		row.Verdict = CompareInconclusive
		row.Note = "a target that was met is not decided in the new runs"
	}
	return row
}

// sideVerdict is a side's verdict over its runs: its targets (the first
// run's) judged over every run.
func sideVerdict(rs []*result.Result) string {
	targets := rs[0].TargetSpecs()
	if len(targets) == 0 {
		return rs[0].Verdict
	}
	return result.VerdictOf(result.JudgeAll(rs, targets))
}

// verdictText is a side's verdict, with how many of its runs passed on
// their own when it has several.
func verdictText(v string, rs []*result.Result) string {
	if len(rs) == 1 {
		return v
	}
	n := 0
	for _, r := range rs {
		if r.Verdict == result.VerdictPass {
			n++
		}
	}
	return fmt.Sprintf("%s (%d/%d runs passed)", v, n, len(rs))
}

// medianFaults is a side's faults as one run: for a single run its own; for
// several, per position the median of each recovery time ("never" sorting
// last), the errors of the run with the median count, the most lost writes, injected only when
// every run injected it. Runs whose faults differ in kind at a position
// keep the first run's kind.
func medianFaults(rs []*result.Result) *result.Result {
	if len(rs) == 1 {
		return rs[0]
	}
	n := 0
	for _, r := range rs {
		n = max(n, len(r.Faults))
	}
	out := &result.Result{}
	for i := 0; i < n; i++ {
		var fs []result.FaultReport
		for _, r := range rs {
			if i < len(r.Faults) {
				fs = append(fs, r.Faults[i])
			}
		}
		if 2*len(fs) <= len(rs) {
			continue // in at most half the runs: not this side's fault
		}
		f := fs[0]
		f.Injected = !slices.ContainsFunc(fs, func(x result.FaultReport) bool { return !x.Injected })
		f.RecoveredAfterS = medianAfter(fs, func(x result.FaultReport) *float64 { return x.RecoveredAfterS })
		f.P99RecoveredAfterS = medianAfter(fs, func(x result.FaultReport) *float64 { return x.P99RecoveredAfterS })
		f.RewarmS = medianAfter(fs, func(x result.FaultReport) *float64 { return x.RewarmS })
		f.Rewarm90S = medianAfter(fs, func(x result.FaultReport) *float64 { return x.Rewarm90S })
		for _, x := range fs {
			f.LostWrites = max(f.LostWrites, x.LostWrites)
		}
		byErrors := slices.Clone(fs)
		slices.SortFunc(byErrors, func(a, b result.FaultReport) int { return cmp.Compare(a.Errors(), b.Errors()) })
		f.ErrorsByKind = byErrors[len(byErrors)/2].ErrorsByKind
		out.Faults = append(out.Faults, f)
	}
	return out
}

func medianAfter(fs []result.FaultReport, get func(result.FaultReport) *float64) *float64 {
	v := make([]float64, len(fs))
	for i, f := range fs {
		v[i] = math.Inf(1)
		if p := get(f); p != nil {
			v[i] = *p
		}
	}
	m := result.Median(v)
	if math.IsInf(m, 1) || math.IsNaN(m) {
		return nil
	}
	return &m
}

// compareFaults adds recovery rows per fault. A fault that recovered in base
// but never in cur is a regression whatever the tolerance, and so is a fault
// the base injected that the new run did not (absent, or its action did not
// take effect): its recovery was not measured, so it cannot have held.
func (c *Comparison) compareFaults(base, cur *result.Result, requests [2]float64, tol float64) {
	n := max(len(base.Faults), len(cur.Faults))
	for i := 0; i < n; i++ {
		var bf, cf *result.FaultReport
		if i < len(base.Faults) {
			bf = &base.Faults[i]
		}
		if i < len(cur.Faults) {
			cf = &cur.Faults[i]
		}
		kind := ""
		switch {
		case bf != nil && cf != nil && bf.Kind != cf.Kind:
			c.add(CompareRow{Metric: fmt.Sprintf("fault %d", i+1), BaseText: bf.Kind, CurText: cf.Kind, Note: "different faults; not compared"})
			continue
		case bf != nil:
			kind = bf.Kind
		default:
			kind = cf.Kind
		}
		if bf == nil || cf == nil {
			row := CompareRow{Metric: fmt.Sprintf("fault %d %s", i+1, kind), BaseText: "absent", CurText: "absent", Note: "fault only in the new report"}
			if bf != nil {
				row.BaseText = "present"
				row.Regressed = true
				row.Note = "fault not in the new report: its recovery was not measured"
			} else {
				row.CurText = "present"
			}
			c.add(row)
			continue
		}
		if bf.Injected && !cf.Injected {
			c.add(CompareRow{Metric: fmt.Sprintf("fault %d %s", i+1, kind), BaseText: "injected", CurText: "not injected", Regressed: true,
				Note: "the fault did not take effect in the new run: its recovery was not measured"})
			continue
		}
		for _, m := range []struct {
			name string
			get  func(result.FaultReport) *float64
		}{
			{"recovered_after_s", func(f result.FaultReport) *float64 { return f.RecoveredAfterS }},
			{"p99_recovered_after_s", func(f result.FaultReport) *float64 { return f.P99RecoveredAfterS }},
			{"rewarm_s", func(f result.FaultReport) *float64 { return f.RewarmS }},
			{"rewarm_90_s", func(f result.FaultReport) *float64 { return f.Rewarm90S }},
		} {
			bp, cp := m.get(*bf), m.get(*cf)
			row := CompareRow{Metric: fmt.Sprintf("fault %d %s %s", i+1, kind, m.name), Unit: result.UnitSeconds, Better: "lower",
				BaseText: afterText(bp, "never"), CurText: afterText(cp, "never")}
			switch {
			case bp == nil && cp == nil:
			case bp == nil:
				row.Cur = *cp
			case cp == nil:
				row.Base = *bp
				row.Regressed = true
				row.Note = "never recovered"
			default:
				row.Base, row.Cur = *bp, *cp
				row.Change = relChange(*bp, *cp)
				// One sampling interval (1 s) is the resolution of recovery times.
				row.Regressed = secondResolution.Worse("lower", *bp, *cp, tol)
			}
			c.add(row)
		}
		c.add(faultErrorsRow(fmt.Sprintf("fault %d %s errors", i+1, kind), float64(bf.Errors()), float64(cf.Errors()), requests, tol))
		if bf.Warming != nil || cf.Warming != nil {
			// Whether the bot re-warmed decides the dip and the re-warm
			// time: shown, so a change of warming is not read as one of
			// the cache.
			row := CompareRow{Metric: fmt.Sprintf("fault %d %s warmed", i+1, kind), BaseText: warmedText(bf.Warming), CurText: warmedText(cf.Warming)}
			if row.BaseText != row.CurText {
				row.Note = "warming differs: the recovery rows compare unlike runs"
			}
			c.add(row)
		}
		bl, cl := float64(bf.LostWrites), float64(cf.LostWrites)
		c.add(CompareRow{Metric: fmt.Sprintf("fault %d %s lost_writes", i+1, kind), Unit: result.UnitCount, Better: "lower", Base: bl, Cur: cl,
			BaseText: formatCount(bf.LostWrites), CurText: formatCount(cf.LostWrites), Change: relChange(bl, cl), Regressed: cl > bl})
	}
}

// faultErrorsRow shows a fault's errors as counts and judges them as a
// share of each side's requests (as counts when a side ran none).
func faultErrorsRow(name string, be, ce float64, requests [2]float64, tol float64) CompareRow {
	row := CompareRow{Metric: name, Unit: result.UnitCount, Better: "lower", Base: be, Cur: ce,
		BaseText: formatCount(uint64(be)), CurText: formatCount(uint64(ce)), Change: relChange(be, ce)}
	if requests[0] == 0 || requests[1] == 0 {
		row.Regressed = result.CompareRule{Floor: 1}.Worse("lower", be, ce, tol)
		return row
	}
	bs, cs := be/requests[0], ce/requests[1]
	row.Change = relChange(bs, cs)
	row.Regressed = faultErrorRule.Worse("lower", bs, cs, tol)
	if row.Regressed || bs != cs && requests[0] != requests[1] {
		row.Note = fmt.Sprintf("%s → %s of requests", formatPercent(bs), formatPercent(cs))
	}
	return row
}

// warmedText is whether the bot re-warmed after a fault ("n/a": the report
// does not say).
func warmedText(w *result.FaultWarming) string {
	switch {
	case w == nil:
		return "n/a"
	case w.Warmed:
		return "yes"
	}
	return "no"
}

func describe(r *result.Result) string {
	s := nameOr(r.Scenario.Name)
	if !r.StartedAt.IsZero() {
		s += " @ " + r.StartedAt.UTC().Format("2006-01-02 15:04")
	}
	return s
}

// describeSet names a side: its one report, or how many runs of which
// scenario, first to last start.
func describeSet(rs []*result.Result) string {
	if len(rs) == 1 {
		return describe(rs[0])
	}
	first, last := rs[0].StartedAt, rs[0].StartedAt
	for _, r := range rs {
		if r.StartedAt.Before(first) {
			first = r.StartedAt
		}
		if r.StartedAt.After(last) {
			last = r.StartedAt
		}
	}
	s := fmt.Sprintf("%d runs of %s", len(rs), nameOr(rs[0].Scenario.Name))
	if !first.IsZero() {
		s += fmt.Sprintf(" @ %s .. %s", first.UTC().Format("2006-01-02 15:04"), last.UTC().Format("2006-01-02 15:04"))
	}
	return s
}

// WriteJSON writes the comparison as indented JSON.
func (c Comparison) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// WriteTable prints the comparison as an aligned table: per row the two
// sides, the change, its interval and p-value, and the verdict.
func (c Comparison) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("base: %s\nnew:  %s\n", c.Base, c.Cur)
	for _, ch := range c.Changes {
		ew.printf("change under test: %s\n", settingChangeText(ch))
	}
	if len(c.Moved) > 0 {
		ew.printf("moved by the change (compared, not refused): %s\n", strings.Join(c.Moved, "; "))
	}
	for _, w := range c.Warnings {
		ew.printf("warning: compared despite a different load: %s\n", w)
	}
	ew.printf("tested %s; %s intervals\n", c.Method, formatPercent(c.Confidence))
	ew.printf("host timer late share (the machine's noise): base %s, new %s\n", hostLateText(c.BaseHostLate), hostLateText(c.NewHostLate))
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "metric\tbase\tnew\tchange\t%s interval\tp\tverdict\t\n", formatPercent(c.Confidence))
	for _, r := range c.Rows {
		verdict := r.Verdict
		if r.Regressed {
			verdict = "REGRESSED"
		}
		if r.Note != "" {
			verdict = strings.TrimSpace(verdict + " (" + strings.TrimPrefix(r.Note, r.Verdict+": ") + ")")
		}
		p := ""
		if r.P != nil {
			p = formatP(*r.P)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Metric, r.BaseText, r.CurText, changeText(r), compareIntervalText(r), p, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n, inc := 0, 0
	for _, r := range c.Rows {
		if r.Regressed {
			n++
		}
		if r.Verdict == CompareInconclusive {
			inc++
		}
	}
	tol := formatPercent(c.MaxRegression)
	if c.MaxHitRateDrop != nil {
		tol += fmt.Sprintf(" (hit rate: %s points)", formatNum(round(*c.MaxHitRateDrop*100, 2)))
	}
	switch {
	case c.Regressed:
		ew.printf("\nREGRESSION: %d metric(s) worse than base beyond %s and significant\n", n, tol)
	case c.Inconclusive:
		ew.printf("\nINCONCLUSIVE: no significant regression beyond %s; %d metric(s) could not be decided (more runs decide them)\n", tol, inc)
	default:
		ew.printf("\nno regression beyond %s\n", tol)
	}
	return ew.err
}

// compareIntervalText is a row's interval as shown: relative changes as signed
// percentages, the hit rate's points as points.
func compareIntervalText(r CompareRow) string {
	iv := r.Interval
	if iv == nil {
		return ""
	}
	f := func(v float64) string {
		sign := "+"
		if v < 0 {
			sign = ""
		}
		if strings.Contains(iv.Method, "absolute") {
			if r.Unit == result.UnitFraction {
				return sign + formatNum(round(v*100, 2)) + "pt"
			}
			return sign + result.FormatValue(v, r.Unit)
		}
		return sign + formatNum(round(v*100, 1)) + "%"
	}
	return "[" + f(iv.Low) + ", " + f(iv.High) + "]"
}

func changeText(r CompareRow) string {
	if r.Unit == "" || r.BaseText == "n/a" || r.CurText == "n/a" {
		return ""
	}
	if r.Change == 0 {
		return "="
	}
	if math.IsInf(r.Change, 0) {
		return "new"
	}
	sign := "+"
	if r.Change < 0 {
		sign = ""
	}
	return sign + formatNum(round(r.Change*100, 1)) + "%"
}
