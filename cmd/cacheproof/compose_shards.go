package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cacheproof/cacheproof/compose"
)

// composeShardsMain writes the compose project of a sharded load
// (`cacheproof compose shards N -s SCENARIO --out DIR`): one Redis of the
// scenario's shape, N generator containers each running --shard i/N, a
// merge step, Prometheus and Grafana with the dashboard; the generator
// image is this binary in a FROM scratch image, so nothing is pulled for it.
func composeShardsMain(args []string, stdout, stderr io.Writer) int {
	fset := newFlagSet("compose shards", stderr)
	out := fset.StringP("out", "o", "", "the project folder to write (must not hold a compose.yml yet)")
	scenario := fset.StringP("scenario", "s", "", "the scenario every shard runs (a file, copied into the project, or a built-in name)")
	binary := fset.String("binary", "", "the statically linked cacheproof binary the generator image holds (default: this one, when static)")
	var sets, runArgs []string
	fset.StringArrayVar(&sets, "set", nil, setHelp+"; passed to every shard")
	fset.StringArrayVar(&runArgs, "run-arg", nil, "a further 'cacheproof run' flag every shard gets, as --run-arg=--duration=30s; repeatable")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof compose shards N -s SCENARIO --out DIR [--binary PATH]\n\n"+
			"Writes a docker compose project that runs SCENARIO as N shards (--shard i/N) against\n"+
			"one Redis of the scenario's settings, merges their reports into\n"+
			"DIR/%s and, with DASHBOARDS=1, serves a Grafana dashboard fed by\n"+
			"a Prometheus that scrapes every shard. The generator image is built FROM scratch\n"+
			"out of a static cacheproof binary (CGO_ENABLED=0 go build ./cmd/cacheproof).\n\nFlags:\n%s\nExample:\n"+
			"  cacheproof compose shards 3 -s baseline --run-arg=--duration=2m --out shards/ && shards/run.sh\n",
			compose.MergedReport, fset.FlagUsages())
	}
	if code := parseFlags(fset, args, stderr); code != next {
		return code
	}
	if fset.NArg() != 1 {
		fmt.Fprintln(stderr, "cacheproof compose shards: want the number of shards, e.g. cacheproof compose shards 3 -s baseline --out DIR")
		return exitUsage
	}
	n, err := strconv.Atoi(fset.Arg(0))
	if err != nil || n < 1 || n > 256 {
		fmt.Fprintf(stderr, "cacheproof compose shards: N must be a number of shards from 1 to 256, got %q\n", fset.Arg(0))
		return exitUsage
	}
	if *scenario == "" || *out == "" {
		fmt.Fprintln(stderr, "cacheproof compose shards: --scenario and --out are required")
		return exitUsage
	}
	sc, code := resolveWithSets(*scenario, sets, stderr)
	if code != next {
		return code
	}
	bin := *binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			fmt.Fprintf(stderr, "cacheproof compose shards: find this binary: %v; name one with --binary\n", err)
			return exitEnvironment
		}
	}
	if err := checkStatic(bin); err != nil {
		fmt.Fprintf(stderr, "cacheproof compose shards: %v\n", err)
		return exitUsage
	}
	o := compose.ShardsOptions{N: n, Server: composeServer(sc)}
	for _, s := range sets {
		o.RunArgs = append(o.RunArgs, "--set", s)
	}
	o.RunArgs = append(o.RunArgs, runArgs...)
	scenarioFile := ""
	if fi, err := os.Stat(*scenario); err == nil && !fi.IsDir() {
		scenarioFile = *scenario
	} else {
		o.Builtin = *scenario
	}
	files, err := compose.Shards(o)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compose shards: %v\n", err)
		return exitUsage
	}
	if err := writeShardsProject(*out, files, scenarioFile, bin); err != nil {
		fmt.Fprintf(stderr, "cacheproof compose shards: %v\n", err)
		if errors.Is(err, fs.ErrExist) {
			return exitUsage
		}
		return exitEnvironment
	}
	fmt.Fprintf(stdout, "wrote %s: %d shards of %s; run it with %s\n", *out, n, sc.Name, filepath.Join(*out, "run.sh"))
	return exitOK
}

// checkStatic refuses a dynamically linked binary: the FROM scratch image
// has no libc or loader for it.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF binary the generator image can run: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, and the generator image is FROM scratch: "+
				"build a static one (CGO_ENABLED=0 go build -o cacheproof ./cmd/cacheproof) and pass it with --binary", path)
		}
	}
	return nil
}

// writeShardsProject writes the project's files, the scenario file (when
// not built in) and the binary into dir; a compose.yml already there is an
// error (fs.ErrExist), so a project is never half-overwritten.
func writeShardsProject(dir string, files []compose.ShardsFile, scenarioFile, bin string) error {
	if _, err := os.Stat(filepath.Join(dir, "compose.yml")); err == nil {
		return fmt.Errorf("%s already holds a compose.yml; remove it or choose another --out: %w", dir, fs.ErrExist)
	}
	if scenarioFile != "" {
		b, err := os.ReadFile(scenarioFile)
		if err != nil {
			return fmt.Errorf("read the scenario: %w", err)
		}
		files = append(files, compose.ShardsFile{Path: compose.ShardsScenario, Content: b, Mode: 0o644})
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("read the binary: %w", err)
	}
	files = append(files, compose.ShardsFile{Path: compose.ShardsBinary, Content: b, Mode: 0o755})
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Content, os.FileMode(f.Mode)); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(dir, "results"), 0o777)
}

// isShardsTarget reports whether compose's arguments ask for the sharded
// project (its first positional argument is "shards").
func isShardsTarget(args []string) bool {
	return len(args) > 0 && strings.TrimSpace(args[0]) == "shards"
}
