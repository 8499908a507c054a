package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// The CI examples under examples/ci are what users copy: each parses as
// YAML, every `make` target it runs is the Makefile's, every cacheproof
// command and flag it uses (the loadtest target's ARGS are run's) is the
// CLI's, it keeps the reports a later compare needs, and the README shows
// the GitHub Actions one as it is.
func TestCIExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/ci/*.yml")
	if len(files) < 2 {
		t.Fatalf("examples/ci holds %v, want the GitHub Actions and GitLab CI files", files)
	}
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	helps := map[string]string{}
	help := func(sub string) string {
		if h, ok := helps[sub]; ok {
			return h
		}
		out, _ := exec.Command(binary, sub, "--help").CombinedOutput()
		helps[sub] = string(out)
		return helps[sub]
	}
	makeRE := regexp.MustCompile(`\bmake\s+([a-z][\w-]*)`)
	argsRE := regexp.MustCompile(`ARGS="([^"]*)"`)
	cliRE := regexp.MustCompile(`bin/cacheproof\s+([a-z]+)([^\n]*)`)
	flagRE := regexp.MustCompile(`(?:^|\s)(--[a-z][a-z-]*)`)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		cmds := commands(doc)
		if len(cmds) == 0 {
			t.Fatalf("%s: no commands found", file)
		}
		all := strings.Join(cmds, "\n")
		checkFlags := func(sub, line string) {
			h := help(sub)
			if !strings.Contains(h, "Usage: cacheproof "+sub) {
				t.Errorf("%s: cacheproof %s is not a command:\n%s", file, sub, h)
				return
			}
			for _, m := range flagRE.FindAllStringSubmatch(line, -1) {
				if !strings.Contains(h, m[1]+" ") {
					t.Errorf("%s: cacheproof %s has no flag %s", file, sub, m[1])
				}
			}
		}
		for _, m := range makeRE.FindAllStringSubmatch(all, -1) {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `:`).Match(makefile) {
				t.Errorf("%s: make %s is not a Makefile target", file, m[1])
			}
		}
		if !strings.Contains(all, "make loadtest") {
			t.Errorf("%s does not run make loadtest", file)
		}
		for _, m := range argsRE.FindAllStringSubmatch(all, -1) {
			checkFlags("run", m[1]) // the loadtest target runs `cacheproof run ... $(ARGS)`
		}
		for _, m := range cliRE.FindAllStringSubmatch(all, -1) {
			checkFlags(m[1], m[2])
		}
		if !strings.Contains(all, "bin/cacheproof compare --base") {
			t.Errorf("%s does not gate with compare against main's report", file)
		}
		for _, kept := range []string{"results/ci/report.json", "results/ci/report.html", "results/ci/junit.xml"} {
			if !strings.Contains(string(data), kept) {
				t.Errorf("%s does not publish %s", file, kept)
			}
		}
	}
	gh, _ := os.ReadFile("../../examples/ci/github-actions.yml")
	if !strings.Contains(string(readme), string(gh)) {
		t.Error("README.md does not show examples/ci/github-actions.yml as it is")
	}
}

// commands are the shell commands of a CI file: GitHub Actions' steps'
// run:, GitLab CI's script: and before_script:, wherever they are nested.
func commands(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "run":
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			case "script", "before_script":
				if l, ok := e.([]any); ok {
					for _, s := range l {
						if s, ok := s.(string); ok {
							out = append(out, s)
						}
					}
				}
			default:
				out = append(out, commands(e)...)
			}
		}
	case []any:
		for _, e := range x {
			out = append(out, commands(e)...)
		}
	}
	return out
}
