package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cacheproof/cacheproof/capacity"
	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

const capacityExamples = `
Each step is a whole run of the scenario at one load (its own redis-server,
its own prefill to steady state, warm-up and recorded time); the ramp
multiplies the load by --growth until a target breaks, then bisects between
the highest passing and the lowest failing load to --precision.

Examples:
  # the built-in capacity scenario (the baseline's workload, 30 s steps)
  cacheproof capacity -s capacity

  # how many users does the baseline hold? 15 s steps, 5 % precision
  cacheproof capacity -s baseline --from 5000 --to 40000 --step-duration 15s --step-warmup 5s --precision 5%

  # vary the commands per user per minute at the scenario's users
  cacheproof capacity -s baseline --vary rate --from 3 --to 48

  # pool sizing: the fewest connections that hold the scenario's load
  cacheproof capacity -s baseline --vary max_conns --from 4 --to 64

  # memory sizing: the smallest maxmemory that holds the scenario's load,
  # with cacheproof size's predicted hit rate beside each measured step
  cacheproof capacity -s baseline --vary maxmemory --from 16mb --to 256mb --precision 4mb

  # an external Redis: never beyond 20,000 users
  cacheproof capacity -s my-external.yaml --max-load 20000
`

type capacityFlags struct {
	commonFlags
	settings   capacity.Settings
	stepWarmup time.Duration
	progress   string
	// from, to and maxLoad are read once what is varied is known: a size
	// ("16mb") for maxmemory, else a number.
	from, to, maxLoad string
}

// capacityMain is `cacheproof capacity`: flags and files here, the search
// in package capacity, every step a harness run. Exit codes: capacityExit.
func capacityMain(args []string, stdout, stderr io.Writer) int {
	errf := errorf(stderr, "capacity")
	var f capacityFlags
	s := &f.settings
	fs := newFlagSet("capacity", stderr)
	f.register(fs, commonHelp{scenarioHelp: scenarioHelp{outInfix: "capacity-", quietKeeps: "headline, the report folder"}, junitCases: "one test case: the design point holds"})
	fs.StringVar(&s.Vary, "vary", "", "what grows from step to step: users (active users), rate (commands per user per minute), max_conns (the pool's size, at the scenario's load: the fewest that hold it) or maxmemory (Redis's memory limit, at the scenario's load: the smallest that holds it) (default users)")
	fs.StringVar(&f.from, "from", "", "first step's load (default: half the design point); for maxmemory a size such as 16mb (default: an eighth of the scenario's)")
	fs.StringVar(&f.to, "to", "", "highest load of the ramp (default: four times the design point); for maxmemory a size such as 256mb (default: twice the scenario's)")
	fs.Float64Var(&s.Growth, "growth", 0, "ramp factor from one step to the next (default 2)")
	fs.DurationVar(&s.StepDuration, "step-duration", 0, "recorded time of each step (default: the scenario's recorded phases)")
	fs.DurationVar(&f.stepWarmup, "step-warmup", 0, "warm-up of each step; 0s removes it (default: the scenario's)")
	fs.StringVar(&s.Precision, "precision", "", "bisection's end: the gap between passing and failing load, 10% of the passing load or an absolute load such as 500 (for maxmemory a size such as 4mb) (default 10%)")
	fs.StringVar(&f.maxLoad, "max-load", "", "never go beyond this load (required against an external Redis); for maxmemory a size")
	fs.IntVar(&s.MaxSteps, "max-steps", 0, "at most this many search steps (ramp, down, bisect; default 12); the design point's own step and the re-runs come on top")
	fs.StringVar(&f.progress, "progress", "auto", progressHelp+"; one display per step")
	fs.IntVar(&s.Confirm, "confirm", 0, "at most this many runs at one load: the highest passing and the lowest failing load are re-run until two runs agree, an inconclusive step until decided; at most 2x(N-1) re-runs in all; 1 turns re-runs off (default 3)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof capacity [--scenario] FILE|NAME [flags]\n\nFinds the highest load at which every target holds, what breaks first and why.\n\nFlags:\n%s%s", fs.FlagUsages(), capacityExamples)
	}
	if code := parseWithScenario(fs, args, &f.scenario, "cacheproof capacity -s capacity", stderr); code != next {
		return code
	}
	for name, v := range map[string]float64{"growth": s.Growth,
		"step-duration": s.StepDuration.Seconds(), "max-steps": float64(s.MaxSteps), "confirm": float64(s.Confirm)} {
		if fs.Changed(name) && !(v > 0) {
			errf("--%s %s: must be positive", name, fs.Lookup(name).Value)
			return exitUsage
		}
	}
	if code := checkProgress(f.progress, errf); code != next {
		return code
	}
	if fs.Changed("growth") && s.Growth <= 1 {
		errf("--growth %v: must be above 1", s.Growth)
		return exitUsage
	}
	if fs.Changed("step-warmup") {
		if f.stepWarmup < 0 {
			errf("--step-warmup must not be negative")
			return exitUsage
		}
		s.StepWarmup = &f.stepWarmup
	}

	sc, code := f.resolveScenario(stderr)
	if code != next {
		return code
	}
	if code := f.parseLoads(fs, sc, errf); code != next {
		return code
	}
	if seed := f.seedOverride(fs); seed != nil {
		if err := sc.Apply(scenarios.Overrides{Seed: seed}); err != nil {
			printScenarioErr(stderr, err)
			return exitUsage
		}
	}
	if code := f.refuseDestructive(sc, errf); code != next {
		return code
	}
	prep, err := capacity.Prepare(sc, f.settings)
	if err != nil {
		var se *capacity.StepError
		if errors.As(err, &se) {
			errf("at %v %s:", se.Load, se.Unit)
			printScenarioErr(stderr, se.Err)
		} else {
			errf("%v", err)
		}
		return exitUsage
	}
	plan := prep.Plan

	outDir, code := f.makeOutDir(sc.Name, errf)
	if code != next {
		return code
	}
	rs := &runState{stdout: stdout, stderr: stderr}
	ctx, stopSignals := rs.interruptible()
	defer stopSignals()

	stepDir := func(n int, load float64) string {
		l := fmt.Sprint(load)
		if plan.Vary == scenarios.VaryMaxMemory {
			l = capacity.SizeText(load)
		}
		return filepath.Join("steps", fmt.Sprintf("%02d-%s-%s", n, prep.Settings.Vary, strings.ReplaceAll(l, ".", "_")))
	}
	n := 0
	prog := &stepProgress{w: stderr, mode: f.progress, quiet: f.quiet, sc: prep.First}
	opts := f.harnessOptions()
	opts.OnSample = prog.sample
	var pred *capacityPredictor
	if plan.Vary == scenarios.VaryMaxMemory {
		pred = &capacityPredictor{redisServer: f.redisServer, quiet: f.quiet, stderr: stderr}
	}
	if !f.quiet {
		what, from, to, design := plan.Unit, fmt.Sprint(plan.From), fmt.Sprint(plan.To), fmt.Sprint(plan.Design)
		if plan.Vary == scenarios.VaryMaxMemory {
			what, from, to, design = plan.Vary, capacity.SizeText(plan.From), capacity.SizeText(plan.To), capacity.SizeText(plan.Design)
		}
		fmt.Fprintf(stderr, "capacity of %s: %s from %s to %s (x%v), precision %s, design point %s, boundary confirmed by up to %d runs a load; each step prefilled on its own\n",
			sc.Name, what, from, to, plan.Growth, plan.PrecisionText, design, plan.Confirm)
	}
	c, serr := prep.Run(ctx, capacity.RunOptions{
		Harness: opts,
		LogDir:  func(load float64) string { return filepath.Join(outDir, stepDir(n+1, load), "redis-logs") },
		Tool:    result.ToolInfo{Name: "cacheproof", Version: toolVersion(), GoVersion: runtime.Version()},
		OnStep: func(st *result.CapacityStep, res *result.Result) {
			prog.stepDone()
			n = st.N
			if pred != nil {
				pred.step(res)
			}
			dir := stepDir(st.N, st.Load)
			if _, err := report.RunReport.WriteAll(res, report.Outputs{Dir: filepath.Join(outDir, dir)}); err != nil {
				errf("step %d reports: %v", st.N, err)
			} else {
				st.Report = dir
			}
			if !f.quiet {
				printCapacityStep(stderr, st, plan.Unit)
			}
		},
	})
	prog.stepDone() // a step that ended in an error left its display open
	if pred != nil && !c.Interrupted && ctx.Err() == nil {
		pred.predict(ctx, sc, c)
	}
	code = capacityExit(c.Answer)
	switch {
	case serr == nil:
	case c.Interrupted:
		code = exitInterrupted
	default:
		errf("%v", serr)
		code = exitCode(serr, exitEnvironment)
	}
	c.ExitCode = code
	files, werr := report.CapacityReport.WriteAll(c, report.Outputs{Dir: outDir, JUnit: f.junit, Markdown: f.markdown})
	if f.quiet {
		fmt.Fprintln(stdout, c.Answer.Headline)
		fmt.Fprintf(stdout, "reports: %s\n", outDir)
	} else {
		fmt.Fprintln(stdout)
		if err := report.CapacityReport.Write(stdout, report.Text, c); err != nil {
			errf("console summary: %v", err)
		}
		fmt.Fprintf(stdout, "\nreports: %s (each step's in %s)\n", strings.Join(files, ", "), filepath.Join(outDir, "steps"))
	}
	if werr != nil {
		errf("writing reports: %v", werr)
		if code == exitOK {
			code = exitEnvironment
		}
	}
	return code
}

// capacityExit is the exit code of a finished search (interruption,
// usage and environment errors are decided by the caller): 0 when the
// design point's own steps held, 1 when they failed (a failure at any load
// included, or a design point the search could not measure), 4 when it is
// inconclusive (its runs did not agree, or the tool was the bottleneck
// there): not a pass, not a miss, as for run.
func capacityExit(a result.CapacityAnswer) int {
	if a.FailsAtAnyLoad {
		return exitTargetMiss
	}
	return verdictExit(a.DesignVerdict)
}

// printCapacityStep is a step's console line: its verdict, figures and the
// targets it broke.
func printCapacityStep(w io.Writer, st *result.CapacityStep, unit string) {
	v := strings.ToUpper(st.Verdict)
	if st.ToolLimited {
		v += " (the tool was the bottleneck: " + strings.Join(st.ToolReasons, ", ") + ")"
	}
	if st.Run > 1 {
		v = fmt.Sprintf("run %d: %s", st.Run, v)
	}
	var broke []string
	for _, t := range st.Targets {
		if !t.Pass {
			broke = append(broke, t.Name+" "+t.ObservedText)
		}
	}
	load := fmt.Sprintf("%v %s", st.Load, unit)
	if unit == "bytes" {
		// A maxmemory step: the size asked and the size Redis reported.
		load = "maxmemory " + capacity.SizeText(st.Load) + " (Redis reported " + capacity.SizeText(float64(st.MaxMemory)) + ")"
	}
	fmt.Fprintf(w, "step %d (%s) %s: %s  %.0f ops/s, p99 %.3f ms, hit %.1f%%  %s\n",
		st.N, st.Stage, load, v, st.OpsPerSec, st.LatencyMs.P99, 100*st.HitRate, strings.Join(broke, ", "))
}

// parseLoads reads --from, --to and --max-load in the unit of what is
// varied (the flag's --vary, else the scenario's capacity.vary): a size as
// Redis writes it for maxmemory ("16mb", "1gb", bytes), else a number.
// A bad value names its flag (exit 2).
func (f *capacityFlags) parseLoads(fs *pflag.FlagSet, sc *scenarios.Scenario, errf func(string, ...any)) int {
	vary := f.settings.Vary
	if vary == "" && sc.Capacity != nil {
		vary = sc.Capacity.Vary
	}
	for _, l := range []struct {
		name string
		text string
		to   *float64
	}{{"from", f.from, &f.settings.From}, {"to", f.to, &f.settings.To}, {"max-load", f.maxLoad, &f.settings.MaxLoad}} {
		if !fs.Changed(l.name) {
			continue
		}
		var v float64
		var err error
		if vary == scenarios.VaryMaxMemory {
			var z units.Size
			z, err = units.ParseSize(l.text)
			v = float64(z)
		} else {
			v, err = strconv.ParseFloat(strings.TrimSpace(l.text), 64)
		}
		switch {
		case err != nil && vary == scenarios.VaryMaxMemory:
			errf("--%s %q: expected a size such as 16mb, 1gb or a number of bytes (%v)", l.name, l.text, err)
			return exitUsage
		case err != nil:
			errf("--%s %q: expected a number", l.name, l.text)
			return exitUsage
		case !(v > 0):
			errf("--%s %s: must be positive", l.name, l.text)
			return exitUsage
		}
		*l.to = v
	}
	return next
}
