package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
)

const compareExamples = `
Each side is one report or a set of runs: --base and --new take any number
of report files, directories (their *.json and */report.json) or globs; the
two-argument form BASE NEW takes a file or a directory each. A repeated
run's report (run --repeat) stands for its runs. Every metric's
difference gets a confidence interval and a p-value: over runs when each
side has at least 4 (medians, bootstrap over runs, Mann-Whitney permutation
test), over the recorded seconds of the runs otherwise (Welch's t-test, the
spread between blocks of a run's seconds standing for the run-to-run
variance). A metric regresses only when its change is beyond the tolerance
even at the interval's favourable end AND significant, and the machine's
own noise measured by the host timer probe does not reach it; a change
beyond the tolerance that is not decided so is inconclusive.
docs/report.md says how it is computed.

The hit rate is gated through the miss rate (1 - hit rate), relative like
every other metric: 95% to 94% is 20% more misses. --max-hit-rate-drop gates
it on its drop in percentage points instead.

BASE and NEW must be runs of the same load: the same scenario, seed, active
users (within 1%) and recorded seconds (within 2% or 1s). Otherwise compare
exits 2 naming what differed; --force compares them anyway and prints what
differed as a warning.

Exit codes: 0 no significant regression (inconclusive rows included: the
summary line says INCONCLUSIVE), 1 NEW regressed significantly beyond the
tolerance, 2 usage error, unreadable report or reports of different loads.

Examples:
  # gate a pipeline: exit 1 when the new run is more than 10 % worse
  cacheproof compare results/main/report.json results/branch/report.json --max-regression 10%

  # allow the hit rate to fall by at most half a percentage point
  cacheproof compare base.json new.json --max-hit-rate-drop 0.5pt

  # sets of runs: five runs of main against five of the branch
  cacheproof compare --base results/main/*/report.json --new results/branch/*/report.json

  # machine-readable: the rows with intervals, p-values and verdicts
  cacheproof compare base.json new.json --json
`

// compareMain prints BASE and NEW side by side and exits 1 when NEW
// regressed beyond --max-regression, so a pipeline can gate on it. Reports
// of different loads are refused (exit 2): a gate that compares a 30 s run
// with a 5 min one, or 1,000 users with 10,000, passes or fails on the
// difference of the loads, not of the cache.
func compareMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("compare", stderr)
	maxReg := fs.String("max-regression", "10%", "tolerated relative worsening per metric, as a percentage (10%) or a fraction (0.1); the hit rate through its miss rate")
	maxDrop := fs.String("max-hit-rate-drop", "", "gate the hit rate on its drop in percentage points instead, e.g. 0.5pt (or a fraction, 0.005)")
	force := fs.Bool("force", false, "compare reports of different loads (scenario, seed, users, recorded seconds), printing what differed")
	confidence := fs.String("confidence", "95%", "confidence of the intervals; a change is significant when its p-value is below 1 - confidence")
	asJSON := fs.Bool("json", false, "print the comparison as JSON instead of the table")
	// --base and --new take every argument up to the next flag; they are
	// declared here for the usage text and split off before parsing.
	fs.StringSlice("base", nil, "base reports: files, directories (their *.json and */report.json) or globs, as many as follow")
	fs.StringSlice("new", nil, "new reports, as --base")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof compare BASE NEW [flags]\n       cacheproof compare --base BASE... --new NEW... [flags]\n\nCompares reports or sets of runs; exits 1 when NEW regressed significantly beyond the tolerance.\n\nFlags:\n%s%s", fs.FlagUsages(), compareExamples)
	}
	baseArgs, newArgs, rest, sets := splitSetArgs(args)
	if code := parseFlags(fs, rest, stderr); code != next {
		return code
	}
	switch {
	case sets && fs.NArg() > 0:
		fmt.Fprintf(stderr, "cacheproof compare: %q: with --base and --new, every report follows one of them\n", fs.Arg(0))
		return exitUsage
	case sets && (len(baseArgs) == 0 || len(newArgs) == 0):
		fmt.Fprintln(stderr, "cacheproof compare: --base and --new each need at least one report")
		return exitUsage
	case !sets && fs.NArg() != 2:
		fmt.Fprintln(stderr, "cacheproof compare: two JSON reports expected: BASE.json NEW.json (or --base BASE... --new NEW...)")
		return exitUsage
	case !sets:
		baseArgs, newArgs = []string{fs.Arg(0)}, []string{fs.Arg(1)}
	}
	opts := report.CompareOptions{Force: *force}
	tol, err := parseFraction(*maxReg)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: --max-regression: %v\n", err)
		return exitUsage
	}
	opts.MaxRegression = tol
	if fs.Changed("max-hit-rate-drop") {
		pts, err := parsePoints(*maxDrop)
		if err != nil {
			fmt.Fprintf(stderr, "cacheproof compare: --max-hit-rate-drop: %v\n", err)
			return exitUsage
		}
		opts.MaxHitRateDrop = &pts
	}
	conf, err := parseFraction(*confidence)
	if err == nil && (conf <= 0.5 || conf >= 1) {
		err = fmt.Errorf("%q must be above 50%% and below 100%%", *confidence)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: --confidence: %v\n", err)
		return exitUsage
	}
	opts.Confidence = conf
	base, err := readReports(baseArgs)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: base: %v\n", err)
		return exitUsage
	}
	cur, err := readReports(newArgs)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: new: %v\n", err)
		return exitUsage
	}
	c, err := report.CompareSets(base, cur, opts)
	var inc *report.IncomparableError
	if errors.As(err, &inc) {
		fmt.Fprintf(stderr, "cacheproof compare: %s and %s are not runs of the same load: %s (--force compares them anyway)\n",
			strings.Join(baseArgs, " "), strings.Join(newArgs, " "), strings.Join(inc.Differences, "; "))
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: %v\n", err)
		return exitUsage
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(stderr, "cacheproof compare: warning: --force: comparing runs of different loads: %s\n", w)
	}
	write := c.WriteTable
	if *asJSON {
		write = c.WriteJSON
	}
	if err := write(stdout); err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: %v\n", err)
		return exitUsage
	}
	if c.Regressed {
		return exitTargetMiss
	}
	return exitOK
}

// splitSetArgs takes the arguments after --base and --new (each up to the
// next flag) out of args: a shell expands results/main/*/report.json into
// many words, which one flag value could not hold. sets reports whether
// either flag appeared.
func splitSetArgs(args []string) (base, cur, rest []string, sets bool) {
	var into *[]string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i:]...)
			return base, cur, rest, sets
		case a == "--base" || a == "--new":
			into, sets = &base, true
			if a == "--new" {
				into = &cur
			}
		case strings.HasPrefix(a, "--base=") || strings.HasPrefix(a, "--new="):
			name, v, _ := strings.Cut(a, "=")
			into, sets = &base, true
			if name == "--new" {
				into = &cur
			}
			*into = append(*into, v)
		case strings.HasPrefix(a, "-") && a != "-":
			into = nil
			rest = append(rest, a)
		case into != nil:
			*into = append(*into, a)
		default:
			rest = append(rest, a)
		}
	}
	return base, cur, rest, sets
}

// readReports reads every report the arguments name: a file, a directory
// (its *.json files and */report.json, sorted) or a glob. A repeated run's
// report (run --repeat) stands for its runs, read from their folders; a
// report reached twice (named, and as a repeated run's) counts once.
func readReports(args []string) ([]*result.Result, error) {
	var paths []string
	for _, a := range args {
		st, err := os.Stat(a)
		switch {
		case err == nil && st.IsDir():
			top, _ := filepath.Glob(filepath.Join(a, "*.json"))
			sub, _ := filepath.Glob(filepath.Join(a, "*", "report.json"))
			found := append(top, sub...)
			if len(found) == 0 {
				return nil, fmt.Errorf("%s: a directory without reports (*.json or */report.json)", a)
			}
			sort.Strings(found)
			paths = append(paths, found...)
		case err == nil:
			paths = append(paths, a)
		case strings.ContainsAny(a, "*?["):
			found, gerr := filepath.Glob(a)
			if gerr != nil || len(found) == 0 {
				return nil, fmt.Errorf("%s: no report matches", a)
			}
			paths = append(paths, found...)
		default:
			return nil, err
		}
	}
	var out []*result.Result
	seen := map[string]bool{}
	var read func(p string) error
	read = func(p string) error {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		if seen[abs] {
			return nil // a directory's run-N/report.json after its repeat report, or named twice
		}
		seen[abs] = true
		r, err := readReport(p)
		if err != nil {
			return err
		}
		if r.Repeat == nil || len(r.Repeat.Runs) == 0 {
			out = append(out, r)
			return nil
		}
		// A repeated run's report (run --repeat) stands for its runs:
		// each compared as one run of the set, from its own folder.
		for _, run := range r.Repeat.Runs {
			if run.Dir == "" {
				return fmt.Errorf("%s: repeated run %d names no folder", p, run.Index)
			}
			if err := read(filepath.Join(filepath.Dir(p), run.Dir, "report.json")); err != nil {
				return fmt.Errorf("%s: run %d: %w", p, run.Index, err)
			}
		}
		return nil
	}
	for _, p := range paths {
		if err := read(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseFraction reads "10%", "10 %" or "0.1" as 0.1 (units.ParsePercent).
func parseFraction(s string) (float64, error) {
	v, pct, err := units.ParsePercent(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a percentage (like 10%%) or a fraction (like 0.1)", s)
	}
	if !pct && v > 1 {
		return 0, fmt.Errorf("%q: a fraction must be at most 1; write %s%% for a percentage", s, strings.TrimSpace(s))
	}
	if v < 0 {
		return 0, fmt.Errorf("%q must not be negative", s)
	}
	return v, nil
}

// parsePoints reads percentage points: "1pt", "0.5 pt" or the fraction
// "0.01" as 0.01. A "%" is refused: "1%" of a hit rate could mean one point
// or one percent of it, and a gate must not guess.
func parsePoints(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if strings.HasSuffix(t, "%") {
		return 0, fmt.Errorf("%q is ambiguous: write %spt for percentage points", s, strings.TrimSpace(strings.TrimSuffix(t, "%")))
	}
	pts := strings.HasSuffix(t, "pt")
	t = strings.TrimSpace(strings.TrimSuffix(t, "pt"))
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not percentage points (like 0.5pt) or a fraction (like 0.005)", s)
	}
	if pts {
		v /= 100
	} else if v > 1 {
		return 0, fmt.Errorf("%q: a fraction must be at most 1; write %spt for percentage points", s, t)
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("%q must be between 0 and 100 points", s)
	}
	return v, nil
}
