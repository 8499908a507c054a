package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cacheproof/cacheproof/profile"
)

// (cmd/cacheproof/profile.go is the tool's own CPU profile; this file is
// the profile subcommand.)

const profileExamples = `
Reads a live Redis without writing to it (every command goes through an
allow-list of read commands) and writes a scenario that run, capacity and
size use as they are, plus profile.json and profile.html: what was found
and how sure.

Examples:
  # profile a replica for a minute, then run and size the scenario it wrote
  cacheproof profile --redis-url redis://reader:secret@replica:6379 -o prod.yaml
  cacheproof size -s prod.yaml
  cacheproof run -s prod.yaml

  # also watch the command stream for 20 s to measure popularity (MONITOR)
  cacheproof profile --redis-url rediss://replica:6380 --observe 20s -o prod.yaml

Exit codes: 0 profiled, 2 bad flags, 3 Redis unreachable or unreadable,
or the profile stopped because the server's latency rose (what was read
is written), 130 interrupted (what was read is written).
`

type profileFlags struct {
	url       string
	scenario  string
	out       string
	name      string
	sample    int
	duration  time.Duration
	observe   time.Duration
	maxLines  int
	maxOps    float64
	quiet     bool
	users     int
	elems     int
	probeRise float64
}

// profileMain is `cacheproof profile`: flags and files here, the reading
// and fitting in package profile.
func profileMain(args []string, stdout, stderr io.Writer) int {
	errf := errorf(stderr, "profile")
	var f profileFlags
	fs := newFlagSet("profile", stderr)
	fs.StringVar(&f.url, "redis-url", "", "the Redis to profile: redis://[user:password@]host:port[/db], rediss:// for TLS (a replica is the safe choice; a cluster node profiles every primary)")
	fs.StringVarP(&f.scenario, "scenario-out", "o", "", "where to write the scenario (default OUT/scenario.yaml)")
	fs.StringVar(&f.out, "out", "", "folder for profile.json, profile.html and the scenario (default results/profile-<UTC timestamp>/)")
	fs.StringVar(&f.name, "name", "profiled", "the scenario's name")
	fs.IntVar(&f.sample, "sample", profile.SampleSize(0.02), "keys to sample (default: a family holding half the keys known within 2 % of itself at 95 % confidence)")
	fs.DurationVar(&f.duration, "duration", 60*time.Second, "traffic window: INFO command and hit statistics over it")
	fs.DurationVar(&f.observe, "observe", 0, "also watch the command stream (MONITOR) this long, inside the window, for popularity and read/write shares; costs the server (a warning is printed)")
	fs.IntVar(&f.maxLines, "observe-max-lines", 500_000, "hard cap on MONITOR lines read")
	fs.Float64Var(&f.maxOps, "max-ops-per-sec", 2000, "the profiler's own commands per second, per node (halved while the server's PING latency is up)")
	fs.IntVar(&f.users, "users", profile.DefaultScenario.ActiveUsers, "active users the scenario spreads the measured rate over")
	fs.IntVar(&f.elems, "elems", 3, "hash fields / sorted-set members read per key for their sizes")
	fs.Float64Var(&f.probeRise, "latency-rise", profile.DefaultProbe.Rise, "back off when a PING takes more than this many times its baseline (plus 2 ms)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print only the scenario's path")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof profile --redis-url URL [-o scenario.yaml] [--out DIR] [flags]\n\nMeasure a scenario from a live Redis, without writing to it.\n\nFlags:\n%s%s", fs.FlagUsages(), profileExamples)
	}
	if code := parseFlags(fs, args, stderr); code != next {
		return code
	}
	if code := f.check(errf, fs.Args()); code != next {
		return code
	}
	if f.out == "" {
		f.out = filepath.Join("results", "profile-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if f.scenario == "" {
		f.scenario = filepath.Join(f.out, "scenario.yaml")
	}
	logf := func(format string, a ...any) {
		if !f.quiet {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	if f.observe > 0 {
		fmt.Fprintln(stderr, "warning: "+profile.MonitorWarning)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	probe := profile.DefaultProbe
	probe.Rise = f.probeRise
	p, err := profile.Run(ctx, profile.Config{
		Options:  profile.Options{URL: f.url, MaxOpsPerSec: f.maxOps},
		Sample:   f.sample,
		Duration: f.duration,
		Observe:  f.observe,
		MaxLines: f.maxLines,
		Probe:    probe,
		Elems:    f.elems,
		Logf:     logf,
	})
	interrupted := ctx.Err() != nil
	if err != nil {
		errf("%v", err)
		return exitCode(err, exitUsage) // a URL that does not parse is the user's
	}
	if err := p.WriteFiles(f.out); err != nil {
		errf("%v", err)
		return exitEnvironment
	}
	so := profile.DefaultScenario
	so.Name, so.ActiveUsers = f.name, f.users
	text, serr := p.Scenario(so)
	if werr := writeScenarioFile(f.scenario, text); werr != nil {
		errf("%v", werr)
		return exitEnvironment
	}
	if serr != nil {
		errf("%v (written to %s for reference; profile.json has every figure)", serr, f.scenario)
		return exitEnvironment
	}
	if f.quiet {
		fmt.Fprintln(stdout, f.scenario)
	} else {
		printProfile(stdout, p, f.scenario, f.out)
	}
	switch {
	case interrupted:
		errf("interrupted: wrote what was read")
		return exitInterrupted
	case p.Stopped != "":
		// The server could not be read safely: what was read is written,
		// but a partial profile must not pass for a whole one.
		errf("stopped early (%s): wrote what was read", p.Stopped)
		return exitEnvironment
	}
	return exitOK
}

func (f *profileFlags) check(errf func(string, ...any), rest []string) int {
	switch {
	case len(rest) > 0:
		errf("unexpected arguments %v", rest)
	case f.url == "":
		errf("--redis-url is required, e.g. --redis-url redis://replica:6379")
	case !strings.HasPrefix(f.url, "redis://") && !strings.HasPrefix(f.url, "rediss://") && !strings.HasPrefix(f.url, "unix://"):
		errf("--redis-url %q: expected redis://host:port or rediss://host:port", f.url)
	case f.sample < 1:
		errf("--sample %d: expected at least 1 key", f.sample)
	case f.duration < time.Second:
		errf("--duration %s: expected at least 1s (the traffic window)", f.duration)
	case f.observe < 0 || f.observe > f.duration:
		errf("--observe %s: expected 0 (off) up to --duration (%s), the window it runs in", f.observe, f.duration)
	case f.maxLines < 1:
		errf("--observe-max-lines %d: expected at least 1", f.maxLines)
	case !(f.maxOps >= 1):
		errf("--max-ops-per-sec %g: expected at least 1", f.maxOps)
	case f.users < 1:
		errf("--users %d: expected at least 1", f.users)
	case f.elems < 1 || f.elems > 100:
		errf("--elems %d: expected 1 to 100", f.elems)
	case !(f.probeRise > 1):
		errf("--latency-rise %g: expected more than 1", f.probeRise)
	default:
		return next
	}
	return exitUsage
}

func writeScenarioFile(path string, text []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("scenario folder: %w", err)
		}
	}
	if err := os.WriteFile(path, text, 0o644); err != nil {
		return fmt.Errorf("write scenario: %w", err)
	}
	return nil
}

// printProfile is the console summary: the families, how much they
// explain, and what could not be read.
func printProfile(w io.Writer, p *profile.Profile, scenario, dir string) {
	fmt.Fprintf(w, "%s (%s): %d keys, %d sampled; families explain %.1f %% of keys, %.1f %% of memory\n",
		p.URL, p.Deployment.Shape, p.DBSize, p.Sampled, 100*p.ExplainedKeys, 100*p.ExplainedMem)
	hr := "n/a"
	if p.Traffic.HitRate >= 0 {
		hr = fmt.Sprintf("%.2f %%", 100*p.Traffic.HitRate)
	}
	fmt.Fprintf(w, "traffic over %s: %.0f commands/s, server hit rate %s\n", p.Traffic.Window.Round(time.Millisecond), p.OpsPerSec, hr)
	if p.CacheAge > 0 {
		fmt.Fprintf(w, "cache age %s (the oldest key of %s, whose TTL has not run out); the scenario's prefill %s\n", p.CacheAge.Round(time.Second), p.CacheAgeBy, p.Prefill)
	} else {
		fmt.Fprintf(w, "cache age unknown (every TTL has turned over); the scenario's prefill %s\n", p.Prefill)
	}
	fmt.Fprintf(w, "%-24s %-34s %-6s %10s %10s %9s %8s %-16s %-10s %7s %7s %7s\n", "family", "pattern", "type", "keys", "ids", "mean B", "memory", "ttl", "pop.", "weight", "writes", "deletes")
	for _, f := range p.Families {
		ttl := f.TTL.TTL.String()
		if f.TTL.Tier != "" {
			ttl = f.TTL.Tier + " " + ttl
		}
		pop := f.Popularity.Kind
		if f.Popularity.Exponent > 0 {
			pop = fmt.Sprintf("zipf %.2f", f.Popularity.Exponent)
		}
		fmt.Fprintf(w, "%-24s %-34s %-6s %10.0f %10.0f %9.1f %7.1f%% %-16s %-10s %6.1f%% %6.1f%% %6.1f%%\n", f.Name, f.Pattern, f.Type, f.Keys, f.Keyspace, f.Size.Mean, 100*f.MemShare, ttl, pop, 100*f.Weight, 100*f.WriteShare, 100*f.DeleteShare)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "the profiler sent %d commands in %s; its PING probe: baseline %.2f ms, max %.2f ms, %d back-offs\n",
		p.OwnCommands, p.Took, p.Probe.BaselineMs, p.Probe.MaxMs, p.Probe.Backoffs)
	if p.Stopped != "" {
		fmt.Fprintf(w, "stopped early: %s\n", p.Stopped)
	}
	fmt.Fprintf(w, "scenario: %s\nprofile:  %s\n", scenario, filepath.Join(dir, "profile.html"))
}
