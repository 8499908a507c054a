package main

import (
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report/reporttest"
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
