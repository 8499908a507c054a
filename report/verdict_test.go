package report_test

import (
	"bytes"
	"encoding/xml"
	"html/template"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

// targetByVerdict returns the first target with the verdict v.
func targetByVerdict(t *testing.T, r *result.Result, v string) result.TargetResult {
	t.Helper()
	for _, tr := range r.Targets {
		if tr.Verdict == v {
			return tr
		}
	}
	t.Fatalf("fixture has no %s target: %+v", v, r.Targets)
	return result.TargetResult{}
}

// The console names each target's verdict, its interval, each run's value
// beneath it and, for an undecided one, why.
func TestTextShowsVerdictIntervalRunsAndEvidence(t *testing.T) {
	r := repeatFixture(t)
	var buf bytes.Buffer
	if err := report.WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "cacheproof restart-under-load: INCONCLUSIVE") {
		t.Errorf("header does not carry the run's verdict:\n%s", out)
	}
	if !strings.Contains(out, "  repeated: 3 runs (fixed, --repeat 3); stopped: all 3 runs made;") ||
		!strings.Contains(out, "run "+strconv.Itoa(r.Repeat.Representative)+"'s (the median run)") {
		t.Errorf("repeat header missing:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	for _, tr := range r.Targets {
		re := regexp.MustCompile(`^  ` + strings.ToUpper(tr.Verdict) + `\s+` + regexp.QuoteMeta(tr.Name) + `\s+` + regexp.QuoteMeta(tr.Expr) +
			`\s+observed ` + regexp.QuoteMeta(tr.ObservedText) + ` \[` + regexp.QuoteMeta(result.FormatValue(tr.Interval.Low, tr.Unit)) +
			` – ` + regexp.QuoteMeta(result.FormatValue(tr.Interval.High, tr.Unit)) + `, 95% CI\]$`)
		at := -1
		for i, l := range lines {
			if re.MatchString(l) {
				at = i
			}
		}
		if at < 0 {
			t.Errorf("no line for %s (%s) in:\n%s", tr.Name, re, out)
			continue
		}
		// The next line holds the runs, under the observed column.
		runs := make([]string, len(tr.Runs))
		for i, v := range tr.Runs {
			runs[i] = result.FormatValue(v, tr.Unit)
		}
		next := lines[at+1]
		col := strings.Index(lines[at], "observed ")
		if strings.TrimSpace(next) != "runs: "+strings.Join(runs, " ") || strings.Index(next, "runs:") != col {
			t.Errorf("runs line of %s is %q, want the values under column %d", tr.Name, next, col)
		}
		if tr.Evidence != "" && strings.TrimSpace(lines[at+2]) != "why: "+tr.Evidence {
			t.Errorf("evidence line of %s is %q", tr.Name, lines[at+2])
		}
	}
}

// An old report (no per-target verdict) reads as it did: Pass decides.
func TestWritersFallBackToPassForOldReports(t *testing.T) {
	r := fixture(t)
	for _, tr := range r.Targets {
		if tr.Verdict != "" || tr.Interval != nil {
			t.Fatalf("restart.json is meant to be a pre-1.2 report: %+v", tr)
		}
	}
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
	if strings.Contains(txt.String(), "INCONCLUSIVE") || strings.Contains(txt.String(), "CI]") {
		t.Errorf("old report shows undecided targets or intervals:\n%s", txt.String())
	}
	if strings.Contains(md.String(), "interval |") || strings.Contains(md.String(), "⚠️") {
		t.Errorf("old report's markdown has an interval column:\n%s", md.String())
	}
	page := html.String()
	if strings.Contains(page, "<th>spread</th>") || strings.Contains(page, `class="spread"`) || strings.Contains(page, `data-section="runs"`) {
		t.Error("old report's html has spread strips or a runs section")
	}
	for _, tr := range r.Targets {
		want := `<tr data-verdict="fail"><td class="fail-t">FAIL</td><td>` + tr.Name + `</td>`
		if tr.Pass {
			want = `<tr data-verdict="pass"><td class="pass-t">PASS</td><td>` + tr.Name + `</td>`
		}
		if !strings.Contains(page, want) {
			t.Errorf("html lacks %q", want)
		}
	}
}

type junitDoc struct {
	Suites []struct {
		Tests      int `xml:"tests,attr"`
		Failures   int `xml:"failures,attr"`
		Errors     int `xml:"errors,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// CI must not read an undecided target as a pass: it is a failure of type
// "inconclusive" carrying the evidence; an interrupted repeated run still
// gets its error case; the repeat is described in properties.
func TestJUnitInconclusiveIsAFailure(t *testing.T) {
	r := repeatFixture(t)
	r.Interrupted = true
	var buf bytes.Buffer
	if err := report.WriteJUnit(&buf, r); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("invalid XML: %v\n%s", err, buf.String())
	}
	s := doc.Suites[0]
	if len(s.Cases) != len(r.Targets)+1 || s.Errors != 1 {
		t.Fatalf("want one case per target plus the interruption, got %d cases, %d errors", len(s.Cases), s.Errors)
	}
	failed, undecided := 0, 0
	for i, tr := range r.Targets {
		c := s.Cases[i]
		switch tr.Verdict {
		case result.VerdictPass:
			if c.Failure != nil {
				t.Errorf("%s passed but has a failure", tr.Name)
			}
		case result.VerdictInconclusive:
			undecided++
			if c.Failure == nil || c.Failure.Type != "inconclusive" || !strings.Contains(c.Failure.Message, "inconclusive, observed "+tr.ObservedText) ||
				!strings.Contains(c.Failure.Text, "why: "+tr.Evidence) {
				t.Errorf("inconclusive %s: %+v", tr.Name, c.Failure)
			}
		case result.VerdictFail:
			failed++
			if c.Failure == nil || c.Failure.Type != "TargetMissed" {
				t.Errorf("failed %s: %+v", tr.Name, c.Failure)
			}
		}
	}
	if undecided == 0 {
		t.Fatal("fixture has no inconclusive target")
	}
	if s.Failures != failed+undecided {
		t.Errorf("failures=%d, want %d failed + %d inconclusive", s.Failures, failed, undecided)
	}
	if last := s.Cases[len(s.Cases)-1]; last.Failure == nil || last.Failure.Type != "Interrupted" {
		t.Errorf("the interruption's case is missing: %+v", last)
	}
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	want := map[string]string{"verdict": "inconclusive", "targets_inconclusive": strconv.Itoa(undecided), "repeat_mode": "fixed",
		"repeat_runs": "3", "repeat_max_runs": "3", "repeat_stop_reason": "runs", "repeat_representative": strconv.Itoa(r.Repeat.Representative)}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("property %s = %q, want %q", k, props[k], v)
		}
	}
	var vs []string
	for _, run := range r.Repeat.Runs {
		vs = append(vs, run.Verdict)
	}
	if props["repeat_run_verdicts"] != strings.Join(vs, ",") {
		t.Errorf("repeat_run_verdicts = %q", props["repeat_run_verdicts"])
	}
}

// The Markdown summary marks the run and the undecided target ⚠️, with
// the interval and runs columns.
func TestMarkdownInconclusive(t *testing.T) {
	r := repeatFixture(t)
	var buf bytes.Buffer
	if err := report.WriteMarkdown(&buf, r); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	tr := targetByVerdict(t, r, result.VerdictInconclusive)
	for _, want := range []string{"## ⚠️ cacheproof `restart-under-load`: INCONCLUSIVE", "| | target | observed | 95% interval | runs |",
		"| ⚠️ | `" + tr.Name + " " + tr.Expr + "` | " + tr.ObservedText + " <br><sub>why: ",
		"| 3 | `run-3` | ❌ fail | 3% |", " (shown) |", "| host late share |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

var (
	reSpread = regexp.MustCompile(`<tr data-verdict="(\w+)"><td[^>]*>\w+</td><td>([^<]+)</td>.*?<td class="spread">(.*?)</td>`)
	reIv     = regexp.MustCompile(`<rect class="sp-iv" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"`)
	reBound  = regexp.MustCompile(`<line class="sp-bound" x1="([\d.]+)"`)
	reObs    = regexp.MustCompile(`<line class="sp-obs" x1="([\d.]+)"`)
	reRun    = regexp.MustCompile(`<circle class="sp-run" cx="([\d.]+)"`)
)

func atof(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// report.html: an amber badge and banner, the interval column, and a
// spread strip per target with a spread, drawn to scale: the bound line
// inside the interval bar for the undecided target, outside for a passing
// one; the observed tick at the median run's dot; one dot per run. The
// Runs section links each run's report.
func TestHTMLThreeVerdictsAndSpread(t *testing.T) {
	r := repeatFixture(t)
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`<span class="verdict inconclusive">INCONCLUSIVE</span>`, `data-banner="inconclusive"`, "1 of 4 targets inconclusive",
		`<th class="n">95% interval</th>`, "observed (median)", `<td class="inconclusive-t">INCONCLUSIVE</td>`, `<div class="card warn"><b>` + r.Targets[0].ObservedText,
		`data-section="runs"`, `<a href="#runs">Runs</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	strips := reSpread.FindAllStringSubmatch(page, -1)
	byName := map[string]string{}
	for _, m := range strips {
		byName[m[2]] = m[3]
	}
	checked := 0
	for _, tr := range r.Targets {
		svg := byName[tr.Name]
		if tr.Interval.High == tr.Interval.Low {
			if svg != "" {
				t.Errorf("%s has no spread but a strip: %s", tr.Name, svg)
			}
			continue
		}
		iv, bound, obs := reIv.FindStringSubmatch(svg), reBound.FindStringSubmatch(svg), reObs.FindStringSubmatch(svg)
		if iv == nil || bound == nil || obs == nil {
			t.Errorf("%s: strip lacks the interval, bound or tick: %q", tr.Name, svg)
			continue
		}
		x0, x1, bx, ox := atof(t, iv[1]), atof(t, iv[1])+atof(t, iv[2]), atof(t, bound[1]), atof(t, obs[1])
		inside := x0 <= bx && bx <= x1
		if inside != (tr.Verdict == result.VerdictInconclusive) {
			t.Errorf("%s (%s): bound at x=%.1f, interval %.1f–%.1f", tr.Name, tr.Verdict, bx, x0, x1)
		}
		if ox < x0 || ox > x1 {
			t.Errorf("%s: observed tick x=%.1f outside the interval bar %.1f–%.1f", tr.Name, ox, x0, x1)
		}
		dots := reRun.FindAllStringSubmatch(svg, -1)
		if len(dots) != len(tr.Runs) {
			t.Errorf("%s: %d run dots, want %d", tr.Name, len(dots), len(tr.Runs))
		}
		// The dot of the run whose value is the median sits on the tick.
		for i, v := range tr.Runs {
			if v == tr.Observed && atof(t, dots[i][1]) != ox {
				t.Errorf("%s: median run %d at x=%s, tick at %.1f", tr.Name, i+1, dots[i][1], ox)
			}
		}
		checked++
	}
	if checked < 2 {
		t.Errorf("only %d strips checked", checked)
	}
	for _, run := range r.Repeat.Runs {
		want := `<a href="` + run.Dir + `/report.html">` + run.Dir + `</a>`
		if run.Index == r.Repeat.Representative {
			want += ` <span class="detail">(shown below)</span>`
		}
		if !strings.Contains(page, want) {
			t.Errorf("runs table lacks %q", want)
		}
	}
}

// A single run decided with confidence: an interval column and a strip
// without run dots, no runs section.
func TestHTMLSingleRunInterval(t *testing.T) {
	// p99 2.55 ms with a 95 % interval of about 2.3–2.9 ms: a 2.7 ms
	// bound lies inside it. (A hit rate is exact within a run.)
	r := reporttest.Sample(reporttest.Options{Seconds: 40, NoFaults: true, WindowHists: true,
		Targets: []result.TargetSpec{{Name: "latency_p99", Expr: "< 2.7ms"}, {Name: "hit_rate", Expr: ">= 90%"}}})
	tr := targetByVerdict(t, r, result.VerdictInconclusive)
	if r.Verdict != result.VerdictInconclusive || r.ExitCode != 4 {
		t.Fatalf("sample verdict %s, exit %d", r.Verdict, r.ExitCode)
	}
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if strings.Contains(page, "observed (median)") || strings.Contains(page, `data-section="runs"`) || strings.Contains(page, `class="sp-run"`) {
		t.Error("a single run shows runs")
	}
	withInterval := 0
	for _, t := range r.Targets {
		if t.Interval != nil {
			withInterval++
		}
	}
	if n := strings.Count(page, `<svg class="spread"`); n != withInterval || n == 0 {
		t.Errorf("%d strips for %d targets with intervals", n, withInterval)
	}
	if !strings.Contains(page, "<b>why:</b> "+template.HTMLEscapeString(tr.Evidence)) {
		t.Errorf("evidence of %s missing", tr.Name)
	}
}
