package result

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// How a target is decided with confidence.
//
// A run's p99 is one sample of a noisy machine: the same binary at the same
// load has given 0.49 to 7.0 ms here. A gate that compares that one figure
// with its bound flips with nothing changed, so every target is judged from
// an interval, as the design's "decisions are three-valued" asks:
//
//   - PASS when the bound holds at the interval's unfavourable end (the
//     high end of a latency, the low end of a hit rate),
//   - FAIL when it is broken at the favourable end,
//   - INCONCLUSIVE otherwise, and when a latency miss is explained by the
//     machine's own measured noise (noise.go).
//
// Where the interval comes from:
//
//   - one run: a moving-block bootstrap over its recorded one-second
//     windows (timeline rows). Blocks of about n^(1/3) seconds keep the
//     stalls that span several seconds together, which an i.i.d. resample
//     of seconds would scatter and so understate. Each replicate merges
//     the resampled windows' latency (WindowHist) or sums their hits and
//     misses and recomputes the metric; the 2.5th and 97.5th percentiles
//     of 1,000 replicates, shifted (fractions) or scaled (latencies) onto
//     the exact whole-run figure, are the interval.
//   - several runs (run --repeat): the observed value is the median of
//     the runs' values and its interval a two-level bootstrap: resample the
//     runs with replacement, block-resample each drawn run's windows, take
//     the median of the drawn runs' values. With few runs the within-run
//     resampling is the second source of variance; with many, the spread
//     between runs dominates, as it should.
//   - metrics the timeline cannot rebuild (counts of events, per-tier and
//     per-family figures, fault recovery times) have no within-run
//     interval: a count of pool timeouts is a fact of the run, not an
//     estimate. Over several runs their interval is the bootstrap of the
//     median over the runs' values.
//   - hit rates are judged exact within a run too, although the timeline
//     could rebuild them. The workload is seeded: the same scenario draws
//     the same users, keys and sizes every run, so its hit rate repeats to
//     ±0.03 points run to run (four baseline runs here), while resampling
//     its seconds gives ±0.3: the per-second spread is the workload's own
//     variation over time (sessions churning, keys expiring in waves), not
//     noise a re-run would show, and an interval from it would call every
//     baseline (95.1 % against 95 %) inconclusive however often it is run.
//     Latency is different: its per-second spread is the machine's, which
//     is exactly what differs between runs. Over several runs a hit rate's
//     interval is the bootstrap over the runs, which shows a real
//     dependence on the machine (lookup errors under stalls) when there is
//     one.
//
// The bootstrap's random source is seeded from the target's name, so the
// same report re-rendered gives the same intervals.

// ConfidenceLevel is the two-sided coverage of every target's interval.
const ConfidenceLevel = 0.95

// bootstrapReplicates is how many resamples an interval is read from. The
// percentiles at 2.5 % and 97.5 % of 1,000 replicates move by about 1 % of
// the interval's width between seeds, far below what they decide.
const bootstrapReplicates = 1000

// minWindows is the fewest windows with data a run needs for a within-run
// interval: fewer cannot show a spread over time.
const minWindows = 5

// windowStat computes a metric over a multiset of timeline rows; ok is
// false when they hold no data for it.
type windowStat func(rows []*TimelineRow, acc *windowAcc) (float64, bool)

// latencyWindow is the latency quantile named qn ("p99", "mean") of the
// rows' merged per-window histograms.
func latencyWindow(qn string) windowStat {
	level, isQuantile := quantileLevels[qn]
	return func(rows []*TimelineRow, acc *windowAcc) (float64, bool) {
		acc.reset()
		for _, r := range rows {
			acc.add(r.LatencyHist)
		}
		if isQuantile {
			return acc.quantile(level)
		}
		return acc.mean()
	}
}

// recordedRows are the timeline rows of recorded phases, the windows the
// targets judge.
func (r *Result) recordedRows() []*TimelineRow {
	recorded := map[string]bool{}
	for _, p := range r.Phases {
		if p.Recorded {
			recorded[p.Name] = true
		}
	}
	var rows []*TimelineRow
	for i := range r.Timeline {
		row := &r.Timeline[i]
		if len(recorded) == 0 || recorded[row.Phase] {
			rows = append(rows, row)
		}
	}
	return rows
}

// runSample is one run's side of a target: its exact value and, where the
// metric can be rebuilt from windows, the windows to resample.
type runSample struct {
	value float64
	rows  []*TimelineRow
	full  float64 // the metric over all rows (the resampling's centre)
}

// newRunSample prepares a run for resampling; rows is nil when the metric
// has no window form or the run too few windows with data.
func newRunSample(r *Result, m Metric, value float64, acc *windowAcc) runSample {
	s := runSample{value: value}
	if m.window == nil {
		return s
	}
	var rows []*TimelineRow
	for _, row := range r.recordedRows() {
		if _, ok := m.window([]*TimelineRow{row}, acc); ok {
			rows = append(rows, row)
		}
	}
	if len(rows) < minWindows {
		return s
	}
	full, ok := m.window(rows, acc)
	if !ok || (m.Unit == UnitMs && full <= 0) {
		return s
	}
	s.rows, s.full = rows, full
	return s
}

// blockLen is the moving-block bootstrap's block length for n windows.
func blockLen(n int) int {
	return max(1, int(math.Round(math.Cbrt(float64(n)))))
}

// resample returns one bootstrap replicate of the run's value.
func (s runSample) resample(m Metric, rng *rand.Rand, acc *windowAcc, buf []*TimelineRow) (float64, []*TimelineRow) {
	if s.rows == nil {
		return s.value, buf
	}
	n := len(s.rows)
	L := blockLen(n)
	buf = buf[:0]
	for len(buf) < n {
		start := rng.IntN(n - L + 1)
		buf = append(buf, s.rows[start:start+L]...)
	}
	buf = buf[:n]
	v, ok := m.window(buf, acc)
	if !ok {
		return s.value, buf
	}
	// Centre the replicate on the exact figure: a latency scales (the
	// window histograms' 4 % buckets shift the whole distribution alike), a
	// fraction shifts.
	if m.Unit == UnitMs {
		return v * s.value / s.full, buf
	}
	return math.Min(1, math.Max(0, v+s.value-s.full)), buf
}

// interval bootstraps the median of the runs' values. ok is false when no
// source of variance exists (one run without windows).
func interval(name string, m Metric, samples []runSample, acc *windowAcc) (*Interval, bool) {
	withRows := 0
	for _, s := range samples {
		if s.rows != nil {
			withRows++
		}
	}
	if len(samples) == 1 && withRows == 0 {
		return nil, false
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(h.Sum64(), uint64(len(samples))))
	reps := make([]float64, bootstrapReplicates)
	vals := make([]float64, len(samples))
	var buf []*TimelineRow
	for i := range reps {
		for j := range vals {
			s := samples[j]
			if len(samples) > 1 {
				s = samples[rng.IntN(len(samples))]
			}
			vals[j], buf = s.resample(m, rng, acc, buf)
		}
		reps[i] = Median(vals)
	}
	sort.Float64s(reps)
	alpha := (1 - ConfidenceLevel) / 2
	iv := &Interval{Low: percentile(reps, alpha), High: percentile(reps, 1-alpha), Confidence: ConfidenceLevel}
	iv.Method = intervalMethod(samples, withRows)
	return iv, true
}

func intervalMethod(samples []runSample, withRows int) string {
	if len(samples) == 1 {
		n := len(samples[0].rows)
		return fmt.Sprintf("moving-block bootstrap over %d one-second windows (%d s blocks, %d replicates)", n, blockLen(n), bootstrapReplicates)
	}
	if withRows == 0 {
		return fmt.Sprintf("bootstrap of the median over %d runs (%d replicates)", len(samples), bootstrapReplicates)
	}
	return fmt.Sprintf("bootstrap of the median over %d runs, each resampled by blocks of its one-second windows (%d replicates)", len(samples), bootstrapReplicates)
}

// decide is the three-valued verdict of an expression over an interval.
func decide(e Expr, want float64, iv *Interval) string {
	lo, hi := iv.Low, iv.High
	inside := lo <= want && want <= hi && lo < hi
	switch e.Op {
	case "==":
		if e.holds(lo, want) && e.holds(hi, want) {
			return VerdictPass
		}
		if inside {
			return VerdictInconclusive
		}
		return VerdictFail
	case "!=":
		if inside {
			return VerdictInconclusive
		}
		if e.holds(lo, want) && e.holds(hi, want) {
			return VerdictPass
		}
		return VerdictFail
	}
	atLo, atHi := e.holds(lo, want), e.holds(hi, want)
	switch {
	case atLo && atHi:
		return VerdictPass
	case !atLo && !atHi:
		return VerdictFail
	}
	return VerdictInconclusive
}

// Judge evaluates one target over the runs of one load (a single run, or
// the runs of run --repeat) and decides it with confidence. With one run
// Observed is the run's exact figure; with several, the median of theirs,
// and Runs lists each.
func Judge(runs []*Result, t Target) TargetResult {
	per := make([]TargetResult, len(runs))
	for i, r := range runs {
		per[i] = evaluateOne(r, t)
	}
	tr := per[0]
	m, err := resolveMetric(t.Name)
	want, werr := 0.0, error(nil)
	if err == nil && t.err == nil {
		want, werr = t.Expr.in(m.Unit)
	}
	if err != nil || t.err != nil || werr != nil {
		tr.Verdict, tr.Pass = VerdictFail, false
		return tr
	}
	if m.everyRun {
		// The worst run decides: every run must keep it.
		worst := 0
		for i, p := range per {
			if !p.Pass {
				if len(runs) > 1 {
					p.Detail = fmt.Sprintf("run %d: %s", i+1, p.Detail)
				}
				p.Verdict = VerdictFail
				return p
			}
			if p.Observed > per[worst].Observed {
				worst = i
			}
		}
		tr = per[worst]
		if len(runs) > 1 {
			tr.Runs = make([]float64, len(per))
			for i, p := range per {
				tr.Runs[i] = p.Observed
			}
		}
		tr.Verdict, tr.Pass = VerdictPass, true
		return tr
	}
	for i, p := range per {
		if p.ObservedText == "no data" {
			if len(runs) > 1 {
				tr.Detail = fmt.Sprintf("run %d: %s", i+1, p.Detail)
				tr.ObservedText = "no data"
			}
			tr.Verdict, tr.Pass = VerdictFail, false
			return tr
		}
	}
	if len(runs) > 1 {
		tr.Runs = make([]float64, len(per))
		var details []string
		for i, p := range per {
			tr.Runs[i] = p.Observed
			if p.Detail != "" {
				details = append(details, fmt.Sprintf("run %d: %s", i+1, p.Detail))
			}
		}
		tr.Observed = Median(tr.Runs)
		tr.ObservedText = FormatValue(tr.Observed, m.Unit)
		tr.Detail = strings.Join(details, "; ")
	} else if strings.HasPrefix(tr.ObservedText, "≥") {
		// A lower bound (a fault that never recovered) is decided as
		// evaluateOne decided it: only lower-bound expressions can hold.
		tr.Verdict = verdictOfPass(tr.Pass)
		return tr
	}

	var acc windowAcc
	samples := make([]runSample, len(runs))
	for i, r := range runs {
		samples[i] = newRunSample(r, m, per[i].Observed, &acc)
	}
	if iv, ok := interval(t.Name, m, samples, &acc); ok {
		iv.Low, iv.High = math.Min(iv.Low, tr.Observed), math.Max(iv.High, tr.Observed)
		iv.Low, iv.High = roundFor(iv.Low, m.Unit), roundFor(iv.High, m.Unit)
		tr.Interval = iv
		tr.Verdict = decide(t.Expr, want, iv)
		if tr.Verdict == VerdictInconclusive {
			tr.Evidence = fmt.Sprintf("the bound %s lies inside the %.0f%% interval", t.Text, 100*iv.Confidence)
		}
	} else {
		tr.Verdict = verdictOfPass(t.Expr.holds(tr.Observed, want))
	}
	if tr.Verdict == VerdictFail && m.latency != "" {
		if ev, ok := noiseExplainsAll(runs, per, t.Expr, want, m.latency); ok {
			tr.Verdict, tr.Evidence = VerdictInconclusive, ev
		}
	}
	tr.Pass = tr.Verdict == VerdictPass
	return tr
}

func verdictOfPass(pass bool) string {
	if pass {
		return VerdictPass
	}
	return VerdictFail
}

// roundFor keeps an interval end at the precision its unit is reported in.
func roundFor(v float64, unit string) float64 {
	switch unit {
	case UnitMs:
		return roundMs(v)
	case UnitFraction:
		return math.Round(v*1e6) / 1e6
	}
	return math.Round(v*1000) / 1000
}

// JudgeAll decides every target over the runs. A run that planned faults
// is also judged on "faults_not_injected == 0" (FaultsNotInjected), added
// after the given targets unless they name it: whatever the scenario
// promises, a fault that did not happen fails the run.
func JudgeAll(runs []*Result, targets []Target) []TargetResult {
	out := make([]TargetResult, 0, len(targets)+1)
	named := false
	for _, t := range targets {
		out = append(out, Judge(runs, t))
		named = named || t.Name == FaultsNotInjected
	}
	if !named && slices.ContainsFunc(runs, func(r *Result) bool { return len(r.Faults) > 0 }) {
		t, _ := ParseTarget(TargetSpec{Name: FaultsNotInjected, Expr: "== 0"})
		out = append(out, Judge(runs, t))
	}
	return out
}

// VerdictOf is a run's verdict from its targets: fail when any failed,
// else inconclusive when any was not decided, else pass.
func VerdictOf(targets []TargetResult) string {
	v := VerdictPass
	for _, t := range targets {
		switch t.Outcome() {
		case VerdictFail:
			return VerdictFail
		case VerdictInconclusive:
			v = VerdictInconclusive
		}
	}
	return v
}

// Outcome is the target's verdict (pass, fail or inconclusive), falling
// back to Pass for reports written before targets had one: the one rule
// every reader of a stored report uses.
func (t TargetResult) Outcome() string {
	switch t.Verdict {
	case VerdictPass, VerdictFail, VerdictInconclusive:
		return t.Verdict
	}
	return verdictOfPass(t.Pass)
}
