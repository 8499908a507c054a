package result

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/cacheproof/cacheproof/internal/textdist"
)

// TargetSpec is one promise a run must keep, as written in a scenario:
// a metric name and an expression such as "< 5ms". It is text; ParseTarget
// turns it into the Target that Evaluate and Finalize take.
type TargetSpec struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	// Abort, when set, stops the run once the target is broken beyond
	// recovery (AbortRule, AbortWatch).
	Abort *AbortRule `json:"abort,omitempty"`
}

// Target is a TargetSpec parsed once, when it is loaded (a scenario when it
// is validated, a stored report when its promises are re-evaluated), as k6
// parses its thresholds: evaluation, chaos measurement and the writers use
// Expr and never parse Text again.
type Target struct {
	Name string // metric name, e.g. "latency_p99" or "hit_rate.session"
	Expr Expr   // the parsed expression
	Text string // the expression as written, shown in reports ("< 5ms")
	// Abort is the target's abort rule (nil: the run goes on whatever it
	// reads).
	Abort *AbortRule
	// err is why Text did not parse; a target loaded with it fails
	// evaluation with this detail instead of stopping a report from being
	// written.
	err error
}

// ParseTarget parses a spec's expression. On error the returned Target
// still names the spec and carries the error, so a caller that must evaluate
// anyway (a stored report) gets a target that fails with it as detail. The
// metric name is not checked here; KnownMetric and CheckTarget do that.
func ParseTarget(spec TargetSpec) (Target, error) {
	t := Target{Name: spec.Name, Text: spec.Expr, Abort: spec.Abort}
	t.Expr, t.err = ParseExpr(spec.Expr)
	return t, t.err
}

// LoadTargets parses every spec; one that does not parse is kept and fails
// evaluation with its parse error (see ParseTarget).
func LoadTargets(specs []TargetSpec) []Target {
	out := make([]Target, len(specs))
	for i, s := range specs {
		out[i], _ = ParseTarget(s)
	}
	return out
}

// Err is why the target's text did not parse (nil when it did).
func (t Target) Err() error { return t.err }

// Spec returns the target as written.
func (t Target) Spec() TargetSpec { return TargetSpec{Name: t.Name, Expr: t.Text, Abort: t.Abort} }

// Bound is the expression's value in the unit of the target's metric (a
// latency bound in ms, a hit rate as a fraction, a recovery time in s). ok is
// false when the metric is unknown, the text did not parse or its unit does
// not apply to the metric.
func (t Target) Bound() (v float64, ok bool) {
	if t.err != nil {
		return 0, false
	}
	m, err := resolveMetric(t.Name)
	if err != nil {
		return 0, false
	}
	v, err = t.Expr.in(m.Unit)
	return v, err == nil
}

// TargetResult is a TargetSpec checked against a Result. Observed is in the
// metric's unit (ms, s, fraction, count, ops/s; see Unit); ObservedText is the
// same value formatted for people. Detail explains a failure that is not a
// plain comparison (unknown metric, no data, fault never recovered).
type TargetResult struct {
	Name         string  `json:"name"`
	Expr         string  `json:"expr"`
	Observed     float64 `json:"observed"`
	ObservedText string  `json:"observed_text"`
	Unit         string  `json:"unit"`
	Pass         bool    `json:"pass"`
	Detail       string  `json:"detail"`
	// Verdict is pass, fail or inconclusive (see VerdictInconclusive);
	// Pass is true only for pass. Empty in reports written before
	// schema 1.2, where Pass alone decided.
	Verdict string `json:"verdict,omitempty"`
	// Interval is the confidence interval of Observed, in its unit; nil
	// when the metric has no source of variance (a count of events, a
	// fault's recovery time) and Observed is taken as exact.
	Interval *Interval `json:"interval,omitempty"`
	// Runs are the per-run values of a repeated run (run --repeat), in run
	// order; Observed is then their median. Empty for a single run.
	Runs []float64 `json:"runs,omitempty"`
	// Evidence says why an inconclusive target is not decided (for
	// example the host timer's late share that explains a latency miss).
	Evidence string `json:"evidence,omitempty"`
}

// Interval is a two-sided confidence interval of a target's observed value.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// Confidence is the nominal coverage, e.g. 0.95.
	Confidence float64 `json:"confidence"`
	// Method says how it was computed, e.g. "block bootstrap over 120
	// one-second windows" or "order statistics over 5 runs".
	Method string `json:"method"`
}

// DefaultTargets are the seed's promises: under 5 ms, at least 95 % hits,
// zero pool exhaustion; and no dropped commands. A dropped command is load
// the run was asked to apply and did not: its latency is in the histogram
// from its intended start, but a run that shed part of its load has not
// shown the cache holds the load, whatever its percentiles say.
func DefaultTargets() []TargetSpec {
	return []TargetSpec{
		{Name: MetricLatencyP99, Expr: "< 5ms"},
		{Name: MetricHitRate, Expr: ">= 95%"},
		{Name: "pool_timeouts", Expr: "== 0"},
		{Name: "dropped", Expr: "== 0"},
	}
}

// Units of metrics and of normalised expressions.
const (
	UnitMs       = "ms"       // latency, milliseconds
	UnitSeconds  = "s"        // recovery times, seconds
	UnitFraction = "fraction" // 0..1; written as a percentage or a plain fraction
	UnitCount    = "count"    // a number of events
	UnitRate     = "ops/s"    // throughput
)

// Expr is a parsed target expression. Value is normalised: durations to
// milliseconds (Unit "ms"), percentages to fractions (Unit "fraction"); a
// bare number has Unit "" and takes the unit of the metric it is checked
// against (so "latency_p99 < 5" means 5 ms, "recovery_time < 10" 10 s).
type Expr struct {
	Op    string
	Value float64
	Unit  string
}

var exprOps = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseExpr parses "< 5ms", "<= 5 ms", ">= 95%", "== 0", "< 10s", ">0.95".
func ParseExpr(s string) (Expr, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Expr{}, fmt.Errorf("target expression is empty: expected an operator and a value, like \"< 5ms\" or \">= 95%%\"")
	}
	var e Expr
	for _, op := range exprOps {
		if strings.HasPrefix(in, op) {
			e.Op = op
			break
		}
	}
	if e.Op == "" {
		if strings.HasPrefix(in, "=") {
			return Expr{}, fmt.Errorf("target expression %q: use \"==\" for equality", s)
		}
		return Expr{}, fmt.Errorf("target expression %q: expected an operator (<, <=, >, >=, ==, !=) before the value", s)
	}
	rest := strings.TrimSpace(in[len(e.Op):])
	i := 0
	for i < len(rest) && (rest[i] == '.' || rest[i] == '-' || rest[i] == '+' || rest[i] == 'e' && i > 0 && isDigit(rest[i-1]) || isDigit(rest[i])) {
		i++
	}
	num, unit := rest[:i], strings.TrimSpace(rest[i:])
	if num == "" {
		return Expr{}, fmt.Errorf("target expression %q: expected a number after %q", s, e.Op)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Expr{}, fmt.Errorf("target expression %q: %q is not a number", s, num)
	}
	switch unit {
	case "":
		e.Value = v
	case "%":
		e.Value, e.Unit = v/100, UnitFraction
	default:
		d, ok := durationUnits[strings.ToLower(unit)]
		if !ok {
			return Expr{}, fmt.Errorf("target expression %q: unknown unit %q (expected ns, us, ms, s, m, h or %%)", s, unit)
		}
		e.Value, e.Unit = v*float64(d)/float64(time.Millisecond), UnitMs
	}
	return e, nil
}

var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond,
	"ms": time.Millisecond, "s": time.Second, "sec": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour,
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// String renders the expression in canonical form ("< 5ms", ">= 95%").
func (e Expr) String() string {
	switch e.Unit {
	case UnitMs:
		return e.Op + " " + formatNum(e.Value) + "ms"
	case UnitFraction:
		return e.Op + " " + formatNum(e.Value*100) + "%"
	}
	return e.Op + " " + formatNum(e.Value)
}

// in returns the expression's value in the metric unit, or an error when the
// expression's unit cannot apply to that metric.
func (e Expr) in(unit string) (float64, error) {
	switch e.Unit {
	case "":
		if unit == UnitFraction && e.Value > 1 {
			return 0, fmt.Errorf("%s is a fraction between 0 and 1: write %s%% or %s", formatNum(e.Value), formatNum(e.Value), formatNum(e.Value/100))
		}
		return e.Value, nil
	case UnitMs:
		switch unit {
		case UnitMs:
			return e.Value, nil
		case UnitSeconds:
			return e.Value / 1000, nil
		}
		return 0, fmt.Errorf("a duration does not apply to a %s metric", unit)
	case UnitFraction:
		if unit == UnitFraction {
			return e.Value, nil
		}
		return 0, fmt.Errorf("a percentage does not apply to a %s metric", unit)
	}
	return 0, fmt.Errorf("unknown expression unit %q", e.Unit)
}

func (e Expr) holds(observed, want float64) bool {
	const eps = 1e-9
	switch e.Op {
	case "<":
		return observed < want
	case "<=":
		return observed <= want+eps*math.Max(1, math.Abs(want))
	case ">":
		return observed > want
	case ">=":
		return observed >= want-eps*math.Max(1, math.Abs(want))
	case "==":
		return math.Abs(observed-want) <= eps*math.Max(1, math.Abs(want))
	case "!=":
		return math.Abs(observed-want) > eps*math.Max(1, math.Abs(want))
	}
	return false
}

var quantiles = map[string]func(Summary) float64{
	"p50": func(s Summary) float64 { return s.P50 }, "p90": func(s Summary) float64 { return s.P90 },
	"p99": func(s Summary) float64 { return s.P99 }, "p999": func(s Summary) float64 { return s.P999 },
	"max": func(s Summary) float64 { return s.Max }, "mean": func(s Summary) float64 { return s.Mean },
}

// Quantile returns the figure of s named p50, p90, p99, p999, max or mean
// (the quantile part of a latency metric name), or 0 for another name.
func (s Summary) Quantile(name string) float64 {
	if q, ok := quantiles[name]; ok {
		return q(s)
	}
	return 0
}

var quantileOrder = []string{"p50", "p90", "p99", "p999", "max", "mean"}

func summaryMetric(what string, pick func(*Result) (Summary, bool), q func(Summary) float64) Metric {
	return Metric{Unit: UnitMs, Better: "lower", Combine: CombineHDR,
		read: func(r *Result) float64 { s, _ := pick(r); return q(s) },
		noData: func(r *Result) string {
			s, ok := pick(r)
			return when(!ok || s.Count == 0, "no data: no latency recorded for "+what)
		}}
}

// noOperations is the detail of every count target on a run in which no
// cache operation ran (Redis never came up, the run was interrupted before
// the load, every command was dropped): "pool_timeouts == 0" holds there
// only because nothing was tried, and a verdict must not pass on that.
const noOperations = "no data: no operations ran"

// count is a count metric (Combine sum): no data when no operation ran.
// interval reads its count in one timeline row; live and help name its
// live counter.
func count(name string, f func(r *Result) uint64, interval func(TimelineRow) uint64, rule *CompareRule, live, help string) Metric {
	return Metric{Name: name, Unit: UnitCount, Better: "lower", Combine: CombineSum, Compare: rule, Interval: interval, Live: live, Help: help,
		read: func(r *Result) float64 { return float64(f(r)) },
		noData: func(r *Result) string {
			if r.Users.Requests == 0 {
				return noOperationsDetail(f(r))
			}
			return ""
		}}
}

// countOf is a count metric that also needs some of what it counts to have
// been looked at: lost writes need writes tracked, integrity mismatches
// values checked. Zero of zero is no data, not a pass; any increase
// regresses in compare (lost data is never noise).
func countOf(name string, f func(r *Result) uint64, looked func(r *Result) uint64, nothing string) Metric {
	c := count(name, f, nil, &CompareRule{Strict: true}, "", "")
	counted := c.noData
	c.noData = func(r *Result) string {
		if r.Users.Requests > 0 && looked(r) == 0 {
			return "no data: " + nothing
		}
		return counted(r)
	}
	return c
}

func noOperationsDetail(counted uint64) string {
	if counted == 0 {
		return noOperations
	}
	return fmt.Sprintf("%s (%s counted)", noOperations, formatCount(counted))
}

// hitRateMetric judges hits / (hits + misses + lookup errors): a GET that
// failed sent the caller to the origin exactly as a miss did, so a run whose
// Redis answered few lookups must not pass on the few it answered.
func hitRateMetric(name, what string, pick func(*Result) (CacheCounts, bool)) Metric {
	return Metric{Name: name, Unit: UnitFraction, Better: "higher", Combine: CombineRecompute, Compare: &HitRateCompare,
		read: func(r *Result) float64 { c, _ := pick(r); return LookupHitRate(c.Hits, c.Misses, c.LookupErrors) },
		noData: func(r *Result) string {
			c, ok := pick(r)
			return when(!ok || c.Hits+c.Misses+c.LookupErrors == 0, "no data: no cache lookups recorded for "+what)
		}}
}

// worstRecovery is the longest recovery over all faults. A fault that never
// recovered counts from its start to the end of the run, flagged as a lower
// bound.
func (r *Result) worstRecovery(pick func(FaultReport) *float64, never string) (float64, bool, bool, string) {
	if missing := r.faultsNotMeasured(); missing != "" {
		return 0, true, false, missing
	}
	worst, exact, detail := 0.0, true, ""
	for _, f := range r.Faults {
		if p := pick(f); p != nil {
			if *p > worst && exact {
				worst = *p
			}
			continue
		}
		lower := math.Max(0, r.DurationS-f.StartS)
		if exact || lower > worst {
			worst = lower
		}
		exact = false
		detail = fmt.Sprintf("%s fault at %s: %s before the run ended", f.Kind, formatSeconds(f.StartS), never)
	}
	return worst, exact, true, detail
}

// FaultsNotInjected is the metric of planned fault occurrences that did not
// take effect (the action failed, or it never started: the run ended or was
// interrupted first). JudgeAll adds the target "faults_not_injected == 0"
// to every run that planned faults, whatever the scenario's targets: a
// chaos run whose fault did not happen tested nothing about it, and its
// latency and hit-rate targets would pass on a quiet run.
const FaultsNotInjected = "faults_not_injected"

// faultsNotInjected counts the planned occurrences that did not take effect
// (reported with injected false, or missing from a repeated entry's
// occurrences) and names them, each with the runner's first note (why).
func (r *Result) faultsNotInjected() (uint64, string) {
	var n uint64
	var why []string
	for _, f := range r.Faults {
		if f.Injected {
			continue
		}
		n++
		s := fmt.Sprintf("%s fault at %s", f.Kind, formatSeconds(f.StartS))
		if f.Node != "" {
			s = fmt.Sprintf("%s fault on %s at %s", f.Kind, f.Node, formatSeconds(f.StartS))
		}
		if len(f.Notes) > 0 {
			s += ": " + f.Notes[0]
		} else {
			s += ": did not take effect"
		}
		why = append(why, s)
	}
	for _, e := range r.faultEntries() {
		if have := len(e.occurrences) + e.unnumbered; have < e.planned {
			n += uint64(e.planned - have)
			why = append(why, fmt.Sprintf("%s fault first at %s: %d of %d planned occurrences reported", e.first.Kind, formatSeconds(e.first.StartS), have, e.planned))
		}
	}
	if len(why) > 3 {
		why = append(why[:3], fmt.Sprintf("and %d more", len(why)-3))
	}
	return n, strings.Join(why, "; ")
}

// faultEntry groups the occurrences of one scenario fault entry.
type faultEntry struct {
	first       FaultReport
	planned     int
	occurrences map[int]bool
	unnumbered  int
}

// faultEntries groups r's fault reports by scenario entry, in order.
func (r *Result) faultEntries() []*faultEntry {
	var out []*faultEntry
	byKey := map[string]*faultEntry{}
	for _, f := range r.Faults {
		k := faultEntryKey(f)
		e, ok := byKey[k]
		if !ok {
			e = &faultEntry{first: f, occurrences: map[int]bool{}}
			byKey[k] = e
			out = append(out, e)
		}
		e.planned = max(e.planned, f.Planned)
		if f.Occurrence > 0 {
			e.occurrences[f.Occurrence] = true
		} else {
			e.unnumbered++
		}
	}
	return out
}

// faultsNotMeasured says why r's faults cannot back a recovery or
// error-budget verdict, or returns "" when they can. "recovery_time < 10s"
// over no fault, over a fault whose action failed or never ran (the run
// ended or was interrupted first), or over two of three planned repetitions
// holds only because the fault did not happen; such a target fails with
// "no data" instead.
func (r *Result) faultsNotMeasured() string {
	if len(r.Faults) == 0 {
		return "no data: no faults injected"
	}
	for _, f := range r.Faults {
		if !f.Injected {
			return fmt.Sprintf("no data: %s fault at %s did not take effect", f.Kind, formatSeconds(f.StartS))
		}
	}
	// Occurrences of one scenario fault entry (a repeated fault) must all
	// have been injected: a planned one missing from the report never ran.
	for _, e := range r.faultEntries() {
		if n := len(e.occurrences) + e.unnumbered; n < e.planned {
			return fmt.Sprintf("no data: %s fault first at %s: %d of %d planned occurrences injected",
				e.first.Kind, formatSeconds(e.first.StartS), n, e.planned)
		}
	}
	return ""
}

// faultEntryKey identifies the scenario fault entry a FaultReport is an
// occurrence of: its kind and its index in the scenario's faults list
// (Params "index"), or, for a report without an index, its kind and
// parameters apart from the occurrence number.
func faultEntryKey(f FaultReport) string {
	if i, ok := f.Params["index"]; ok {
		return fmt.Sprintf("%s#%v", f.Kind, i)
	}
	keys := sortedKeys(f.Params)
	var b strings.Builder
	b.WriteString(f.Kind)
	for _, k := range keys {
		if k != "occurrence" {
			fmt.Fprintf(&b, " %s=%v", k, f.Params[k])
		}
	}
	return b.String()
}

// sortedKeys lists m's keys in order, so that a description reads the
// same on every run.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// RecordedSeconds is the length of the recorded phases, the window the
// totals (requests, hits, latencies) were counted over: the sum of EndS -
// StartS of every phase with Recorded set. A report without recorded phases
// falls back to DurationS.
func (r *Result) RecordedSeconds() float64 {
	var s float64
	for _, p := range r.Phases {
		if p.Recorded && p.EndS > p.StartS {
			s += p.EndS - p.StartS
		}
	}
	if s == 0 {
		return r.DurationS
	}
	return s
}

// OpsPerSec is the stored throughput, or requests over the recorded seconds
// (never over duration_s: requests of the warm-up are not counted, so
// dividing by a duration that includes it understates the rate).
func (r *Result) OpsPerSec() float64 {
	if r.Users.OpsPerSec > 0 {
		return r.Users.OpsPerSec
	}
	if s := r.RecordedSeconds(); s > 0 {
		return float64(r.Users.Requests) / s
	}
	return 0
}

// resolveMetric finds the metric for a name, including the parametrised
// forms latency_p99.<tier>, latency_p99.op.<op>, latency_p99.phase.<phase>,
// service_p99, hit_rate.<tier> and hit_rate.family.<family>.
func resolveMetric(name string) (Metric, error) {
	if i, ok := metricIndex[name]; ok && !metricTable[i].compareOnly {
		return metricTable[i], nil
	}
	head, tail, dotted := strings.Cut(name, ".")
	switch {
	case (strings.HasPrefix(head, "latency_")) && dotted:
		_, qn, _ := strings.Cut(head, "_")
		q, ok := quantiles[qn]
		if !ok {
			return Metric{}, unknownMetric(name)
		}
		var m Metric
		switch op, isOp := strings.CutPrefix(tail, "op."); {
		case isOp && isIdent(op):
			m = summaryMetric("operation "+op, func(r *Result) (Summary, bool) { s, ok := r.Latency.ByOp[op]; return s, ok }, q)
		case strings.HasPrefix(tail, "phase.") && isIdent(tail[len("phase."):]):
			ph := tail[len("phase."):]
			m = summaryMetric("phase "+ph, func(r *Result) (Summary, bool) { s, ok := r.Latency.ByPhase[ph]; return s, ok }, q)
		case strings.HasPrefix(tail, "family.") && isIdent(tail[len("family."):]):
			fam := tail[len("family."):]
			m = summaryMetric("family "+fam, func(r *Result) (Summary, bool) { s, ok := r.Latency.ByFamily[fam]; return s, ok }, q)
		case isIdent(tail):
			m = summaryMetric("tier "+tail, func(r *Result) (Summary, bool) { s, ok := r.Latency.ByTier[tail]; return s, ok }, q)
			m.tier, m.latency = tail, qn
		default:
			return Metric{}, unknownMetric(name)
		}
		m.Name = name
		return m, nil
	case head == MetricHitRate && dotted:
		if fam, ok := strings.CutPrefix(tail, "family."); ok && isIdent(fam) {
			return hitRateMetric(name, "family "+fam, func(r *Result) (CacheCounts, bool) { c, ok := r.Cache.ByFamily[fam]; return c, ok }), nil
		}
		if isIdent(tail) {
			m := hitRateMetric(name, "tier "+tail, func(r *Result) (CacheCounts, bool) { c, ok := r.Cache.ByTier[tail]; return c, ok })
			m.tier = tail
			return m, nil
		}
	}
	return Metric{}, unknownMetric(name)
}

func unknownMetric(name string) error {
	if s := SuggestMetric(name); s != "" {
		return fmt.Errorf("unknown metric %q (did you mean %q?)", name, s)
	}
	return fmt.Errorf("unknown metric %q (known: %s)", name, strings.Join(baseMetricNames(), ", "))
}

// TierOf returns the cache tier a per-tier metric name names
// ("hit_rate.session", "latency_p99.api": session, api), and whether name is
// such a form. The tiers are the cache layer's (pool's), which result does
// not import: the grammar accepts any tier-shaped name, a tier a run did not
// have fails evaluation with no data, and whoever loads targets knowing the
// tiers checks the name with TierOf (scenario validation does).
func TierOf(name string) (string, bool) {
	m, err := resolveMetric(name)
	return m.tier, err == nil && m.tier != ""
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(unicode.IsLower(c) || unicode.IsDigit(c) || c == '_' || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

// KnownMetric reports whether name can be used as a target.
func KnownMetric(name string) bool {
	_, err := resolveMetric(name)
	return err == nil
}

func baseMetricNames() []string {
	names := make([]string, 0, len(metricTable))
	for _, m := range metricTable {
		if !m.compareOnly {
			names = append(names, m.Name)
		}
	}
	sort.Strings(names)
	return names
}

// MetricNames lists every concrete metric name (base metrics and their
// per-tier forms for the given tiers), sorted, for validation messages and
// did-you-mean hints. The open-ended forms latency_<q>.op.<op>,
// latency_<q>.phase.<phase> and hit_rate.family.<family> are accepted by
// KnownMetric but not listed.
func MetricNames(tiers ...string) []string {
	names := baseMetricNames()
	for _, t := range tiers {
		names = append(names, "hit_rate."+t)
		for _, q := range quantileOrder {
			names = append(names, "latency_"+q+"."+t)
		}
	}
	sort.Strings(names)
	return names
}

// SuggestMetric returns the known metric name closest to name (per-tier
// forms for the given tiers included), or "" when nothing is close enough to
// be a plausible typo.
func SuggestMetric(name string, tiers ...string) string {
	return textdist.Closest(name, MetricNames(tiers...), 3)
}

// CheckTarget validates a target before a run: the metric must be known and
// the expression must parse and fit the metric's unit.
func CheckTarget(t TargetSpec) error {
	m, err := resolveMetric(t.Name)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	pt, err := ParseTarget(t)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	if _, err := pt.Expr.in(m.Unit); err != nil {
		return fmt.Errorf("target %s %q: %w", t.Name, t.Expr, err)
	}
	return nil
}

// Evaluate checks every target against r. It changes nothing in r; the
// caller decides the verdict (Finalize does).
func Evaluate(r *Result, targets []Target) []TargetResult {
	out := make([]TargetResult, 0, len(targets))
	for _, t := range targets {
		out = append(out, evaluateOne(r, t))
	}
	return out
}

func evaluateOne(r *Result, t Target) TargetResult {
	tr := TargetResult{Name: t.Name, Expr: t.Text}
	m, err := resolveMetric(t.Name)
	if err != nil {
		tr.Detail, tr.ObservedText = err.Error(), "n/a"
		return tr
	}
	tr.Unit = m.Unit
	if t.err != nil {
		tr.Detail, tr.ObservedText = t.err.Error(), "n/a"
		return tr
	}
	e := t.Expr
	want, err := e.in(m.Unit)
	if err != nil {
		tr.Detail, tr.ObservedText = err.Error(), "n/a"
		return tr
	}
	v, exact, ok, detail := m.Observe(r)
	tr.Detail = detail
	if !ok {
		tr.ObservedText = "no data"
		return tr
	}
	tr.Observed = v
	tr.ObservedText = FormatValue(v, m.Unit)
	if !exact {
		// The true value is at least v: only lower bounds can be judged.
		tr.ObservedText = "≥ " + tr.ObservedText
		tr.Pass = (e.Op == ">" || e.Op == ">=" || e.Op == "!=") && e.holds(v, want)
		return tr
	}
	tr.Pass = e.holds(v, want)
	return tr
}

// Finalize evaluates the targets (parsed at load; Finalize parses nothing)
// and decides each with confidence (Judge: pass, fail or inconclusive, from
// the run's one-second windows and the machine's measured noise), sets the
// verdict (VerdictOf) and fills derived fields:
// the schema version, hit rates recomputed from hits, misses and lookup
// errors (never from all server commands), and latency summaries that are
// missing but whose histograms are stored in HDR.
func (r *Result) Finalize(targets []Target) {
	if r.SchemaVersion == "" {
		r.SchemaVersion = SchemaVersion
	}
	r.deriveRates()
	r.Targets = JudgeAll([]*Result{r}, targets)
	r.markAborted()
	r.Verdict = VerdictOf(r.Targets)
}

// markAborted fails the target that stopped the run (Result.Aborted): its
// whole-run figure may still read inside the bound (abort_after stops on
// seconds, not on the run), but the run did not finish, and a run that
// stopped on a breach has failed it.
func (r *Result) markAborted() {
	if r.Aborted == nil {
		return
	}
	for i := range r.Targets {
		t := &r.Targets[i]
		if t.Name == r.Aborted.Target && t.Expr == r.Aborted.Expr {
			t.Pass, t.Verdict = false, VerdictFail
			t.Detail = strings.TrimSpace(fmt.Sprintf("the run was aborted at %.0fs: %s. %s", r.Aborted.AtS, r.Aborted.Reason, t.Detail))
		}
	}
}

// TargetSpecs loads the promises a result was evaluated against from its
// stored target results, so a re-rendered, merged or compared report can be
// re-evaluated against the same promises. Reading them back from a report
// is loading them: each stored expression is parsed here, and one that no
// longer parses fails evaluation with its error.
func (r *Result) TargetSpecs() []Target {
	specs := make([]TargetSpec, len(r.Targets))
	for i, t := range r.Targets {
		specs[i] = TargetSpec{Name: t.Name, Expr: t.Expr}
	}
	return LoadTargets(specs)
}

// deriveRates recomputes every hit rate from its counts. HitRate counts a
// failed lookup as a lookup that did not hit (what targets judge);
// AnsweredHitRate leaves failed lookups out, so a reader can tell "Redis
// answered but the keys were gone" from "Redis did not answer".
func (r *Result) deriveRates() {
	r.Cache.SetRates()
	for _, m := range []map[string]CacheCounts{r.Cache.ByTier, r.Cache.ByFamily} {
		for k, c := range m {
			c.SetRates()
			m[k] = c
		}
	}
	if r.Server.KeyspaceHits+r.Server.KeyspaceMisses > 0 {
		r.Server.HitRate = HitRate(r.Server.KeyspaceHits, r.Server.KeyspaceMisses)
	}
	for i := range r.Phases {
		if p := &r.Phases[i]; p.Hits+p.Misses+p.LookupErrors > 0 {
			p.HitRate = LookupHitRate(p.Hits, p.Misses, p.LookupErrors)
		}
	}
	for i := range r.Timeline {
		if row := &r.Timeline[i]; row.Hits+row.Misses+row.LookupErrors > 0 {
			row.HitRate = LookupHitRate(row.Hits, row.Misses, row.LookupErrors)
		}
	}
	if r.Users.OpsPerSec == 0 {
		r.Users.OpsPerSec = r.OpsPerSec()
	}
	r.SummariesFromHDR(false)
}

// SummariesFromHDR fills latency summaries from stored histograms: all of
// them when force is set (after a merge), otherwise only missing ones.
// Undecodable histograms are skipped; ReadJSON reports them.
func (r *Result) SummariesFromHDR(force bool) {
	// The keyed summaries, by the kind part of their histograms' keys.
	keyed := map[string]*map[string]Summary{"op": &r.Latency.ByOp, "tier": &r.Latency.ByTier, "phase": &r.Latency.ByPhase,
		"family": &r.Latency.ByFamily, "pool_command": &r.Pool.CommandLatency}
	for key, enc := range r.HDR {
		kind, name, _ := strings.Cut(key, ":")
		var dst *Summary
		m := keyed[kind]
		switch kind {
		case "overall":
			dst = &r.Latency.Overall
		case "service":
			dst = &r.Latency.Service
		case "command":
			// A whole bot command (all its cache operations) is stored under
			// its own key and reported as by_op.command.
			m, name = &r.Latency.ByOp, "command"
		case "origin":
			if o, ok := r.Origin[name]; ok && (force || o.Latency.Count == 0) {
				if h, err := DecodeHDR(enc); err == nil {
					o.Latency = Summarize(h)
					r.Origin[name] = o
				}
			}
			continue
		default:
			if m == nil {
				continue
			}
		}
		if m != nil {
			if *m == nil {
				*m = map[string]Summary{}
			}
			if s, ok := (*m)[name]; ok && s.Count > 0 && !force {
				continue
			}
		} else if dst.Count > 0 && !force {
			continue
		}
		h, err := DecodeHDR(enc)
		if err != nil {
			continue
		}
		if m != nil {
			if h.TotalCount() == 0 {
				continue // nothing recorded: no entry, as the harness writes none
			}
			(*m)[name] = Summarize(h)
		} else {
			*dst = Summarize(h)
		}
	}
}
