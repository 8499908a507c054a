package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
)

// TestRepeatFixed runs a small scenario three times: each run has its own
// report folder, and the report beside them judges every target over the
// three runs (per-run values, their median, an interval over the runs).
func TestRepeatFixed(t *testing.T) {
	out := t.TempDir()
	sc := writeScenario(t, fmt.Sprintf(tiny, "  latency_p99: \"< 60s\"\n  hit_rate: \">= 0%\""))
	r := run(t, "run", "-s", sc, "-o", out, "--progress", "none", "--repeat", "3")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for i := 1; i <= 3; i++ {
		rep := loadReportJSON(t, filepath.Join(out, fmt.Sprintf("run-%d", i)))
		if rep["verdict"] != "pass" || rep["repeat"] != nil {
			t.Errorf("run %d: verdict %v, repeat %v", i, rep["verdict"], rep["repeat"])
		}
	}
	rep := loadReportJSON(t, out)
	rs, ok := rep["repeat"].(map[string]any)
	if !ok {
		t.Fatalf("aggregate report has no repeat section")
	}
	if rs["mode"] != "fixed" || rs["stop_reason"] != "runs" || len(rs["runs"].([]any)) != 3 {
		t.Errorf("repeat section %v", rs)
	}
	for _, tt := range rep["targets"].([]any) {
		tg := tt.(map[string]any)
		runs, _ := tg["runs"].([]any)
		if len(runs) != 3 || tg["verdict"] != "pass" || tg["interval"] == nil {
			t.Errorf("target %v: want three per-run values, an interval and pass", tg)
		}
	}
	if !strings.Contains(r.stdout, "run 3: PASS") {
		t.Errorf("console does not report each run:\n%s", r.stdout)
	}
}

// TestRepeatAutoStopsWhenDecided: auto makes one run when every target is
// decided by it.
func TestRepeatAutoStopsWhenDecided(t *testing.T) {
	out := t.TempDir()
	sc := writeScenario(t, "repeat: auto:4\n"+fmt.Sprintf(tiny, "  latency_p99: \"< 60s\"\n  hit_rate: \">= 0%\""))
	r := run(t, "run", "-s", sc, "-o", out, "-q")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	rs := loadReportJSON(t, out)["repeat"].(map[string]any)
	if rs["mode"] != "auto" || rs["stop_reason"] != "decided" || len(rs["runs"].([]any)) != 1 || rs["max_runs"].(float64) != 4 {
		t.Errorf("repeat section %v, want auto decided after one run of at most 4", rs)
	}
	if _, err := os.Stat(filepath.Join(out, "run-2")); err == nil {
		t.Error("auto made a second run of a decided load")
	}
}

func TestRepeatUsage(t *testing.T) {
	sc := writeScenario(t, fmt.Sprintf(tiny, "  hit_rate: \">= 0%\""))
	for _, args := range [][]string{
		{"--repeat", "0"}, {"--repeat", "21"}, {"--repeat", "auto:1"}, {"--repeat", "sometimes"},
		{"--repeat", "3", "--repeat-budget", "-5m"},
		{"--repeat", "2", "--shard", "0/2"},
	} {
		r := run(t, append([]string{"run", "-s", sc, "-o", t.TempDir(), "-q"}, args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--repeat") {
			t.Errorf("%v: exit %d, want 2 naming --repeat\n%s", args, r.code, r.stderr)
		}
	}
}

func TestExitCodeOfInconclusive(t *testing.T) {
	c := &runState{}
	res := &result.Result{Verdict: result.VerdictInconclusive}
	if got := c.exitCodeOf(res); got != exitInconclusive {
		t.Errorf("inconclusive: exit %d, want %d", got, exitInconclusive)
	}
	c.f.acceptInconclusive = true
	if got := c.exitCodeOf(res); got != exitOK {
		t.Errorf("inconclusive with --accept-inconclusive: exit %d, want 0", got)
	}
	if got := c.exitCodeOf(&result.Result{Verdict: result.VerdictFail}); got != exitTargetMiss {
		t.Errorf("fail with --accept-inconclusive: exit %d, want 1", got)
	}
}
