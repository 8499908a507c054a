package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// This file writes the report of `cacheproof size` (result.Sizing):
// sizing.json, sizing.html (the hit rate against maxmemory per policy as
// the run report's SVG chart, per-tier curves, the answer and the
// what-ifs) and a text summary; and the prediction section a run shows
// with --predict.

// WriteSizingJSON writes z as indented JSON; nil lists are written as [].
func WriteSizingJSON(w io.Writer, z *result.Sizing) error {
	zz := *z
	zz.Policies = nonNil(zz.Policies)
	zz.WhatIfs = nonNil(zz.WhatIfs)
	zz.Notes = nonNil(zz.Notes)
	return encodeJSON(w, "sizing json", zz)
}

// ReadSizingJSON reads a sizing.json.
func ReadSizingJSON(rd io.Reader) (*result.Sizing, error) {
	var z result.Sizing
	if err := json.NewDecoder(rd).Decode(&z); err != nil {
		return nil, fmt.Errorf("read sizing json: %w", err)
	}
	if z.Kind != result.KindSizing {
		return nil, fmt.Errorf("read sizing json: kind %q is not %q", z.Kind, result.KindSizing)
	}
	return &z, nil
}

// MB formats bytes as MiB, the unit Redis's "64mb" means.
func MB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func neededText(n *int64) string {
	if n == nil {
		return "not reachable"
	}
	return MB(float64(*n))
}

// WriteSizingText writes the console summary.
func WriteSizingText(w io.Writer, z *result.Sizing) error {
	var b strings.Builder
	m := z.Method
	fmt.Fprintf(&b, "sizing of %s: %d commands, %d ops simulated (keys sampled at %.3g: %d accesses of %d keys), %d simulations in %.1fs\n",
		z.Scenario.Name, m.Commands, m.Ops, m.SampleRate, m.Events, m.Keys, m.Simulations, m.SimulateS)
	c := z.Calibration
	fmt.Fprintf(&b, "key cost from redis %s (%s):", c.RedisVersion, c.Source)
	for _, t := range sortedKeys(c.Types) {
		f := c.Types[t]
		if f.Alloc {
			fmt.Fprintf(&b, " %s its allocations %+.0f B;", t, f.A)
		} else {
			fmt.Fprintf(&b, " %s %.0f + %.3f*len B;", t, f.A, f.B)
		}
	}
	fmt.Fprintf(&b, " TTL +%.0f B; base %s (startup + %d connections, %.1f of them in use)\n", c.VolatileBytes, MB(c.BaseBytes), c.PoolConns, c.ConnsInUse)
	fmt.Fprintf(&b, "working set (unbounded cache): %s, hit rate %.2f%%\n\n", MB(float64(z.WorkingSetBytes)), 100*z.CeilingHitRate)
	fmt.Fprintf(&b, "maxmemory needed for the hit-rate target (%.1f%%):\n", 100*z.TargetHitRate)
	for _, p := range z.Policies {
		ref := ""
		if p.Policy == "exact-lru" {
			ref = "  (true LRU, for reference)"
		}
		at := ""
		if z.MaxMemoryBytes > 0 {
			at = fmt.Sprintf("   at %s: %.2f%%", MB(float64(z.MaxMemoryBytes)), 100*p.AtMaxMemory)
		}
		fmt.Fprintf(&b, "  %-13s %14s%s%s\n", p.Policy, neededText(p.NeededBytes), at, ref)
	}
	fmt.Fprintf(&b, "sampled allkeys-lru vs exact LRU: at most %.2f points apart over the curve\n", z.SampledLRUGapPoints)
	if len(z.WhatIfs) > 0 {
		fmt.Fprintf(&b, "\nTTL what-ifs:\n")
		for _, wi := range z.WhatIfs {
			fmt.Fprintf(&b, "  %s (%s) %gs -> %gs: at %s %.2f%%; needs %s for %.1f%% (working set %s, ceiling %.2f%%)\n",
				whatIfName(wi), wi.Policy, wi.FromS, wi.ToS, MB(float64(z.MaxMemoryBytes)), 100*wi.AtMaxMemory, neededText(wi.NeededBytes), 100*z.TargetHitRate,
				MB(float64(wi.WorkingSetBytes)), 100*wi.CeilingHitRate)
		}
	}
	for _, p := range z.Policies {
		if p.Policy != z.Policy {
			continue
		}
		tiers := curveTiers(p.Curve)
		fmt.Fprintf(&b, "\ncurve (%s):\n  %10s %8s", p.Policy, "maxmemory", "hit")
		for _, t := range tiers {
			fmt.Fprintf(&b, " %10s", t)
		}
		b.WriteString("\n")
		for _, pt := range p.Curve {
			fmt.Fprintf(&b, "  %10s %7.2f%%", MB(float64(pt.MaxMemoryBytes)), 100*pt.HitRate)
			for _, t := range tiers {
				fmt.Fprintf(&b, " %9.2f%%", 100*pt.Tiers[t])
			}
			b.WriteString("\n")
		}
	}
	for _, n := range z.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// whatIfName labels a what-if: its tier, or "family NAME" for a family's
// own TTL.
func whatIfName(w result.SizingWhatIf) string {
	if w.Family != "" {
		return "family " + w.Family
	}
	return w.Tier
}

// curveTiers and curveFamilies are the tiers and families a curve has a
// hit rate for, sorted.
func curveTiers(c []result.SizingPoint) []string {
	return curveKeys(c, func(p result.SizingPoint) map[string]float64 { return p.Tiers })
}

func curveFamilies(c []result.SizingPoint) []string {
	return curveKeys(c, func(p result.SizingPoint) map[string]float64 { return p.Families })
}

func curveKeys(c []result.SizingPoint, of func(result.SizingPoint) map[string]float64) []string {
	set := map[string]bool{}
	for _, p := range c {
		for k := range of(p) {
			set[k] = true
		}
	}
	return sortedKeys(set)
}

// sizingChart draws hit rate (%) against maxmemory (MiB), one line per
// curve, the target as a horizontal line and marks as vertical lines.
func sizingChart(title string, lines map[string][]result.SizingPoint, order []string, pick func(result.SizingPoint) (float64, bool), target float64, marks map[string]float64, dots []series) template.HTML {
	ch := chart{title: title, yLabel: "hit rate %", width: 900, height: 320,
		xFmt: func(v float64) string { return fmt.Sprintf("%.0f MiB", v) },
		yFmt: func(v float64) string { return fmt.Sprintf("%.0f", v) }}
	lo, hi := math.Inf(1), math.Inf(-1)
	ylo := 100.0
	for i, name := range order {
		var x, y []float64
		for _, p := range lines[name] {
			v, ok := pick(p)
			if !ok {
				continue
			}
			mb := float64(p.MaxMemoryBytes) / (1 << 20)
			x = append(x, mb)
			y = append(y, 100*v)
			lo, hi = math.Min(lo, mb), math.Max(hi, mb)
			ylo = math.Min(ylo, 100*v)
		}
		ch.series = append(ch.series, series{name: name, color: colorAt(i), x: x, y: y, dash: name == "exact-lru"})
	}
	if math.IsInf(lo, 1) {
		ch.empty = "no curve"
		return ch.render()
	}
	ylo = math.Max(0, math.Floor(math.Min(ylo, 100*target-2)))
	for name, mb := range marks {
		ch.series = append(ch.series, series{name: name, color: "#7f7f7f", dash: true, x: []float64{mb, mb}, y: []float64{ylo, 100}})
	}
	ch.series = append(ch.series, dots...)
	if target > 0 {
		ch.hlines = append(ch.hlines, hline{y: 100 * target, label: fmt.Sprintf("target %.1f%%", 100*target), color: "#b00020"})
	}
	ch.xMin, ch.xMax = 0, hi*1.02
	ch.xTicks = niceTicks(0, hi*1.02, 8)
	ch.fixY, ch.yMin, ch.yMax = true, ylo, 100
	return ch.render()
}

// breakdownChart draws one line per tier or family of a curve, each
// picking its own hit rate.
func breakdownChart(title string, curve []result.SizingPoint, names []string, pick func(result.SizingPoint, string) (float64, bool)) template.HTML {
	ch := chart{title: title, yLabel: "hit rate %", width: 900, height: 320,
		xFmt: func(v float64) string { return fmt.Sprintf("%.0f MiB", v) }, yFmt: func(v float64) string { return fmt.Sprintf("%.0f", v) }}
	hi, ylo := 0.0, 100.0
	for i, name := range names {
		var x, y []float64
		for _, pt := range curve {
			if v, ok := pick(pt, name); ok {
				x = append(x, float64(pt.MaxMemoryBytes)/(1<<20))
				y = append(y, 100*v)
				hi = math.Max(hi, x[len(x)-1])
				ylo = math.Min(ylo, 100*v)
			}
		}
		ch.series = append(ch.series, series{name: name, color: colorAt(i), x: x, y: y})
	}
	ch.xMin, ch.xMax, ch.xTicks = 0, hi*1.02, niceTicks(0, hi*1.02, 8)
	ch.fixY, ch.yMin, ch.yMax = true, math.Max(0, math.Floor(ylo)), 100
	return ch.render()
}

func sizingCharts(z *result.Sizing) []template.HTML {
	lines := map[string][]result.SizingPoint{}
	var order []string
	for _, p := range z.Policies {
		lines[p.Policy] = p.Curve
		order = append(order, p.Policy)
	}
	marks := map[string]float64{}
	if z.MaxMemoryBytes > 0 {
		marks["scenario maxmemory"] = float64(z.MaxMemoryBytes) / (1 << 20)
	}
	overall := func(p result.SizingPoint) (float64, bool) { return p.HitRate, true }
	out := []template.HTML{sizingChart("Hit rate vs maxmemory, per eviction policy", lines, order, overall, z.TargetHitRate, marks, nil)}
	for _, p := range z.Policies {
		if p.Policy != z.Policy {
			continue
		}
		tierOf := func(pt result.SizingPoint, t string) (float64, bool) { v, ok := pt.Tiers[t]; return v, ok }
		out = append(out, breakdownChart("Hit rate per tier ("+p.Policy+")", p.Curve, curveTiers(p.Curve), tierOf))
		famOf := func(pt result.SizingPoint, f string) (float64, bool) { v, ok := pt.Families[f]; return v, ok }
		out = append(out, breakdownChart("Hit rate per family ("+p.Policy+")", p.Curve, curveFamilies(p.Curve), famOf))
	}
	return out
}

var sizingFuncs = template.FuncMap{
	"mb":     func(b int64) string { return MB(float64(b)) },
	"mbf":    func(b float64) string { return MB(b) },
	"need":   neededText,
	"pct":    func(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) },
	"num":    func(v float64) string { return fmt.Sprintf("%.3g", v) },
	"tiers":  curveTiers,
	"whatIf": whatIfName,
	"tierOf": func(p result.SizingPoint, t string) string { return fmt.Sprintf("%.2f%%", 100*p.Tiers[t]) },
}

var sizingTmpl = template.Must(template.New("sizing").Funcs(sizingFuncs).Parse(`{{.Head}}
<section id="needed" data-section="needed">
<h2>How much memory for {{pct .Z.TargetHitRate}}?</h2>
<p>Simulated the scenario's access stream ({{.Z.Method.Commands}} commands, {{.Z.Method.Ops}} operations; keys sampled at {{num .Z.Method.SampleRate}}: {{.Z.Method.Events}} accesses of {{.Z.Method.Keys}} keys) against Redis's eviction at many maxmemory sizes: {{.Z.Method.Simulations}} simulations in {{printf "%.1f" .Z.Method.SimulateS}} s. Scenario: {{mb .Z.MaxMemoryBytes}} {{.Z.Policy}}. Working set of an unbounded cache: {{mb .Z.WorkingSetBytes}} (hit rate {{pct .Z.CeilingHitRate}}).</p>
<table><tr><th class="l">policy</th><th>needed for {{pct .Z.TargetHitRate}}</th><th>hit rate at {{mb .Z.MaxMemoryBytes}}</th></tr>
{{range .Z.Policies}}<tr><td class="l">{{.Policy}}{{if eq .Policy "exact-lru"}} (true LRU, reference){{end}}</td><td>{{need .NeededBytes}}</td><td>{{pct .AtMaxMemory}}</td></tr>
{{end}}</table>
<p>Redis's sampled LRU and true LRU are at most {{printf "%.2f" .Z.SampledLRUGapPoints}} points apart over the curve.</p>
</section>
<section id="curves" data-section="curves">
<h2>Hit rate against maxmemory</h2>
{{range .Charts}}<div class="chart">{{.}}</div>
{{end}}
{{if .Z.WhatIfs}}<h2>TTL what-ifs</h2>
<table><tr><th class="l">tier or family</th><th class="l">policy simulated</th><th>TTL</th><th>hit rate at {{mb .Z.MaxMemoryBytes}}</th><th>needed for {{pct .Z.TargetHitRate}}</th><th>working set</th><th>ceiling</th></tr>
{{range .Z.WhatIfs}}<tr><td class="l">{{whatIf .}}</td><td class="l">{{.Policy}}</td><td>{{.FromS}} s → {{.ToS}} s</td><td>{{pct .AtMaxMemory}}</td><td>{{need .NeededBytes}}</td><td>{{mb .WorkingSetBytes}}</td><td>{{pct .CeilingHitRate}}</td></tr>
{{end}}</table>{{end}}
</section>
<section id="calibration" data-section="calibration">
<h2>Calibration</h2>
<p>Redis {{.Z.Calibration.RedisVersion}} ({{.Z.Calibration.Source}}). Base {{mbf .Z.Calibration.BaseBytes}} (startup memory and {{.Z.Calibration.PoolConns}} connections, {{printf "%.1f" .Z.Calibration.ConnsInUse}} of them in use); a TTL adds {{printf "%.0f" .Z.Calibration.VolatileBytes}} B.</p>
<table><tr><th class="l">type</th><th>a (B)</th><th>b (B per byte)</th><th>keys</th><th>mean abs error (B)</th></tr>
{{range $t, $f := .Z.Calibration.Types}}<tr><td class="l">{{$t}}</td><td>{{printf "%.1f" $f.A}}</td><td>{{printf "%.4f" $f.B}}</td><td>{{$f.Keys}}</td><td>{{printf "%.1f" $f.MeanAbsErr}}</td></tr>
{{end}}</table>
</section>
<section id="curve" data-section="curve">
{{range .Z.Policies}}{{if eq .Policy $.Z.Policy}}<h2>Curve ({{.Policy}})</h2>{{$tiers := tiers .Curve}}
<table><tr><th>maxmemory</th><th>hit rate</th>{{range $tiers}}<th>{{.}}</th>{{end}}<th>evicted</th><th>expired</th><th>OOM</th></tr>
{{range $p := .Curve}}<tr><td>{{mb $p.MaxMemoryBytes}}</td><td>{{pct $p.HitRate}}</td>{{range $tiers}}<td>{{tierOf $p .}}</td>{{end}}<td>{{printf "%.0f" $p.Evicted}}</td><td>{{printf "%.0f" $p.Expired}}</td><td>{{printf "%.0f" $p.OOM}}</td></tr>
{{end}}</table>{{end}}{{end}}
</section>
<section id="method" data-section="method">
<h2>Method and notes</h2><ul><li>expiry: {{.Z.Method.Expiry}}</li><li>maxmemory-samples {{.Z.Method.MaxMemorySamples}}, eviction pool of 16</li>{{range .Z.Notes}}<li>{{.}}</li>{{end}}</ul>
</section>
{{.Foot}}`))

// WriteSizingHTML writes sizing.html: one self-contained page with the
// run report's styles and SVG charts.
func WriteSizingHTML(w io.Writer, z *result.Sizing) error {
	head, foot, err := sizingPage(z).frame()
	if err != nil {
		return fmt.Errorf("write sizing html: %w", err)
	}
	v := struct {
		Z          *result.Sizing
		Head, Foot template.HTML
		Charts     []template.HTML
	}{z, head, foot, sizingCharts(z)}
	var buf bytes.Buffer
	if err := sizingTmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("write sizing html: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// PredictionText is one paragraph placing the measured hit rate on the
// predicted curve (text and Markdown writers).
func PredictionText(p *result.Prediction) string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("predicted hit rate at %s %s: %.2f%%, measured %.2f%% (%+.2f points); %.1f%% needs %s with %s (working set %s)",
		MB(float64(p.MaxMemoryBytes)), p.Policy, 100*p.Predicted, 100*p.Measured, p.DiffPoints, 100*p.TargetHitRate,
		neededText(p.NeededBytes), p.Policy, MB(float64(p.WorkingSetBytes)))
}

// predictionChart draws the predicted curve with the measured point.
func predictionChart(p *result.Prediction) template.HTML {
	if p == nil || len(p.Curve) == 0 {
		return ""
	}
	mb := float64(p.MaxMemoryBytes) / (1 << 20)
	dot := series{name: "measured", color: "#b00020", width: 6, x: []float64{mb, mb}, y: []float64{100 * p.Measured, 100 * p.Measured}}
	return sizingChart("Measured hit rate on the predicted curve ("+p.Policy+")", map[string][]result.SizingPoint{p.Policy: p.Curve}, []string{p.Policy},
		func(pt result.SizingPoint) (float64, bool) { return pt.HitRate, true }, p.TargetHitRate, nil, []series{dot})
}
