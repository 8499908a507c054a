package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
)

func rowOf(c report.Comparison, metric string) report.CompareRow {
	for _, r := range c.Rows {
		if r.Metric == metric {
			return r
		}
	}
	return report.CompareRow{Metric: "missing " + metric}
}

func TestCompareSameRunDoesNotRegress(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	c, err := report.Compare(base, base, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	if c.Regressed {
		t.Errorf("a report compared with itself regressed: %+v", c.Rows)
	}
	// Another seed of the same load is noise, well within 10 %.
	other := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 2})
	c, _ = report.Compare(base, other, 0.25)
	for _, r := range c.Rows {
		if r.Regressed && strings.HasPrefix(r.Metric, "latency_p50") {
			t.Errorf("p50 noise between seeds flagged: %+v", r)
		}
	}
}

func TestCompareFindsSlowerRun(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	slow := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1, Slowdown: 1.5})
	c, err := report.Compare(base, slow, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Regressed {
		t.Fatal("a 1.5x slower run must regress at 10 %")
	}
	p99 := rowOf(c, "latency_p99")
	if !p99.Regressed || p99.Change < 0.4 || p99.Change > 0.6 {
		t.Errorf("p99 row: %+v", p99)
	}
	if rowOf(c, "hit_rate").Regressed {
		t.Error("hit rate did not change and must not regress")
	}
	// The same slowdown passes a 60 % tolerance.
	if c, _ := report.Compare(base, slow, 0.60); c.Regressed {
		for _, r := range c.Rows {
			if r.Regressed {
				t.Errorf("regressed at 60 %%: %+v", r)
			}
		}
	}
	var buf bytes.Buffer
	if err := c.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"latency_p99", "REGRESSED", "hit_rate", "fault 1 restart recovered_after_s", "REGRESSION:"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCompareRecoveryAndIntegrity(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Faults[0].RecoveredAfterS = nil // never recovered
	cur.Integrity.LostWrites = 1
	c, err := report.Compare(base, cur, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if r := rowOf(c, "fault 1 restart recovered_after_s"); !r.Regressed || r.CurText != "never" {
		t.Errorf("never-recovered fault must regress: %+v", r)
	}
	if r := rowOf(c, "lost_writes"); !r.Regressed {
		t.Errorf("a lost write must regress at any tolerance: %+v", r)
	}
	// Recovery one second slower is within sampling resolution.
	cur = reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Faults[0].RecoveredAfterS = report.Seconds(*base.Faults[0].RecoveredAfterS + 0.9)
	c, _ = report.Compare(base, cur, 0.1)
	if r := rowOf(c, "fault 1 restart recovered_after_s"); r.Regressed {
		t.Errorf("0.9 s slower recovery is below the 1 s sampling floor: %+v", r)
	}
	if _, err := report.Compare(base, cur, -1); err == nil {
		t.Error("negative tolerance must be rejected")
	}
}

func TestCompareVerdictFlip(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 30, NoFaults: true})
	base.Finalize([]report.TargetSpec{{Name: "latency_p99", Expr: "< 1s"}})
	cur := reporttest.Sample(reporttest.Options{Seconds: 30, NoFaults: true})
	cur.Finalize([]report.TargetSpec{{Name: "latency_p99", Expr: "< 0.1ms"}})
	c, _ := report.Compare(base, cur, 10)
	if r := rowOf(c, "verdict"); !r.Regressed || !c.Regressed {
		t.Errorf("pass turning into fail must regress: %+v", r)
	}
}

// compare reads the judged hit rate: the same hits and misses with failed
// lookups on top is a worse cache, not the same one.
func TestCompareHitRateCountsLookupErrors(t *testing.T) {
	base := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1})
	cur.Cache.LookupErrors = (cur.Cache.Hits + cur.Cache.Misses) / 10
	cur.Finalize(cur.TargetSpecs())
	c, err := report.Compare(base, cur, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	row := rowOf(c, "hit_rate")
	want := report.LookupHitRate(cur.Cache.Hits, cur.Cache.Misses, cur.Cache.LookupErrors)
	if row.Cur != want || row.Base != base.Cache.HitRate || row.Cur >= row.Base {
		t.Errorf("hit_rate row %+v, want cur %v (judged)", row, want)
	}
}
