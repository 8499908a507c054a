package result

import "testing"

// origin_calls sums the recorded rows' origin calls and origin_peak_per_s
// is the busiest recorded second, per second of its row; warm-up rows
// count for neither.
func TestOriginMetricsReadTheRecordedTimeline(t *testing.T) {
	r := &Result{Users: UsersReport{Requests: 100},
		Phases: []PhaseReport{{Name: "warmup"}, {Name: "steady", Recorded: true}},
		Timeline: []TimelineRow{
			{T: 1, Phase: "warmup", OriginCalls: 900},
			{T: 2, Phase: "steady", OriginCalls: 40},
			{T: 2.5, Phase: "steady", OriginCalls: 60}, // 120/s over half a second
			{T: 3.5, Phase: "steady", OriginCalls: 100},
		}}
	for name, want := range map[string]float64{"origin_calls": 200, "origin_peak_per_s": 120} {
		m, ok := LookupMetric(name)
		if !ok {
			t.Fatalf("no metric %s", name)
		}
		if v, _, ok, detail := m.Observe(r); !ok || v != want {
			t.Errorf("%s = %v (%v %s), want %v", name, v, ok, detail, want)
		}
	}
}
