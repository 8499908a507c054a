package report_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
)

// withFamilies is the restart fixture with twelve key families, the
// busiest carrying latency, one of them ("quotes") far colder than the
// others, judged against a 90 % hit rate.
func withFamilies(t *testing.T) *result.Result {
	t.Helper()
	r := fixture(t)
	r.Cache.ByFamily = map[string]result.CacheCounts{}
	r.Latency.ByFamily = map[string]result.Summary{}
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("fam%02d", i)
		hits, misses := uint64(1000*(12-i)), uint64(10*(12-i))
		if i == 1 {
			name, misses = "quotes", 9000 // the one that fails
		}
		r.Cache.ByFamily[name] = result.CacheCounts{Hits: hits, Misses: misses}
		if i < 3 {
			r.Latency.ByFamily[name] = result.Summary{Count: int64(hits + misses), P50: 0.4, P99: float64(2 + i)}
		}
	}
	r.Finalize(result.LoadTargets([]result.TargetSpec{{Name: "hit_rate", Expr: ">= 90%"}, {Name: "latency_p99", Expr: "< 3.5ms"}}))
	return r
}

func TestFamiliesInTextAndVerdictLine(t *testing.T) {
	r := withFamilies(t)
	var b bytes.Buffer
	if err := report.WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	first, _, _ := strings.Cut(out, "\n")
	// quotes breaks the hit rate (52.6 % < 90 %), fam02 the p99 (4ms >=
	// 3.5ms); fam00 keeps both; families without latency are not named
	// for the p99.
	if !strings.Contains(first, "FAIL in families quotes, fam02 (") {
		t.Errorf("verdict line does not name the breaking families: %q", first)
	}
	for _, want := range []string{
		"family fam00", "hit rate 99.01% of 12,120 lookups, p99 2ms (n=12,120)",
		"family quotes", "p99 3ms",
		"families", "and 4 more (report.json)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "family fam11") {
		t.Errorf("the quietest family is beyond the top 8 and must not be listed:\n%s", out)
	}
}

func TestFamiliesInMarkdownAndHTML(t *testing.T) {
	r := withFamilies(t)
	var md bytes.Buffer
	if err := report.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL in families `quotes`, `fam02`", "| key family | lookups | hit rate | p50 | p99 | operations |",
		"| quotes | 20,000 | 55% | 0.4ms | 3ms | 20,000 |", "And 4 more key families in report.json."} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var h bytes.Buffer
	if err := report.WriteHTML(&h, r); err != nil {
		t.Fatal(err)
	}
	html := h.String()
	for _, want := range []string{`data-field="families"`, `<div class="card bad"><b>55%</b><span>family quotes · p99 3ms</span></div>`,
		`<b>99.01%</b><span>family fam00 · p99 2ms</span>`, "and 4 more key families", "targets missed in families quotes, fam02."} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
}

func TestCompareShowsFamiliesUngated(t *testing.T) {
	base := withFamilies(t)
	cur := withFamilies(t)
	c := cur.Cache.ByFamily["fam00"]
	c.Misses *= 40 // 99 % to 80 %: far worse, and not gated
	cur.Cache.ByFamily["fam00"] = c
	cur.Finalize(cur.TargetSpecs())
	cmp, err := report.Compare(base, cur, 0.10)
	if err != nil {
		t.Fatal(err)
	}
	row := rowOf(cmp, "hit_rate.family.fam00")
	if row.Regressed || row.Verdict != report.CompareNotGated || !strings.Contains(row.Note, "worse beyond the tolerance") {
		t.Errorf("family row: %+v", row)
	}
	if r := rowOf(cmp, "latency_p99.family.fam02"); r.BaseText != "4ms" || r.Verdict != report.CompareNotGated {
		t.Errorf("family latency row: %+v", r)
	}
	if r := rowOf(cmp, "hit_rate.family.fam11"); r.Metric != "missing hit_rate.family.fam11" {
		t.Errorf("a family beyond the top 8 has a row: %+v", r)
	}
}
