// Command cacheproof load-tests and chaos-tests a Redis cache layer and
// reports whether it holds its targets (p99 latency, hit rate, zero pool
// exhaustion) for 10,000 concurrent users out of 1,000,000.
//
// One file per subcommand, as restic does; this file owns dispatch and the
// exit-code table, which the README documents:
//
//	0    every target met (or: the command succeeded)
//	1    a target was missed (compare: NEW regressed beyond the tolerance;
//	     capacity: the design point does not hold)
//	2    usage error or invalid scenario
//	3    the environment failed: Redis could not start, Docker absent when asked for
//	4    inconclusive: no target missed, but one is not decided with
//	     confidence (its bound lies inside its interval, or the machine's
//	     measured noise explains a latency miss); --accept-inconclusive
//	     makes it 0
//	130  interrupted (a partial report is still written)
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/profile"
	"github.com/cacheproof/cacheproof/selfmeasure"
	"github.com/cacheproof/cacheproof/sizing"
)

// Exit codes.
const (
	exitOK          = 0
	exitTargetMiss  = 1
	exitUsage       = 2
	exitEnvironment = 3
	// exitInconclusive: a verdict that is neither pass nor fail is not a
	// pass, so CI must not read it as one (unless told:
	// --accept-inconclusive), yet it is not a missed target either.
	exitInconclusive = 4
	exitInterrupted  = 130
)

// exitCode is the exit code an error's type decides: a configuration
// problem found when the run is wired (harness.ConfigError) is the user's,
// exit 2; a failure of the machine or of Redis (harness.EnvError,
// sizing.EnvError, profile.EnvError) is the environment's, exit 3. Any other error gets
// otherwise, which each command chooses (a run that failed for an
// unforeseen reason blames the environment, raw and size the input).
// Interruptions are the caller's to tell apart first or after, as its
// command needs.
func exitCode(err error, otherwise int) int {
	var cfgErr *harness.ConfigError
	var runEnv *harness.EnvError
	var sizeEnv *sizing.EnvError
	var profEnv *profile.EnvError
	switch {
	case errors.As(err, &cfgErr):
		return exitUsage
	case errors.As(err, &runEnv), errors.As(err, &sizeEnv), errors.As(err, &profEnv):
		return exitEnvironment
	}
	return otherwise
}

// version is set by -ldflags "-X main.version=..."; otherwise the module
// version from the build info.
var version = ""

func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

type subcommand struct {
	name    string
	summary string
	main    func(args []string, stdout, stderr io.Writer) int
}

func subcommands() []subcommand {
	return []subcommand{
		{"run", "run a scenario against Redis and report whether the targets hold", runMain},
		{"capacity", "find the highest load at which every target holds, what breaks first and why", capacityMain},
		{"size", "how much memory, with which eviction policy and TTLs, gives the target hit rate (simulated, calibrated on a real redis-server)", sizeMain},
		{"profile", "measure a scenario from a live Redis (a replica), without writing to it", profileMain},
		{"validate", "check scenario files without running anything", validateMain},
		{"report", "re-render HTML, Markdown or JUnit from a JSON report", reportMain},
		{"compare", "compare two JSON reports; exit 1 when the new one regressed", compareMain},
		{"merge", "merge the JSON reports of the shards of one load", mergeMain},
		{"scenarios", "list the built-in scenarios", scenariosMain},
		{"raw", "closed-loop GET/SET speed check through the cache manager (make bench)", rawMain},
		{"compose", "hand out docker compose files and k8s manifests to run Redis or the load elsewhere", composeMain},
		{"version", "print the version", func([]string, io.Writer, io.Writer) int { fmt.Println("cacheproof", toolVersion()); return 0 }},
	}
}

const usageHead = `cacheproof proves, before production does, that a Redis cache layer holds its
targets (p99 < 5ms, hit rate >= 95%, zero pool exhaustion) under realistic load
and real faults.

Usage:
  cacheproof <command> [flags]

Commands:
`

const usageTail = `
Examples:
  cacheproof run --scenario scenarios/baseline.yaml
  cacheproof run -s baseline --users 2000 --warmup 30s --duration 30s --out /tmp/r
  cacheproof validate scenarios/*.yaml
  cacheproof compare results/base/report.json results/new/report.json --max-regression 10%

Exit codes:
  0 every target met   1 a target missed   2 usage error or invalid scenario
  3 environment failed (Redis could not start)   4 inconclusive (not decided with confidence)
  130 interrupted (partial report written)

Run 'cacheproof <command> --help' for a command's flags.
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, usageTail)
}

func main() {
	selfmeasure.HostProbeMain() // first: the process may be the host timer probe
	quietRedisLogs(os.Stderr)
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return exitOK
	case "-v", "--version":
		fmt.Fprintln(stdout, "cacheproof", toolVersion())
		return exitOK
	}
	for _, c := range subcommands() {
		if c.name == args[0] {
			return c.main(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cacheproof: unknown command %q", args[0])
	var names []string
	for _, c := range subcommands() {
		names = append(names, c.name)
	}
	if s := closest(args[0], names); s != "" {
		fmt.Fprintf(stderr, " (did you mean %q?)", s)
	}
	fmt.Fprintf(stderr, "\ncommands: %s\n", strings.Join(names, ", "))
	return exitUsage
}

// closest returns the candidate sharing the longest prefix with word, if any
// shares at least two characters.
func closest(word string, candidates []string) string {
	best, bestN := "", 1
	for _, c := range candidates {
		n := 0
		for n < len(word) && n < len(c) && word[n] == c[n] {
			n++
		}
		if n > bestN {
			best, bestN = c, n
		}
	}
	return best
}

// parseFlags parses args into fs, a flag set named as its subcommand: next
// to go on, exitOK after --help, exitUsage (the error printed as
// "cacheproof NAME: ...") on a bad flag.
func parseFlags(fs *pflag.FlagSet, args []string, stderr io.Writer) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "cacheproof %s: %v\n", fs.Name(), err)
		return exitUsage
	}
	return next
}

// parseWithScenario parses a scenario-running subcommand's flags (as
// parseFlags) and takes its scenario from --scenario or the one positional
// argument. It returns next to go on, or the exit code: 0 for --help, 2 for
// bad usage.
func parseWithScenario(fs *pflag.FlagSet, args []string, scenario *string, example string, stderr io.Writer) int {
	if code := parseFlags(fs, args, stderr); code != next {
		return code
	}
	errf := errorf(stderr, fs.Name())
	if *scenario == "" && fs.NArg() == 1 {
		*scenario = fs.Arg(0)
	} else if fs.NArg() > 0 {
		errf("unexpected arguments %v (one scenario)", fs.Args())
		return exitUsage
	}
	if *scenario == "" {
		errf("--scenario is required, e.g. %s", example)
		return exitUsage
	}
	return next
}

// newFlagSet is a subcommand's flag set: named as the subcommand, so
// parseFlags prints its errors as "cacheproof NAME: ...", and writing its
// usage and errors to stderr.
func newFlagSet(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// errorf returns the printer of subcommand name's errors:
// "cacheproof NAME: ..." on stderr, one line each.
func errorf(stderr io.Writer, name string) func(format string, a ...any) {
	return func(format string, a ...any) { fmt.Fprintf(stderr, "cacheproof "+name+": "+format+"\n", a...) }
}
