package harness

import (
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
)

// A target with abort: true stops the run once it cannot pass any more:
// the report is written whole, marked aborted with the reason, and the
// verdict fails on that target.
func TestAbortOnBreachStopsTheRun(t *testing.T) {
	res := runChaos(t, steadyRun("abort-on-breach", 4, "30s", `faults:
  - {at: 2s, for: 28s, kind: protocol-error, error: masterdown}
targets:
  error_rate: {expr: "< 1%", abort: true}
`))
	if res.Aborted == nil {
		t.Fatalf("not aborted; duration %.1fs, errors %v", res.DurationS, res.Errors)
	}
	t.Logf("aborted: %+v after %.1fs", *res.Aborted, res.DurationS)
	if res.Aborted.Target != "error_rate" || !strings.Contains(res.Aborted.Reason, "even if the rest of the run were perfect") {
		t.Errorf("aborted: %+v", *res.Aborted)
	}
	if res.DurationS >= 25 {
		t.Errorf("the run went on for %.1fs of 31s", res.DurationS)
	}
	if res.Verdict != result.VerdictFail {
		t.Errorf("verdict %s", res.Verdict)
	}
	for _, tr := range res.Targets {
		if tr.Name == "error_rate" && (tr.Pass || !strings.Contains(tr.Detail, "the run was aborted at")) {
			t.Errorf("the aborting target: %+v", tr)
		}
	}
	if len(res.Faults) != 1 || res.Errors["master_down"] == 0 {
		t.Errorf("the report is not whole: faults %+v, errors %v", res.Faults, res.Errors)
	}
}

// abort: true on a latency percentile stops a run whose p99 over the last
// seconds broke its bound and whose slow operations already exceed what
// the bound allows of the whole run: every command held 1 s by the proxy
// from 2 s on, against a 600 ms p99.
func TestAbortOnLatencyPercentile(t *testing.T) {
	res := runChaos(t, steadyRun("abort-on-latency", 5, "30s", `faults:
  - {at: 2s, for: 28s, kind: protocol-delay, delay: 1s}
targets:
  latency_p99: {expr: "< 600ms", abort: true}
`))
	if res.Aborted == nil {
		t.Fatalf("not aborted; duration %.1fs, p99 %.1f ms", res.DurationS, res.Latency.Overall.P99)
	}
	t.Logf("aborted: %+v after %.1fs", *res.Aborted, res.DurationS)
	if res.Aborted.Target != "latency_p99" || !strings.Contains(res.Aborted.Reason, "recorded seconds") || !strings.Contains(res.Aborted.Reason, "even if the rest were fast") {
		t.Errorf("aborted: %+v", *res.Aborted)
	}
	if res.DurationS >= 25 || res.Verdict != result.VerdictFail {
		t.Errorf("the run went on for %.1fs of 31s, verdict %s", res.DurationS, res.Verdict)
	}
}
