package result

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// AbortRule says when a target stops the run early, once it is broken
// beyond recovery: for soak runs and capacity steps that have already
// failed, whose remaining minutes would only confirm it.
type AbortRule struct {
	// After > 0 (abort_after: 30s): the run stops when the target's
	// per-second reading has broken its bound in every recorded second for
	// After. Zero (abort: true): the run stops as soon as the whole-run
	// figure cannot come back inside the bound even if every remaining
	// operation were perfect (see AbortWatch).
	After time.Duration `json:"after,omitempty"`
}

// AbortReport is why a run stopped early: the target, what it read, and
// when (seconds since the load began).
type AbortReport struct {
	Target string  `json:"target"`
	Expr   string  `json:"expr"`
	AtS    float64 `json:"at_s"`
	Reason string  `json:"reason"`
}

// remainderMargin is how much busier than planned a perfect remainder is
// assumed to be when abort: true asks whether a rate can still come back:
// the plan's remaining load is estimated from the load so far, and the
// estimate must not stop a run that could still pass.
const remainderMargin = 1.5

// abortHow is which reading an abort rule watches.
type abortHow int8

const (
	abortNone      abortHow = iota
	abortCount              // a count: the run's total only grows
	abortRate               // a ratio of two counts: dilutable by a perfect remainder
	abortPerSecond          // abort_after: the per-second reading
	abortLatency            // abort: true on a latency percentile: a rolling window and the run's slow share
)

// AbortLatencyWindow is the rolling window abort: true judges a latency
// percentile over: the last ten recorded seconds' latency histograms added
// up. One second's p99 is read off a few hundred operations in a small run
// and jumps; ten seconds' is what the users of those seconds saw.
const AbortLatencyWindow = 10

// abortLatencyMin is the fewest recorded seconds with operations the
// window must hold before a latency percentile may stop the run: the
// first recorded second of a run (connections still opening, a loaded
// host) is often its slowest, and one second is not a run broken beyond
// recovery.
const abortLatencyMin = 3

// perSecond is the metric's reading of one timeline row as a numerator and
// a denominator (the figure is num/den; den 1 for a latency or a count);
// ok false when the metric has no per-second form or the row no data.
func perSecond(m Metric, row TimelineRow, dt float64) (num, den float64, ok bool) {
	switch {
	case m.Compare != nil && m.Compare.PerSecond != nil:
		num, den, ok = m.Compare.PerSecond(row, dt)
		return num, den, ok && den > 0
	case m.Interval != nil:
		return float64(m.Interval(row)), 1, true
	case m.Name == "errors":
		return float64(row.Errors), 1, true
	}
	return 0, 0, false
}

// abortKind is how t's abort rule is watched, or why it cannot be.
func abortKind(t Target) (Metric, abortHow, error) {
	m, err := resolveMetric(t.Name)
	if err != nil {
		return m, abortNone, err
	}
	hasPerSecond := (m.Compare != nil && m.Compare.PerSecond != nil) || m.Interval != nil || m.Name == "errors"
	if t.Abort.After > 0 {
		if !hasPerSecond {
			return m, abortNone, fmt.Errorf("abort_after needs a per-second reading of %s, which the timeline does not have; use abort: true on a count or a rate", t.Name)
		}
		return m, abortPerSecond, nil
	}
	if _, ok := quantileLevels[m.latency]; ok && t.Abort.After == 0 {
		if t.Expr.Op != "<" && t.Expr.Op != "<=" {
			return m, abortNone, fmt.Errorf("abort: true on %s needs an upper bound (< or <=): a latency that must be high is not broken beyond recovery", t.Name)
		}
		return m, abortLatency, nil
	}
	switch {
	case m.Unit == UnitCount && hasPerSecond:
		if t.Expr.Op != "<" && t.Expr.Op != "<=" && t.Expr.Op != "==" {
			return m, abortNone, fmt.Errorf("abort: true on the count %s needs an upper bound (<, <= or ==): a count that must grow can always still grow", t.Name)
		}
		return m, abortCount, nil
	case m.Unit == UnitFraction && m.Compare != nil && m.Compare.Ratio && m.Compare.PerSecond != nil:
		return m, abortRate, nil
	}
	return m, abortNone, fmt.Errorf("abort: true needs a count, a rate (errors, error_rate, hit_rate, lost_writes, ...) or a latency percentile (latency_p99, ...); for %s write abort_after: the time its per-second reading may stay broken", t.Name)
}

// CheckAbort reports whether t's abort rule can be watched during a run
// (nil when t has none).
func CheckAbort(t Target) error {
	if t.Abort == nil {
		return nil
	}
	if t.err != nil {
		return t.err
	}
	if t.Abort.After < 0 {
		return fmt.Errorf("abort_after must not be negative")
	}
	if t.Abort.After > 0 && t.Abort.After < time.Second {
		return fmt.Errorf("abort_after %s is shorter than the timeline's one-second reading", t.Abort.After)
	}
	if _, ok := t.Bound(); !ok {
		return fmt.Errorf("abort: the expression %q has no bound in the unit of %s", t.Text, t.Name)
	}
	_, _, err := abortKind(t)
	return err
}

// AbortWatch follows a run's recorded timeline rows and says when a target
// with an abort rule is broken beyond recovery:
//
//   - abort_after: D: the target's per-second reading (the second's p99,
//     hit rate, error rate, count) broke its bound in every recorded second
//     of the last D (a second without data breaks the streak);
//   - abort: true on a count (errors, lost_writes, ...) with an upper bound:
//     the count so far already breaks it (counts only grow);
//   - abort: true on a rate (error_rate, hit_rate, ...): the rate so far
//     breaks the bound even with a perfect remainder, every remaining lookup
//     a hit or every remaining operation a success, the remainder estimated
//     from the plan's remaining load at the pace so far, times 1.5;
//   - abort: true on a latency percentile (latency_p99 < 50ms): the
//     percentile of the last AbortLatencyWindow recorded seconds breaks the
//     bound, and the operations slower than the bound so far are more than
//     the percentile allows of the whole run even if every remaining
//     operation were fast (a p99 bound allows 1 % slow operations; the
//     remainder estimated as for a rate). The first says the run is broken
//     now, the second that the whole-run figure can no longer pass.
type AbortWatch struct {
	ws        []*watched
	remaining func(elapsedS float64) float64
}

type watched struct {
	t        Target
	m        Metric
	how      abortHow
	bound    float64
	num, den float64 // cumulative, over recorded rows
	since    float64 // start of the current broken streak; -1: none
	// A latency percentile's rolling window (the last rows' histograms,
	// oldest first) and the run's operations slower than the bound.
	q      float64
	window []WindowHist
	slow   float64
}

// NewAbortWatch watches the targets that have an abort rule CheckAbort
// accepts; nil when there are none. remaining(t) is the planned recorded
// load still to come after t seconds, as a multiple of the recorded load
// planned before t (0 at the end of the run).
func NewAbortWatch(targets []Target, remaining func(elapsedS float64) float64) *AbortWatch {
	w := &AbortWatch{remaining: remaining}
	for _, t := range targets {
		if t.Abort == nil || CheckAbort(t) != nil {
			continue
		}
		m, how, _ := abortKind(t)
		bound, _ := t.Bound()
		w.ws = append(w.ws, &watched{t: t, m: m, how: how, bound: bound, since: -1, q: quantileLevels[m.latency]})
	}
	if len(w.ws) == 0 {
		return nil
	}
	return w
}

// Observe takes one recorded row (dt seconds long) and returns why the run
// must stop, or nil.
func (w *AbortWatch) Observe(row TimelineRow, dt float64) *AbortReport {
	if w == nil {
		return nil
	}
	for _, x := range w.ws {
		if x.how == abortLatency {
			if r := x.checkLatency(row, w.remaining); r != nil {
				return r
			}
			continue
		}
		num, den, ok := perSecond(x.m, row, dt)
		if ok {
			x.num += num
			x.den += den
		}
		if r := x.check(row, num, den, ok, w.remaining); r != nil {
			return r
		}
	}
	return nil
}

func (x *watched) check(row TimelineRow, num, den float64, ok bool, remaining func(float64) float64) *AbortReport {
	at := row.T
	report := func(format string, args ...any) *AbortReport {
		return &AbortReport{Target: x.t.Name, Expr: x.t.Text, AtS: at, Reason: fmt.Sprintf(format, args...)}
	}
	switch x.how {
	case abortPerSecond:
		if !ok || x.t.Expr.holds(num/den, x.bound) {
			x.since = -1
			return nil
		}
		if x.since < 0 {
			x.since = at - 1 // the row covers the second before T
		}
		if at-x.since >= x.t.Abort.After.Seconds()-1e-9 {
			return report("%s broke %s in every second for %.0fs (last second: %s)", x.t.Name, x.t.Text, at-x.since, FormatValue(num/den, x.m.Unit))
		}
	case abortCount:
		if !x.t.Expr.holds(x.num, x.bound) {
			return report("%s is %s so far, which breaks %s: a count only grows", x.t.Name, FormatValue(x.num, x.m.Unit), x.t.Text)
		}
	case abortRate:
		if x.den == 0 {
			return nil
		}
		rest := x.den * remaining(at) * remainderMargin
		best := x.num / (x.den + rest)
		if x.m.Better == "higher" {
			best = (x.num + rest) / (x.den + rest)
		}
		if !x.t.Expr.holds(best, x.bound) {
			return report("%s is %s so far; even if the rest of the run were perfect it would end at %s at best, which breaks %s",
				x.t.Name, FormatValue(x.num/x.den, x.m.Unit), FormatValue(best, x.m.Unit), x.t.Text)
		}
	}
	return nil
}

// checkLatency adds the row to a latency percentile's rolling window and
// its slow operations to the run's, and stops the run when both the window
// and the whole run are beyond the bound (see AbortWatch).
func (x *watched) checkLatency(row TimelineRow, remaining func(float64) float64) *AbortReport {
	if len(row.LatencyHist) == 0 {
		return nil // a second without operations neither breaks nor mends
	}
	x.window = append(x.window, row.LatencyHist)
	if len(x.window) > AbortLatencyWindow {
		x.window = x.window[1:]
	}
	slow, ops := slowerThan(row.LatencyHist, x.bound)
	x.slow += slow
	x.den += ops
	var acc windowAcc
	for _, w := range x.window {
		acc.add(w)
	}
	p, ok := acc.quantile(x.q)
	if !ok || len(x.window) < abortLatencyMin || x.t.Expr.holds(p, x.bound) {
		return nil
	}
	rest := x.den * remaining(row.T) * remainderMargin
	allowed := (1 - x.q) * (x.den + rest)
	if x.slow <= allowed {
		return nil
	}
	return &AbortReport{Target: x.t.Name, Expr: x.t.Text, AtS: row.T, Reason: fmt.Sprintf(
		"%s over the last %d recorded seconds is %s, which breaks %s; %.0f of the run's %.0f operations so far were slower than %s, more than the %.3g %% the bound allows of the whole run even if the rest were fast",
		x.t.Name, len(x.window), FormatValue(p, x.m.Unit), x.t.Text, x.slow, x.den, FormatValue(x.bound, x.m.Unit), 100*(1-x.q))}
}

// slowerThan counts a window histogram's operations slower than boundMs
// (a bucket across the bound counted in the share of it above, geometric
// as the buckets are) and all its operations.
func slowerThan(w WindowHist, boundMs float64) (slow, ops float64) {
	us := boundMs * 1000
	for _, p := range w {
		n := float64(p[1])
		ops += n
		lo, hi := windowBucketBounds(int(p[0]))
		switch {
		case lo >= us:
			slow += n
		case hi > us:
			slow += n * math.Log(hi/us) / math.Log(hi/lo)
		}
	}
	return slow, ops
}

// MarshalJSON writes the rule as {"after_s": 30} (0: abort: true).
func (a AbortRule) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AfterS float64 `json:"after_s"`
	}{a.After.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *AbortRule) UnmarshalJSON(b []byte) error {
	var v struct {
		AfterS float64 `json:"after_s"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.After = time.Duration(v.AfterS * float64(time.Second))
	return nil
}
