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
Examples:
  # gate a pipeline: exit 1 when the new run is more than 10 % worse
  cacheproof compare results/main/report.json results/branch/report.json --max-regression 10%
`

// compareMain prints BASE and NEW side by side and exits 1 when NEW
// regressed beyond --max-regression, so a pipeline can gate on it.
func compareMain(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("compare", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	maxReg := fs.String("max-regression", "10%", "tolerated relative worsening per metric, as a percentage (10%) or a fraction (0.1)")
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
	tol, err := parseFraction(*maxReg)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: --max-regression: %v\n", err)
		return exitUsage
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
	c, err := report.Compare(base, cur, tol)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compare: %v\n", err)
		return exitUsage
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
