package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/live"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

const runExamples = `
Examples:
  # the baseline: 10,000 users of 1,000,000 against a redis-server started here
  cacheproof run --scenario scenarios/baseline.yaml

  # a quick smoke run: fewer users, short warm-up and recording, reports in /tmp/smoke
  cacheproof run -s baseline --users 500 --warmup 10s --duration 20s --out /tmp/smoke

  # CI: JUnit and a Markdown summary beside the JSON and HTML reports
  cacheproof run -s restart --junit junit.xml --markdown summary.md

  # one of four shards of a load too big for one machine
  cacheproof run -s baseline --shard 2/4 --out results/shard-2
`

type runFlags struct {
	commonFlags
	loadShapeFlags
	shard       string
	metricsAddr string
	progress    string
	cpuProfile  string
	memProfile  string
	traceFile   string
	predict     bool
	// repeat is --repeat as written ("" when not given: the scenario's
	// repeat:, else one run); repeatBudget --repeat-budget;
	// acceptInconclusive --accept-inconclusive.
	repeat             string
	repeatBudget       time.Duration
	acceptInconclusive bool
}

// runMain is `cacheproof run`. It passes through named stages, each a
// method of runState below; a stage that fails has printed why and returns the
// exit code (go on: next):
//
//	parseFlags    flags and the positional scenario, --shard, --progress
//	startProfiles --cpuprofile, --memprofile of the tool itself
//	loadScenario  resolve the file or built-in, apply the flags over it
//	makeOutDir    the report folder
//	interruptible first Ctrl-C or SIGTERM stops the run, a second quits
//	serveMetrics  --metrics-addr
//	execute       harness.Run, with progress display and live metrics
//	failed        no result: the exit code, a partial report if interrupted
//	writeReports  the reports, the console summary, the exit code
func runMain(args []string, stdout, stderr io.Writer) int {
	c := &runState{stdout: stdout, stderr: stderr}
	if code := c.parseFlags(args); code != next {
		return code
	}
	stopProfiles, code := c.startProfiles()
	if code != next {
		return code
	}
	defer stopProfiles()
	if code := c.loadScenario(); code != next {
		return code
	}
	if code := c.makeOutDir(); code != next {
		return code
	}
	ctx, stopSignals := c.interruptible()
	defer stopSignals()
	closeMetrics, code := c.serveMetrics()
	if code != next {
		return code
	}
	defer closeMetrics()
	if c.plan.Runs > 1 || c.plan.Auto {
		return c.executeRepeated(ctx)
	}
	res, err := c.execute(ctx)
	if err != nil {
		return c.failed(ctx, err)
	}
	if c.f.predict {
		c.predict(ctx, res)
	}
	return c.writeReports(res)
}

// next is what a stage of runMain returns when the run goes on; anything
// else is the exit code.
const next = -1

// runState is one `cacheproof run` as it passes through runMain's stages.
type runState struct {
	stdout, stderr io.Writer
	f              runFlags
	fs             *pflag.FlagSet
	shard, shards  int
	sc             *scenarios.Scenario  // loadScenario
	plan           scenarios.RepeatPlan // loadScenario: --repeat, else the scenario's
	outDir         string               // makeOutDir
	live           *live.Server         // serveMetrics; nil without --metrics-addr
	started        time.Time            // execute
}

func (c *runState) errf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "cacheproof run: "+format+"\n", args...)
}

// parseFlags reads the flags and the positional scenario.
func (c *runState) parseFlags(args []string) int {
	f, stderr := &c.f, c.stderr
	fs := newFlagSet("run", stderr)
	c.fs = fs
	f.commonFlags.register(fs, commonHelp{scenarioHelp: scenarioHelp{outInfix: "", quietKeeps: "verdict lines, the report folder"}, junitCases: "one test case per target"})
	f.loadShapeFlags.register(fs)
	fs.StringVar(&f.shard, "shard", "", "run the i-th of n disjoint slices of the population, as i/n (0-based)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address during the run, e.g. 127.0.0.1:9090")
	fs.StringVar(&f.progress, "progress", "auto", progressHelp)
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the tool itself to this file (go tool pprof), to see what the load generator spends")
	fs.BoolVar(&f.predict, "predict", false, "after the run, simulate the scenario as 'cacheproof size' does and report where the measured hit rate lies on the predicted curve")
	fs.StringVar(&f.traceFile, "trace", "", "write a Go execution trace of the tool itself to this file (go tool trace), to see why a command started late: what held the dispatcher or its worker back")
	fs.StringVar(&f.repeat, "repeat", "", "runs one verdict is judged from, each with its own Redis and prefill: N (1-20), auto (add runs while a target is inconclusive, up to 5), or auto:N (default: the scenario's repeat:, else 1)")
	fs.DurationVar(&f.repeatBudget, "repeat-budget", 0, "with --repeat: start no further run that would, at the pace of the runs so far, end after this much time (0: no budget)")
	fs.BoolVar(&f.acceptInconclusive, "accept-inconclusive", false, "exit 0 instead of 4 when no target failed but one is inconclusive")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a Go heap profile (allocations over the run, live heap at its end) of the tool itself to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof run [--scenario] FILE|NAME [flags]\n\nRuns a scenario and writes report.json and report.html.\n\nFlags:\n%s%s", fs.FlagUsages(), runExamples)
	}
	if code := parseWithScenario(fs, args, &f.scenario, "cacheproof run --scenario scenarios/baseline.yaml", stderr); code != next {
		return code
	}
	var err error
	if c.shard, c.shards, err = parseShard(f.shard); err != nil {
		c.errf("--shard: %v", err)
		return exitUsage
	}
	return checkProgress(f.progress, c.errf)
}

// startProfiles starts the tool's own CPU profile and arranges its heap
// profile; the returned func ends both.
func (c *runState) startProfiles() (stop func(), code int) {
	stopCPU := func() {}
	if c.f.cpuProfile != "" {
		s, err := startCPUProfile(c.f.cpuProfile)
		if err != nil {
			c.errf("--cpuprofile: %v", err)
			return nil, exitUsage
		}
		stopCPU = s
	}
	stopTrace := func() {}
	if c.f.traceFile != "" {
		s, err := startTrace(c.f.traceFile)
		if err != nil {
			stopCPU()
			c.errf("--trace: %v", err)
			return nil, exitUsage
		}
		stopTrace = s
	}
	return func() {
		if c.f.memProfile != "" {
			writeHeapProfile(c.f.memProfile, c.stderr)
		}
		stopTrace()
		stopCPU()
	}, next
}

// loadScenario resolves the scenario (a file or a built-in's name) and
// applies the flags that override it. A flag given as 0 is validated as
// written, never read as "not given".
func (c *runState) loadScenario() int {
	f, fs := &c.f, c.fs
	sc, code := f.resolveScenario(c.stderr)
	if code != next {
		return code
	}
	if code := f.loadShapeFlags.apply(fs, sc, f.seedOverride(fs), c.errf, c.stderr); code != next {
		return code
	}
	if code := f.refuseDestructive(sc, c.errf); code != next {
		return code
	}
	rep := sc.Repeat
	if c.fs.Changed("repeat") {
		rep = scenarios.Repeat(f.repeat)
	}
	plan, err := rep.Parse()
	if err != nil {
		c.errf("--repeat: %v", err)
		return exitUsage
	}
	if f.repeatBudget < 0 {
		c.errf("--repeat-budget %s: must not be negative", f.repeatBudget)
		return exitUsage
	}
	if (plan.Runs > 1 || plan.Auto) && c.shards > 0 {
		c.errf("--repeat with --shard: repeat the whole sharded load instead (each shard's runs would be judged alone)")
		return exitUsage
	}
	c.sc, c.plan = sc, plan
	return next
}

// makeOutDir creates the report folder (default
// results/<scenario>-<UTC timestamp>).
func (c *runState) makeOutDir() int {
	var code int
	c.outDir, code = c.f.makeOutDir(c.sc.Name, c.errf)
	return code
}

// interruptible returns the run's context. First Ctrl-C or SIGTERM: stop,
// write the partial report, exit 130. Second: exit at once (child processes
// die with us: topology starts them with a parent-death signal).
func (c *runState) interruptible() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(c.stderr, "\ncacheproof: %s: stopping and writing a partial report (again to quit at once)\n", sig)
		cancel()
		if _, ok := <-sigs; ok {
			fmt.Fprintln(c.stderr, "cacheproof: quitting now")
			os.Exit(exitInterrupted)
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel()
	}
}

// serveMetrics starts the Prometheus endpoint of --metrics-addr; the
// returned func closes it.
func (c *runState) serveMetrics() (closeFn func(), code int) {
	if c.f.metricsAddr == "" {
		return func() {}, next
	}
	var shard string
	if c.shards > 0 {
		shard = fmt.Sprintf("%d/%d", c.shard, c.shards)
	}
	srv, err := live.NewWithOptions(live.Options{Addr: c.f.metricsAddr, Shard: shard})
	if err != nil {
		c.errf("--metrics-addr: %v", err)
		return nil, exitUsage
	}
	c.live = srv
	if !c.f.quiet {
		fmt.Fprintf(c.stderr, "serving Prometheus metrics on http://%s/metrics\n", srv.Addr())
	}
	return func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = srv.Close(cctx)
	}, next
}

// execute runs the scenario, showing progress and publishing live metrics
// every sample.
func (c *runState) execute(ctx context.Context) (*result.Result, error) {
	f := &c.f
	prog := newProgress(c.stderr, f.progress, f.quiet, c.sc)
	opts := f.harnessOptions()
	opts.Scenario = c.sc
	opts.Shard, opts.Shards = c.shard, c.shards
	opts.LogDir = filepath.Join(c.outDir, "redis-logs")
	opts.OnSample = func(s harness.Sample) {
		prog.sample(s)
		if c.live != nil {
			c.live.Publish(s.Row, live.Intervals{Latency: s.Interval, Service: s.Service, ByFamily: s.FamilyLatency})
		}
	}
	if !f.quiet {
		opts.Logf = prog.logf
	}
	c.started = time.Now()
	res, err := harness.Run(ctx, opts)
	prog.done()
	return res, err
}

// failed maps a run that produced no result to its exit code: a
// configuration error is a usage error (2); an interrupt before the load
// started still leaves a partial report (130); anything else is the
// environment (3).
func (c *runState) failed(ctx context.Context, err error) int {
	switch code := exitCode(err, exitEnvironment); {
	case code == exitUsage:
		c.errf("%v", err)
		return code
	case ctx.Err() != nil:
		// Interrupted before the load started (while Redis started or
		// the cache was prefilled): still leave a report saying so, as
		// every interrupted run does.
		c.errf("interrupted before the load started: %v", err)
		c.writePartial(err)
		return exitInterrupted
	default:
		// *harness.EnvError and anything unforeseen: the environment.
		c.errf("%v", err)
		return code
	}
}

// writePartial writes the report of a run interrupted before its load
// started.
func (c *runState) writePartial(err error) {
	sc := c.sc
	partial := &result.Result{
		SchemaVersion: result.SchemaVersion,
		Tool:          result.ToolInfo{Name: "cacheproof", Version: toolVersion(), GoVersion: runtime.Version()},
		Scenario:      sc.Info(),
		StartedAt:     c.started.UTC(),
		DurationS:     time.Since(c.started).Seconds(),
		Interrupted:   true,
		Notes:         []string{"interrupted before the load started: " + err.Error()},
	}
	partial.Finalize(sc.TargetSpecs())
	partial.ExitCode = exitInterrupted
	if files, werr := report.RunReport.WriteAll(partial, c.outputs()); werr == nil && !c.f.quiet {
		fmt.Fprintf(c.stdout, "reports: %s\n", strings.Join(files, ", "))
	}
}

func (c *runState) outputs() report.Outputs {
	return report.Outputs{Dir: c.outDir, JUnit: c.f.junit, Markdown: c.f.markdown}
}

// writeReports sets the exit code into the result, writes the reports and
// the console summary (the verdict lines alone with --quiet), and returns
// the exit code: 0, 1 for a missed target, 4 inconclusive, 130
// interrupted; 3 when a report could not be written.
func (c *runState) writeReports(res *result.Result) int {
	stdout := c.stdout
	code := c.exitCodeOf(res)
	res.ExitCode = code
	files, werr := report.RunReport.WriteAll(res, c.outputs())
	if c.f.quiet {
		writeVerdictLines(stdout, res)
	} else if err := report.RunReport.Write(stdout, report.Text, res); err != nil {
		c.errf("console summary: %v", err)
	}
	if werr != nil {
		c.errf("writing reports: %v", werr)
		if code == exitOK {
			code = exitEnvironment
		}
	}
	if c.f.quiet {
		// Quiet still says where the reports went: a CI log that shows a
		// verdict and not where to read it sends the reader searching.
		fmt.Fprintf(stdout, "reports: %s\n", c.outDir)
	} else {
		fmt.Fprintf(stdout, "\nreports: %s\n", strings.Join(files, ", "))
	}
	return code
}

// parseShard reads "i/n" (0 <= i < n).
func parseShard(s string) (int, int, error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("expected i/n with 0 <= i < n, such as 0/4, got %q", s)
	}
	return i, n, nil
}

func printScenarioErr(w io.Writer, err error) {
	var list scenarios.ErrorList
	var one *scenarios.Error
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			fmt.Fprintf(w, "%s\n", e)
			if e.Snippet != "" {
				fmt.Fprintf(w, "%s\n", strings.TrimRight(e.Snippet, "\n"))
			}
		}
		fmt.Fprintf(w, "%d problem(s) in the scenario\n", len(list))
	case errors.As(err, &one):
		fmt.Fprintf(w, "%s\n", one)
		if one.Snippet != "" {
			fmt.Fprintf(w, "%s\n", strings.TrimRight(one.Snippet, "\n"))
		}
	default:
		fmt.Fprintf(w, "%v\n", err)
	}
}
