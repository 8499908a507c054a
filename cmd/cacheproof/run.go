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
	scenario         string
	duration         time.Duration
	warmup           time.Duration
	users            int
	out              string
	seed             int64
	quiet            bool
	redisServer      string
	image            string
	allowDestructive bool
	shard            string
	junit            string
	markdown         string
	metricsAddr      string
	progress         string
	cpuProfile       string
	memProfile       string
}

func runMain(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVarP(&f.scenario, "scenario", "s", "", "scenario file, or the name of a built-in scenario (see 'cacheproof scenarios')")
	fs.DurationVar(&f.duration, "duration", 0, "total length of the recorded phases (scaled in proportion; warm-up unchanged)")
	fs.DurationVar(&f.warmup, "warmup", 0, "total length of the warm-up (unrecorded) phases, scaled in proportion; 0s removes them")
	fs.IntVar(&f.users, "users", 0, "concurrent active users (replaces workload.active_users; phases scale in proportion)")
	fs.StringVarP(&f.out, "out", "o", "", "report folder (default results/<scenario>-<UTC timestamp>)")
	fs.Int64Var(&f.seed, "seed", 0, "workload seed: the same seed gives the same workload (default: the scenario's)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print only the verdict lines and errors")
	fs.StringVar(&f.redisServer, "redis-server", "", "redis-server binary (default $CACHEPROOF_REDIS_SERVER, then PATH)")
	fs.StringVar(&f.image, "image", "", "Redis image for the container backend (default the scenario's, then redis:7-alpine)")
	fs.BoolVar(&f.allowDestructive, "allow-destructive", false, "allow faults and CONFIG SET on an external Redis")
	fs.StringVar(&f.shard, "shard", "", "run the i-th of n disjoint slices of the population, as i/n (0-based)")
	fs.StringVar(&f.junit, "junit", "", "also write JUnit XML (one test case per target) to this file")
	fs.StringVar(&f.markdown, "markdown", "", "also write a Markdown summary to this file")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address during the run, e.g. 127.0.0.1:9090")
	fs.StringVar(&f.progress, "progress", "auto", "progress display: auto (bars on a terminal, lines otherwise), bars, lines, none")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the tool itself to this file (go tool pprof), to see what the load generator spends")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a Go heap profile (allocations over the run, live heap at its end) of the tool itself to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof run [--scenario] FILE|NAME [flags]\n\nRuns a scenario and writes report.json and report.html.\n\nFlags:\n%s%s", fs.FlagUsages(), runExamples)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "cacheproof run: %v\n", err)
		return exitUsage
	}
	if f.scenario == "" && fs.NArg() == 1 {
		f.scenario = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cacheproof run: unexpected arguments %v (one scenario per run)\n", fs.Args())
		return exitUsage
	}
	if f.scenario == "" {
		fmt.Fprintln(stderr, "cacheproof run: --scenario is required, e.g. cacheproof run --scenario scenarios/baseline.yaml")
		return exitUsage
	}
	shard, shards, err := parseShard(f.shard)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof run: --shard: %v\n", err)
		return exitUsage
	}
	switch f.progress {
	case "auto", "bars", "lines", "none":
	default:
		fmt.Fprintf(stderr, "cacheproof run: --progress: expected auto, bars, lines or none, got %q\n", f.progress)
		return exitUsage
	}

	if f.cpuProfile != "" {
		stopProfile, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "cacheproof run: --cpuprofile: %v\n", err)
			return exitUsage
		}
		defer stopProfile()
	}
	if f.memProfile != "" {
		defer writeHeapProfile(f.memProfile, stderr)
	}

	sc, err := scenarios.Resolve(f.scenario)
	if err != nil {
		printScenarioErr(stderr, err)
		return exitUsage
	}
	// A flag given as 0 is validated as written, never read as "not given".
	if fs.Changed("users") && f.users <= 0 {
		fmt.Fprintf(stderr, "cacheproof run: --users %d: must be at least 1\n", f.users)
		return exitUsage
	}
	if fs.Changed("duration") && f.duration <= 0 {
		fmt.Fprintf(stderr, "cacheproof run: --duration %s: must be positive\n", f.duration)
		return exitUsage
	}
	ov := scenarios.Overrides{Duration: f.duration, Users: f.users}
	if fs.Changed("seed") {
		ov.Seed = &f.seed
	}
	if fs.Changed("warmup") {
		ov.Warmup = &f.warmup
	}
	if err := sc.Apply(ov); err != nil {
		printScenarioErr(stderr, err)
		return exitUsage
	}
	if sc.Target.Backend == "external" && !f.allowDestructive {
		for _, ft := range sc.Faults {
			if ft.Kind != "network" {
				fmt.Fprintf(stderr, "cacheproof run: fault %q would change or stop the external Redis; refusing without --allow-destructive\n", ft.Kind)
				return exitUsage
			}
		}
	}

	outDir := f.out
	if outDir == "" {
		outDir = filepath.Join("results", fmt.Sprintf("%s-%s", sc.Name, time.Now().UTC().Format("20060102T150405Z")))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "cacheproof run: cannot create the report folder: %v\n", err)
		return exitEnvironment
	}

	// First Ctrl-C or SIGTERM: stop, write the partial report, exit 130.
	// Second: exit at once (child processes die with us: topology starts
	// them with a parent-death signal).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(stderr, "\ncacheproof: %s: stopping and writing a partial report (again to quit at once)\n", sig)
		cancel()
		if _, ok := <-sigs; ok {
			fmt.Fprintln(stderr, "cacheproof: quitting now")
			os.Exit(exitInterrupted)
		}
	}()

	var liveSrv *live.Server
	if f.metricsAddr != "" {
		liveSrv, err = live.New(f.metricsAddr)
		if err != nil {
			fmt.Fprintf(stderr, "cacheproof run: --metrics-addr: %v\n", err)
			return exitUsage
		}
		defer func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ccancel()
			_ = liveSrv.Close(cctx)
		}()
		if !f.quiet {
			fmt.Fprintf(stderr, "serving Prometheus metrics on http://%s/metrics\n", liveSrv.Addr())
		}
	}

	prog := newProgress(stderr, f.progress, f.quiet, sc)
	opts := harness.Options{
		Scenario:         sc,
		RedisServer:      f.redisServer,
		Image:            f.image,
		AllowDestructive: f.allowDestructive,
		Shard:            shard,
		Shards:           shards,
		LogDir:           filepath.Join(outDir, "redis-logs"),
		Version:          toolVersion(),
		OnSample: func(s harness.Sample) {
			prog.sample(s)
			if liveSrv != nil {
				liveSrv.Publish(s.Row, s.Interval)
			}
		},
	}
	if !f.quiet {
		opts.Logf = prog.logf
	}
	started := time.Now()
	res, err := harness.Run(ctx, opts)
	prog.done()
	if err != nil {
		var envErr *harness.EnvError
		var cfgErr *harness.ConfigError
		switch {
		case errors.As(err, &cfgErr):
			fmt.Fprintf(stderr, "cacheproof run: %v\n", err)
			return exitUsage
		case ctx.Err() != nil:
			// Interrupted before the load started (while Redis started or
			// the cache was prefilled): still leave a report saying so, as
			// every interrupted run does.
			fmt.Fprintf(stderr, "cacheproof run: interrupted before the load started: %v\n", err)
			partial := &result.Result{
				SchemaVersion: result.SchemaVersion,
				Tool:          result.ToolInfo{Name: "cacheproof", Version: toolVersion(), GoVersion: runtime.Version()},
				Scenario:      result.ScenarioInfo{Name: sc.Name, Description: sc.Description, File: sc.File, Seed: sc.Seed},
				StartedAt:     started.UTC(),
				DurationS:     time.Since(started).Seconds(),
				Interrupted:   true,
				Notes:         []string{"interrupted before the load started: " + err.Error()},
			}
			partial.Finalize(sc.TargetSpecs())
			partial.ExitCode = exitInterrupted
			if files, werr := report.WriteAll(partial, report.Outputs{Dir: outDir, JUnit: f.junit, Markdown: f.markdown}); werr == nil && !f.quiet {
				fmt.Fprintf(stdout, "reports: %s\n", strings.Join(files, ", "))
			}
			return exitInterrupted
		case errors.As(err, &envErr):
			fmt.Fprintf(stderr, "cacheproof run: %v\n", err)
			return exitEnvironment
		default:
			fmt.Fprintf(stderr, "cacheproof run: %v\n", err)
			return exitEnvironment
		}
	}

	code := exitOK
	switch {
	case res.Interrupted:
		code = exitInterrupted
	case res.Verdict != result.VerdictPass:
		code = exitTargetMiss
	}
	res.ExitCode = code
	files, werr := report.WriteAll(res, report.Outputs{Dir: outDir, JUnit: f.junit, Markdown: f.markdown})
	if f.quiet {
		for _, t := range res.Targets {
			status := "PASS"
			if !t.Pass {
				status = "FAIL"
			}
			fmt.Fprintf(stdout, "%s %s %s (observed %s)\n", status, t.Name, t.Expr, t.ObservedText)
		}
	} else if err := report.WriteText(stdout, res); err != nil {
		fmt.Fprintf(stderr, "cacheproof run: console summary: %v\n", err)
	}
	if werr != nil {
		fmt.Fprintf(stderr, "cacheproof run: writing reports: %v\n", werr)
		if code == exitOK {
			code = exitEnvironment
		}
	}
	if !f.quiet {
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
