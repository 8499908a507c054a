package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

// A run that used none of the layer's optional parts (a cache of its own,
// without compare-and-swap, invalidation, near cache or a warming that
// loaded anything) and none of the seed's upstreams shows none of them:
// the console, the HTML; one that used them shows each.
func TestQuietWhenUnused(t *testing.T) {
	r := reporttest.Sample(reporttest.Options{Seconds: 60, NoFaults: true})
	r.Layer = &result.LayerReport{Instances: 2, ByInstance: []result.InstanceReport{{Instance: 0}, {Instance: 1}}, Warming: []result.WarmingReport{{Trigger: "start", Instance: 0}}}
	r.Origin["steam"] = result.OriginReport{}
	delete(r.Latency.ByOp, "cas")
	var txt, page, md bytes.Buffer
	if err := report.WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| instances |\n|---:|\n| 2 |") {
		t.Errorf("Markdown's layer table is not instances alone:\n%s", md.String())
	}
	for _, unused := range []string{"cas ", "invalidation ", "near cache ", "warming start", "rate limit "} {
		if strings.Contains(txt.String(), unused) {
			t.Errorf("console shows %q for a part the run did not use:\n%s", unused, txt.String())
		}
	}
	for _, unused := range []string{"compare-and-swap", "<th>invalidation</th>", "<th>near cache</th>", "<h3>Warming</h3>", "<td>steam</td>", "invalidations sent"} {
		if strings.Contains(page.String(), unused) {
			t.Errorf("report.html shows %q for a part the run did not use", unused)
		}
	}
	if !strings.Contains(txt.String(), "bot instances") {
		t.Errorf("console lacks the instances line:\n%s", txt.String())
	}

	// The same parts used: each is shown, with its zeros where they were
	// measured (CAS ran without a conflict).
	r.Latency.ByOp["cas"] = result.Summary{Count: 10}
	r.Layer.Invalidate = result.InvalidationReport{Published: 5, Expected: 5, Received: 5}
	r.Layer.NearCache = result.NearCacheReport{Families: []string{"settings"}, Hits: 3}
	r.Layer.RateLimit = result.RateLimitReport{Allowed: 7}
	r.Layer.Warming[0].Keys = 12
	r.Origin["steam"] = result.OriginReport{Calls: 4}
	txt.Reset()
	page.Reset()
	if err := report.WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteHTML(&page, r); err != nil {
		t.Fatal(err)
	}
	md.Reset()
	if err := report.WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| instances | rate limit denied | cas conflicts | invalidations delivered | near-cache hits | stale reads |") {
		t.Errorf("Markdown's layer table lacks a used part:\n%s", md.String())
	}
	for _, used := range []string{"cas ", "conflicts 0", "invalidation ", "near cache ", "warming start", "rate limit "} {
		if !strings.Contains(txt.String(), used) {
			t.Errorf("console lacks %q for a part the run used:\n%s", used, txt.String())
		}
	}
	for _, used := range []string{"compare-and-swap", "<th>invalidation</th>", "<th>near cache</th>", "<h3>Warming</h3>", "<td>steam</td>", "invalidations sent"} {
		if !strings.Contains(page.String(), used) {
			t.Errorf("report.html lacks %q for a part the run used", used)
		}
	}
}
