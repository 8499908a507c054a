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

// commonFlags are the flags `cacheproof run` and `cacheproof capacity`
// share: each is defined, described and applied here, once for both.
type commonFlags struct {
	scenario         string
	out              string
	seed             int64
	quiet            bool
	redisServer      string
	image            string
	allowDestructive bool
	junit            string
	markdown         string

	outInfix string // commonHelp.outInfix, for makeOutDir
}

// commonHelp is what the shared flags' help says differently for each
// command.
type commonHelp struct {
	outInfix   string // the default report folder is results/<scenario>-<outInfix><UTC timestamp>
	quietKeeps string // what --quiet still prints besides the errors
	junitCases string // the JUnit file's test cases
}

// register defines the shared flags on fs.
func (f *commonFlags) register(fs *pflag.FlagSet, h commonHelp) {
	f.outInfix = h.outInfix
	fs.StringVarP(&f.scenario, "scenario", "s", "", "scenario file, or the name of a built-in scenario (see 'cacheproof scenarios')")
	fs.StringVarP(&f.out, "out", "o", "", "report folder (default results/<scenario>-"+h.outInfix+"<UTC timestamp>)")
	fs.Int64Var(&f.seed, "seed", 0, "workload seed: the same seed gives the same workload (default: the scenario's)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print only the "+h.quietKeeps+" and errors")
	fs.StringVar(&f.redisServer, "redis-server", "", "redis-server binary (default $CACHEPROOF_REDIS_SERVER, then PATH)")
	fs.StringVar(&f.image, "image", "", "Redis image for the container backend (default the scenario's, then redis:7-alpine)")
	fs.BoolVar(&f.allowDestructive, "allow-destructive", false, "allow faults and CONFIG SET on an external Redis")
	fs.StringVar(&f.junit, "junit", "", "also write JUnit XML ("+h.junitCases+") to this file")
	fs.StringVar(&f.markdown, "markdown", "", "also write a Markdown summary to this file")
}

// resolveScenario resolves --scenario, a file or a built-in's name; a
// problem is printed and is a usage error.
func (f *commonFlags) resolveScenario(stderr io.Writer) (*scenarios.Scenario, int) {
	sc, err := scenarios.Resolve(f.scenario)
	if err != nil {
		printScenarioErr(stderr, err)
		return nil, exitUsage
	}
	return sc, next
}

// seedOverride is --seed for scenarios.Overrides: nil when not given, so
// that --seed 0 is applied as written.
func (f *commonFlags) seedOverride(fs *pflag.FlagSet) *int64 {
	if fs.Changed("seed") {
		return &f.seed
	}
	return nil
}

// refuseDestructive is a usage error when a fault would change or stop an
// external Redis and --allow-destructive was not given.
func (f *commonFlags) refuseDestructive(sc *scenarios.Scenario, errf func(string, ...any)) int {
	if sc.Target.Backend == "external" && !f.allowDestructive {
		for _, ft := range sc.Faults {
			if ft.ActsOnRedis() {
				errf("fault %q would change or stop the external Redis; refusing without --allow-destructive", ft.Kind)
				return exitUsage
			}
		}
	}
	return next
}

// makeOutDir creates the report folder: --out, or by default
// results/<scenario>-<outInfix><UTC timestamp>.
func (f *commonFlags) makeOutDir(scenario string, errf func(string, ...any)) (string, int) {
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

// harnessOptions are the harness options the shared flags set.
func (f *commonFlags) harnessOptions() harness.Options {
	return harness.Options{
		RedisServer:      f.redisServer,
		Image:            f.image,
		AllowDestructive: f.allowDestructive,
		Version:          toolVersion(),
	}
}
