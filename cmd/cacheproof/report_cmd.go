package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
)

const reportExamples = `
Examples:
  # rebuild report.html beside the JSON (after upgrading cacheproof)
  cacheproof report results/baseline-20260314T093000Z/report.json

  # CI artefacts from a stored report
  cacheproof report report.json --junit junit.xml --markdown "$GITHUB_STEP_SUMMARY"
`

// readReport opens and parses one JSON report, naming the file in errors.
func readReport(path string) (*result.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// reportMain re-renders HTML, JUnit and Markdown from a JSON report, so a
// report can be rebuilt by a newer cacheproof or turned into CI artefacts on
// a machine that never ran the load. It prints the console summary too.
func reportMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("report", stderr)
	html := fs.String("html", "", "write the HTML report to this file (default report.html in --out)")
	var of outputFlags
	of.register(fs, "one test case per target")
	out := fs.StringP("out", "o", "", "folder for report.html (default: the JSON file's folder)")
	quiet := fs.BoolP("quiet", "q", false, "do not print the summary")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof report FILE.json [flags]\n\nRe-renders report.html (and JUnit, Markdown) from a JSON report.\n\nFlags:\n%s%s", fs.FlagUsages(), reportExamples)
	}
	if code := parseFlags(fs, args, stderr); code != next {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "cacheproof report: exactly one JSON report expected, e.g. cacheproof report results/run/report.json")
		return exitUsage
	}
	path := fs.Arg(0)
	r, err := readReport(path)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof report: %v\n", err)
		return exitUsage
	}
	dir := *out
	if dir == "" {
		dir = filepath.Dir(path)
	}
	files, err := report.RunReport.WriteAll(r, report.Outputs{Dir: dir, HTML: *html, JUnit: of.junit, Markdown: of.markdown, SkipJSON: true})
	for _, f := range files {
		fmt.Fprintf(stderr, "wrote %s\n", f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof report: %v\n", err)
		return exitUsage
	}
	if !*quiet {
		if err := report.RunReport.Write(stdout, report.Text, r); err != nil {
			fmt.Fprintf(stderr, "cacheproof report: %v\n", err)
			return exitUsage
		}
	}
	return exitOK
}
