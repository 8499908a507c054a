package report

import (
	"fmt"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// Helpers the writers share to show a target's three-valued verdict, its
// confidence interval and, for a repeated run, each run's value, the same
// way in every format.

// verdictCounts counts the targets by verdict.
func verdictCounts(ts []result.TargetResult) (failed, inconclusive int) {
	for _, t := range ts {
		switch t.Outcome() {
		case result.VerdictFail:
			failed++
		case result.VerdictInconclusive:
			inconclusive++
		}
	}
	return failed, inconclusive
}

// intervalText is the target's confidence interval in its unit,
// "[2.35ms – 5.66ms, 95% CI]", or "" when it has none.
func intervalText(t result.TargetResult) string {
	iv := t.Interval
	if iv == nil {
		return ""
	}
	return fmt.Sprintf("[%s – %s, %s CI]", result.FormatValue(iv.Low, t.Unit), result.FormatValue(iv.High, t.Unit), confidenceText(iv.Confidence))
}

// intervalRange is the interval without brackets and level, "2.35ms – 5.66ms".
func intervalRange(t result.TargetResult) string {
	if t.Interval == nil {
		return ""
	}
	return result.FormatValue(t.Interval.Low, t.Unit) + " – " + result.FormatValue(t.Interval.High, t.Unit)
}

// confidenceText is a coverage as a percentage, "95%".
func confidenceText(c float64) string {
	if c <= 0 {
		c = result.ConfidenceLevel
	}
	return formatNum(round(100*c, 1)) + "%"
}

// runsValues are a repeated run's per-run values of a target, in run
// order, "2.551ms 2.467ms 5.547ms"; "" for a single run.
func runsValues(t result.TargetResult) string {
	if len(t.Runs) == 0 {
		return ""
	}
	parts := make([]string, len(t.Runs))
	for i, v := range t.Runs {
		parts[i] = result.FormatValue(v, t.Unit)
	}
	return strings.Join(parts, " ")
}

// repeatLine is a repeated run's one-line story: how many runs, how they
// were chosen, why no more were made, and whose sections the report shows.
func repeatLine(rep *result.RepeatReport) string {
	mode := rep.Mode
	switch rep.Mode {
	case "fixed":
		mode = fmt.Sprintf("fixed, --repeat %d", rep.MaxRuns)
	case "auto":
		mode = fmt.Sprintf("auto, up to %d runs", rep.MaxRuns)
		if rep.BudgetS > 0 {
			mode += " within " + formatSeconds(rep.BudgetS)
		}
	}
	if len(rep.Runs) == 1 {
		return fmt.Sprintf("1 run (%s); stopped: %s", mode, stopReasonText(rep))
	}
	s := fmt.Sprintf("%d runs (%s); stopped: %s", len(rep.Runs), mode, stopReasonText(rep))
	if rep.Representative > 0 {
		s += fmt.Sprintf("; targets judged over every run, other figures are run %d's (the median run)", rep.Representative)
	}
	return s
}

// stopReasonText says in words why a repeated run made no further run.
func stopReasonText(rep *result.RepeatReport) string {
	switch rep.StopReason {
	case "decided":
		return "every target decided"
	case "runs":
		if rep.Mode == "auto" {
			return fmt.Sprintf("the cap of %d runs reached", rep.MaxRuns)
		}
		return fmt.Sprintf("all %d runs made", rep.MaxRuns)
	case "budget":
		if rep.BudgetS > 0 {
			return "the " + formatSeconds(rep.BudgetS) + " budget would be exceeded by another run"
		}
		return "the time budget would be exceeded by another run"
	case "interrupted":
		return "interrupted"
	case "":
		return "not recorded"
	}
	return rep.StopReason
}

// hostLateText is a run's host timer late share, "0.2%", or "not measured".
func hostLateText(p *float64) string {
	if p == nil {
		return "not measured"
	}
	return formatPercent(*p)
}

// runVerdicts lists the runs' own verdicts, "pass, pass, inconclusive".
func runVerdicts(rep *result.RepeatReport) string {
	vs := make([]string, len(rep.Runs))
	for i, r := range rep.Runs {
		vs[i] = r.Verdict
	}
	return strings.Join(vs, ",")
}
