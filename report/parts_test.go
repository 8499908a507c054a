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
// loaded anything) and none of the seed's upstreams shows none of them on
// the console, in Markdown or in the HTML; one that used them shows each,
// zeros included where they were measured (CAS ran without a conflict).
func TestQuietWhenUnused(t *testing.T) {
	r := reporttest.Sample(reporttest.Options{Seconds: 60, NoFaults: true})
	r.Layer = &result.LayerReport{Instances: 2, ByInstance: []result.InstanceReport{{Instance: 0}, {Instance: 1}}, Warming: []result.WarmingReport{{Trigger: "start", Instance: 0}}}
	r.Origin["steam"] = result.OriginReport{}
	delete(r.Latency.ByOp, "cas")
	parts := map[report.Format][]string{
		report.Text:     {"cas ", "conflicts 0", "invalidation ", "near cache ", "warming start", "rate limit "},
		report.HTML:     {"compare-and-swap", "<th>invalidation</th>", "<th>near cache</th>", "<h3>Warming</h3>", "<td>steam</td>", "invalidations sent"},
		report.Markdown: {"| instances | rate limit denied | cas conflicts | invalidations delivered | near-cache hits | stale reads |"},
	}
	out := render(t, r)
	for f, ws := range parts {
		for _, w := range ws {
			if strings.Contains(out[f], w) {
				t.Errorf("%s shows %q for a part the run did not use:\n%s", f, w, out[f])
			}
		}
	}
	if !strings.Contains(out[report.Text], "bot instances") || !strings.Contains(out[report.Markdown], "| instances |\n|---:|\n| 2 |") {
		t.Errorf("the instances are not shown alone:\n%s\n%s", out[report.Text], out[report.Markdown])
	}

	r.Latency.ByOp["cas"] = result.Summary{Count: 10}
	r.Layer.Invalidate = result.InvalidationReport{Published: 5, Expected: 5, Received: 5}
	r.Layer.NearCache = result.NearCacheReport{Families: []string{"settings"}, Hits: 3}
	r.Layer.RateLimit = result.RateLimitReport{Allowed: 7}
	r.Layer.Warming[0].Keys = 12
	r.Origin["steam"] = result.OriginReport{Calls: 4}
	out = render(t, r)
	for f, ws := range parts {
		for _, w := range ws {
			if !strings.Contains(out[f], w) {
				t.Errorf("%s lacks %q for a part the run used:\n%s", f, w, out[f])
			}
		}
	}
}

// render is r in each of the run report's formats but JSON.
func render(t *testing.T, r *result.Result) map[report.Format]string {
	t.Helper()
	out := map[report.Format]string{}
	for _, f := range []report.Format{report.Text, report.HTML, report.Markdown} {
		var b bytes.Buffer
		if err := report.RunReport.Write(&b, f, r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = b.String()
	}
	return out
}
