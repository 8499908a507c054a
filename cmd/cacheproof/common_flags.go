package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/scenarios"
)

// scenarioFlags are the flags of every command that loads a scenario and
// writes a report folder (run, capacity, size): each is defined, described
// and applied here, once for all of them.
type scenarioFlags struct {
	scenario    string
	out         string
	seed        int64
	quiet       bool
	redisServer string
	// sets are the --set PATH=VALUE flags, in the order given.
	sets []string

	outInfix string // scenarioHelp.outInfix, for makeOutDir
}

// scenarioHelp is what scenarioFlags' help says differently for each
// command.
type scenarioHelp struct {
	outInfix       string // the default report folder is results/<scenario>-<outInfix><UTC timestamp>
	quietKeeps     string // what --quiet still prints besides the errors
	redisServerFor string // what the redis-server binary is for, e.g. " for the scratch server"; "" says nothing
}

// register defines the scenario flags on fs.
func (f *scenarioFlags) register(fs *pflag.FlagSet, h scenarioHelp) {
	f.outInfix = h.outInfix
	fs.StringVarP(&f.scenario, "scenario", "s", "", "scenario file, or the name of a built-in scenario (see 'cacheproof scenarios')")
	fs.StringVarP(&f.out, "out", "o", "", "report folder (default results/<scenario>-"+h.outInfix+"<UTC timestamp>)")
	fs.Int64Var(&f.seed, "seed", 0, "workload seed: the same seed gives the same workload (default: the scenario's)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print only the "+h.quietKeeps+" and errors")
	fs.StringVar(&f.redisServer, "redis-server", "", "redis-server binary"+h.redisServerFor+" (default $CACHEPROOF_REDIS_SERVER, then PATH)")
	fs.StringArrayVar(&f.sets, "set", nil, setHelp)
}

// resolveScenario resolves --scenario, a file or a built-in's name; a
// problem is printed and is a usage error.
func (f *scenarioFlags) resolveScenario(stderr io.Writer) (*scenarios.Scenario, int) {
	return resolveWithSets(f.scenario, f.sets, stderr)
}

// resolveWithSets resolves a scenario with the seed's REDIS_* variables and
// the --set values (PATH=VALUE) written into it before it is validated, so
// a bad one is reported as the file's would be, naming the variable or the
// flag; a problem is printed and is a usage error. Every command that
// loads a scenario goes through it.
func resolveWithSets(nameOrPath string, setArgs []string, stderr io.Writer) (*scenarios.Scenario, int) {
	sets := make([]scenarios.Set, 0, len(setArgs))
	for _, arg := range setArgs {
		st, err := scenarios.ParseSet(arg)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return nil, exitUsage
		}
		sets = append(sets, st)
	}
	sc, err := scenarios.ResolveWith(nameOrPath, scenarios.Options{Sets: sets, Getenv: os.Getenv})
	if err != nil {
		printScenarioErr(stderr, err)
		return nil, exitUsage
	}
	return sc, next
}

// setHelp is --set's description, the same on every command.
const setHelp = "set a scenario value, PATH=VALUE as the file would nest it (target.redis.maxmemory=32mb, workload.active_users=500, phases[1].duration=30s); repeatable, validated like the file, recorded in the report"

// seedOverride is --seed for scenarios.Overrides: nil when not given, so
// that --seed 0 is applied as written.
func (f *scenarioFlags) seedOverride(fs *pflag.FlagSet) *int64 {
	if fs.Changed("seed") {
		return &f.seed
	}
	return nil
}

// makeOutDir creates the report folder: --out, or by default
// results/<scenario>-<outInfix><UTC timestamp>.
func (f *scenarioFlags) makeOutDir(scenario string, errf func(string, ...any)) (string, int) {
	dir := f.out
	if dir == "" {
		dir = filepath.Join("results", fmt.Sprintf("%s-%s%s", scenario, f.outInfix, time.Now().UTC().Format("20060102T150405Z")))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		errf("cannot create the report folder: %v", err)
		return "", exitEnvironment
	}
	return dir, next
}

// commonFlags are the flags `cacheproof run` and `cacheproof capacity`
// share, the scenario flags and those of a harness run: each is defined,
// described and applied here, once for both.
type commonFlags struct {
	scenarioFlags
	image            string
	allowDestructive bool
	outputFlags
}

// outputFlags are the report formats a command writes besides its own
// files when asked: --junit and --markdown, defined here once for run,
// capacity, report and merge.
type outputFlags struct {
	junit    string
	markdown string
}

// register defines --junit and --markdown on fs; junitCases says which
// test cases the JUnit file holds.
func (f *outputFlags) register(fs *pflag.FlagSet, junitCases string) {
	fs.StringVar(&f.junit, "junit", "", "also write JUnit XML ("+junitCases+") to this file")
	fs.StringVar(&f.markdown, "markdown", "", "also write a Markdown summary to this file")
}

// commonHelp is what the shared flags' help says differently for each
// command.
type commonHelp struct {
	scenarioHelp
	junitCases string // the JUnit file's test cases
}

// register defines the shared flags on fs.
func (f *commonFlags) register(fs *pflag.FlagSet, h commonHelp) {
	f.scenarioFlags.register(fs, h.scenarioHelp)
	fs.StringVar(&f.image, "image", "", "Redis image for the container backend (default the scenario's, then redis:7-alpine)")
	fs.BoolVar(&f.allowDestructive, "allow-destructive", false, "allow faults and CONFIG SET on an external Redis")
	f.outputFlags.register(fs, h.junitCases)
}

// refuseDestructive is a usage error when a fault would change or stop an
// external Redis and --allow-destructive was not given.
func (f *commonFlags) refuseDestructive(sc *scenarios.Scenario, errf func(string, ...any)) int {
	if !sc.Target.OwnsNodes() && !f.allowDestructive {
		for _, ft := range sc.Faults {
			if ft.ActsOnRedis() {
				errf("fault %q would change or stop the external Redis; refusing without --allow-destructive", ft.Kind)
				return exitUsage
			}
		}
	}
	return next
}

// harnessOptions are the harness options the shared flags set.
func (f *commonFlags) harnessOptions() harness.Options {
	return harness.Options{
		RedisServer:      f.redisServer,
		Image:            f.image,
		AllowDestructive: f.allowDestructive,
		Version:          toolVersion(),
	}
}

// loadShapeFlags are run's --users, --duration and --warmup, which reshape
// the scenario's load; size takes them too, so that it simulates the very
// scenario run would with the same flags.
type loadShapeFlags struct {
	users    int
	duration time.Duration
	warmup   time.Duration
}

// register defines the load-shape flags on fs.
func (f *loadShapeFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.duration, "duration", 0, "total length of the recorded phases (scaled in proportion; warm-up unchanged; faults move with their phase)")
	fs.DurationVar(&f.warmup, "warmup", 0, "total length of the warm-up (unrecorded) phases, scaled in proportion; 0s removes them")
	fs.IntVar(&f.users, "users", 0, "concurrent active users (replaces workload.active_users; phases scale in proportion)")
}

// apply validates the load-shape flags the user wrote, as written (a flag
// given as 0 is never read as "not given"), and applies them with seed
// (scenarioFlags.seedOverride) over sc; a problem is printed and is a
// usage error.
func (f *loadShapeFlags) apply(fs *pflag.FlagSet, sc *scenarios.Scenario, seed *int64, errf func(string, ...any), stderr io.Writer) int {
	if fs.Changed("users") && f.users <= 0 {
		errf("--users %d: must be at least 1", f.users)
		return exitUsage
	}
	if fs.Changed("duration") && f.duration <= 0 {
		errf("--duration %s: must be positive", f.duration)
		return exitUsage
	}
	ov := scenarios.Overrides{Duration: f.duration, Users: f.users, Seed: seed}
	if fs.Changed("warmup") {
		// A negative value is refused by scenarios.Apply, whose message
		// names the scenario.
		ov.Warmup = &f.warmup
	}
	if err := sc.Apply(ov); err != nil {
		printScenarioErr(stderr, err)
		return exitUsage
	}
	for _, n := range sc.Notes {
		errf("%s", n)
	}
	return next
}
