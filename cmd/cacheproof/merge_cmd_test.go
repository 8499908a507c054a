package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
)

func TestMergeShards(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a := writeSample(t, dir, "a.json", reporttest.Options{Seconds: 20, Seed: 1, Shard: "0/2", StartedAt: t0})
	b := writeSample(t, dir, "b.json", reporttest.Options{Seconds: 20, Seed: 2, Shard: "1/2", StartedAt: t0.Add(time.Second)})
	out := filepath.Join(dir, "all", "report.json")
	html := filepath.Join(dir, "all", "report.html")
	code, stdout, errOut := runCmd(mergeCmd, a, b, "-o", out, "--html", html)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "merged from 2 shard reports") {
		t.Errorf("summary:\n%s", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateJSON(data); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	defer f.Close()
	m, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.MergedFrom != 2 || len(m.Timeline) != 21 || m.Users.Population != 1_000_000 || m.Users.Active != 20_000 {
		t.Errorf("merged_from %d, timeline %d rows, population %d (each shard carries the whole), active %d (summed)",
			m.MergedFrom, len(m.Timeline), m.Users.Population, m.Users.Active)
	}
	if st, err := os.Stat(html); err != nil || st.Size() == 0 {
		t.Errorf("html: %v", err)
	}
	// --verdict-exit: the merged verdict's exit code, as run gives it
	// (compose shards' run.sh ends with it).
	code, _, errOut = runCmd(mergeCmd, a, b, "-o", filepath.Join(dir, "v.json"), "-q", "--verdict-exit")
	if want := mergedExit(m); code != want || (m.Verdict == "pass") != (code == exitOK) {
		t.Errorf("--verdict-exit on a %s merge: exit %d, want %d (%s)", m.Verdict, code, want, errOut)
	}
}

func TestMergeUsage(t *testing.T) {
	dir := t.TempDir()
	a := writeSample(t, dir, "a.json", reporttest.Options{Seconds: 10, Shard: "0/2"})
	whole := writeSample(t, dir, "whole.json", reporttest.Options{Seconds: 10})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{a}, "-o ALL.json is required"},
		{[]string{"-o", filepath.Join(dir, "x.json")}, "at least one JSON report"},
		{[]string{a, a, "-o", filepath.Join(dir, "x.json")}, "shard 0/2 appears twice"},
		{[]string{whole, whole, "-o", filepath.Join(dir, "x.json")}, "reports 1 and 2 are the same run"},
		{[]string{a, filepath.Join(dir, "missing.json"), "-o", filepath.Join(dir, "x.json")}, "missing.json"},
	} {
		code, _, errOut := runCmd(mergeCmd, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}
