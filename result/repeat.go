package result

import (
	"fmt"
	"time"
)

// RepeatReport describes a repeated run (run --repeat N, or auto): the runs
// of one load the verdict was judged from, each with its own Redis and
// prefill. The targets carry each run's value (TargetResult.Runs), their
// median and an interval over the runs; the other sections of the report
// are one run's, the Representative.
type RepeatReport struct {
	// Mode is "fixed" (--repeat N) or "auto" (runs added until every
	// target is decided, up to MaxRuns and Budget).
	Mode string `json:"mode"`
	// MaxRuns is N for fixed, the cap for auto.
	MaxRuns int `json:"max_runs"`
	// BudgetS is the wall-clock budget in seconds (--repeat-budget): no
	// further run is started that would, at the pace of the runs so far,
	// end after it. 0: none.
	BudgetS float64 `json:"budget_s,omitempty"`
	// StopReason says why no further run was made: "decided", "runs"
	// (N or the cap reached), "budget", "interrupted".
	StopReason string `json:"stop_reason"`
	// Representative is the 1-based run whose latency, cache, timeline and
	// other sections this report shows: the run at the median of the first
	// latency target (or of the first target).
	Representative int         `json:"representative"`
	Runs           []RepeatRun `json:"runs"`
}

// RepeatRun is one run of a repeated run.
type RepeatRun struct {
	Index     int       `json:"index"`
	Dir       string    `json:"dir"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`
	Verdict   string    `json:"verdict"`
	// HostLateFraction is the host timer probe's late share during the
	// run (client.host_timer.late_fraction): how noisy the machine was.
	HostLateFraction *float64 `json:"host_late_fraction,omitempty"`
}

// Aggregate judges the targets over the runs of one load and returns the
// report of the whole: targets decided over every run (Judge), the verdict,
// and the Representative run's other sections. runs must be finalized
// results of the same scenario and load; dirs names each run's report
// folder (relative to the aggregate's). The runs are not modified.
func Aggregate(runs []*Result, targets []Target, rep RepeatReport, dirs []string) *Result {
	judged := JudgeAll(runs, targets)
	k := representative(runs, judged)
	out := *runs[k]
	out.Targets = judged
	out.Verdict = VerdictOf(judged)
	out.Interrupted = false
	rep.Representative = k + 1
	rep.Runs = make([]RepeatRun, len(runs))
	for i, r := range runs {
		rr := RepeatRun{Index: i + 1, StartedAt: r.StartedAt, DurationS: r.DurationS, Verdict: r.Verdict}
		if i < len(dirs) {
			rr.Dir = dirs[i]
		}
		if h := r.Client.HostTimer; h != nil {
			v := h.LateFraction
			rr.HostLateFraction = &v
		}
		if r.Interrupted {
			out.Interrupted = true
		}
		rep.Runs[i] = rr
	}
	out.StartedAt = runs[0].StartedAt
	out.Repeat = &rep
	if len(runs) == 1 {
		out.Notes = append([]string{fmt.Sprintf("repeat %s: one run decided every target, so no other was made (its report is also in %s/)", rep.Mode, rep.Runs[0].Dir)}, runs[0].Notes...)
		return &out
	}
	notes := []string{fmt.Sprintf("repeated run: %d runs of this load (%s); targets are judged over every run (observed = the median of the runs' values, with its %.0f%% interval); the other sections are run %d's, the run at the median, and each run's own report is in its folder",
		len(runs), rep.Mode, 100*ConfidenceLevel, k+1)}
	out.Notes = append(notes, runs[k].Notes...)
	return &out
}

// representative is the index of the run at the (lower) median of the
// first latency target, else of the first target with values.
func representative(runs []*Result, judged []TargetResult) int {
	pick := -1
	for i, t := range judged {
		if len(t.Runs) == len(runs) {
			if pick < 0 {
				pick = i
			}
			if m, err := resolveMetric(t.Name); err == nil && m.latency != "" {
				pick = i
				break
			}
		}
	}
	if pick < 0 {
		return len(runs) - 1
	}
	vals := judged[pick].Runs
	order := make([]int, len(vals))
	for i := range order {
		order[i] = i
	}
	// insertion sort by value: few runs
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && vals[order[j]] < vals[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	return order[(len(order)-1)/2]
}
