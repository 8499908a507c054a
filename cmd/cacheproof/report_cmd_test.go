package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
)

// writeSample writes a realistic JSON report and returns its path.
func writeSample(t *testing.T, dir, name string, o reporttest.Options) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := report.WriteFile(path, reporttest.Sample(o), report.WriteJSON); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(main func([]string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func reportCmd(args []string, o, e *bytes.Buffer) int  { return reportMain(args, o, e) }
func compareCmd(args []string, o, e *bytes.Buffer) int { return compareMain(args, o, e) }
func mergeCmd(args []string, o, e *bytes.Buffer) int   { return mergeMain(args, o, e) }

func TestReportRerendersBesideJSON(t *testing.T) {
	dir := t.TempDir()
	src := writeSample(t, dir, "report.json", reporttest.Options{Seconds: 30})
	junit, md := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "summary.md")
	code, out, errOut := runCmd(reportCmd, src, "--junit", junit, "--markdown", md)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, p := range []string{filepath.Join(dir, "report.html"), junit, md} {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", p, err)
		}
		if !strings.Contains(errOut, "wrote "+p) {
			t.Errorf("stderr does not name %s: %s", p, errOut)
		}
	}
	if !strings.Contains(out, "latency_p99") || !strings.Contains(out, "observed") {
		t.Errorf("summary missing:\n%s", out)
	}
	// The JSON itself is left alone and still validates.
	data, _ := os.ReadFile(src)
	if err := reporttest.ValidateJSON(data); err != nil {
		t.Error(err)
	}
	// --out and --html choose other places.
	other := filepath.Join(dir, "other")
	if code, _, e := runCmd(reportCmd, src, "--out", other, "-q"); code != exitOK {
		t.Fatalf("--out: exit %d %s", code, e)
	}
	if _, err := os.Stat(filepath.Join(other, "report.html")); err != nil {
		t.Error(err)
	}
	custom := filepath.Join(dir, "x", "page.html")
	if code, _, e := runCmd(reportCmd, src, "--html", custom, "-q"); code != exitOK {
		t.Fatalf("--html: exit %d %s", code, e)
	}
	if _, err := os.Stat(custom); err != nil {
		t.Error(err)
	}
}

func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\n \"schema_version\": \"9.0\"\n}"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{nil, "exactly one JSON report"},
		{[]string{"a.json", "b.json"}, "exactly one JSON report"},
		{[]string{filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{bad}, `bad.json: read json report: unsupported schema_version "9.0"`},
		{[]string{"--bogus"}, "unknown flag"},
	}
	for _, c := range cases {
		code, _, errOut := runCmd(reportCmd, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
	if code, _, _ := runCmd(reportCmd, "--help"); code != exitOK {
		t.Errorf("--help exit %d", code)
	}
}
