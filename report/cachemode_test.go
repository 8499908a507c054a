package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

// A cache failure mode's section shows where fault sections are shown:
// the text report's fault line, the Markdown and HTML tables, with the
// origin's peak, single-flight and the affected keys' latency beside the
// others'.
func TestCacheModeShown(t *testing.T) {
	r := reporttest.Sample(reporttest.Options{Seconds: 20})
	r.Faults = []result.FaultReport{{Kind: "mass-expiry", Node: "primary-0", StartS: 5, EndS: 8, Injected: true, Occurrence: 1, Planned: 1,
		ErrorsByKind: map[string]uint64{}, HitRateBefore: 0.95, HitRateMin: 0.8,
		CacheMode: &result.CacheModeReport{Keys: 1234, OriginCallsPerSBefore: 40, OriginCallsPeakPerS: 1250, OriginCallsPeakAtS: 7,
			OriginCalls: 1400, AffectedLookups: 3000, AffectedFetches: 1300, AffectedKeysFetched: 1200, MaxFetchesPerKey: 3, Instances: 4,
			SingleFlightHeld: true, Affected: result.ModeLatency{Lookups: 3000, P99Ms: 42}, Other: result.ModeLatency{Lookups: 9000, P99Ms: 3.5},
			RedisCPUBefore: 0.05, RedisCPUDuring: 0.2, NetOutBytesPerSBefore: 1 << 20, NetOutBytesPerSDuring: 3 << 20, HitRateDuring: 0.81}}}
	for _, f := range []report.Format{report.Text, report.Markdown, report.HTML} {
		var buf bytes.Buffer
		if err := report.RunReport.Write(&buf, f, r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out := buf.String()
		for _, want := range []string{"1250.0", "single-flight", "held", "42"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q", f, want)
			}
		}
	}
}
