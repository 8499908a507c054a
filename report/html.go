package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/result"
)

//go:embed report.html.tmpl
var htmlTemplate string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"predictionText": PredictionText,
	"ms":             formatMs,
	"pct":            formatPercent,
	"secs":           formatSeconds,
	"count":          formatCount,
	"count64":        func(n int) string { return formatCount(uint64(max(n, 0))) },
	"bytes":          formatBytes,
	"after":          afterText,
	"recovery":       recoveryText,
	"counts":         countsList,
	"upper":          strings.ToUpper,
	"clock":          formatClock,
	"sub1":           func(a, b float64) float64 { return a - b },
	"rate":           func(v float64) string { return result.FormatValue(v, result.UnitRate) },
	"hitrate":        result.HitRate,
	// judged is the hit rate targets judge (failed lookups did not hit);
	// answered leaves failed lookups out.
	"judged":   func(c result.CacheCounts) float64 { return result.LookupHitRate(c.Hits, c.Misses, c.LookupErrors) },
	"answered": func(c result.CacheCounts) float64 { return result.HitRate(c.Hits, c.Misses) },
	"i64":      func(v int64) string { return formatThousands(float64(v), 0) },
	"num":      func(v float64) string { return formatNum(round(v, 3)) },
	"param":    func(v any) string { return fmt.Sprint(v) },
	"time":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).Parse(htmlTemplate))

// WriteHTML writes report.html: one self-contained page (inline CSS and SVG
// charts, no script, no external resource) that reads on a laptop and prints
// cleanly. Long timelines are downsampled to at most 720 points per series.
func WriteHTML(w io.Writer, r *result.Result) error {
	v, err := newHTMLView(normalized(r))
	if err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	var buf bytes.Buffer
	if err := htmlTmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

type namedSummary struct {
	Group, Name string
	S           result.Summary
}

type namedCounts struct {
	Name string
	C    result.CacheCounts
}

type faultView struct {
	result.FaultReport
	Index  int
	Errors uint64
	Chart  template.HTML
	Params []string
}

// targetView is a target's row in the targets table.
type targetView struct {
	result.TargetResult
	Verdict  string // pass, fail or inconclusive (Pass decides for old reports)
	Interval string // "2.35ms – 5.66ms", "" without one
	Level    string // the interval's coverage, "95%"
	Runs     string // each run's value, "" for a single run
	Strip    template.HTML
}

// runView is one run of a repeated run in the Runs table.
type runView struct {
	result.RepeatRun
	Link           string // the run's report.html, relative to this one
	HostLate       string
	Representative bool
}

type htmlView struct {
	R            *result.Result
	Failed       int
	Inconclusive int
	Targets      []targetView
	HasInterval  bool
	HasRuns      bool
	Level        string
	RepeatLine   string
	Runs         []runView
	Headline     []headline
	Latency      []namedSummary
	All          result.CacheCounts // the whole run's lookups, for the "all" row
	Tiers        []namedCounts
	Families     []familyFigures
	// FamilyLatency is set when the run recorded latency per family;
	// FamilyCards are the headline's busiest families, FamiliesMore how
	// many it leaves out ("and 2 more").
	FamilyLatency bool
	FamilyCards   []headline
	FamiliesMore  string
	// Breaking names the families that break a target for the banner
	// (" in families quotes, surge"), as the text verdict line does.
	Breaking  string
	Causes    map[string]uint64
	Faults    []faultView
	Warmings  []faultView // those with a warming report: the with/without re-warm table
	Origins   []string
	Scenario  string
	PoolConf  string
	Charts    map[string]template.HTML
	Points    int
	Rows      int
	Generated string
	// ServerLatency puts Redis's own per-command latency beside the
	// client's; Client is the load generator's own section.
	ServerLatency []serverLatencyRow
	Client        [][2]string
}

type headline struct {
	Label, Value string
	Bad          bool
	Warn         bool // an inconclusive target judges this figure
}

func newHTMLView(r *result.Result) (*htmlView, error) {
	v := &htmlView{R: r, Charts: map[string]template.HTML{}, Causes: r.Cache.MissesByCause, Rows: len(r.Timeline),
		All: result.CacheCounts{Hits: r.Cache.Hits, Misses: r.Cache.Misses, LookupErrors: r.Cache.LookupErrors}}
	v.Failed, v.Inconclusive = verdictCounts(r.Targets)
	v.targets(r)
	verdictOf := map[string]string{}
	for _, t := range r.Targets {
		verdictOf[t.Name] = t.Outcome()
	}
	card := func(label, value string, names ...string) headline {
		h := headline{Label: label, Value: value}
		for _, n := range names {
			switch verdictOf[n] {
			case result.VerdictFail:
				h.Bad = true
			case result.VerdictInconclusive:
				h.Warn = true
			}
		}
		h.Warn = h.Warn && !h.Bad
		return h
	}
	// Each card shows metrics of the table (its first names, joined by
	// " / "), marked by the verdicts of targets on any of its names.
	metricCard := func(label string, shown int, names ...string) headline {
		vals := make([]string, shown)
		for i, n := range names[:shown] {
			vals[i] = metricText(r, n)
		}
		return card(label, strings.Join(vals, " / "), names...)
	}
	v.Headline = []headline{
		metricCard("p99 latency", 1, result.MetricLatencyP99),
		metricCard("hit rate", 1, result.MetricHitRate),
		metricCard("throughput", 1, "ops_per_sec"),
		metricCard("errors", 1, "errors", "error_rate"),
		metricCard("pool timeouts", 1, "pool_timeouts"),
		metricCard("evicted keys", 1, "evicted_keys"),
		metricCard("lost writes", 1, "lost_writes"),
		metricCard("late / dropped / abandoned", 3, "late", "dropped", "abandoned"),
	}
	if v.All.LookupErrors > 0 {
		// Beside the judged rate: how many lookups failed, and the rate among
		// those Redis answered.
		v.Headline = slices.Insert(v.Headline, 2, card("lookup errors",
			formatCount(v.All.LookupErrors)+" (answered "+formatPercent(result.HitRate(v.All.Hits, v.All.Misses))+")", result.MetricHitRate))
	}
	if rep := r.Repeat; rep != nil {
		v.RepeatLine = repeatLine(rep)
		for _, run := range rep.Runs {
			rv := runView{RepeatRun: run, HostLate: hostLateText(run.HostLateFraction), Representative: run.Index == rep.Representative}
			if run.Dir != "" {
				rv.Link = path.Join(filepath.ToSlash(run.Dir), "report.html")
			}
			v.Runs = append(v.Runs, rv)
		}
	}
	v.Latency = append(v.Latency, namedSummary{"overall", "intended start", r.Latency.Overall})
	if r.Latency.Service.Count > 0 {
		v.Latency = append(v.Latency, namedSummary{"overall", "service (client call)", r.Latency.Service})
	}
	v.ServerLatency = serverLatencyRows(r)
	if hasClient(r.Client) {
		v.Client = clientFacts(r.Client)
	}
	for _, group := range []struct {
		name string
		m    map[string]result.Summary
	}{{"operation", r.Latency.ByOp}, {"tier", r.Latency.ByTier}, {"phase", r.Latency.ByPhase}} {
		for _, k := range sortedKeys(group.m) {
			v.Latency = append(v.Latency, namedSummary{group.name, k, group.m[k]})
		}
	}
	for _, k := range sortedKeys(r.Cache.ByTier) {
		v.Tiers = append(v.Tiers, namedCounts{k, r.Cache.ByTier[k]})
	}
	v.Families = families(r)
	v.FamilyLatency = len(r.Latency.ByFamily) > 0
	v.familyCards(r)
	v.Breaking = breakingText(r, func(s string) string { return s })
	v.Origins = r.OriginsUsed()
	v.Scenario = prettyJSON(r.Scenario.Resolved)
	v.PoolConf = prettyJSON(r.Pool.Config)
	v.Generated = time.Now().UTC().Format("2006-01-02 15:04 UTC")

	pts := downsample(r.Timeline, maxChartPoints)
	v.Points = len(pts)
	bands := faultBands(r.Faults)
	v.Charts = timelineCharts(r, pts, bands, 0, 0)
	dist, err := distributionChart(r)
	if err != nil {
		return nil, err
	}
	v.Charts["distribution"] = dist
	if r.Prediction != nil {
		v.Charts["prediction"] = predictionChart(r.Prediction)
	}

	for i, f := range r.Faults {
		fv := faultView{FaultReport: f, Index: i + 1, Errors: f.Errors()}
		for _, k := range sortedKeys(f.Params) {
			fv.Params = append(fv.Params, k+"="+fmt.Sprint(f.Params[k]))
		}
		// A zoomed view: from 20 s before the fault to 40 s after it ended
		// (or until re-warmed), where recovery happens.
		lo := math.Max(0, f.StartS-20)
		hi := f.EndS + 40
		if f.RewarmS != nil {
			hi = math.Max(hi, f.StartS+*f.RewarmS+10)
		}
		// The axis ends where the run did: a 70 s run's chart stops at 70 s.
		if n := len(r.Timeline); n > 0 && r.Timeline[n-1].T > lo {
			hi = math.Min(hi, r.Timeline[n-1].T)
		}
		var win []result.TimelineRow
		for _, row := range r.Timeline {
			if row.T >= lo && row.T <= hi {
				win = append(win, row)
			}
		}
		zoom := downsample(win, 240)
		fv.Chart = faultChart(r, zoom, faultBands([]result.FaultReport{f}), lo, hi)
		v.Faults = append(v.Faults, fv)
		if f.Warming != nil {
			v.Warmings = append(v.Warmings, fv)
		}
	}
	return v, nil
}

// targets fills the targets table: each target's verdict, interval, runs
// and spread strip, drawn against its bound.
func (v *htmlView) targets(r *result.Result) {
	specs := r.TargetSpecs()
	for i, t := range r.Targets {
		tv := targetView{TargetResult: t, Verdict: t.Outcome(), Interval: intervalRange(t), Runs: runsValues(t)}
		if t.Interval != nil {
			v.HasInterval = true
			tv.Level = confidenceText(t.Interval.Confidence)
			v.Level = tv.Level
		}
		v.HasRuns = v.HasRuns || len(t.Runs) > 0
		bound, hasBound, op := 0.0, false, ""
		if i < len(specs) && specs[i].Name == t.Name {
			bound, hasBound = specs[i].Bound()
			op = specs[i].Expr.Op
		}
		tv.Strip = spreadStrip(t, bound, op, hasBound)
		v.Targets = append(v.Targets, tv)
	}
	if v.Level == "" {
		v.Level = confidenceText(result.ConfidenceLevel)
	}
}

func faultBands(fs []result.FaultReport) []band {
	out := make([]band, 0, len(fs))
	for _, f := range fs {
		end := f.EndS
		if end <= f.StartS {
			end = f.StartS + 1
		}
		out = append(out, band{from: f.StartS, to: end, label: f.Kind})
	}
	return out
}

// targetLine draws a latency or hit-rate target as a horizontal line when the
// scenario set one with a plain upper/lower bound.
// metricText is a metric of the table as r holds it, formatted in its
// unit ("" for a name the table does not have).
func metricText(r *result.Result, name string) string {
	m, ok := result.LookupMetric(name)
	if !ok {
		return ""
	}
	return result.FormatValue(m.Value(r), m.Unit)
}

func targetLine(r *result.Result, name string, scale float64, label string) []hline {
	for _, t := range r.TargetSpecs() {
		if t.Name != name {
			continue
		}
		want, ok := t.Bound()
		if !ok {
			return nil
		}
		return []hline{{y: want * scale, label: label + " " + t.Text, color: "#b00020"}}
	}
	return nil
}

func xs(pts []bucket) []float64 {
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = p.t1
	}
	return out
}

func ys(pts []bucket, f func(b bucket) float64) []float64 {
	out := make([]float64, len(pts))
	for i, p := range pts {
		out[i] = f(p)
	}
	return out
}

func latencySeries(pts []bucket) []series {
	lat := func(f func(result.TimelineRow) float64) []float64 {
		return ys(pts, func(b bucket) float64 {
			if b.row.Ops == 0 || f(b.row) <= 0 {
				return math.NaN()
			}
			return f(b.row)
		})
	}
	x := xs(pts)
	return []series{
		{name: "p50", color: colorAt(0), x: x, y: lat(func(r result.TimelineRow) float64 { return r.P50 })},
		{name: "p99", color: colorAt(1), x: x, y: lat(func(r result.TimelineRow) float64 { return r.P99 }), width: 2},
		{name: "p99.9", color: colorAt(3), x: x, y: lat(func(r result.TimelineRow) float64 { return r.P999 })},
		{name: "max", color: "#444", x: x, y: lat(func(r result.TimelineRow) float64 { return r.Max }), dash: true, width: 1.1},
	}
}

func hitRateSeries(pts []bucket, tiers []string) []series {
	x := xs(pts)
	overall := series{name: "overall", color: colorAt(0), width: 2.4, x: x, y: ys(pts, func(b bucket) float64 {
		if b.row.Hits+b.row.Misses+b.row.LookupErrors == 0 {
			return math.NaN()
		}
		return 100 * result.LookupHitRate(b.row.Hits, b.row.Misses, b.row.LookupErrors)
	})}
	// Tiers first so the overall line is drawn on top of them.
	var out []series
	for i, t := range tiers {
		out = append(out, series{name: t, color: colorAt(i + 2), width: 1.2, x: x, y: ys(pts, func(b bucket) float64 {
			v, ok := b.row.HitRateByTier[t]
			if !ok {
				return math.NaN()
			}
			return 100 * v
		})})
	}
	return append(out, overall)
}

func timelineCharts(r *result.Result, pts []bucket, bands []band, xlo, xhi float64) map[string]template.HTML {
	charts := map[string]template.HTML{}
	x := xs(pts)
	pctFmt := func(v float64) string { return formatNum(v) + "%" }
	msFmt := func(v float64) string { return formatMs(v) }
	count := func(v float64) string { return formatThousands(v, 2) }

	charts["latency"] = chart{title: "Latency per second (ms, log scale; from intended start)", yLabel: "ms", logY: true,
		bands: bands, xMin: xlo, xMax: xhi, yFmt: msFmt, series: latencySeries(pts),
		hlines: targetLine(r, result.MetricLatencyP99, 1, "p99 target")}.render()

	charts["throughput"] = chart{title: "Throughput (requests per second)", yLabel: "ops/s", bands: bands, xMin: xlo, xMax: xhi, yFmt: count,
		series: []series{
			{name: "requests/s", color: colorAt(0), x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.Ops) }), width: 2},
			{name: "late/s", color: colorAt(4), x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.Late) })},
			{name: "dropped/s", color: colorAt(1), x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.Dropped) })},
			{name: "abandoned/s", color: colorAt(3), x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.Abandoned) })},
		}}.render()

	errTotals := map[string]uint64{}
	for _, p := range pts {
		addCounts(errTotals, p.row.ErrorsByKind)
	}
	top, rest := topKeys(errTotals, 7)
	var errSeries []series
	for i, k := range top {
		errSeries = append(errSeries, series{name: k, color: colorAt(i + 1), x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.ErrorsByKind[k]) })})
	}
	if len(rest) > 0 {
		errSeries = append(errSeries, series{name: "other", color: colorAt(8), x: x, y: ys(pts, func(b bucket) float64 {
			var n uint64
			for _, k := range rest {
				n += b.row.ErrorsByKind[k]
			}
			return b.perSec(n)
		})})
	}
	charts["errors"] = chart{title: "Errors by kind (per second)", yLabel: "errors/s", bands: bands, xMin: xlo, xMax: xhi, yFmt: count,
		series: errSeries, empty: "no errors during the run"}.render()

	tierSet := map[string]bool{}
	for _, p := range pts {
		for k := range p.row.HitRateByTier {
			tierSet[k] = true
		}
	}
	charts["hitrate"] = chart{title: "Hit rate (overall and per tier)", yLabel: "%", fixY: true, yMin: 0, yMax: 100, bands: bands,
		xMin: xlo, xMax: xhi, yFmt: pctFmt, series: hitRateSeries(pts, sortedKeys(tierSet)),
		hlines: targetLine(r, result.MetricHitRate, 100, "target")}.render()

	causeTotals := map[string]uint64{}
	for _, p := range pts {
		addCounts(causeTotals, p.row.MissesByCause)
	}
	var causeSeries []series
	causeColor := map[string]string{result.CauseCold: colorAt(0), result.CauseExpired: colorAt(4), result.CauseEvicted: colorAt(1), result.CauseWiped: colorAt(3)}
	for i, k := range sortedKeys(causeTotals) {
		c, ok := causeColor[k]
		if !ok {
			c = colorAt(i + 5)
		}
		causeSeries = append(causeSeries, series{name: k, color: c, x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.MissesByCause[k]) })})
	}
	charts["misses"] = chart{title: "Misses by cause (per second)", yLabel: "misses/s", bands: bands, xMin: xlo, xMax: xhi, yFmt: count,
		series: causeSeries, empty: "no misses classified"}.render()

	charts["evictions"] = chart{title: "Evicted and expired keys (per second)", yLabel: "keys/s", bands: bands, xMin: xlo, xMax: xhi, yFmt: count,
		series: []series{
			{name: "evicted/s", color: colorAt(1), x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.EvictedKeys) }), width: 2},
			{name: "expired/s", color: colorAt(4), x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.ExpiredKeys) })},
		}}.render()

	mib := func(v int64) float64 { return float64(v) / (1 << 20) }
	memSeries := []series{{name: "used memory", color: colorAt(0), width: 2, x: x, y: ys(pts, func(b bucket) float64 { return mib(b.row.UsedMemory) })}}
	if r.Server.MaxMemory > 0 || anyRow(pts, func(r result.TimelineRow) bool { return r.MaxMemory > 0 }) {
		memSeries = append(memSeries, series{name: "maxmemory", color: "#b00020", dash: true, x: x, y: ys(pts, func(b bucket) float64 {
			if b.row.MaxMemory <= 0 {
				return math.NaN()
			}
			return mib(b.row.MaxMemory)
		})})
	}
	charts["memory"] = chart{title: "Redis memory against maxmemory (MiB)", yLabel: "MiB", bands: bands, xMin: xlo, xMax: xhi, yFmt: count,
		series: memSeries}.render()

	charts["clients"] = chart{title: "Connected clients (Redis) and active users (÷100)", yLabel: "clients", bands: bands, xMin: xlo, xMax: xhi, yFmt: count, height: 220,
		series: []series{
			{name: "connected clients", color: colorAt(3), x: x, y: ys(pts, func(b bucket) float64 { return float64(b.row.ConnectedClients) }), width: 2},
			{name: "active users ÷100", color: colorAt(8), dash: true, x: x, y: ys(pts, func(b bucket) float64 { return float64(b.row.Active) / 100 })},
		}}.render()

	charts["pool"] = chart{title: "Connection pool: connections in use and idle", yLabel: "conns", bands: bands, xMin: xlo, xMax: xhi, yFmt: count, height: 220,
		series: []series{
			{name: "in use", color: colorAt(0), width: 2, x: x, y: ys(pts, func(b bucket) float64 {
				return float64(b.row.PoolTotal) - math.Min(float64(b.row.PoolIdle), float64(b.row.PoolTotal))
			})},
			{name: "idle", color: colorAt(2), x: x, y: ys(pts, func(b bucket) float64 { return float64(b.row.PoolIdle) })},
			{name: "total", color: colorAt(8), dash: true, x: x, y: ys(pts, func(b bucket) float64 { return float64(b.row.PoolTotal) })},
		}}.render()

	charts["poolwait"] = chart{title: "Connection pool: timeouts and wait time (per second)", bands: bands, xMin: xlo, xMax: xhi, yFmt: count, height: 220,
		series: []series{
			{name: "timeouts/s", color: colorAt(1), width: 2, x: x, y: ys(pts, func(b bucket) float64 { return b.perSec(b.row.PoolTimeouts) })},
			{name: "wait ms/s", color: colorAt(4), x: x, y: ys(pts, func(b bucket) float64 { return b.row.PoolWaitMs / b.span() })},
		}}.render()
	return charts
}

func faultChart(r *result.Result, pts []bucket, bands []band, lo, hi float64) template.HTML {
	x := xs(pts)
	ser := latencySeries(pts)[:3]
	lat := chart{title: "Latency around the fault (ms, log scale)", logY: true, height: 200, bands: bands, xMin: lo, xMax: hi,
		yFmt: formatMs, series: ser, hlines: targetLine(r, result.MetricLatencyP99, 1, "p99 target")}.render()
	hr := chart{title: "Hit rate and errors around the fault", height: 200, bands: bands, xMin: lo, xMax: hi, fixY: true, yMin: 0, yMax: 100,
		yFmt: func(v float64) string { return formatNum(v) + "%" },
		series: []series{
			hitRateSeries(pts, nil)[0], // overall only
			{name: "error share", color: colorAt(1), x: x, y: ys(pts, func(b bucket) float64 {
				if b.row.Ops == 0 {
					return math.NaN()
				}
				return 100 * float64(b.row.Errors) / float64(b.row.Ops)
			})},
		}}.render()
	return lat + hr
}

func anyRow(pts []bucket, f func(result.TimelineRow) bool) bool {
	for _, p := range pts {
		if f(p.row) {
			return true
		}
	}
	return false
}

// distributionChart is the HDR percentile plot: latency (log scale) against
// percentile on the classic 1/(1-p) axis, so the tail from 99 % to 99.999 %
// gets as much room as the body.
func distributionChart(r *result.Result) (template.HTML, error) {
	type entry struct{ key, name string }
	entries := []entry{{"overall", "intended start"}, {"service", "service (client call)"}}
	var opKeys []string
	for k := range r.HDR {
		if strings.HasPrefix(k, "tier:") {
			opKeys = append(opKeys, k)
		}
	}
	sort.Strings(opKeys)
	for _, k := range opKeys {
		entries = append(entries, entry{k, strings.TrimPrefix(k, "tier:") + " tier"})
	}
	maxX := 0.0
	var ss []series
	for i, e := range entries {
		h, ok, err := r.Histogram(e.key)
		if err != nil {
			return "", err
		}
		if !ok || h.TotalCount() == 0 {
			continue
		}
		limit := math.Min(6, math.Log10(float64(h.TotalCount())))
		maxX = math.Max(maxX, limit)
		s := series{name: e.name, color: colorAt(i + 1), width: 1.3}
		if i < 2 {
			s.color, s.width, s.dash = colorAt(0), 2.4, i == 1
		}
		for xv := 0.0; xv <= limit+1e-9; xv += 0.025 {
			p := 100 * (1 - math.Pow(10, -xv))
			s.x = append(s.x, xv)
			s.y = append(s.y, result.UsToMs(h.ValueAtPercentile(p)))
		}
		s.x = append(s.x, limit)
		s.y = append(s.y, result.UsToMs(h.Max()))
		ss = append(ss, s)
	}
	maxX = math.Max(1, maxX)
	var ticks []float64
	for t := 0.0; t <= maxX+1e-9; t++ {
		ticks = append(ticks, t)
	}
	return chart{title: "Latency by percentile (HDR, log scales)", yLabel: "ms", logY: true, xMin: 0, xMax: maxX,
		xTicks: ticks, xFmt: percentileLabel, yFmt: formatMs, series: ss, height: 300,
		hlines: targetLine(r, result.MetricLatencyP99, 1, "p99 target"), empty: "no histogram stored"}.render(), nil
}

func percentileLabel(x float64) string {
	if x == 0 {
		return "0%"
	}
	return formatNum(round(100*(1-math.Pow(10, -x)), 4)) + "%"
}

func prettyJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("unserialisable: %v", err)
	}
	return string(b)
}

// familyCards are the headline's busiest key families, each its hit rate
// (its p99 beside the name), marked bad when the family breaks a target (as the verdict
// line names it).
func (v *htmlView) familyCards(r *result.Result) {
	if len(v.Families) < 2 {
		return // one family is the run itself
	}
	breaking := map[string]bool{}
	for _, f := range breakingFamilies(r) {
		breaking[f] = true
	}
	top, more := topFamilies(r, familyTopN)
	for _, f := range top {
		h := headline{Label: "family " + f.Name, Bad: breaking[f.Name]}
		switch {
		case f.lookups() > 0:
			h.Value = formatPercent(result.LookupHitRate(f.C.Hits, f.C.Misses, f.C.LookupErrors))
			if f.Latency.Count > 0 {
				h.Label += " · p99 " + formatMs(f.Latency.P99)
			}
		case f.Latency.Count > 0:
			h.Value = "p99 " + formatMs(f.Latency.P99)
		}
		v.FamilyCards = append(v.FamilyCards, h)
	}
	if more > 0 {
		v.FamiliesMore = fmt.Sprintf("and %d more key families (Cache section)", more)
	}
}
