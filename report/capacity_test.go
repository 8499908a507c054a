package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
)

func sampleCapacity(holds bool) *result.Capacity {
	c := &result.Capacity{
		SchemaVersion: result.SchemaVersion, Kind: result.KindCapacity,
		Scenario: result.ScenarioInfo{Name: "capacity"}, Vary: "users", Unit: "users", DesignPoint: 2000,
		Targets: []result.TargetSpec{{Name: "latency_p99", Expr: "< 5ms"}, {Name: "hit_rate", Expr: ">= 95%"}},
		Search:  result.CapacitySearch{From: 1000, To: 8000, Growth: 2, Precision: "10%", MaxSteps: 12, StepDurationS: 10, Prefill: "each step prefilled on its own"},
	}
	for i, l := range []float64{1000, 2000, 4000, 3000} {
		pass := l <= 3000
		v := result.VerdictPass
		if !pass {
			v = result.VerdictFail
		}
		c.Steps = append(c.Steps, result.CapacityStep{N: i + 1, Stage: "ramp", Load: l, Users: int(l), OpsPerSec: l * 4,
			LatencyMs: result.Summary{P50: l / 2000, P99: l / 700, P999: l / 300}, HitRate: 0.96, Verdict: v, Pass: pass,
			Targets: []result.TargetResult{{Name: "latency_p99", Expr: "< 5ms", Observed: l / 700, ObservedText: "x ms", Pass: l/700 < 5}},
			Report:  "steps/01"})
	}
	c.Answer = result.CapacityAnswer{MaxLoad: 3000, MaxUsers: 3000, MaxOpsPerSec: 12000, FailLoad: 4000, Limit: result.LimitPool,
		Evidence: "12 pool timeouts", Headroom: 1.5, DesignHolds: holds, Headline: "holds to 1.50x the 2,000 users design point",
		Broke: &result.BrokenTarget{Name: "latency_p99", Expr: "< 5ms", ObservedText: "5.71 ms", By: "1.14x the bound"}}
	return c
}

// Every capacity file is written, the JSON reads back with its kind, the
// HTML carries the four charts with the knee and the target, and JUnit
// fails when the design point does not hold.
func TestCapacityWriters(t *testing.T) {
	dir := t.TempDir()
	c := sampleCapacity(true)
	files, err := CapacityReport.WriteAll(c, Outputs{Dir: dir, JUnit: filepath.Join(dir, "junit.xml"), Markdown: filepath.Join(dir, "summary.md")})
	if err != nil || len(files) != 4 {
		t.Fatalf("files %v err %v", files, err)
	}
	f, err := os.Open(filepath.Join(dir, "capacity.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := ReadCapacityJSON(f)
	if err != nil || back.Answer.MaxLoad != 3000 || len(back.Steps) != 4 || back.SchemaVersion != result.SchemaVersion {
		t.Fatalf("read back %+v err %v", back, err)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "capacity.html"))
	for _, want := range []string{"<svg", "Latency against", "Hit rate against", "Pool waits", "max holding load", "first failing load", "p99 target &lt; 5ms", "steps/01/report.html"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("capacity.html lacks %q", want)
		}
	}
	if n := bytes.Count(html, []byte("<svg")); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
	var txt bytes.Buffer
	if err := WriteCapacityText(&txt, c); err != nil || !strings.Contains(txt.String(), c.Answer.Headline) || !strings.Contains(txt.String(), "HOLDS") {
		t.Errorf("text %q err %v", txt.String(), err)
	}
	var ju bytes.Buffer
	if err := WriteCapacityJUnit(&ju, sampleCapacity(false)); err != nil || !strings.Contains(ju.String(), `failures="1"`) {
		t.Errorf("junit %s err %v", ju.String(), err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if !bytes.Contains(md, []byte("design point holds")) || !bytes.Contains(md, []byte("| 3 | ramp | 4000 |")) {
		t.Errorf("markdown %s", md)
	}
}

// The interval and its confidence, a failure at any load, an unfinished
// search and a design point never measured are said in the console, the
// HTML, Markdown and JUnit alike.
func TestCapacityWritersSayConfidence(t *testing.T) {
	c := sampleCapacity(false)
	a := &c.Answer
	a.DesignVerdict = result.DesignNotMeasured
	a.Unfinished, a.PrecisionReached = true, "33.3%"
	a.FailsAtAnyLoad, a.Limit = true, result.LimitAnyLoad
	a.Interval = &result.CapacityInterval{Low: 3000, High: 4000, LowRuns: []string{"pass", "pass"}, HighRuns: []string{"fail", "pass", "fail"},
		Confidence: result.ConfidenceConfirmed, Agreement: 0.67, Method: "2 of 2 runs passed at 3,000 users; 2 of 3 runs failed at 4,000 users"}
	c.Steps[3].Run = 2
	var txt, md, ju, html bytes.Buffer
	if err := WriteCapacityText(&txt, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteCapacityMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteCapacityJUnit(&ju, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteCapacityHTML(&html, c); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": txt.String(), "markdown": md.String(), "html": html.String()} {
		for _, want := range []string{"[3,000 users holds, 4,000 users fails]", "2 of 3 runs failed at 4,000 users", "33.3%"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, out)
			}
		}
	}
	for _, want := range []string{"design point 2,000 users: NOT MEASURED", "fails at any load: latency_p99 < 5ms, not a capacity limit", "UNFINISHED", "(run 2 at this load)", "CONFIRMED"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	if !strings.Contains(html.String(), "fails at any load: latency_p99 &lt; 5ms") || !strings.Contains(html.String(), "not measured (its own steps)") {
		t.Errorf("html lacks the answer's flags")
	}
	if !strings.Contains(ju.String(), `failures="1"`) || !strings.Contains(ju.String(), "design point not measured") {
		t.Errorf("junit %s", ju.String())
	}
}

// capacity.html has the run report's frame: the verdict badge, the
// navigation to its sections and the headline cards.
func TestCapacityHTMLHasTheReportFrame(t *testing.T) {
	c := sampleCapacity(false)
	c.Answer.DesignVerdict = result.VerdictFail
	c.Scenario.Overrides = []result.Override{{Path: "target.redis.maxmemory", Value: "32mb"}}
	var b bytes.Buffer
	if err := WriteCapacityHTML(&b, c); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<span class="verdict fail">design point DOES NOT HOLD</span>`, `<nav><a href="#answer">`,
		`<section id="answer"`, `<section id="charts"`, `<section id="steps"`, `<div class="cards">`,
		`<b>3000 users</b><span>max sustainable load</span>`, `<b>pool</b><span>likely limiting resource</span>`,
		"set target.redis.maxmemory=32mb", `default-src 'none'`} {
		if !strings.Contains(page, want) {
			t.Errorf("capacity.html lacks %q", want)
		}
	}
}

// sizing.html has the same frame: whether the scenario's maxmemory is
// enough on the badge, what the target needs on the cards.
func TestSizingHTMLHasTheReportFrame(t *testing.T) {
	need := int64(200 << 20)
	z := &result.Sizing{Scenario: result.ScenarioInfo{Name: "s"}, TargetHitRate: 0.95, MaxMemoryBytes: 128 << 20, Policy: "allkeys-lru",
		WorkingSetBytes: 300 << 20, CeilingHitRate: 0.97,
		Policies: []result.SizingPolicy{{Policy: "allkeys-lru", NeededBytes: &need, AtMaxMemory: 0.91}}}
	var b bytes.Buffer
	if err := WriteSizingHTML(&b, z); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`<span class="verdict fail">128.0 MiB TOO SMALL</span>`, `<a href="#needed">`, `<section id="calibration"`,
		`<b>200.0 MiB</b><span>maxmemory needed for 95.00% (allkeys-lru)</span>`, `<b>300.0 MiB</b><span>working set`} {
		if !strings.Contains(page, want) {
			t.Errorf("sizing.html lacks %q", want)
		}
	}
}

// A maxmemory sweep's prediction is drawn beside the measured hit rate on
// one chart (the sizes in MiB), listed per step in the HTML table and the
// console with its gap, and carried by the JSON.
func TestCapacityPredictionBesideMeasured(t *testing.T) {
	c := sampleCapacity(true)
	c.Vary, c.Unit, c.Knob, c.DesignPoint = "maxmemory", "bytes", true, 64<<20
	for i := range c.Steps {
		st := &c.Steps[i]
		st.Load = float64((i + 1) * 16 << 20)
		st.MaxMemory = int64(st.Load)
		st.HitRate = 0.8 + 0.04*float64(i)
		p := st.HitRate - 0.02
		st.PredictedHitRate = &p
	}
	c.Prediction = &result.CapacityPrediction{Policy: "allkeys-lru", WorkingSetBytes: 80 << 20}
	for _, mb := range []int64{8, 16, 32, 48, 64, 96} {
		c.Prediction.Curve = append(c.Prediction.Curve, result.SizingPoint{MaxMemoryBytes: mb << 20, HitRate: 0.7 + float64(mb)/400})
	}
	var html, text, js bytes.Buffer
	if err := WriteCapacityHTML(&html, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteCapacityText(&text, c); err != nil {
		t.Fatal(err)
	}
	if err := WriteCapacityJSON(&js, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"measured and predicted", "predicted (cacheproof size, allkeys-lru)", "<th>predicted</th>", "48.0 MiB"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	// Step 2: 16 MiB × 2 = 32 MiB, measured 84 %, predicted 82 %.
	if !strings.Contains(text.String(), "predicted (cacheproof size, allkeys-lru) against measured") ||
		!regexp.MustCompile(`2 +32\.0 MiB +32\.0 MiB +82\.00% +84\.00% +\+2\.00 pt`).MatchString(text.String()) {
		t.Errorf("console:\n%s", text.String())
	}
	back, err := ReadCapacityJSON(&js)
	if err != nil {
		t.Fatal(err)
	}
	if back.Prediction == nil || len(back.Prediction.Curve) != 6 || back.Steps[1].PredictedHitRate == nil || *back.Steps[1].PredictedHitRate != *c.Steps[1].PredictedHitRate || back.Steps[1].MaxMemory != 32<<20 {
		t.Errorf("json round trip: %+v", back.Prediction)
	}
}
