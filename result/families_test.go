package result

import "testing"

// A family's latency is a target (latency_<q>.family.<name>), read from
// the family:<name> histogram of a stored report as the tiers' are.
func TestFamilyLatencyTarget(t *testing.T) {
	h := NewHistogram()
	for i := 0; i < 100; i++ {
		_ = h.RecordValue(int64(1000 * (i + 1))) // 1..100 ms
	}
	r := &Result{Users: UsersReport{Requests: 100}}
	if err := r.SetHDR("family:quotes", h); err != nil {
		t.Fatal(err)
	}
	r.SummariesFromHDR(false)
	if s := r.Latency.ByFamily["quotes"]; s.Count != 100 {
		t.Fatalf("family summary from its histogram: %+v", s)
	}
	if err := CheckTarget(TargetSpec{Name: "latency_p99.family.quotes", Expr: "< 50ms"}); err != nil {
		t.Fatal(err)
	}
	got := Evaluate(r, LoadTargets([]TargetSpec{{Name: "latency_p99.family.quotes", Expr: "< 50ms"}, {Name: "latency_p99.family.other", Expr: "< 50ms"}}))
	if got[0].Pass || got[0].Observed < 98 {
		t.Errorf("p99 of 1..100 ms must break 50ms: %+v", got[0])
	}
	if got[1].Pass || got[1].ObservedText != "no data" {
		t.Errorf("a family without latency has no data: %+v", got[1])
	}
}
