package report_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

// htmlSections are the sections report.html must always contain.
var htmlSections = []string{"verdict", "targets", "latency", "throughput", "cache", "distribution", "redis", "client", "pool", "faults", "load", "scenario"}

func TestHTMLIsSelfContainedAndComplete(t *testing.T) {
	r := fixture(t)
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, s := range htmlSections {
		if !strings.Contains(page, `data-section="`+s+`"`) {
			t.Errorf("section %s missing", s)
		}
	}
	// Nothing may be fetched: no external src/href, no @import, no url(),
	// and a CSP that forbids network access anyway.
	for _, re := range []string{`(?i)\ssrc=`, `(?i)<link\s`, `(?i)@import`, `(?i)url\(`, `(?i)href="(https?:)?//`, `(?i)<script`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("external reference or script %q in report.html", m)
		}
	}
	if !strings.Contains(page, `default-src 'none'`) {
		t.Error("content security policy missing")
	}
	for _, want := range []string{"latency_p99", "observed", "p99 target &lt; 5ms", ">restart<", "memory_pressure", "[redacted]",
		"hunter2" /* must NOT appear; checked below */} {
		if want == "hunter2" {
			if strings.Contains(page, want) {
				t.Error("secret from the resolved scenario leaked into report.html")
			}
			continue
		}
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if n := strings.Count(page, `data-section="fault"`); n != len(r.Faults) {
		t.Errorf("%d fault sections, want %d", n, len(r.Faults))
	}
	if n := strings.Count(page, "<svg"); n < 12 {
		t.Errorf("only %d charts", n)
	}
	if strings.Count(page, `class="band"`) < 2*8 {
		t.Error("fault windows not drawn as bands on the timeline charts")
	}
}

func TestHTMLDownsamplesLongRuns(t *testing.T) {
	// A one-hour timeline: the 120 s sample repeated 30 times (cheap to
	// build, even under -race).
	r := reporttest.Sample(reporttest.Options{Seconds: 120})
	base := r.Timeline
	r.Timeline = nil
	for k := 0; k < 30; k++ {
		for _, row := range base {
			row.T += float64(120 * k)
			r.Timeline = append(r.Timeline, row)
		}
	}
	r.DurationS = 3600
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	// A one-hour run must stay a small page: every timeline chart has at
	// most 720 points per series.
	if buf.Len() > 600_000 {
		t.Errorf("report.html for a one-hour run is %d bytes", buf.Len())
	}
	path := regexp.MustCompile(`<path d="([^"]*)"[^>]*><title>p99</title>`).FindStringSubmatch(buf.String())
	if path == nil {
		t.Fatal("p99 series not found")
	}
	if n := strings.Count(path[1], "L") + 1; n > 720 || n < 500 {
		t.Errorf("p99 series has %d points, want between 500 and 720", n)
	}
	if !strings.Contains(buf.String(), "3600 seconds drawn as 720 points") {
		t.Error("downsampling not stated on the page")
	}
}

func TestHTMLEmptyResult(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, &result.Result{Interrupted: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"interrupted", "no targets were set", "No faults were injected", "no data"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
}

// A run with the seed's layer shows it (instances, rate limit, CAS,
// invalidation, near cache and stale reads, each warming), and each
// restart's warming is in its fault and in the with/without table; a
// report without a layer has no such section.
func TestHTMLLayerAndWarming(t *testing.T) {
	r := fixture(t)
	var plain bytes.Buffer
	if err := report.WriteHTML(&plain, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), `data-section="layer"`) || strings.Contains(plain.String(), "warming-compare") {
		t.Error("layer section or warming table in a report without them")
	}
	r.Layer = &result.LayerReport{
		Instances:  3,
		ByInstance: []result.InstanceReport{{Instance: 0, TotalConns: 7, Dials: 9}, {Instance: 1}, {Instance: 2}},
		RateLimit:  result.RateLimitReport{Allowed: 3178, Denied: 146, SkippedOps: 673},
		CAS:        result.CASReport{Conflicts: 382, GaveUp: 23},
		Invalidate: result.InvalidationReport{Published: 104, Expected: 208, Received: 201, LagMs: result.Summary{Count: 201, P50: 0.8, P99: 11, Max: 14.6}},
		NearCache: result.NearCacheReport{Families: []string{"guild_locale"}, TTLS: 60, GraceMs: 50, Hits: 5479, Misses: 809, StaleReads: 17, StaleInFlight: 4,
			ByFamily: map[string]result.NearCounts{"guild_locale": {Hits: 5479, Misses: 809, StaleReads: 17, StaleInFlight: 4}}},
		Warming: []result.WarmingReport{{Instance: 1, Trigger: "restart #1", AtS: 61, TookS: 0.4, Keys: 2345, MetaKeys: 3, HotKeys: 2342, OriginLoads: 2350}},
	}
	restart := -1
	for i := range r.Faults {
		if r.Faults[i].Kind == "restart" {
			restart = i
		}
	}
	if restart < 0 {
		t.Fatal("fixture has no restart")
	}
	r.Faults[restart].Warming = &result.FaultWarming{Warmed: true, Keys: 2345, OriginLoads: 2350, TookS: 0.4}
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`data-section="layer"`, "conflicts 382, gave up 23", "denied 146", "673 operations skipped",
		"delivered 201 of 208 expected", `<td data-field="stale">17`, "restart #1", "2,345", "guild_locale",
		`id="warming-compare"`, `<td data-field="warming">yes, in`} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if n := strings.Count(page, `href="#fault-`); n != 1 {
		t.Errorf("warming table has %d faults, want the one restart", n)
	}
}

// A fault chart's time axis ends where the run did: a squeeze 10 s before
// the end of a 70 s run is drawn to 70 s, not to the 40 s after the fault
// the zoom would otherwise show.
func TestFaultChartEndsWithTheRun(t *testing.T) {
	r := reporttest.Sample(reporttest.Options{Seconds: 70})
	last := r.Timeline[len(r.Timeline)-1].T
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, f := range r.Faults {
		if f.EndS+40 <= last {
			t.Fatalf("fault %s ends at %gs: too early in the %gs run to test the axis", f.Kind, f.EndS, last)
		}
	}
	// The x axis' tick labels are seconds ("45s") or minutes ("1:10").
	ticks := regexp.MustCompile(`<text[^>]*class="xt"[^>]*>([0-9:]+s?)</text>`)
	sections := strings.Split(page, `data-section="fault"`)[1:]
	if len(sections) == 0 {
		t.Fatal("no fault sections")
	}
	for i, sec := range sections {
		for _, m := range ticks.FindAllStringSubmatch(sec, -1) {
			if s := clockSeconds(m[1]); s > last {
				t.Errorf("fault %d's chart has a tick at %s, past the run's %gs", i+1, m[1], last)
			}
		}
	}
}

func clockSeconds(s string) float64 {
	s = strings.TrimSuffix(s, "s")
	var total float64
	for _, part := range strings.Split(s, ":") {
		var v float64
		for _, c := range part {
			v = v*10 + float64(c-'0')
		}
		total = total*60 + v
	}
	return total
}
