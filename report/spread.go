package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// spreadStrip draws a target's spread as a small inline SVG for the
// targets table: the confidence interval as a bar, the observed value (the
// median of a repeated run) as a tick, each run's value as a dot and the
// bound as a red vertical line, with the side of the bound that misses
// shaded. One glance says whether the bound sits clear of the interval
// (decided) or inside it (inconclusive), and whether one run alone pulled
// the figure. Empty when the target shows no spread: no interval nor
// runs, or an interval of no width and runs that all agree (a count every
// run kept at zero), where a strip would only draw a dot.
//
// bound and op come from the target's expression (ok false: none drawn).
func spreadStrip(t result.TargetResult, bound float64, op string, hasBound bool) template.HTML {
	if !hasSpread(t) {
		return ""
	}
	const (
		w, h   = 180.0, 34.0
		padL   = 8.0
		padR   = 8.0
		midY   = 21.0
		barH   = 10.0
		dotR   = 3.2
		labelY = 8.0
	)
	vals := []float64{t.Observed}
	if iv := t.Interval; iv != nil {
		vals = append(vals, iv.Low, iv.High)
	}
	vals = append(vals, t.Runs...)
	if hasBound {
		vals = append(vals, bound)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if math.IsInf(lo, 0) {
		return ""
	}
	if span := hi - lo; span > 0 {
		lo, hi = lo-0.08*span, hi+0.08*span
	} else {
		d := math.Max(math.Abs(lo)*0.1, 1e-9)
		if t.Unit == result.UnitCount {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	if t.Unit == result.UnitFraction {
		lo, hi = math.Max(0, lo), math.Min(1, hi)
	}
	if t.Unit == result.UnitCount || t.Unit == result.UnitMs || t.Unit == result.UnitSeconds {
		lo = math.Max(lo, 0) // a count, a latency or a time is never negative
	}
	sx := func(v float64) float64 {
		if hi <= lo {
			return w / 2
		}
		return padL + (v-lo)/(hi-lo)*(w-padL-padR)
	}
	f := func(v float64) string { return result.FormatValue(v, t.Unit) }

	var b strings.Builder
	label := "spread of " + t.Name + ": observed " + t.ObservedText
	if iv := intervalText(t); iv != "" {
		label += " " + iv
	}
	if r := runsValues(t); r != "" {
		label += "; runs " + r
	}
	fmt.Fprintf(&b, `<svg class="spread" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		w, h, w, h, esc(label))
	fmt.Fprintf(&b, `<line class="sp-axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, padL, midY, w-padR, midY)
	if hasBound {
		x := sx(bound)
		// Shade the side where the bound is missed.
		switch op {
		case "<", "<=":
			fmt.Fprintf(&b, `<rect class="sp-miss" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, x, labelY+4, math.Max(0, w-padR-x), h-labelY-6)
		case ">", ">=":
			fmt.Fprintf(&b, `<rect class="sp-miss" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, padL, labelY+4, math.Max(0, x-padL), h-labelY-6)
		}
	}
	if iv := t.Interval; iv != nil {
		x0, x1 := sx(iv.Low), sx(iv.High)
		fmt.Fprintf(&b, `<rect class="sp-iv" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2"><title>%s interval %s – %s</title></rect>`,
			x0, midY-barH/2, math.Max(1.5, x1-x0), barH, esc(confidenceText(iv.Confidence)), esc(f(iv.Low)), esc(f(iv.High)))
	}
	for i, v := range t.Runs {
		// Alternate runs a little above and below the axis so equal values
		// stay countable.
		dy := 0.0
		if len(t.Runs) > 1 {
			dy = float64(i%2)*4 - 2
		}
		fmt.Fprintf(&b, `<circle class="sp-run" cx="%.1f" cy="%.1f" r="%.1f"><title>run %d: %s</title></circle>`, sx(v), midY+dy, dotR, i+1, esc(f(v)))
	}
	x := sx(t.Observed)
	what := "observed"
	if len(t.Runs) > 0 {
		what = "median of the runs"
	}
	fmt.Fprintf(&b, `<line class="sp-obs" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"><title>%s %s</title></line>`, x, midY-9, x, midY+9, what, esc(t.ObservedText))
	if hasBound {
		x := sx(bound)
		fmt.Fprintf(&b, `<line class="sp-bound" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"><title>bound %s</title></line>`, x, labelY+2, x, h-2, esc(t.Expr))
		anchor := "middle"
		switch {
		case x < 30:
			anchor = "start"
		case x > w-30:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="sp-lbl" x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x, labelY, anchor, esc(f(bound)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hasSpread reports whether a target's interval or runs have any width.
func hasSpread(t result.TargetResult) bool {
	if iv := t.Interval; iv != nil && iv.High > iv.Low {
		return true
	}
	for _, v := range t.Runs {
		if v != t.Runs[0] {
			return true
		}
	}
	return false
}
