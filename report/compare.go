package report

import (
	"fmt"
	"io"
	"math"
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
}

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
	var d []string
	if base.Scenario.Name != cur.Scenario.Name {
		d = append(d, fmt.Sprintf("scenario %q vs %q", base.Scenario.Name, cur.Scenario.Name))
	}
	if base.Scenario.Seed != cur.Scenario.Seed {
		d = append(d, fmt.Sprintf("seed %d vs %d", base.Scenario.Seed, cur.Scenario.Seed))
	}
	ba, ca := float64(base.Users.Active), float64(cur.Users.Active)
	if math.Abs(ba-ca) > math.Max(1, activeTolerance*math.Max(ba, ca)) {
		d = append(d, fmt.Sprintf("active users %s vs %s", formatCount(uint64(base.Users.Active)), formatCount(uint64(cur.Users.Active))))
	}
	bs, cs := base.RecordedSeconds(), cur.RecordedSeconds()
	if math.Abs(bs-cs) > math.Max(1, recordedTolerance*math.Max(bs, cs)) {
		d = append(d, fmt.Sprintf("recorded %s vs %s", formatSeconds(bs), formatSeconds(cs)))
	}
	return d
}

// CompareRow is one metric of two reports side by side. Change is relative
// ((cur-base)/base); Regressed is set when the metric got worse by more than
// the tolerance and by more than the metric's noise floor.
type CompareRow struct {
	Metric    string  `json:"metric"`
	Unit      string  `json:"unit"`
	Base      float64 `json:"base"`
	Cur       float64 `json:"cur"`
	BaseText  string  `json:"base_text"`
	CurText   string  `json:"cur_text"`
	Change    float64 `json:"change"`
	Better    string  `json:"better"` // "lower" or "higher"
	Regressed bool    `json:"regressed"`
	Note      string  `json:"note,omitempty"`
}

// Comparison is the result of Compare.
type Comparison struct {
	Base, Cur      string // scenario names (and start times) of the two reports
	MaxRegression  float64
	MaxHitRateDrop *float64
	Rows           []CompareRow
	Regressed      bool
	// Warnings are the load differences a forced comparison went past.
	Warnings []string
}

// compareSpec says how a metric is compared. floor is the smallest absolute
// change that counts as a regression (below it, differences are noise of the
// measurement: one histogram bucket, one sampling second, one event);
// strict metrics regress on any increase (lost data is never noise).
type compareSpec struct {
	name   string
	unit   string
	better string
	floor  float64
	strict bool
	// info rows are shown but never gate: the maximum is one sample, and a
	// pipeline that fails on it fails on noise. why says so on a row that
	// got worse (default: one sample).
	info bool
	why  string
	get  func(*result.Result) (float64, bool)
}

// layerGetter reads a figure of the layer section from a run that has one
// (and, when looked is set, in which some of what it counts happened).
func layerGetter(f func(*result.LayerReport) uint64, looked func(*result.LayerReport) uint64) func(*result.Result) (float64, bool) {
	return func(r *result.Result) (float64, bool) {
		l := r.Layer
		if l == nil || r.Users.Requests == 0 || (looked != nil && looked(l) == 0) {
			return 0, false
		}
		return float64(f(l)), true
	}
}

func summaryGetter(pick func(*result.Result) result.Summary, q func(result.Summary) float64) func(*result.Result) (float64, bool) {
	return func(r *result.Result) (float64, bool) {
		s := pick(r)
		return q(s), s.Count > 0
	}
}

// countGetter reads a count only from a run in which operations ran (and,
// when looked is set, in which some of what it counts was looked at): zero
// errors of zero operations is no data, and no data where the base had some
// is a regression.
func countGetter(f func(*result.Result) uint64, looked func(*result.Result) uint64) func(*result.Result) (float64, bool) {
	return func(r *result.Result) (float64, bool) {
		ok := r.Users.Requests > 0 && (looked == nil || looked(r) > 0)
		return float64(f(r)), ok
	}
}

// judgedHitRate is the hit rate targets judge: failed lookups did not hit.
func judgedHitRate(r *result.Result) (float64, bool) {
	c := r.Cache
	return result.LookupHitRate(c.Hits, c.Misses, c.LookupErrors), c.Hits+c.Misses+c.LookupErrors > 0
}

func compareSpecs() []compareSpec {
	overall := func(r *result.Result) result.Summary { return r.Latency.Overall }
	service := func(r *result.Result) result.Summary { return r.Latency.Service }
	specs := []compareSpec{}
	for _, q := range []string{"p50", "p90", "p99", "p999", "max"} {
		specs = append(specs, compareSpec{name: "latency_" + q, unit: result.UnitMs, better: "lower", floor: 0.01, info: q == "max", get: summaryGetter(overall, func(s result.Summary) float64 { return s.Quantile(q) })})
	}
	specs = append(specs,
		compareSpec{name: "service_p99", unit: result.UnitMs, better: "lower", floor: 0.01, get: summaryGetter(service, func(s result.Summary) float64 { return s.P99 })},
		compareSpec{name: "error_rate", unit: result.UnitFraction, better: "lower", floor: 0.0001, get: func(r *result.Result) (float64, bool) {
			if r.Users.Requests == 0 {
				return 0, false
			}
			return float64(r.TotalErrors()) / float64(r.Users.Requests), true
		}},
		compareSpec{name: "errors", unit: result.UnitCount, better: "lower", floor: 1, get: countGetter(func(r *result.Result) uint64 { return r.TotalErrors() }, nil)},
		compareSpec{name: "pool_timeouts", unit: result.UnitCount, better: "lower", floor: 1, get: countGetter(func(r *result.Result) uint64 { return r.Pool.Timeouts }, nil)},
		compareSpec{name: "late", unit: result.UnitCount, better: "lower", floor: 1, get: countGetter(func(r *result.Result) uint64 { return r.Users.Late }, nil)},
		compareSpec{name: "dropped", unit: result.UnitCount, better: "lower", floor: 1, get: countGetter(func(r *result.Result) uint64 { return r.Users.Dropped }, nil)},
		compareSpec{name: "abandoned", unit: result.UnitCount, better: "lower", floor: 1, get: countGetter(func(r *result.Result) uint64 { return r.Users.Abandoned }, nil)},
		compareSpec{name: "integrity_mismatches", unit: result.UnitCount, better: "lower", strict: true, get: countGetter(func(r *result.Result) uint64 { return r.Integrity.Mismatches },
			func(r *result.Result) uint64 { return r.Integrity.Checked })},
		compareSpec{name: "lost_writes", unit: result.UnitCount, better: "lower", strict: true, get: countGetter(func(r *result.Result) uint64 { return r.Integrity.LostWrites },
			func(r *result.Result) uint64 { return r.Integrity.WritesTracked })},
		compareSpec{name: "ops_per_sec", unit: result.UnitRate, better: "higher", floor: 1, get: func(r *result.Result) (float64, bool) {
			return r.OpsPerSec(), r.Users.Requests > 0 && r.RecordedSeconds() > 0
		}},
		// The layer (reports with one): a stale read served a user data an
		// update had replaced, so any increase gates, as lost writes do;
		// it is measured only where instances kept local copies. Rate-limit
		// denials and CAS conflicts follow the load's shape (how often a
		// user repeats a command, how many update one guild at once): a
		// change worth seeing, not a regression of the cache.
		compareSpec{name: "stale_reads", unit: result.UnitCount, better: "lower", strict: true, get: layerGetter(func(l *result.LayerReport) uint64 { return l.NearCache.StaleReads },
			func(l *result.LayerReport) uint64 { return l.NearCache.Hits })},
		compareSpec{name: "rate_limit_denied", unit: result.UnitCount, better: "lower", info: true, why: "not gated: follows the load's repeat rate",
			get: layerGetter(func(l *result.LayerReport) uint64 { return l.RateLimit.Denied }, nil)},
		compareSpec{name: "cas_conflicts", unit: result.UnitCount, better: "lower", info: true, why: "not gated: follows the load's contention",
			get: layerGetter(func(l *result.LayerReport) uint64 { return l.CAS.Conflicts }, nil)},
		compareSpec{name: "cas_gave_up", unit: result.UnitCount, better: "lower", info: true, why: "not gated: follows the load's contention",
			get: layerGetter(func(l *result.LayerReport) uint64 { return l.CAS.GaveUp }, nil)},
	)
	return specs
}

// hitRateNoiseFloor is the smallest change of the hit or miss rate (in
// fractions: 0.05 percentage points) that counts: below it, two runs of one
// load differ by chance.
const hitRateNoiseFloor = 0.0005

// Compare is CompareWith with a relative tolerance and nothing else set.
func Compare(base, cur *result.Result, maxRegression float64) (Comparison, error) {
	return CompareWith(base, cur, CompareOptions{MaxRegression: maxRegression})
}

// CompareWith puts base and cur side by side: latency percentiles, hit and
// miss rate, errors, pool timeouts, integrity, throughput, and recovery per
// fault (faults are matched by position and kind). cur regresses when a
// metric is worse than base by more than o.MaxRegression relative, and by
// more than the metric's noise floor; the hit rate through its miss rate (or
// by points, with o.MaxHitRateDrop); lost writes and integrity mismatches on
// any increase; a metric or fault the base measured and cur did not, and a
// pass turning into a fail, always. Reports of different loads are refused
// with an *IncomparableError unless o.Force is set.
func CompareWith(base, cur *result.Result, o CompareOptions) (Comparison, error) {
	if base == nil || cur == nil {
		return Comparison{}, fmt.Errorf("compare: nil report")
	}
	maxRegression := o.MaxRegression
	if maxRegression < 0 || math.IsNaN(maxRegression) {
		return Comparison{}, fmt.Errorf("compare: max regression must be >= 0, got %v", maxRegression)
	}
	if d := o.MaxHitRateDrop; d != nil && (*d < 0 || *d > 1 || math.IsNaN(*d)) {
		return Comparison{}, fmt.Errorf("compare: max hit rate drop must be between 0 and 1 (100 points), got %v", *d)
	}
	c := Comparison{Base: describe(base), Cur: describe(cur), MaxRegression: maxRegression, MaxHitRateDrop: o.MaxHitRateDrop}
	if d := LoadDifferences(base, cur); len(d) > 0 {
		if !o.Force {
			return Comparison{}, &IncomparableError{Differences: d}
		}
		c.Warnings = d
	}
	for _, s := range compareSpecs() {
		if s.name == "error_rate" {
			// The hit rate sits after the latencies, before the errors.
			c.compareHitRate(base, cur, o)
		}
		bv, bok := s.get(base)
		cv, cok := s.get(cur)
		if !bok && !cok {
			continue
		}
		row := CompareRow{Metric: s.name, Unit: s.unit, Base: bv, Cur: cv, Better: s.better,
			BaseText: result.FormatValue(bv, s.unit), CurText: result.FormatValue(cv, s.unit)}
		if !bok || !cok {
			if s.info {
				// Not gated, not even by its absence.
				row = missingRow(row, bok)
				row.Regressed, row.Note = false, "in one report only; not gated"
				c.add(row)
				continue
			}
			c.add(missingRow(row, bok))
			continue
		}
		row.Change = relChange(bv, cv)
		row.Regressed = !s.info && worse(s, bv, cv, maxRegression)
		if s.info && (worse(s, bv, cv, maxRegression) || (s.why != "" && bv != cv)) {
			row.Note = "not gated: one sample"
			if s.why != "" {
				row.Note = s.why
			}
		}
		c.add(row)
	}
	c.compareFaults(base, cur, maxRegression)
	verdict := CompareRow{Metric: "verdict", BaseText: base.Verdict, CurText: cur.Verdict, Better: "pass"}
	if base.Verdict == result.VerdictPass && cur.Verdict != result.VerdictPass {
		verdict.Regressed = true
		verdict.Note = "a target that was met is now missed"
	}
	c.add(verdict)
	return c, nil
}

// missingRow marks a metric one report has and the other has not. Missing
// in the new report is a regression: what the base measured, the new run did
// not (no operations ran, no lookups, no latency), and no data must never
// pass a gate.
func missingRow(row CompareRow, inBase bool) CompareRow {
	if inBase {
		row.CurText, row.Cur = "n/a", 0
		row.Regressed = true
		row.Note = "no data in the new report"
		return row
	}
	row.BaseText, row.Base = "n/a", 0
	row.Note = "not in the base report"
	return row
}

// compareHitRate adds the hit_rate and miss_rate rows. By default the miss
// rate gates, relative like every other metric: at a 95 % hit rate, falling
// to 94 % sends 20 % more lookups to the origin, which a 10 % tolerance on
// the hit rate itself (a 1 % change) would never catch. With MaxHitRateDrop
// the hit rate gates on its drop in points instead.
func (c *Comparison) compareHitRate(base, cur *result.Result, o CompareOptions) {
	bh, bok := judgedHitRate(base)
	ch, cok := judgedHitRate(cur)
	if !bok && !cok {
		return
	}
	hit := CompareRow{Metric: "hit_rate", Unit: result.UnitFraction, Better: "higher", Base: bh, Cur: ch,
		BaseText: result.FormatValue(bh, result.UnitFraction), CurText: result.FormatValue(ch, result.UnitFraction)}
	miss := CompareRow{Metric: "miss_rate", Unit: result.UnitFraction, Better: "lower", Base: 1 - bh, Cur: 1 - ch,
		BaseText: result.FormatValue(1-bh, result.UnitFraction), CurText: result.FormatValue(1-ch, result.UnitFraction)}
	if !bok || !cok {
		c.add(missingRow(hit, bok))
		return
	}
	hit.Change = relChange(bh, ch)
	miss.Change = relChange(1-bh, 1-ch)
	if d := o.MaxHitRateDrop; d != nil {
		hit.Regressed = bh-ch > *d+1e-12
		if hit.Regressed {
			hit.Note = fmt.Sprintf("dropped %s points, more than %s", formatNum(round((bh-ch)*100, 2)), formatNum(round(*d*100, 2)))
		}
		if worse(compareSpec{better: "lower", floor: hitRateNoiseFloor}, 1-bh, 1-ch, o.MaxRegression) {
			miss.Note = "not gated: the hit rate is gated by points"
		}
	} else {
		miss.Regressed = worse(compareSpec{better: "lower", floor: hitRateNoiseFloor}, 1-bh, 1-ch, o.MaxRegression)
		if hit.Cur < hit.Base {
			hit.Note = "gated through miss_rate"
		}
	}
	c.add(hit)
	c.add(miss)
}

func (c *Comparison) add(row CompareRow) {
	c.Rows = append(c.Rows, row)
	c.Regressed = c.Regressed || row.Regressed
}

// worse decides whether cur is a regression from base under spec s.
func worse(s compareSpec, base, cur, tol float64) bool {
	delta := cur - base
	if s.better == "higher" {
		delta = base - cur
	}
	if s.strict {
		return delta > 0
	}
	if delta <= s.floor {
		return false
	}
	if base == 0 {
		return true // from nothing to something beyond the noise floor
	}
	return delta/math.Abs(base) > tol
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

// compareFaults adds recovery rows per fault. A fault that recovered in base
// but never in cur is a regression whatever the tolerance, and so is a fault
// the base injected that the new run did not (absent, or its action did not
// take effect): its recovery was not measured, so it cannot have held.
func (c *Comparison) compareFaults(base, cur *result.Result, tol float64) {
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
				row.Regressed = worse(compareSpec{better: "lower", floor: 1}, *bp, *cp, tol)
			}
			c.add(row)
		}
		be, ce := float64(bf.Errors()), float64(cf.Errors())
		c.add(CompareRow{Metric: fmt.Sprintf("fault %d %s errors", i+1, kind), Unit: result.UnitCount, Better: "lower", Base: be, Cur: ce,
			BaseText: formatCount(uint64(be)), CurText: formatCount(uint64(ce)), Change: relChange(be, ce),
			Regressed: worse(compareSpec{better: "lower", floor: 1}, be, ce, tol)})
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

// WriteTable prints the comparison as an aligned table, regressions marked.
func (c Comparison) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("base: %s\nnew:  %s\n", c.Base, c.Cur)
	for _, w := range c.Warnings {
		ew.printf("warning: compared despite a different load: %s\n", w)
	}
	ew.printf("\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tbase\tnew\tchange\t")
	for _, r := range c.Rows {
		mark := ""
		if r.Regressed {
			mark = "REGRESSED"
		}
		if r.Note != "" {
			mark = strings.TrimSpace(mark + " (" + r.Note + ")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Metric, r.BaseText, r.CurText, changeText(r), mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n := 0
	for _, r := range c.Rows {
		if r.Regressed {
			n++
		}
	}
	tol := formatPercent(c.MaxRegression)
	if c.MaxHitRateDrop != nil {
		tol += fmt.Sprintf(" (hit rate: %s points)", formatNum(round(*c.MaxHitRateDrop*100, 2)))
	}
	if c.Regressed {
		ew.printf("\nREGRESSION: %d metric(s) worse than base beyond %s\n", n, tol)
	} else {
		ew.printf("\nno regression beyond %s\n", tol)
	}
	return ew.err
}

func changeText(r CompareRow) string {
	if r.Unit == "" || r.BaseText == "n/a" || r.CurText == "n/a" {
		return ""
	}
	if r.Base == r.Cur {
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
