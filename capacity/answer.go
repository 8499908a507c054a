package capacity

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cacheproof/cacheproof/internal/redistext"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

// finish writes the answer from every run so far: the bracket (the
// highest passing and the lowest failing load, each with its runs), the
// design point's own verdict, and what broke and why. A knob sweep's
// answer is finishKnob's.
func (s *searcher) finish() {
	c, p := s.c, s.p
	a := &c.Answer
	hp, lf := s.boundary()
	if s.anyLoad != nil && hp != nil {
		// A later step (the design point's) passed: the failure did change
		// with the load after all.
		c.Notes = append(c.Notes, fmt.Sprintf("%s failed at every load down to %s, but %s passed: the failure is not load-independent after all",
			s.anyLoad.name, loadText(p, s.anyLoad.easiest), loadText(p, hp.load)))
		s.anyLoad = nil
	}
	tool := s.toolLimited(lf)
	a.DesignVerdict = result.DesignNotMeasured
	if d := s.at[p.round(p.Design)]; d != nil && p.Design > 0 {
		a.DesignVerdict = s.verdict(d)
	}
	a.DesignHolds = a.DesignVerdict == result.VerdictPass
	a.Interval = s.interval(hp, lf, tool)
	if lf != nil && !tool && hp != nil {
		a.PrecisionReached = s.precisionText(hp.load, lf.load)
	}
	a.Unfinished = s.unfinished
	if b := s.passedBeyond(lf); len(b) > 0 {
		var l []string
		for _, v := range b {
			l = append(l, loadText(p, v))
		}
		which := "lowest"
		if p.Knob {
			which = "largest"
		}
		c.Notes = append(c.Notes, fmt.Sprintf("the verdict was not monotone in the %s: %s passed although %s did not (the machine's noise, or a step near its bound); the answer uses the %s %s that did not pass",
			p.Vary, strings.Join(l, ", "), loadText(p, lf.load), which, p.Vary))
	}
	if p.Knob {
		s.finishKnob(hp, lf, tool)
	} else {
		s.finishLoad(hp, lf, tool)
	}
	switch a.DesignVerdict {
	case result.VerdictPass, result.VerdictFail:
		c.Verdict = a.DesignVerdict
	default:
		c.Verdict = result.VerdictInconclusive
	}
}

// finishLoad is a load search's answer.
func (s *searcher) finishLoad(hp, lf *atLoad, tool bool) {
	c, p := s.c, s.p
	a := &c.Answer
	passSt, passRes := s.rep(hp)
	failSt, failRes := s.rep(lf)
	if hp != nil {
		a.MaxLoad, a.MaxUsers, a.MaxOpsPerSec = hp.load, passSt.Users, passSt.OpsPerSec
	}
	if p.Design > 0 {
		a.Headroom = math.Round(a.MaxLoad/p.Design*100) / 100
	}
	switch {
	case lf == nil:
		a.AtLeast = hp != nil
		a.Limit = result.LimitNone
		if hp != nil {
			a.Evidence = fmt.Sprintf("every target held at every step, up to %s", loadText(p, hp.load))
		}
	case tool:
		a.AtLeast = true
		a.FailLoad = lf.load
		a.Limit = result.LimitTool
		a.Evidence = "the load generator or its machine was the bottleneck at " + loadText(p, lf.load) + ": " + failSt.ToolWhy
	case s.verdict(lf) == result.VerdictInconclusive:
		a.FailLoad = lf.load
		a.Limit = result.LimitUndecided
		a.Evidence = fmt.Sprintf("the runs at %s did not decide (%s): no target broke with a majority of its runs", loadText(p, lf.load), strings.Join(s.runs(lf), ", "))
	case s.anyLoad != nil:
		a.FailLoad = lf.load
		a.FailsAtAnyLoad = true
		a.Limit = result.LimitAnyLoad
		a.Evidence = s.anyLoad.evidence
	default:
		a.FailLoad = lf.load
		a.Limit, a.Evidence = Diagnose(failRes, passRes)
	}
	if lf != nil && !tool && s.verdict(lf) == result.VerdictFail {
		a.Broke, a.AlsoBroke = brokenTargets(failSt.Targets)
		if s.anyLoad != nil {
			a.Broke, a.AlsoBroke = s.anyLoad.first(failSt.Targets)
		}
	}
	a.Headline = s.headline()
}

// interval is the answer's bracket and how sure each end is; nil when no
// step was decided. A tool-limited load is no end: it is not a knee.
func (s *searcher) interval(hp, lf *atLoad, tool bool) *result.CapacityInterval {
	if tool {
		lf = nil
	}
	if hp == nil && lf == nil {
		return nil
	}
	iv := &result.CapacityInterval{Confidence: result.ConfidenceConfirmed, Agreement: 1, LowRuns: []string{}, HighRuns: []string{}}
	var parts []string
	end := func(a *atLoad, v *float64, runs *[]string) {
		if a == nil {
			return
		}
		*v, *runs = a.load, s.runs(a)
		verdict, agree := majority(*runs)
		iv.Agreement = math.Min(iv.Agreement, math.Round(agree*100)/100)
		switch {
		case verdict == result.VerdictInconclusive:
			iv.Confidence = result.ConfidenceInconclusive
		case len(*runs) < 2 && iv.Confidence == result.ConfidenceConfirmed:
			iv.Confidence = result.ConfidenceUnconfirmed
		}
		word := map[string]string{result.VerdictPass: "passed", result.VerdictFail: "failed", result.VerdictInconclusive: "decided nothing (no majority)"}[verdict]
		n := 0
		for _, r := range *runs {
			if r == verdict {
				n++
			}
		}
		if verdict == result.VerdictInconclusive {
			parts = append(parts, fmt.Sprintf("%d runs at %s %s (%s)", len(*runs), loadText(s.p, a.load), word, strings.Join(*runs, ", ")))
		} else {
			parts = append(parts, fmt.Sprintf("%d of %d runs %s at %s", n, len(*runs), word, loadText(s.p, a.load)))
		}
	}
	end(hp, &iv.Low, &iv.LowRuns)
	end(lf, &iv.High, &iv.HighRuns)
	how := fmt.Sprintf("each end re-run until two runs agree, at most %d runs a load and %d re-runs in all", s.p.Confirm, s.p.MaxReruns)
	if s.p.Confirm < 2 {
		how = "each end run once (confirmation off)"
	}
	iv.Method = how + ": " + strings.Join(parts, "; ")
	return iv
}

// precisionText is the gap the search reached, as the plan's precision is
// written (relative to the passing load, or absolute).
func (s *searcher) precisionText(pass, fail float64) string {
	gap := math.Abs(fail - pass)
	if s.p.Relative && pass > 0 {
		return fmt.Sprintf("%s%%", trimFloat(math.Round(gap/pass*1000)/10))
	}
	return trimFloat(gap)
}

// designText is the design point's verdict for people.
func (s *searcher) designText(v string) string {
	switch v {
	case result.VerdictPass:
		return "holds"
	case result.VerdictFail:
		return "does not hold"
	case result.VerdictInconclusive:
		if s.toolLimited(s.at[s.p.round(s.p.Design)]) {
			return "is inconclusive (the tool was the bottleneck there)"
		}
		return "is inconclusive (its runs did not agree)"
	}
	return "was not measured"
}

// headline is the answer in one sentence: "holds to 1.42x the 10,000 users
// design point (14,200 users, 9,870 ops/s); latency_p99 broke first at
// 15,000 users (7.1 ms against < 5ms, 1.42x the bound); likely limit:
// pool; the knee lies between 14,200 and 15,000 users (confirmed: ...)".
func (s *searcher) headline() string {
	p, c := s.p, s.c
	a := c.Answer
	design := loadText(p, p.Design)
	var b strings.Builder
	switch {
	case len(c.Steps) == 0:
		fmt.Fprintf(&b, "no step completed: nothing is known about the load the cache layer holds; the %s design point was not measured", design)
		return b.String()
	case a.FailsAtAnyLoad:
		fmt.Fprintf(&b, "fails at any load: %s %s, not a capacity limit (%s)", a.Broke.Name, a.Broke.Expr, a.Evidence)
	case a.MaxLoad == 0 && a.AtLeast:
		fmt.Fprintf(&b, "no load could be shown to hold: %s", a.Evidence)
	case a.MaxLoad == 0 && a.Limit == result.LimitTool:
		fmt.Fprintf(&b, "no load could be shown to hold: %s", a.Evidence)
	case a.MaxLoad == 0 && a.FailLoad > 0:
		fmt.Fprintf(&b, "no load held: a target broke already at %s", loadText(p, a.FailLoad))
	case a.MaxLoad == 0:
		fmt.Fprintf(&b, "no load was decided: the steps at %s were inconclusive", loadText(p, a.FailLoad))
	case a.AtLeast && a.Limit == result.LimitTool:
		fmt.Fprintf(&b, "holds to at least %s (%.0f ops/s, %.2fx the %s design point); the tool could not push further, so this is not a knee",
			loadText(p, a.MaxLoad), a.MaxOpsPerSec, a.Headroom, design)
	case a.AtLeast && a.Unfinished:
		fmt.Fprintf(&b, "holds to at least %s (%.0f ops/s, %.2fx the %s design point): the search ran out of its %d steps before a target broke",
			loadText(p, a.MaxLoad), a.MaxOpsPerSec, a.Headroom, design, p.MaxSteps)
	case a.AtLeast:
		fmt.Fprintf(&b, "holds to at least %s (%.0f ops/s, %.2fx the %s design point): no target broke up to the search's end",
			loadText(p, a.MaxLoad), a.MaxOpsPerSec, a.Headroom, design)
	default:
		fmt.Fprintf(&b, "holds to %.2fx the %s design point (%s, %.0f ops/s)", a.Headroom, design, loadText(p, a.MaxLoad), a.MaxOpsPerSec)
	}
	if a.Broke != nil && !a.FailsAtAnyLoad {
		fmt.Fprintf(&b, "; %s broke first at %s (%s against %s, %s)", a.Broke.Name, loadText(p, a.FailLoad), a.Broke.ObservedText, a.Broke.Expr, a.Broke.By)
	} else if a.Limit == result.LimitUndecided && a.FailLoad > 0 && a.MaxLoad > 0 {
		fmt.Fprintf(&b, "; %s was inconclusive", loadText(p, a.FailLoad))
	}
	writeLimitAndInterval(&b, p, &a, "the knee", false)
	if a.Unfinished && !a.AtLeast {
		fmt.Fprintf(&b, "; unfinished: the search ran out of its %d steps", p.MaxSteps)
	}
	if a.DesignVerdict != result.VerdictPass {
		fmt.Fprintf(&b, "; the %s design point %s", design, s.designText(a.DesignVerdict))
	}
	return b.String()
}

func loadText(p Plan, v float64) string {
	if p.Vary == scenarios.VaryMaxMemory {
		return SizeText(v)
	}
	s := trimFloat(v)
	if p.Whole {
		s = groupThousands(int64(math.Round(v)))
	}
	return s + " " + p.Unit
}

func trimFloat(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupThousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// broken describes how far a failed target went past its bound.
// brokenTargets are the failed targets of a step: the first, and the others.
func brokenTargets(targets []result.TargetResult) (first *result.BrokenTarget, others []result.BrokenTarget) {
	for _, t := range targets {
		if t.Pass {
			continue
		}
		b := broken(t)
		if first == nil {
			first = &b
		} else {
			others = append(others, b)
		}
	}
	return first, others
}

func broken(t result.TargetResult) result.BrokenTarget {
	b := result.BrokenTarget{Name: t.Name, Expr: t.Expr, Observed: t.Observed, ObservedText: t.ObservedText, Unit: t.Unit}
	pt, err := result.ParseTarget(result.TargetSpec{Name: t.Name, Expr: t.Expr})
	bound, ok := pt.Bound()
	switch {
	case err != nil || !ok:
		b.By = t.Detail
	case t.Detail != "" && t.ObservedText == "":
		b.Bound, b.By = bound, t.Detail
	case t.Unit == result.UnitFraction:
		b.Bound = bound
		b.By = fmt.Sprintf("%.1f points %s", math.Abs(t.Observed-bound)*100, map[bool]string{true: "short", false: "over"}[t.Observed < bound])
	case bound == 0:
		b.Bound, b.By = 0, fmt.Sprintf("%s against 0", trimFloat(t.Observed))
	default:
		b.Bound = bound
		b.By = fmt.Sprintf("%.2fx the bound", t.Observed/bound)
	}
	if b.By == "" {
		b.By = "failed"
	}
	return b
}

// Summarize is a step's figures from its run's result.
func Summarize(r *result.Result) result.CapacityStep {
	rec := r.RecordedSeconds()
	st := result.CapacityStep{
		Users:              r.Users.Active,
		OpsPerSec:          math.Round(r.OpsPerSec()*10) / 10,
		LatencyMs:          r.Latency.Overall,
		HitRate:            r.Cache.HitRate,
		PoolWaitMs:         r.Pool.WaitMs,
		PoolWaitCount:      r.Pool.WaitCount,
		PoolTimeouts:       r.Pool.Timeouts,
		Errors:             cacheErrors(r),
		EvictedKeys:        r.Server.EvictedKeys,
		MaxMemory:          r.Server.MaxMemory,
		Late:               r.Users.Late,
		LateWaitingForSlot: r.Users.LateWaitingForSlot,
		Dropped:            r.Users.Dropped,
		Verdict:            r.Verdict,
		Pass:               r.Verdict == result.VerdictPass,
		Bottleneck:         r.Client.Bottleneck,
		NumCPU:             r.Client.NumCPU,
		Targets:            r.Targets,
	}
	if rec > 0 {
		st.ServerCPUCores = math.Round(r.Server.CPUSeconds/rec*1000) / 1000
	}
	if r.Client.WindowS > 0 {
		st.ClientCPUCores = math.Round(r.Client.CPUSeconds/r.Client.WindowS*1000) / 1000
	}
	st.LatencyMs.Count = r.Latency.Overall.Count
	return st
}

// originErrors is the error kind of a failed origin fetch (pool's
// KindFetch): the simulated upstream's configured error rate, not the
// cache's doing, so a step's errors leave it out.
const originErrors = "fetch"

// cacheErrors is a step's errors but the origin's.
func cacheErrors(r *result.Result) uint64 {
	return r.TotalErrors() - r.Errors[originErrors]
}

// writeLimitAndInterval appends a headline's likely limit and its
// confirmed interval ("; the knee lies between LOW and HIGH (confirmed, a
// gap of …)"), as the load search and the knob sweep both word them; a
// knob sweep names its ends the other way round (reversed: the least that
// holds is the interval's high end).
func writeLimitAndInterval(b *strings.Builder, p Plan, a *result.CapacityAnswer, what string, reversed bool) {
	if a.Limit != "" && a.Limit != result.LimitNone && a.Limit != result.LimitTool && a.Limit != result.LimitAnyLoad {
		fmt.Fprintf(b, "; likely limit: %s", a.Limit)
	}
	if iv := a.Interval; iv != nil && iv.Low > 0 && iv.High > 0 {
		from, to := iv.Low, iv.High
		if reversed {
			from, to = to, from
		}
		fmt.Fprintf(b, "; %s lies between %s and %s (%s", what, loadText(p, from), loadText(p, to), iv.Confidence)
		if !p.closeEnough(iv.Low, iv.High) {
			fmt.Fprintf(b, ", a gap of %s against the %s asked", a.PrecisionReached, p.PrecisionText)
		}
		b.WriteString(")")
	}
}

// SizeText is a byte count as Redis writes it when a whole number of mb or
// gb ("24mb"), else in mb with two decimals ("17.56mb").
func SizeText(v float64) string {
	n := int64(math.Round(v))
	if n%(1<<20) == 0 {
		return redistext.FormatMemory(n)
	}
	return strconv.FormatFloat(v/(1<<20), 'f', 2, 64) + "mb"
}
