package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

func TestHistogramSummaryAndEncoding(t *testing.T) {
	h := result.NewHistogram()
	for v := int64(1); v <= 10000; v++ { // 1 µs .. 10 ms, uniform
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	s := result.Summarize(h)
	if s.Count != 10000 || s.P50 < 4.99 || s.P50 > 5.01 || s.P99 < 9.89 || s.P99 > 9.91 || s.Max < 9.99 || s.Max > 10.01 {
		t.Errorf("summary off: %+v", s)
	}
	if err := h.RecordValue(60_000_000); err != nil {
		t.Errorf("60 s must fit the geometry: %v", err)
	}
	enc, err := result.EncodeHDR(h)
	if err != nil {
		t.Fatal(err)
	}
	back, err := result.DecodeHDR(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equals(h) {
		t.Error("decoded histogram differs from the original")
	}
	if _, err := result.DecodeHDR("not base64!"); err == nil {
		t.Error("garbage must not decode")
	}
	if got := result.Summarize(nil); got != (result.Summary{}) {
		t.Errorf("nil histogram: %+v", got)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := reporttest.Sample(reporttest.Options{Seconds: 60})
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	back, err := report.ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Verdict != r.Verdict || back.Latency.Overall != r.Latency.Overall || len(back.Timeline) != 60 ||
		len(back.Faults) != 2 || *back.Faults[0].RecoveredAfterS != *r.Faults[0].RecoveredAfterS ||
		back.Cache.ByTier["api"].Hits != r.Cache.ByTier["api"].Hits {
		t.Errorf("round trip lost data")
	}
	h, ok, err := back.Histogram("overall")
	if err != nil || !ok {
		t.Fatalf("overall histogram: ok=%v err=%v", ok, err)
	}
	if result.Summarize(h) != r.Latency.Overall {
		t.Errorf("stored histogram does not reproduce the summary: %+v vs %+v", result.Summarize(h), r.Latency.Overall)
	}
	if !back.StartedAt.Equal(r.StartedAt) {
		t.Errorf("started_at %v vs %v", back.StartedAt, r.StartedAt)
	}
}

func TestJSONFieldNamesOtherToolsRelyOn(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, reporttest.Sample(reporttest.Options{Seconds: 30})); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	paths := [][]string{{"schema_version"}, {"scenario", "name"}, {"scenario", "resolved"}, {"started_at"}, {"duration_s"},
		{"verdict"}, {"latency_ms", "overall", "p999"}, {"latency_ms", "by_op"}, {"latency_ms", "by_tier"}, {"hdr", "overall"},
		{"cache", "hit_rate"}, {"cache", "misses_by_cause"}, {"cache", "by_tier", "api", "hit_rate"}, {"pool", "timeouts"},
		{"pool", "idle_conns"}, {"server", "evicted_keys"}, {"server", "used_memory_peak"}, {"server", "rejected_connections"},
		{"server", "hit_rate"}, {"users", "late"}, {"users", "dropped"}, {"errors"}, {"integrity", "lost_writes"}}
	for _, p := range paths {
		var cur any = m
		for _, k := range p {
			obj, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = obj[k]
		}
		if cur == nil {
			t.Errorf("field %s missing", strings.Join(p, "."))
		}
	}
	row := m["timeline"].([]any)[0].(map[string]any)
	for _, k := range []string{"t", "p99", "p999", "hit_rate", "errors_by_kind", "used_memory", "maxmemory", "pool_wait_ms", "fault"} {
		if _, ok := row[k]; !ok {
			t.Errorf("timeline field %s missing", k)
		}
	}
	f := m["faults"].([]any)[0].(map[string]any)
	for _, k := range []string{"kind", "start_s", "end_s", "recovered_after_s", "p99_recovered_after_s", "hit_rate_min", "rewarm_s", "lost_writes"} {
		if _, ok := f[k]; !ok {
			t.Errorf("fault field %s missing", k)
		}
	}
}

func TestWriteJSONRedactsAndNormalises(t *testing.T) {
	r := &result.Result{Scenario: result.ScenarioInfo{Resolved: map[string]any{
		"target": map[string]any{"url": "redis://app:topsecret@10.0.0.1:6379", "password": "pw", "auth_token": "abc", "tls": true},
		"pool":   map[string]any{"max_conns": 50}}}}
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{"topsecret", `"pw"`, "abc"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %s leaked:\n%s", secret, out)
		}
	}
	for _, keep := range []string{`"max_conns": 50`, `"tls": true`, `redis://app:[redacted]@10.0.0.1:6379`, `"targets": []`, `"timeline": []`, `"errors": {}`} {
		if !strings.Contains(out, keep) {
			t.Errorf("expected %s in output:\n%s", keep, out)
		}
	}
	if r.Scenario.Resolved.(map[string]any)["target"].(map[string]any)["password"] != "pw" {
		t.Error("WriteJSON must not change the caller's Result")
	}
	if r.Targets != nil || r.SchemaVersion != "" {
		t.Error("WriteJSON must not change the caller's Result")
	}
}

func TestReadJSONRejects(t *testing.T) {
	cases := map[string]string{
		`{"schema_version": "2.0"}`:                               `unsupported schema_version "2.0"`,
		`{"verdict": "pass"}`:                                     "no schema_version",
		"{\n  \"schema_version\": \"1.0\",\n  \"duration_s\": x}": "line 3",
		`{"schema_version": "1.0", "duration_s": "long"}`:         "duration_s",
		`{"schema_version": "1.0", "hdr": {"overall": "zzz"}}`:    `hdr "overall"`,
	}
	for in, want := range cases {
		_, err := report.ReadJSON(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadJSON(%s) error = %v, want %q", in, err, want)
		}
	}
	if _, err := report.ReadJSON(strings.NewReader(`{"schema_version": "1.7", "future_field": 1}`)); err != nil {
		t.Errorf("a newer minor version must be read: %v", err)
	}
}
