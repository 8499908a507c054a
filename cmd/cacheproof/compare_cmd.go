package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/cacheproof/cacheproof/report"
)

const compareExamples = `
The hit rate is gated through the miss rate (1 - hit rate), relative like
every other metric: 95% to 94% is 20% more misses. --max-hit-rate-drop gates
it on its drop in percentage points instead.

BASE and NEW must be runs of the same load: the same scenario, seed, active
users (within 1%) and recorded seconds (within 2% or 1s). Otherwise compare
exits 2 naming what differed; --force compares them anyway and prints what
differed as a warning.

Exit codes: 0 no regression, 1 NEW regressed, 2 usage error, unreadable
report or reports of different loads.

Examples:
  # gate a pipeline: exit 1 when the new run is more than 10 % worse
  cacheproof compare results/main/report.json results/branch/report.json --max-regression 10%

  # allow the hit rate to fall by at most half a percentage point
  cacheproof compare base.json new.json --max-hit-rate-drop 0.5pt
`

// compareMain prints BASE and NEW side by side and exits 1 when NEW
// regressed beyond --max-regression, so a pipeline can gate on it. Reports
// of different loads are refused (exit 2): a gate that compares a 30 s run
// with a 5 min one, or 1,000 users with 10,000, passes or fails on the
// difference of the loads, not of the cache.
func compareMain(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("compare", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	maxReg := fs.String("max-regression", "10%", "tolerated relative worsening per metric, as a percentage (10%) or a fraction (0.1); the hit rate through its miss rate")
	maxDrop := fs.String("max-hit-rate-drop", "", "gate the hit rate on its drop in percentage points instead, e.g. 0.5pt (or a fraction, 0.005)")
	force := fs.Bool("force", false, "compare reports of different loads (scenario, seed, users, recorded seconds), printing what differed")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof compare BASE.json NEW.json [flags]\n\nCompares two JSON reports; exits 1 when NEW regressed beyond the tolerance.\n\nFlags:\n%s%s", fs.FlagUsages(), compareExamples)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "cacheproof compare: %v\n", err)
		return exitUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "cacheproof compare: two JSON reports expected: BASE.json NEW.json")
		return exitUsage
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
	base, err := readReport(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: %v\n", err)
		return exitUsage
	}
	cur, err := readReport(fs.Arg(1))
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: %v\n", err)
		return exitUsage
	}
	c, err := report.CompareWith(base, cur, opts)
	var inc *report.IncomparableError
	if errors.As(err, &inc) {
		fmt.Fprintf(stderr, "cacheproof compare: %s and %s are not runs of the same load: %s (--force compares them anyway)\n",
			fs.Arg(0), fs.Arg(1), strings.Join(inc.Differences, "; "))
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: %v\n", err)
		return exitUsage
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(stderr, "cacheproof compare: warning: --force: comparing runs of different loads: %s\n", w)
	}
	if err := c.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: %v\n", err)
		return exitUsage
	}
	if c.Regressed {
		return exitTargetMiss
	}
	return exitOK
}

// parseFraction reads "10%", "10 %" or "0.1" as 0.1.
func parseFraction(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a percentage (like 10%%) or a fraction (like 0.1)", s)
	}
	if pct {
		v /= 100
	} else if v > 1 {
		return 0, fmt.Errorf("%q: a fraction must be at most 1; write %s%% for a percentage", s, t)
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
