package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cacheproof/cacheproof/compose"
	"github.com/cacheproof/cacheproof/scenarios"
)

// composeMain hands out the files for running, outside cacheproof, the
// Redis shapes it starts itself (docker compose) and a sharded load
// (Kubernetes): listed with no argument, printed to stdout with one, written
// into a folder with --out.
func composeMain(args []string, stdout, stderr io.Writer) int {
	if isShardsTarget(args) {
		return composeShardsMain(args[1:], stdout, stderr)
	}
	fset := newFlagSet("compose", stderr)
	out := fset.StringP("out", "o", "", "write the target's files (compose file and what it reads) into this folder instead of printing the main one")
	scenario := fset.StringP("scenario", "s", "", "the Redis of this scenario (its topology, maxmemory, policy, config and image) instead of the cache layer's design (256mb, allkeys-lru)")
	var sets []string
	fset.StringArrayVar(&sets, "set", nil, setHelp)
	fset.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof compose [TARGET] [-s SCENARIO] [--out DIR]\n\n"+
			"Hands out the docker compose files of the Redis shapes cacheproof starts itself\n"+
			"(%s) and the Kubernetes manifests of a sharded load (k8s).\n"+
			"Without TARGET, lists them; with it, prints the main file to stdout, or with\n"+
			"--out writes every file it needs into DIR. With --scenario, the files start the\n"+
			"scenario's Redis (TARGET defaults to its topology).\n\nFlags:\n%s\nExamples:\n"+
			"  cacheproof compose -s my-cache.yaml --set target.redis.maxmemory=64mb > redis.yml\n"+
			"  cacheproof compose standalone > standalone.yml && docker compose -f standalone.yml up -d\n"+
			"  cacheproof compose sentinel --out redis-sentinel/   # sentinel.yml and sentinel.conf\n"+
			"  cacheproof compose k8s --out k8s/                   # shards.yaml, Dockerfile, SHARDING.md\n"+
			"  cacheproof compose shards 3 -s baseline --out p/    # 3 generator containers, one Redis, merge, dashboard\n",
			strings.Join(compose.Shapes(), ", "), fset.FlagUsages())
	}
	if code := parseFlags(fset, args, stderr); code != next {
		return code
	}
	var server compose.Server
	if *scenario != "" {
		sc, code := resolveWithSets(*scenario, sets, stderr)
		if code != next {
			return code
		}
		server = composeServer(sc)
		if fset.NArg() == 0 {
			return writeCompose(sc.Target.Topology, server, *out, stdout, stderr)
		}
	} else if len(sets) > 0 {
		fmt.Fprintln(stderr, "cacheproof compose: --set needs --scenario, whose values it changes")
		return exitUsage
	}
	switch fset.NArg() {
	case 0:
		if *out != "" {
			fmt.Fprintln(stderr, "cacheproof compose: --out needs a target, e.g. cacheproof compose sentinel --out DIR")
			return exitUsage
		}
		for _, t := range compose.Targets() {
			files, _ := compose.Bundle(t)
			fmt.Fprintf(stdout, "%-11s %s\n", t, strings.Join(files, " "))
		}
		return exitOK
	case 1:
	default:
		fmt.Fprintf(stderr, "cacheproof compose: one target at a time, got %v\n", fset.Args())
		return exitUsage
	}
	return writeCompose(fset.Arg(0), server, *out, stdout, stderr)
}

// composeServer is the Redis a scenario's target describes, for the
// compose files.
func composeServer(sc *scenarios.Scenario) compose.Server {
	r := sc.Target.Redis
	s := compose.Server{Policy: r.MaxMemoryPolicy, Config: r.Config, Image: sc.Target.Image}
	// maxmemory 0 is Redis's "no limit", written as such.
	s.MaxMemory = r.MaxMemory.String()
	return s
}

// writeCompose prints the target's main file, or writes its bundle into
// out, with server's Redis settings.
func writeCompose(target string, server compose.Server, out string, stdout, stderr io.Writer) int {
	files, err := compose.Bundle(target)
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof compose: unknown target %q", target)
		if s := closest(target, compose.Targets()); s != "" {
			fmt.Fprintf(stderr, " (did you mean %q?)", s)
		}
		fmt.Fprintf(stderr, "\ntargets: %s\n", strings.Join(compose.Targets(), ", "))
		return exitUsage
	}
	if out == "" {
		b, err := compose.Files.ReadFile(files[0])
		if err != nil {
			fmt.Fprintf(stderr, "cacheproof compose: %v\n", err)
			return exitEnvironment
		}
		_, _ = stdout.Write(compose.Render(b, server))
		if len(files) > 1 {
			fmt.Fprintf(stderr, "cacheproof compose: %s goes with %s: write them together with --out DIR\n",
				filepath.Base(files[0]), strings.Join(files[1:], ", "))
		}
		return exitOK
	}
	return writeComposeFiles(out, files, server, stdout, stderr)
}

// writeComposeFiles writes each file into dir by its base name. A file
// already there is not overwritten: nothing is written then.
func writeComposeFiles(dir string, files []string, server compose.Server, stdout, stderr io.Writer) int {
	for _, f := range files {
		dst := filepath.Join(dir, filepath.Base(f))
		if _, err := os.Stat(dst); err == nil {
			fmt.Fprintf(stderr, "cacheproof compose: %s exists; remove it or choose another --out\n", dst)
			return exitUsage
		} else if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "cacheproof compose: %v\n", err)
			return exitEnvironment
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "cacheproof compose: %v\n", err)
		return exitEnvironment
	}
	for _, f := range files {
		b, err := compose.Files.ReadFile(f)
		dst := filepath.Join(dir, filepath.Base(f))
		if err == nil {
			err = os.WriteFile(dst, compose.Render(b, server), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "cacheproof compose: %v\n", err)
			return exitEnvironment
		}
		fmt.Fprintln(stdout, dst)
	}
	return exitOK
}
