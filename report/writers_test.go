package report_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

var (
	update      = flag.Bool("update", false, "rewrite golden files in testdata/golden")
	regenRepeat = flag.Bool("regen-repeat", false, "rebuild testdata/repeat.json from reporttest.Repeated (then -update the goldens)")
)

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (go test ./report -run %s -update to accept):\n--- got ---\n%s\n--- want ---\n%s",
			name, t.Name(), got, want)
	}
}

// fixture is the checked-in realistic report (testdata/restart.json), so
// golden files do not change when the sample generator is tuned.
func fixture(t *testing.T) *result.Result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "restart.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// repeatSpecs are the targets of the repeat fixture: a p99 bound inside
// the runs' spread (inconclusive), a hit rate clear of it (pass), and
// counts every run kept at zero.
var repeatSpecs = []result.TargetSpec{{Name: "latency_p99", Expr: "< 3ms"}, {Name: "hit_rate", Expr: ">= 88%"},
	{Name: "pool_timeouts", Expr: "== 0"}, {Name: "dropped", Expr: "== 0"}}

// repeatFixture is the checked-in report of a repeated run
// (testdata/repeat.json: three 40 s runs, the third on a slow, noisy host),
// built by reporttest.Repeated; -regen-repeat rebuilds it.
func repeatFixture(t *testing.T) *result.Result {
	t.Helper()
	path := filepath.Join("testdata", "repeat.json")
	if *regenRepeat {
		r := reporttest.Repeated(reporttest.Options{Seconds: 40, NoFaults: true, Targets: repeatSpecs}, []float64{1, 1.05, 2.5})
		if err := report.WriteFile(path, r, report.WriteJSON); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGoldenWriters(t *testing.T) {
	r := fixture(t)
	for _, w := range []struct {
		name  string
		write func(*bytes.Buffer, *result.Result) error
	}{
		{"restart.txt", func(b *bytes.Buffer, r *result.Result) error { return report.WriteText(b, r) }},
		{"restart.md", func(b *bytes.Buffer, r *result.Result) error { return report.WriteMarkdown(b, r) }},
		{"restart.junit.xml", func(b *bytes.Buffer, r *result.Result) error { return report.WriteJUnit(b, r) }},
	} {
		t.Run(w.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := w.write(&buf, r); err != nil {
				t.Fatal(err)
			}
			golden(t, w.name, buf.Bytes())
		})
	}
}

// The repeated run's goldens: three verdicts, intervals, each run's value,
// the evidence of the undecided target and the runs' summary.
func TestGoldenWritersRepeat(t *testing.T) {
	r := repeatFixture(t)
	for _, w := range []struct {
		name  string
		write func(*bytes.Buffer, *result.Result) error
	}{
		{"repeat.txt", func(b *bytes.Buffer, r *result.Result) error { return report.WriteText(b, r) }},
		{"repeat.md", func(b *bytes.Buffer, r *result.Result) error { return report.WriteMarkdown(b, r) }},
		{"repeat.junit.xml", func(b *bytes.Buffer, r *result.Result) error { return report.WriteJUnit(b, r) }},
	} {
		t.Run(w.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := w.write(&buf, r); err != nil {
				t.Fatal(err)
			}
			golden(t, w.name, buf.Bytes())
		})
	}
}

func TestTextHasOneLinePerTarget(t *testing.T) {
	r := fixture(t)
	var buf bytes.Buffer
	if err := report.WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, tr := range r.Targets {
		re := regexp.MustCompile(`(?m)^  (PASS|FAIL)\s+` + regexp.QuoteMeta(tr.Name) + `\s+` + regexp.QuoteMeta(tr.Expr) + `\s+observed ` + regexp.QuoteMeta(tr.ObservedText))
		if !re.Match(buf.Bytes()) {
			t.Errorf("no line for target %s in:\n%s", tr.Name, buf.String())
		}
	}
}

func TestJUnitOneCasePerTarget(t *testing.T) {
	r := fixture(t)
	r.Interrupted = true
	var buf bytes.Buffer
	if err := report.WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, buf.String())
	}
	s := doc.Suites[0]
	if len(s.Cases) != len(r.Targets)+1 || s.Tests != len(r.Targets)+1 {
		t.Fatalf("want one case per target plus the interruption, got %d", len(s.Cases))
	}
	for i, tr := range r.Targets {
		c := s.Cases[i]
		if tr.Pass != (c.Failure == nil) {
			t.Errorf("case %s: pass=%v but failure=%v", c.Name, tr.Pass, c.Failure)
		}
		if !tr.Pass && c.Failure.Message != tr.Name+" "+tr.Expr+": observed "+tr.ObservedText {
			t.Errorf("failure message %q", c.Failure.Message)
		}
	}
	if last := s.Cases[len(s.Cases)-1]; last.Failure == nil || !strings.Contains(last.Failure.Message, "interrupted") {
		t.Errorf("an interrupted run must show as a failing case: %+v", last)
	}
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	r := reporttest.Sample(reporttest.Options{Seconds: 40})
	junit, md := filepath.Join(dir, "ci", "junit.xml"), filepath.Join(dir, "summary.md")
	paths, err := report.WriteAll(r, report.Outputs{Dir: filepath.Join(dir, "out"), JUnit: junit, Markdown: md})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "out", "report.json"), filepath.Join(dir, "out", "report.html"), junit, md}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Fatalf("paths %v, want %v", paths, want)
	}
	for _, p := range want {
		st, err := os.Stat(p)
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "out", ".*tmp*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	f, _ := os.Open(want[0])
	defer f.Close()
	back, err := report.ReadJSON(f)
	if err != nil || back.Verdict != r.Verdict {
		t.Errorf("report.json does not read back: %v", err)
	}
	// A directory that cannot be created reports an error naming the path.
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, []byte("x"), 0o644)
	if _, err := report.WriteAll(r, report.Outputs{Dir: filepath.Join(blocker, "sub")}); err == nil || !strings.Contains(err.Error(), "file") {
		t.Errorf("want an error naming the path, got %v", err)
	}
}

// The writers show the judged hit rate and, beside it, the rate among the
// lookups Redis answered and how many lookups failed; abandoned commands sit
// beside late and dropped ones.
func TestWritersShowLookupErrorsAndAbandoned(t *testing.T) {
	r := reporttest.Sample(reporttest.Options{Seconds: 30, NoFaults: true})
	r.Cache.Hits, r.Cache.Misses, r.Cache.LookupErrors = 9400, 200, 400
	r.Cache.ByTier = map[string]result.CacheCounts{"api": {Hits: 4700, Misses: 100, LookupErrors: 200}}
	r.Users.Abandoned = 1234
	r.Finalize(r.TargetSpecs())

	var txt, md, html bytes.Buffer
	if err := report.WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hit rate 94% (hits 9,400, misses 200, lookup errors 400; answered 97.92%",
		"api 94% (answered 97.92%, 200 lookup errors)", "abandoned 1,234"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	if !strings.Contains(md.String(), "94% (answered 97.92%, 400 lookup errors)") {
		t.Errorf("markdown lacks the judged and answered rates:\n%s", md.String())
	}
	for _, want := range []string{"<b>94%</b><br><span class=\"detail\">answered 97.92%</span>", "400 (answered 97.92%)", "lookup errors",
		"late / dropped / abandoned", "/ 1,234</td>"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	// Without failed lookups the answered rate is not repeated.
	clean := reporttest.Sample(reporttest.Options{Seconds: 30, NoFaults: true})
	txt.Reset()
	if err := report.WriteText(&txt, clean); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(txt.String(), "answered") {
		t.Errorf("no lookup errors, yet the answered rate is shown:\n%s", txt.String())
	}
}
