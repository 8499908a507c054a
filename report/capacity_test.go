package report

import (
	"bytes"
	"os"
	"path/filepath"
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
	files, err := WriteCapacityAll(c, CapacityOutputs{Dir: dir, JUnit: filepath.Join(dir, "junit.xml"), Markdown: filepath.Join(dir, "summary.md")})
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
