package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

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
	Base, Cur     string // scenario names (and start times) of the two reports
	MaxRegression float64
	Rows          []CompareRow
	Regressed     bool
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
	// pipeline that fails on it fails on noise.
	info bool
	get  func(*Result) (float64, bool)
}

func summaryGetter(pick func(*Result) Summary, q func(Summary) float64) func(*Result) (float64, bool) {
	return func(r *Result) (float64, bool) {
		s := pick(r)
		return q(s), s.Count > 0
	}
}

func compareSpecs() []compareSpec {
	overall := func(r *Result) Summary { return r.Latency.Overall }
	service := func(r *Result) Summary { return r.Latency.Service }
	specs := []compareSpec{}
	for _, q := range []string{"p50", "p90", "p99", "p999", "max"} {
		specs = append(specs, compareSpec{name: "latency_" + q, unit: UnitMs, better: "lower", floor: 0.01, info: q == "max", get: summaryGetter(overall, quantiles[q])})
	}
	specs = append(specs,
		compareSpec{name: "service_p99", unit: UnitMs, better: "lower", floor: 0.01, get: summaryGetter(service, quantiles["p99"])},
		compareSpec{name: "hit_rate", unit: UnitFraction, better: "higher", floor: 0.0005, get: func(r *Result) (float64, bool) {
			return LookupHitRate(r.Cache.Hits, r.Cache.Misses, r.Cache.LookupErrors), r.Cache.Hits+r.Cache.Misses+r.Cache.LookupErrors > 0
		}},
		compareSpec{name: "error_rate", unit: UnitFraction, better: "lower", floor: 0.0001, get: func(r *Result) (float64, bool) {
			if r.Users.Requests == 0 {
				return 0, false
			}
			return float64(r.TotalErrors()) / float64(r.Users.Requests), true
		}},
		compareSpec{name: "errors", unit: UnitCount, better: "lower", floor: 1, get: func(r *Result) (float64, bool) { return float64(r.TotalErrors()), true }},
		compareSpec{name: "pool_timeouts", unit: UnitCount, better: "lower", floor: 1, get: func(r *Result) (float64, bool) { return float64(r.Pool.Timeouts), true }},
		compareSpec{name: "late", unit: UnitCount, better: "lower", floor: 1, get: func(r *Result) (float64, bool) { return float64(r.Users.Late), true }},
		compareSpec{name: "dropped", unit: UnitCount, better: "lower", floor: 1, get: func(r *Result) (float64, bool) { return float64(r.Users.Dropped), true }},
		compareSpec{name: "abandoned", unit: UnitCount, better: "lower", floor: 1, get: func(r *Result) (float64, bool) { return float64(r.Users.Abandoned), true }},
		compareSpec{name: "integrity_mismatches", unit: UnitCount, better: "lower", strict: true, get: func(r *Result) (float64, bool) { return float64(r.Integrity.Mismatches), true }},
		compareSpec{name: "lost_writes", unit: UnitCount, better: "lower", strict: true, get: func(r *Result) (float64, bool) { return float64(r.Integrity.LostWrites), true }},
		compareSpec{name: "ops_per_sec", unit: UnitRate, better: "higher", floor: 1, get: func(r *Result) (float64, bool) { return r.opsPerSec(), r.DurationS > 0 }},
	)
	return specs
}

// Compare puts base and cur side by side: latency percentiles, hit rate,
// errors, pool timeouts, integrity, throughput, and recovery per fault
// (faults are matched by position and kind). cur regresses when a metric is
// worse than base by more than maxRegression (0.10 = 10 %) relative, and by
// more than the metric's noise floor; lost writes and integrity mismatches
// regress on any increase, and a pass turning into a fail always regresses.
func Compare(base, cur *Result, maxRegression float64) (Comparison, error) {
	if base == nil || cur == nil {
		return Comparison{}, fmt.Errorf("compare: nil report")
	}
	if maxRegression < 0 || math.IsNaN(maxRegression) {
		return Comparison{}, fmt.Errorf("compare: max regression must be >= 0, got %v", maxRegression)
	}
	c := Comparison{Base: describe(base), Cur: describe(cur), MaxRegression: maxRegression}
	for _, s := range compareSpecs() {
		bv, bok := s.get(base)
		cv, cok := s.get(cur)
		if !bok && !cok {
			continue
		}
		row := CompareRow{Metric: s.name, Unit: s.unit, Base: bv, Cur: cv, Better: s.better,
			BaseText: FormatValue(bv, s.unit), CurText: FormatValue(cv, s.unit)}
		if !bok || !cok {
			row.Note = "missing in one report"
			if !bok {
				row.BaseText = "n/a"
			} else {
				row.CurText = "n/a"
			}
			c.add(row)
			continue
		}
		row.Change = relChange(bv, cv)
		row.Regressed = !s.info && worse(s, bv, cv, maxRegression)
		if s.info && worse(s, bv, cv, maxRegression) {
			row.Note = "not gated: one sample"
		}
		c.add(row)
	}
	c.compareFaults(base, cur, maxRegression)
	verdict := CompareRow{Metric: "verdict", BaseText: base.Verdict, CurText: cur.Verdict, Better: "pass"}
	if base.Verdict == VerdictPass && cur.Verdict != VerdictPass {
		verdict.Regressed = true
		verdict.Note = "a target that was met is now missed"
	}
	c.add(verdict)
	return c, nil
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
// but never in cur is a regression whatever the tolerance.
func (c *Comparison) compareFaults(base, cur *Result, tol float64) {
	n := max(len(base.Faults), len(cur.Faults))
	for i := 0; i < n; i++ {
		var bf, cf *FaultReport
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
			row := CompareRow{Metric: fmt.Sprintf("fault %d %s", i+1, kind), BaseText: "absent", CurText: "absent", Note: "fault only in one report"}
			if bf != nil {
				row.BaseText = "present"
			} else {
				row.CurText = "present"
			}
			c.add(row)
			continue
		}
		for _, m := range []struct {
			name string
			get  func(FaultReport) *float64
		}{
			{"recovered_after_s", func(f FaultReport) *float64 { return f.RecoveredAfterS }},
			{"p99_recovered_after_s", func(f FaultReport) *float64 { return f.P99RecoveredAfterS }},
			{"rewarm_s", func(f FaultReport) *float64 { return f.RewarmS }},
		} {
			bp, cp := m.get(*bf), m.get(*cf)
			row := CompareRow{Metric: fmt.Sprintf("fault %d %s %s", i+1, kind, m.name), Unit: UnitSeconds, Better: "lower",
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
		c.add(CompareRow{Metric: fmt.Sprintf("fault %d %s errors", i+1, kind), Unit: UnitCount, Better: "lower", Base: be, Cur: ce,
			BaseText: formatCount(uint64(be)), CurText: formatCount(uint64(ce)), Change: relChange(be, ce),
			Regressed: worse(compareSpec{better: "lower", floor: 1}, be, ce, tol)})
		bl, cl := float64(bf.LostWrites), float64(cf.LostWrites)
		c.add(CompareRow{Metric: fmt.Sprintf("fault %d %s lost_writes", i+1, kind), Unit: UnitCount, Better: "lower", Base: bl, Cur: cl,
			BaseText: formatCount(bf.LostWrites), CurText: formatCount(cf.LostWrites), Change: relChange(bl, cl), Regressed: cl > bl})
	}
}

func describe(r *Result) string {
	s := nameOr(r.Scenario.Name)
	if !r.StartedAt.IsZero() {
		s += " @ " + r.StartedAt.UTC().Format("2006-01-02 15:04")
	}
	return s
}

// WriteTable prints the comparison as an aligned table, regressions marked.
func (c Comparison) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("base: %s\nnew:  %s\n\n", c.Base, c.Cur)
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
	if c.Regressed {
		ew.printf("\nREGRESSION: %d metric(s) worse than base beyond %s\n", n, formatPercent(c.MaxRegression))
	} else {
		ew.printf("\nno regression beyond %s\n", formatPercent(c.MaxRegression))
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
