package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

func TestCompareExitCodes(t *testing.T) {
	dir := t.TempDir()
	base := writeSample(t, dir, "base.json", reporttest.Options{Seconds: 30, Seed: 1})
	same := writeSample(t, dir, "same.json", reporttest.Options{Seconds: 30, Seed: 1})
	slow := writeSample(t, dir, "slow.json", reporttest.Options{Seconds: 30, Seed: 1, Slowdown: 2})

	code, out, errOut := runCmd(compareCmd, base, same)
	if code != exitOK {
		t.Fatalf("same load: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"metric", "base", "new", "latency_p99", "hit_rate", "errors", "recovered_after_s", "no regression beyond 10%"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmd(compareCmd, base, slow, "--max-regression", "10%")
	if code != exitTargetMiss || !strings.Contains(out, "REGRESSED") {
		t.Errorf("2x slower: exit %d\n%s", code, out)
	}
	if code, _, _ := runCmd(compareCmd, base, slow, "--max-regression", "150%"); code != exitOK {
		t.Errorf("2x slower within 150%%: exit %d", code)
	}
	if code, _, _ := runCmd(compareCmd, base, slow, "--max-regression=0.05"); code != exitTargetMiss {
		t.Errorf("fraction form: exit %d", code)
	}
}

func TestCompareUsage(t *testing.T) {
	dir := t.TempDir()
	base := writeSample(t, dir, "base.json", reporttest.Options{Seconds: 10})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{base}, "two JSON reports expected"},
		{[]string{base, base, "--max-regression", "ten"}, "not a percentage"},
		{[]string{base, base, "--max-regression", "10"}, "write 10% for a percentage"},
		{[]string{base, base, "--max-regression", "-5%"}, "must not be negative"},
		{[]string{base, dir + "/nope.json"}, "nope.json"},
	} {
		code, _, errOut := runCmd(compareCmd, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

func TestParseFraction(t *testing.T) {
	for in, want := range map[string]float64{"10%": 0.1, " 2.5 % ": 0.025, "0.1": 0.1, "0": 0, "1": 1} {
		got, err := parseFraction(in)
		if err != nil || got != want {
			t.Errorf("parseFraction(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func writeResult(t *testing.T, dir, name string, r *result.Result) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := report.WriteFile(path, r, report.WriteJSON); err != nil {
		t.Fatal(err)
	}
	return path
}

// Reports of different loads exit 2 naming what differed; --force compares
// them and says on stderr what differed.
func TestCompareRefusesDifferentLoads(t *testing.T) {
	dir := t.TempDir()
	base := writeSample(t, dir, "base.json", reporttest.Options{Seconds: 60, Seed: 1})
	short := writeSample(t, dir, "short.json", reporttest.Options{Seconds: 30, Seed: 1})
	seed := writeSample(t, dir, "seed.json", reporttest.Options{Seconds: 60, Seed: 2})
	few := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	few.Users.Active = 1_000
	fewPath := writeResult(t, dir, "few.json", few)
	for path, want := range map[string]string{short: "recorded 50s vs 25s", seed: "seed 1 vs 2", fewPath: "active users 10,000 vs 1,000"} {
		code, out, errOut := runCmd(compareCmd, base, path)
		if code != exitUsage || !strings.Contains(errOut, "not runs of the same load: "+want) || !strings.Contains(errOut, "--force") || out != "" {
			t.Errorf("%s: exit %d, stderr %q, stdout %q; want 2 naming %q", path, code, errOut, out, want)
		}
		code, out, errOut = runCmd(compareCmd, base, path, "--force")
		if code == exitUsage || !strings.Contains(errOut, "warning: --force: comparing runs of different loads: "+want) || !strings.Contains(out, "latency_p99") {
			t.Errorf("%s --force: exit %d, stderr %q\n%s", path, code, errOut, out)
		}
	}
}

// The hit rate gates through the miss rate by default; --max-hit-rate-drop
// gates it on points.
func TestCompareHitRateGate(t *testing.T) {
	dir := t.TempDir()
	at := func(name string, hits uint64) string {
		r := reporttest.Sample(reporttest.Options{Seconds: 30, Seed: 1})
		r.Cache.Hits, r.Cache.Misses = hits, 10_000-hits
		reporttest.SetTimelineHitRate(r, float64(hits)/10_000)
		return writeResult(t, dir, name, r)
	}
	base, cur := at("base.json", 9_500), at("cur.json", 9_400)
	code, out, _ := runCmd(compareCmd, base, cur)
	if code != exitTargetMiss || !regexp.MustCompile(`miss_rate\s+5%\s+6%\s+\+(19\.9|20(\.\d)?)%\s+\[[^]]+\]\s+\S+\s+REGRESSED`).MatchString(out) {
		t.Errorf("95%% -> 94%% at 10%%: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(compareCmd, base, cur, "--max-hit-rate-drop", "1.5pt"); code != exitOK || !strings.Contains(out, "(hit rate: 1.5 points)") {
		t.Errorf("one point within 1.5pt: exit %d\n%s", code, out)
	}
	if code, _, _ := runCmd(compareCmd, base, cur, "--max-hit-rate-drop=0.005"); code != exitTargetMiss {
		t.Errorf("one point beyond 0.005: exit %d", code)
	}
	for _, c := range []struct{ arg, want string }{
		{"1%", `ambiguous: write 1pt`}, {"lots", "not percentage points"}, {"2", "write 2pt"}, {"-1pt", "between 0 and 100 points"},
	} {
		if code, _, errOut := runCmd(compareCmd, base, cur, "--max-hit-rate-drop", c.arg); code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("--max-hit-rate-drop %s: exit %d %q, want 2 and %q", c.arg, code, errOut, c.want)
		}
	}
}

func TestParsePoints(t *testing.T) {
	for in, want := range map[string]float64{"1pt": 0.01, " 0.5 pt ": 0.005, "0.01": 0.01, "0": 0, "0pt": 0} {
		got, err := parsePoints(in)
		if err != nil || math.Abs(got-want) > 1e-15 {
			t.Errorf("parsePoints(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// Sets of runs: --base and --new take every report up to the next flag (as
// a shell expands a glob), or a directory each in the two-argument form.
func TestCompareSets(t *testing.T) {
	dir := t.TempDir()
	var base, slow []string
	for i, f := range []float64{1, 1.02, 0.98, 1.01} {
		base = append(base, writeSample(t, dir, fmt.Sprintf("a%d.json", i), reporttest.Options{Seconds: 30, Seed: 1, Slowdown: f, NoFaults: true}))
	}
	slowDir := filepath.Join(dir, "slow")
	for i, f := range []float64{2, 2.02, 1.98, 2.01} {
		if err := os.MkdirAll(filepath.Join(slowDir, fmt.Sprint(i)), 0o755); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, writeSample(t, slowDir, fmt.Sprintf("%d/report.json", i), reporttest.Options{Seconds: 30, Seed: 1, Slowdown: f, NoFaults: true}))
	}
	args := append(append(append([]string{"--base"}, base...), "--new"), slow...)
	code, out, errOut := runCmd(compareCmd, append(args, "--max-regression", "10%")...)
	if code != exitTargetMiss || !strings.Contains(out, "over runs (4 base, 4 new)") || !regexp.MustCompile(`latency_p99\s+median \S+\s+median \S+\s+\+\d`).MatchString(out) {
		t.Errorf("4 runs against 4 twice as slow: exit %d\n%s%s", code, out, errOut)
	}
	// The same runs as a glob's words against a directory.
	if code, out, _ := runCmd(compareCmd, "--new", slowDir, "--base", filepath.Join(dir, "a*.json")); code != exitTargetMiss || !strings.Contains(out, "4 runs of restart-under-load") {
		t.Errorf("glob and directory: exit %d\n%s", code, out)
	}
	// A/A sets in the two-argument form (directories), as JSON.
	aDir := filepath.Join(dir, "again")
	for i, f := range []float64{1.01, 0.99, 1, 1.02} {
		writeSample(t, dir, fmt.Sprintf("again/%d.json", i), reporttest.Options{Seconds: 30, Seed: 1, Slowdown: f, NoFaults: true})
	}
	code, out, errOut = runCmd(compareCmd, aDir, aDir, "--json")
	var c report.Comparison
	if code != exitOK || json.Unmarshal([]byte(out), &c) != nil || c.BaseRuns != 4 || c.Regressed || len(c.Rows) == 0 || c.Rows[0].Verdict == "" {
		t.Errorf("A/A directories as JSON: exit %d %s\n%s", code, errOut, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--base", base[0]}, "--base and --new each need at least one report"},
		{[]string{"--base", base[0], "--new", base[1], "--force", base[2]}, "every report follows one of them"},
		{[]string{"--base", filepath.Join(dir, "none*.json"), "--new", base[0]}, "no report matches"},
		{[]string{t.TempDir(), base[0]}, "a directory without reports"},
		{[]string{base[0], base[1], "--confidence", "40%"}, "above 50% and below 100%"},
	} {
		if code, _, errOut := runCmd(compareCmd, tc.args...); code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// A repeated run's report (run --repeat) stands for its runs: compared as a
// set, whether named as a file or as its folder (which also holds the
// runs' own reports, counted once).
func TestCompareRepeatedRunReport(t *testing.T) {
	dir := t.TempDir()
	repeated := func(name string, factors ...float64) string {
		var runs []*result.Result
		var dirs []string
		for i, f := range factors {
			r := reporttest.Sample(reporttest.Options{Seconds: 30, Seed: 1, Slowdown: f, NoFaults: true})
			d := fmt.Sprintf("run-%d", i+1)
			writeResult(t, filepath.Join(dir, name), d+"/report.json", r)
			runs, dirs = append(runs, r), append(dirs, d)
		}
		agg := result.Aggregate(runs, runs[0].TargetSpecs(), result.RepeatReport{Mode: "fixed", MaxRuns: len(runs)}, dirs)
		return writeResult(t, filepath.Join(dir, name), "report.json", agg)
	}
	base := repeated("main", 1, 1.02, 0.98, 1.01)
	slow := repeated("branch", 2, 2.02, 1.98, 2.01)
	code, out, errOut := runCmd(compareCmd, base, slow)
	if code != exitTargetMiss || !strings.Contains(out, "over runs (4 base, 4 new)") {
		t.Errorf("repeated reports as files: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(compareCmd, filepath.Dir(base), filepath.Dir(base))
	if code != exitOK || !strings.Contains(out, "over runs (4 base, 4 new)") {
		t.Errorf("a repeated run's folder against itself: exit %d\n%s%s", code, out, errOut)
	}
}
