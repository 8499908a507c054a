package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// This file writes the report of a capacity search (result.Capacity):
// capacity.json, capacity.html with the same SVG charts as a run's report
// (latency, hit rate, pool waits and errors against the offered load, the
// targets and the knee drawn), a text summary, and the headline as JUnit
// and Markdown. Each step's own report.json and report.html are written by
// WriteAll into the step's folder.

// WriteCapacityJSON writes c as indented JSON; nil lists are written as [].
func WriteCapacityJSON(w io.Writer, c *result.Capacity) error {
	cc := *c
	cc.Steps = normalizedEach(c.Steps, func(s *result.CapacityStep) { s.Targets = nonNil(s.Targets) })
	cc.Targets = nonNil(cc.Targets)
	cc.Notes = nonNil(cc.Notes)
	return encodeJSON(w, "capacity json", cc)
}

// ReadCapacityJSON reads a capacity.json.
func ReadCapacityJSON(rd io.Reader) (*result.Capacity, error) {
	var c result.Capacity
	if err := json.NewDecoder(rd).Decode(&c); err != nil {
		return nil, fmt.Errorf("read capacity json: %w", err)
	}
	if c.Kind != result.KindCapacity {
		return nil, fmt.Errorf("read capacity json: kind %q is not %q", c.Kind, result.KindCapacity)
	}
	return &c, nil
}

// capacityLoad formats a load in the report's unit.
func capacityLoad(c *result.Capacity, v float64) string {
	if c.Vary == "maxmemory" {
		return MB(v) + " maxmemory"
	}
	if c.Vary == "users" {
		return formatThousands(v, 0) + " users"
	}
	return formatNum(round(v, 3)) + " " + c.Unit
}

func stepsByLoad(c *result.Capacity) []result.CapacityStep {
	s := slices.Clone(c.Steps)
	slices.SortStableFunc(s, func(a, b result.CapacityStep) int { return cmp.Compare(a.Load, b.Load) })
	return s
}

// WriteCapacityText writes the console summary: the headline, then a line
// per step in the order run.
func WriteCapacityText(w io.Writer, c *result.Capacity) error {
	var b strings.Builder
	a := c.Answer
	fmt.Fprintf(&b, "capacity of %s: varying %s (design point %s)\n\n", c.Scenario.Name, c.Vary, capacityLoad(c, c.DesignPoint))
	fmt.Fprintf(&b, "%-3s %-6s %14s %10s %9s %9s %9s %7s %9s %8s %7s  %s\n",
		"#", "stage", "load", "ops/s", "p50 ms", "p99 ms", "p99.9 ms", "hit", "pool wait", "timeouts", "errors", "verdict")
	for _, s := range c.Steps {
		verdict := strings.ToUpper(s.Verdict)
		if s.ToolLimited {
			verdict += " (tool-limited: " + strings.Join(s.ToolReasons, ", ") + ")"
		}
		if s.Run > 1 {
			verdict += fmt.Sprintf(" (run %d at this load)", s.Run)
		}
		fmt.Fprintf(&b, "%-3d %-6s %14s %10s %9.3f %9.3f %9.3f %7s %9s %8d %7d  %s\n",
			s.N, s.Stage, strings.TrimSuffix(strings.TrimSuffix(capacityLoad(c, s.Load), " users"), " "+c.Unit), formatThousands(s.OpsPerSec, 0),
			s.LatencyMs.P50, s.LatencyMs.P99, s.LatencyMs.P999, formatPercent(s.HitRate), formatThousands(float64(s.PoolWaitCount), 0),
			s.PoolTimeouts, s.Errors, verdict)
	}
	writeCapacityPrediction(&b, c)
	fmt.Fprintf(&b, "\n%s\n", a.Headline)
	if a.Evidence != "" {
		fmt.Fprintf(&b, "evidence (%s): %s\n", a.Limit, a.Evidence)
	}
	if a.FailsAtAnyLoad && a.Broke != nil {
		fmt.Fprintf(&b, "fails at any load: %s %s, not a capacity limit\n", a.Broke.Name, a.Broke.Expr)
	}
	if iv := a.Interval; iv != nil {
		fmt.Fprintf(&b, "interval: %s (%s): %s\n", capacityInterval(c, iv), strings.ToUpper(iv.Confidence), iv.Method)
	}
	if a.Unfinished {
		fmt.Fprintf(&b, "UNFINISHED: the search ran out of its %d steps", c.Search.MaxSteps)
		if a.PrecisionReached != "" {
			fmt.Fprintf(&b, " at a gap of %s (asked %s)", a.PrecisionReached, c.Search.Precision)
		}
		b.WriteString("\n")
	}
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	fmt.Fprintf(&b, "design point %s: %s\n", capacityLoad(c, c.DesignPoint), strings.ToUpper(capacityDesignStatus(a)))
	_, err := io.WriteString(w, b.String())
	return err
}

// writeCapacityPrediction is a maxmemory sweep's predicted against
// measured hit rate, a line per step in the order run.
func writeCapacityPrediction(b *strings.Builder, c *result.Capacity) {
	pr := c.Prediction
	if pr == nil {
		return
	}
	fmt.Fprintf(b, "\nhit rate, predicted (cacheproof size, %s) against measured:\n", pr.Policy)
	fmt.Fprintf(b, "%-3s %14s %14s %10s %10s %8s\n", "#", "maxmemory", "Redis reported", "predicted", "measured", "gap")
	for _, s := range c.Steps {
		pred, gap := "-", "-"
		if s.PredictedHitRate != nil {
			pred = fmt.Sprintf("%.2f%%", 100**s.PredictedHitRate)
			gap = fmt.Sprintf("%+.2f pt", 100*(s.HitRate-*s.PredictedHitRate))
		}
		fmt.Fprintf(b, "%-3d %14s %14s %10s %10s %8s\n", s.N, MB(s.Load), MB(float64(s.MaxMemory)), pred, fmt.Sprintf("%.2f%%", 100*s.HitRate), gap)
	}
}

// capacityDesignStatus is the design point's verdict for people: measured
// by its own steps, never inferred.
func capacityDesignStatus(a result.CapacityAnswer) string {
	switch a.DesignVerdict {
	case result.VerdictPass:
		return "holds"
	case result.VerdictFail:
		return "does not hold"
	case result.VerdictInconclusive:
		return "inconclusive"
	case "":
		// A report written before design_verdict existed.
		if a.DesignHolds {
			return "holds"
		}
		return "does not hold"
	}
	return "not measured"
}

// capacityInterval is the answer's bracket, "[3,500 users, 3,750 users]",
// a missing end written as such.
func capacityInterval(c *result.Capacity, iv *result.CapacityInterval) string {
	end := func(v float64, none string) string {
		if v == 0 {
			return none
		}
		return capacityLoad(c, v)
	}
	if c.Knob {
		return fmt.Sprintf("[%s fails, %s holds]", end(iv.High, "none"), end(iv.Low, "none"))
	}
	return fmt.Sprintf("[%s holds, %s fails]", end(iv.Low, "none"), end(iv.High, "none"))
}

// WriteCapacityMarkdown writes the headline and the steps as a table.
func WriteCapacityMarkdown(w io.Writer, c *result.Capacity) error {
	var b strings.Builder
	a := c.Answer
	fmt.Fprintf(&b, "## cacheproof capacity: %s — design point %s\n\n", c.Scenario.Name, capacityDesignStatus(a))
	fmt.Fprintf(&b, "**%s**\n\n", a.Headline)
	if a.Evidence != "" {
		fmt.Fprintf(&b, "Limiting resource: `%s` — %s\n\n", a.Limit, a.Evidence)
	}
	if iv := a.Interval; iv != nil {
		fmt.Fprintf(&b, "Interval: %s, **%s** — %s\n\n", capacityInterval(c, iv), iv.Confidence, iv.Method)
	}
	if a.Unfinished {
		fmt.Fprintf(&b, "**Unfinished**: the search ran out of its %d steps (gap reached: %s, asked: %s).\n\n", c.Search.MaxSteps, a.PrecisionReached, c.Search.Precision)
	}
	fmt.Fprintf(&b, "| # | stage | load (%s) | ops/s | p50 ms | p99 ms | p99.9 ms | hit rate | pool waits | pool timeouts | errors | verdict |\n", c.Unit)
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range c.Steps {
		v := s.Verdict
		if s.ToolLimited {
			v += " (tool-limited: " + strings.Join(s.ToolReasons, ", ") + ")"
		}
		if s.Run > 1 {
			v += fmt.Sprintf(" (run %d)", s.Run)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %.3f | %.3f | %.3f | %s | %d | %d | %d | %s |\n", s.N, s.Stage, formatNum(round(s.Load, 3)),
			formatThousands(s.OpsPerSec, 0), s.LatencyMs.P50, s.LatencyMs.P99, s.LatencyMs.P999, formatPercent(s.HitRate),
			s.PoolWaitCount, s.PoolTimeouts, s.Errors, v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCapacityJUnit writes one test case, "design point holds", failed
// with the headline when it does not.
func WriteCapacityJUnit(w io.Writer, c *result.Capacity) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      float64  `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		SystemOut string   `xml:"system-out,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Time     float64    `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	tc := testcase{Name: "design point " + capacityLoad(c, c.DesignPoint) + " holds", Classname: "cacheproof.capacity." + c.Scenario.Name,
		Time: round(c.DurationS, 3), SystemOut: c.Answer.Headline}
	s := suite{Name: "cacheproof capacity " + c.Scenario.Name, Tests: 1, Time: round(c.DurationS, 3)}
	if capacityDesignStatus(c.Answer) != "holds" {
		tc.Failure = &failure{Message: "design point " + capacityDesignStatus(c.Answer) + ": " + c.Answer.Headline, Text: c.Answer.Evidence}
		s.Failures = 1
	}
	s.Cases = []testcase{tc}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write capacity junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// capacityCharts draws the charts against the offered load.
func capacityCharts(c *result.Capacity) []template.HTML {
	steps := stepsByLoad(c)
	if len(steps) == 0 {
		return nil
	}
	x := make([]float64, len(steps))
	for i, s := range steps {
		x[i] = s.Load
	}
	ys := func(f func(result.CapacityStep) float64) []float64 {
		out := make([]float64, len(steps))
		for i, s := range steps {
			out[i] = f(s)
		}
		return out
	}
	xlo, xhi := x[0], x[len(x)-1]
	if xhi <= xlo {
		xlo, xhi = xlo*0.9, xhi*1.1+1
	}
	xFmt := func(v float64) string { return formatThousands(v, 2) }
	if c.Vary == "maxmemory" {
		xFmt = func(v float64) string { return formatNum(round(v/(1<<20), 1)) + " MiB" }
	}
	xTicks := niceTicks(xlo, xhi, 6)
	a := c.Answer
	knee := func(lo, hi float64) []series {
		var out []series
		hold, holdName, failName := a.MaxLoad, "max holding load", "first failing load"
		if c.Knob {
			hold, holdName, failName = a.MinHolding, "least holding value", "highest failing value"
		}
		if hold > 0 {
			out = append(out, series{name: holdName, color: "#2ca02c", dash: true, x: []float64{hold, hold}, y: []float64{lo, hi}})
		}
		if a.FailLoad > 0 {
			out = append(out, series{name: failName, color: "#b00020", dash: true, x: []float64{a.FailLoad, a.FailLoad}, y: []float64{lo, hi}})
		}
		if c.DesignPoint > 0 && c.DesignPoint >= xlo && c.DesignPoint <= xhi {
			out = append(out, series{name: "design point", color: "#7f7f7f", dash: true, x: []float64{c.DesignPoint, c.DesignPoint}, y: []float64{lo, hi}})
		}
		return out
	}
	bound := func(name string, scale float64, label string) []hline {
		for _, t := range c.Targets {
			if t.Name != name {
				continue
			}
			pt, err := result.ParseTarget(t)
			if v, ok := pt.Bound(); err == nil && ok {
				return []hline{{y: v * scale, label: label + " " + t.Expr, color: "#b00020"}}
			}
		}
		return nil
	}
	lat := []series{
		{name: "p50", color: colorAt(0), x: x, y: ys(func(s result.CapacityStep) float64 { return s.LatencyMs.P50 }), width: 2},
		{name: "p99", color: colorAt(1), x: x, y: ys(func(s result.CapacityStep) float64 { return s.LatencyMs.P99 }), width: 2},
		{name: "p99.9", color: colorAt(3), x: x, y: ys(func(s result.CapacityStep) float64 { return s.LatencyMs.P999 })},
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range lat {
		for _, v := range s.y {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	latH := bound(result.MetricLatencyP99, 1, "p99 target")
	for _, h := range latH {
		hi = math.Max(hi, h.y)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.01, 1
	}
	lat = append(lat, knee(lo, hi)...)
	pctFmt := func(v float64) string { return formatNum(v) + "%" }
	unit := "offered load (" + c.Unit + ")"
	if c.Knob {
		unit = c.Vary + " (" + c.Unit + ", at the scenario's load)"
	}
	hit := []series{{name: "hit rate", color: colorAt(0), x: x, y: ys(func(s result.CapacityStep) float64 { return 100 * s.HitRate }), width: 2}}
	hitTitle := "Hit rate against " + unit
	if pr := c.Prediction; pr != nil {
		// The model's curve beside the measured steps, over the steps' range.
		var px, py []float64
		for _, pt := range pr.Curve {
			if v := float64(pt.MaxMemoryBytes); v >= xlo && v <= xhi {
				px, py = append(px, v), append(py, 100*pt.HitRate)
			}
		}
		hit = append(hit, series{name: "predicted (cacheproof size, " + pr.Policy + ")", color: colorAt(1), dash: true, x: px, y: py, width: 2})
		hitTitle = "Hit rate against " + unit + ": measured and predicted"
	}
	hit = append(hit, knee(0, 100)...)
	poolErr := []series{
		{name: "requests that waited for a connection", color: colorAt(4), x: x, y: ys(func(s result.CapacityStep) float64 { return float64(s.PoolWaitCount) }), width: 2},
		{name: "pool timeouts", color: colorAt(1), x: x, y: ys(func(s result.CapacityStep) float64 { return float64(s.PoolTimeouts) })},
		{name: "errors", color: colorAt(3), x: x, y: ys(func(s result.CapacityStep) float64 { return float64(s.Errors) })},
	}
	phi := 1.0
	for _, s := range poolErr {
		for _, v := range s.y {
			phi = math.Max(phi, v)
		}
	}
	poolErr = append(poolErr, knee(0, phi)...)
	tput := []series{
		{name: "ops/s measured", color: colorAt(0), x: x, y: ys(func(s result.CapacityStep) float64 { return s.OpsPerSec }), width: 2},
	}
	thi := 1.0
	for _, v := range tput[0].y {
		thi = math.Max(thi, v)
	}
	tput = append(tput, knee(0, thi)...)
	count := func(v float64) string { return formatThousands(v, 2) }
	return []template.HTML{
		chart{title: "Latency against " + unit + " (ms, log scale; from intended start)", yLabel: "ms", logY: true, xMin: xlo, xMax: xhi,
			xFmt: xFmt, xTicks: xTicks, yFmt: formatMs, series: lat, hlines: latH}.render(),
		chart{title: hitTitle, yLabel: "%", fixY: true, yMin: 0, yMax: 100, xMin: xlo, xMax: xhi,
			xFmt: xFmt, xTicks: xTicks, yFmt: pctFmt, series: hit, hlines: bound(result.MetricHitRate, 100, "target")}.render(),
		chart{title: "Pool waits, pool timeouts and errors against " + unit + " (per step)", yLabel: "count", xMin: xlo, xMax: xhi,
			xFmt: xFmt, xTicks: xTicks, yFmt: count, series: poolErr}.render(),
		chart{title: "Throughput against " + unit, yLabel: "ops/s", xMin: xlo, xMax: xhi,
			xFmt: xFmt, xTicks: xTicks, yFmt: count, series: tput}.render(),
	}
}

var capacityTmpl = template.Must(template.New("capacity").Funcs(template.FuncMap{
	"ms":    formatMs,
	"pct":   formatPercent,
	"thou":  func(v float64) string { return formatThousands(v, 0) },
	"num":   func(v float64) string { return formatNum(round(v, 3)) },
	"upper": strings.ToUpper,
	"mb":    func(v int64) string { return MB(float64(v)) },
}).Parse(`{{.Head}}
<section id="answer" data-section="answer">
<h2>Answer</h2>
<p class="headline {{if .C.Answer.DesignHolds}}pass{{else}}fail{{end}}">{{.C.Answer.Headline}}</p>
{{if .C.Answer.FailsAtAnyLoad}}{{with .C.Answer.Broke}}<p class="headline fail">fails at any load: {{.Name}} {{.Expr}}, not a capacity limit</p>{{end}}{{end}}
{{if .C.Answer.Unfinished}}<p class="headline fail">unfinished: the search ran out of its {{.C.Search.MaxSteps}} steps{{if .C.Answer.PrecisionReached}} at a gap of {{.C.Answer.PrecisionReached}} (asked {{.C.Search.Precision}}){{end}}</p>{{end}}
<table>
<tr><th class="l">varied</th><td class="l">{{.C.Vary}} ({{.C.Unit}})</td></tr>
<tr><th class="l">design point</th><td class="l">{{num .C.DesignPoint}} {{.C.Unit}}: {{.Design}} (its own steps)</td></tr>
{{with .C.Answer.Interval}}<tr><th class="l">interval</th><td class="l">{{$.Interval}}: <b>{{.Confidence}}</b> (agreement {{num .Agreement}}); {{.Method}}</td></tr>{{end}}
{{if .C.Knob}}<tr><th class="l">least {{.C.Vary}} that holds</th><td class="l">{{if .C.Answer.MinHolding}}{{num .C.Answer.MinHolding}} {{.C.Unit}} ({{thou .C.Answer.MaxOpsPerSec}} ops/s; the scenario's is {{num .C.Answer.Headroom}}× that){{else}}none in the searched range{{end}}</td></tr>
{{else}}<tr><th class="l">max sustainable load</th><td class="l">{{if .C.Answer.AtLeast}}at least {{end}}{{num .C.Answer.MaxLoad}} {{.C.Unit}} ({{thou .C.Answer.MaxOpsPerSec}} ops/s, {{num .C.Answer.Headroom}}× the design point)</td></tr>{{end}}
{{with .C.Answer.Broke}}<tr><th class="l">first target to break</th><td class="l">{{.Name}} {{.Expr}}: {{.ObservedText}} ({{.By}}) at {{num $.C.Answer.FailLoad}} {{$.C.Unit}}</td></tr>{{end}}
{{range .C.Answer.AlsoBroke}}<tr><th class="l">also broke</th><td class="l">{{.Name}} {{.Expr}}: {{.ObservedText}} ({{.By}})</td></tr>{{end}}
<tr><th class="l">likely limiting resource</th><td class="l">{{.C.Answer.Limit}}{{if .C.Answer.Evidence}}: {{.C.Answer.Evidence}}{{end}}</td></tr>
<tr><th class="l">each step</th><td class="l">{{num .C.Search.StepWarmupS}} s warm-up, {{num .C.Search.StepDurationS}} s recorded; {{.C.Search.Prefill}}</td></tr>
<tr><th class="l">search</th><td class="l">from {{num .C.Search.From}} to {{num .C.Search.To}} ×{{num .C.Search.Growth}}, precision {{.C.Search.Precision}}{{if .C.Answer.PrecisionReached}} (reached {{.C.Answer.PrecisionReached}}){{end}}{{if .C.Search.MaxLoad}}, never beyond {{num .C.Search.MaxLoad}}{{end}}, up to {{.C.Search.Confirm}} runs a boundary load; {{len .C.Steps}} steps in {{num .C.DurationS}} s</td></tr>
</table>
{{range .Notes}}<p class="detail">note: {{.}}</p>{{end}}
</section>
<section id="charts" data-section="charts">
<h2>Load against latency, hit rate, pool and throughput</h2>
{{range .Charts}}{{.}}{{end}}
</section>
<section id="steps" data-section="steps">
<h2>Steps</h2>
<div class="wide"><table><tr><th>#</th><th class="l">stage</th><th>load</th><th>users</th><th>ops/s</th><th>p50</th><th>p99</th><th>p99.9</th><th>hit rate</th>{{if .C.Prediction}}<th>predicted</th><th>Redis maxmemory</th>{{end}}<th>pool waits</th><th>pool timeouts</th><th>errors</th><th>Redis CPU</th><th>tool CPU</th><th>late</th><th>dropped</th><th class="l">verdict</th><th class="l">report</th></tr>
{{range .C.Steps}}<tr><td>{{.N}}</td><td class="l">{{.Stage}}{{if gt .Run 1}} (run {{.Run}}){{end}}</td><td>{{num .Load}}</td><td>{{.Users}}</td><td>{{thou .OpsPerSec}}</td><td>{{ms .LatencyMs.P50}}</td><td>{{ms .LatencyMs.P99}}</td><td>{{ms .LatencyMs.P999}}</td><td>{{pct .HitRate}}</td>{{if $.C.Prediction}}<td>{{with .PredictedHitRate}}{{pct .}}{{else}}-{{end}}</td><td>{{mb .MaxMemory}}</td>{{end}}<td>{{.PoolWaitCount}}</td><td>{{.PoolTimeouts}}</td><td>{{.Errors}}</td><td>{{num .ServerCPUCores}}</td><td>{{num .ClientCPUCores}}</td><td>{{.Late}}</td><td>{{.Dropped}}</td><td class="l {{.Verdict}}">{{upper .Verdict}}{{if .ToolLimited}} (tool-limited: {{range .ToolReasons}}{{.}} {{end}}){{end}}{{if .Bottleneck}}<br>client: {{.Bottleneck}}{{end}}{{range .Targets}}{{if not .Pass}}<br>{{.Name}} {{.Expr}}: {{.ObservedText}}{{end}}{{end}}</td><td class="l">{{if .Report}}<a href="{{.Report}}/report.html">{{.Report}}</a>{{end}}</td></tr>
{{end}}</table></div>
</section>
{{.Foot}}`))

// WriteCapacityHTML writes capacity.html: one self-contained page, the
// run report's styles and SVG charts.
func WriteCapacityHTML(w io.Writer, c *result.Capacity) error {
	head, foot, err := capacityPage(c).frame()
	if err != nil {
		return fmt.Errorf("write capacity html: %w", err)
	}
	v := struct {
		C          *result.Capacity
		Head, Foot template.HTML
		Charts     []template.HTML
		Notes      []string
		Design     string
		Interval   string
	}{c, head, foot, capacityCharts(c), c.Notes, capacityDesignStatus(c.Answer), ""}
	if c.Answer.Interval != nil {
		v.Interval = capacityInterval(c, c.Answer.Interval)
	}
	var buf bytes.Buffer
	if err := capacityTmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("write capacity html: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
