package main

import (
	"fmt"
	"io"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
)

const mergeExamples = `
The reports must be shards of one load: the same scenario and population,
no shard (and no run) twice. Histograms merge exactly; client-side counters
and active users are summed; the population is taken once; ops/s is over the
recorded seconds. Faults that act on Redis come from shard 0's report (the
only shard that runs them).

Examples:
  # four shards of one load, run on four machines with --shard i/4
  cacheproof merge shard-*/report.json -o all/report.json --html all/report.html
`

// mergeMain combines the JSON reports of the shards of one load into one
// report (histograms merged exactly, counters summed, timelines aligned).
// Reports that are not shards of one load, or one report given twice, are a
// usage error (exit 2): merged, they would describe a load nobody ran.
func mergeMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("merge", stderr)
	out := fs.StringP("out", "o", "", "write the merged JSON report to this file (required)")
	html := fs.String("html", "", "also write the merged HTML report to this file")
	var of outputFlags
	of.register(fs, "one test case per target")
	quiet := fs.BoolP("quiet", "q", false, "do not print the summary")
	verdictExit := fs.Bool("verdict-exit", false, "exit as 'run' does on the merged verdict (1 a target missed, 4 inconclusive) instead of 0 once merged")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof merge A.json B.json ... -o ALL.json [flags]\n\nMerges the JSON reports of the shards of one load.\n\nFlags:\n%s%s", fs.FlagUsages(), mergeExamples)
	}
	if code := parseFlags(fs, args, stderr); code != next {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "cacheproof merge: -o ALL.json is required")
		return exitUsage
	}
	if fs.NArg() < 1 {
		fmt.Fprintln(stderr, "cacheproof merge: at least one JSON report expected")
		return exitUsage
	}
	var rs []*result.Result
	for _, p := range fs.Args() {
		r, err := readReport(p)
		if err != nil {
			fmt.Fprintf(stderr, "cacheproof merge: %v\n", err)
			return exitUsage
		}
		rs = append(rs, r)
	}
	m, err := report.Merge(rs...)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof merge: %v\n", err)
		return exitUsage
	}
	for _, o := range []struct {
		path string
		f    report.Format
	}{{*out, report.JSON}, {*html, report.HTML}, {of.junit, report.JUnit}, {of.markdown, report.Markdown}} {
		if o.path == "" {
			continue
		}
		if err := report.RunReport.WriteFile(o.path, o.f, m); err != nil {
			fmt.Fprintf(stderr, "cacheproof merge: %v\n", err)
			return exitUsage
		}
		fmt.Fprintf(stderr, "wrote %s\n", o.path)
	}
	if !*quiet {
		if err := report.RunReport.Write(stdout, report.Text, m); err != nil {
			fmt.Fprintf(stderr, "cacheproof merge: %v\n", err)
			return exitUsage
		}
	}
	if *verdictExit {
		return mergedExit(m)
	}
	return exitOK
}

// mergedExit is the exit code `run` gives a finished report's verdict, for
// a compose project's run.sh to end as a single run would.
func mergedExit(m *result.Result) int {
	if m.Interrupted {
		return exitInterrupted
	}
	return verdictExit(m.Verdict)
}

// verdictExit is a finished verdict's exit code: 0 pass, 4 inconclusive,
// 1 anything else (a miss).
func verdictExit(verdict string) int {
	switch verdict {
	case result.VerdictPass:
		return exitOK
	case result.VerdictInconclusive:
		return exitInconclusive
	}
	return exitTargetMiss
}
