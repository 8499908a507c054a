package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
)

// executeRepeated runs the scenario several times (--repeat N, or auto),
// each run with its own Redis and prefill and its own report in
// run-<i>/ under the report folder, then writes the report that judges
// the targets over every run (result.Aggregate) and returns its exit code.
//
// auto makes one run, then adds runs while the verdict over the runs so far
// is inconclusive, until the cap or the budget: on a quiet machine a clear
// verdict costs one run, and only a load near a bound pays for more.
func (c *runState) executeRepeated(ctx context.Context) int {
	base := c.outDir
	defer func() { c.outDir = base }()
	targets := c.sc.TargetSpecs()
	plan := c.plan
	rep := result.RepeatReport{Mode: "fixed", MaxRuns: plan.Runs}
	rep.BudgetS = c.f.repeatBudget.Seconds()
	if plan.Auto {
		rep.Mode = "auto"
	}
	var runs []*result.Result
	var dirs []string
	began := time.Now()
	for i := 1; ; i++ {
		dir := fmt.Sprintf("run-%d", i)
		c.outDir = filepath.Join(base, dir)
		if err := os.MkdirAll(c.outDir, 0o755); err != nil {
			c.errf("cannot create the report folder: %v", err)
			return exitEnvironment
		}
		if !c.f.quiet {
			fmt.Fprintf(c.stderr, "\n== run %d of %s (%s) ==\n", i, runsText(plan.Runs, plan.Auto), c.outDir)
		}
		res, err := c.execute(ctx)
		if err != nil {
			if len(runs) == 0 || ctx.Err() == nil {
				c.outDir = base
				return c.failed(ctx, err)
			}
			c.errf("run %d: %v", i, err)
			rep.StopReason = "interrupted"
			break
		}
		res.ExitCode = c.exitCodeOf(res)
		if _, werr := report.RunReport.WriteAll(res, report.Outputs{Dir: c.outDir}); werr != nil {
			c.errf("run %d's report: %v", i, werr)
		}
		runs, dirs = append(runs, res), append(dirs, dir)
		if !c.f.quiet {
			fmt.Fprintf(c.stdout, "run %d: %s\n", i, strings.ToUpper(res.Verdict))
			writeVerdictLines(c.stdout, res)
		}
		if res.Interrupted {
			rep.StopReason = "interrupted"
			break
		}
		if i >= plan.Runs {
			rep.StopReason = "runs"
			break
		}
		so := result.Aggregate(runs, targets, rep, dirs)
		if plan.Auto && so.Verdict != result.VerdictInconclusive {
			rep.StopReason = "decided"
			break
		}
		elapsed := time.Since(began)
		if b := c.f.repeatBudget; b > 0 && elapsed+elapsed/time.Duration(i) > b {
			rep.StopReason = "budget"
			break
		}
		if plan.Auto && !c.f.quiet {
			fmt.Fprintf(c.stderr, "not decided after %d run(s): %s; one more\n", i, undecided(so))
		}
	}
	c.outDir = base
	agg := result.Aggregate(runs, targets, rep, dirs)
	if rep.StopReason == "interrupted" {
		agg.Interrupted = true
	}
	if c.f.predict {
		c.predict(ctx, agg)
	}
	return c.writeReports(agg)
}

// exitCodeOf is a finished run's exit code (before its reports are
// written): what writeReports would return for it.
func (c *runState) exitCodeOf(res *result.Result) int {
	switch {
	case res.Interrupted:
		return exitInterrupted
	case res.Verdict == result.VerdictInconclusive && c.f.acceptInconclusive:
		return exitOK
	case res.Verdict == result.VerdictInconclusive:
		return exitInconclusive
	case res.Verdict != result.VerdictPass:
		return exitTargetMiss
	}
	return exitOK
}

func runsText(n int, auto bool) string {
	if auto {
		return fmt.Sprintf("up to %d, auto", n)
	}
	return fmt.Sprint(n)
}

// undecided names the inconclusive targets of a result.
func undecided(r *result.Result) string {
	var names []string
	for _, t := range r.Targets {
		if t.Verdict == result.VerdictInconclusive {
			names = append(names, t.Name+" "+t.Expr)
		}
	}
	return strings.Join(names, ", ") + " inconclusive"
}

// writeVerdictLines prints one line per target: its verdict, the target,
// the observed value with its interval, and why an inconclusive one is not
// decided (the --quiet output, and each run's lines in a repeated run).
func writeVerdictLines(w io.Writer, res *result.Result) {
	for _, t := range res.Targets {
		status := strings.ToUpper(t.Verdict)
		if status == "" {
			status = map[bool]string{true: "PASS", false: "FAIL"}[t.Pass]
		}
		obs := t.ObservedText
		if iv := t.Interval; iv != nil {
			obs += fmt.Sprintf(" [%s – %s, %.0f%%]", result.FormatValue(iv.Low, t.Unit), result.FormatValue(iv.High, t.Unit), 100*iv.Confidence)
		}
		fmt.Fprintf(w, "%s %s %s (observed %s)\n", status, t.Name, t.Expr, obs)
		if t.Verdict == result.VerdictInconclusive && t.Evidence != "" {
			fmt.Fprintf(w, "  why: %s\n", t.Evidence)
		}
	}
}
