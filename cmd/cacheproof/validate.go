package main

import (
	"fmt"
	"io"

	"github.com/cacheproof/cacheproof/scenarios"
)

// validateMain checks scenario files without running anything: strict
// decoding, then every semantic rule. Every file is checked, every problem
// printed as file:line:col: message; exit 2 when any file has one.
func validateMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	quiet := fs.BoolP("quiet", "q", false, "print only problems")
	var sets []string
	fs.StringArrayVar(&sets, "set", nil, setHelp+"; checked against every file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof validate FILE|NAME...\n\nChecks scenario files: unknown fields, wrong types, impossible values.\nExit 0 when all are valid, 2 otherwise.\n\nFlags:\n%s\nExamples:\n  cacheproof validate scenarios/*.yaml\n  cacheproof validate baseline\n  cacheproof validate baseline --set target.redis.maxmemory=32mb\n", fs.FlagUsages())
	}
	if code := parseFlags(fs, args, stderr); code != next {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "cacheproof validate: name at least one scenario file")
		return exitUsage
	}
	code := exitOK
	for _, f := range fs.Args() {
		s, c := resolveWithSets(f, sets, stderr)
		if c != next {
			code = exitUsage
			continue
		}
		if !*quiet {
			fmt.Fprintf(stdout, "%s: ok (%s, %d users of %d, %s, %d phase(s), %d fault(s), %d target(s))\n",
				f, s.Name, s.Workload.ActiveUsers, s.Workload.Population, s.TotalDuration(), len(s.Phases), len(s.Faults), len(s.Targets))
		}
	}
	return code
}

func scenariosMain(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(stdout, "Usage: cacheproof scenarios\n\nLists the built-in scenarios (usable as 'cacheproof run -s NAME').")
		return exitOK
	}
	for _, n := range scenarios.Builtins() {
		s, err := scenarios.Resolve(n)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", n, err)
			continue
		}
		fmt.Fprintf(stdout, "%-24s %s\n", n, s.Description)
	}
	return exitOK
}
