package result

import (
	"math"
	"strings"
	"testing"
	"time"
)

func abortTarget(t *testing.T, name, expr string, after time.Duration) Target {
	t.Helper()
	tg, err := ParseTarget(TargetSpec{Name: name, Expr: expr, Abort: &AbortRule{After: after}})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAbort(tg); err != nil {
		t.Fatalf("CheckAbort(%s %s): %v", name, expr, err)
	}
	return tg
}

// abort_after stops only after the per-second reading broke the bound in
// every second of the window; a good second starts the count again.
func TestAbortAfterNeedsAnUnbrokenStreak(t *testing.T) {
	w := NewAbortWatch([]Target{abortTarget(t, "latency_p99", "< 50ms", 3*time.Second)}, func(float64) float64 { return 1 })
	p99s := []float64{10, 80, 90, 20, 80, 80, 80}
	for i, p := range p99s {
		a := w.Observe(TimelineRow{T: float64(i + 1), Ops: 100, P99: p}, 1)
		if i < len(p99s)-1 && a != nil {
			t.Fatalf("aborted at second %d: %+v", i+1, a)
		}
		if i == len(p99s)-1 {
			if a == nil || a.AtS != 7 || !strings.Contains(a.Reason, "every second for 3s") {
				t.Fatalf("after three broken seconds: %+v", a)
			}
		}
	}
}

// abort: true on a count stops once the count breaks an upper bound.
func TestAbortOnACount(t *testing.T) {
	w := NewAbortWatch([]Target{abortTarget(t, "errors", "< 10", 0)}, func(float64) float64 { return 100 })
	if a := w.Observe(TimelineRow{T: 1, Ops: 100, Errors: 9}, 1); a != nil {
		t.Fatalf("9 errors of < 10: %+v", a)
	}
	if a := w.Observe(TimelineRow{T: 2, Ops: 100, Errors: 1}, 1); a == nil || !strings.Contains(a.Reason, "a count only grows") {
		t.Fatalf("10 errors of < 10: %+v", a)
	}
}

// abort: true on a rate stops only when a perfect remainder (1.5 times the
// planned remaining load) could not bring the run's rate back inside.
func TestAbortOnARateWaitsForThePerfectRemainder(t *testing.T) {
	rest := 3.0 // the plan holds three times the load run so far
	w := NewAbortWatch([]Target{abortTarget(t, "error_rate", "< 1%", 0)}, func(float64) float64 { return rest })
	// 4 % errors so far: 4/(100+450) = 0.73 % at best, still possible.
	if a := w.Observe(TimelineRow{T: 1, Ops: 100, Errors: 4}, 1); a != nil {
		t.Fatalf("4%% of 100 with 3x to come: %+v", a)
	}
	// Then 40 % in a second: 44/(200+900) = 4 % at best.
	rest = 2
	a := w.Observe(TimelineRow{T: 2, Ops: 100, Errors: 40}, 1)
	if a == nil || !strings.Contains(a.Reason, "even if the rest of the run were perfect") {
		t.Fatalf("22%% of 200 with 2x to come: %+v", a)
	}
}

// A rule the timeline cannot watch is refused when the target is checked.
func TestCheckAbortRefuses(t *testing.T) {
	for _, c := range []struct {
		name, expr string
		after      time.Duration
		want       string
	}{
		{"latency_p99", "> 5ms", 0, "needs an upper bound"},
		{"latency_mean", "< 5ms", 0, "write abort_after"},
		{"errors", "> 5", 0, "needs an upper bound"},
		{"recovery_time", "< 5s", 10 * time.Second, "needs a per-second reading"},
		{"latency_p99", "< 5ms", 500 * time.Millisecond, "shorter than the timeline's one-second reading"},
	} {
		tg, _ := ParseTarget(TargetSpec{Name: c.name, Expr: c.expr, Abort: &AbortRule{After: c.after}})
		if err := CheckAbort(tg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s after %s: %v, want %q", c.name, c.expr, c.after, err, c.want)
		}
	}
}

// The target that stopped the run fails, whatever its whole-run figure.
func TestFinalizeFailsTheAbortingTarget(t *testing.T) {
	r := &Result{Latency: LatencyReport{Overall: Summary{Count: 100, P99: 1}}, Users: UsersReport{Requests: 100},
		Aborted: &AbortReport{Target: "latency_p99", Expr: "< 50ms", AtS: 40, Reason: "broke"}}
	r.Finalize([]Target{abortTarget(t, "latency_p99", "< 50ms", 30*time.Second)})
	if r.Verdict != VerdictFail || r.Targets[0].Pass || !strings.Contains(r.Targets[0].Detail, "aborted at 40s") {
		t.Fatalf("verdict %s, target %+v", r.Verdict, r.Targets[0])
	}
}

// windowOf is a window histogram of n operations at ms milliseconds each.
func windowOf(n int64, ms float64) WindowHist {
	return WindowHist{{int32(windowBucket(int64(ms * 1000))), int32(n)}}
}

// abort: true on a latency percentile stops only when the rolling window's
// percentile breaks the bound and the run's slow operations are more than
// the percentile allows of the whole run with a fast remainder.
func TestAbortOnALatencyPercentile(t *testing.T) {
	rest := 1.0
	w := NewAbortWatch([]Target{abortTarget(t, "latency_p99", "< 50ms", 0)}, func(float64) float64 { return rest })
	sec := 0.0
	observe := func(h WindowHist) *AbortReport {
		sec++
		return w.Observe(TimelineRow{T: sec, Ops: 1000, LatencyHist: h}, 1)
	}
	// Ten fast seconds, then one where 5 % of the operations take 200 ms:
	// the window's p99 (50 of 11,000 slow: 0.45 %) holds.
	for range 10 {
		if a := observe(windowOf(1000, 2)); a != nil {
			t.Fatalf("fast second %v: %+v", sec, a)
		}
	}
	if a := observe(WindowHist{{int32(windowBucket(2000)), 950}, {int32(windowBucket(200000)), 50}}); a != nil {
		t.Fatalf("one slow tail in ten fast seconds: %+v", a)
	}
	// Slow seconds: the window breaks at once, but the run's slow share
	// (1,050 of 13,000, 8 %) stays under what 1 % of the run plus a fast
	// remainder of 1.5 x 100x the run so far allows.
	rest = 100
	if a := observe(windowOf(1000, 200)); a != nil {
		t.Fatalf("slow window with a long fast remainder to come: %+v", a)
	}
	// With little left to run, the whole run can no longer pass.
	rest = 0.1
	a := observe(windowOf(1000, 200))
	if a == nil || !strings.Contains(a.Reason, "over the last 10 recorded seconds") || !strings.Contains(a.Reason, "even if the rest were fast") {
		t.Fatalf("slow window near the end: %+v", a)
	}
	if a.AtS != sec {
		t.Fatalf("aborted at %v, want %v", a.AtS, sec)
	}
}

// One slow second, even the run's first with little left to run, does not
// stop it: the window needs three recorded seconds.
func TestAbortOnALatencyPercentileNeedsSeconds(t *testing.T) {
	w := NewAbortWatch([]Target{abortTarget(t, "latency_p99", "< 50ms", 0)}, func(float64) float64 { return 0 })
	for sec := 1; sec <= 3; sec++ {
		a := w.Observe(TimelineRow{T: float64(sec), Ops: 100, LatencyHist: windowOf(100, 200)}, 1)
		if (a != nil) != (sec == 3) {
			t.Fatalf("second %d: %+v", sec, a)
		}
	}
}

// The slow count splits a bucket across the bound by its share above it.
func TestSlowerThanCountsAcrossTheBound(t *testing.T) {
	slow, ops := slowerThan(WindowHist{{int32(windowBucket(1000)), 100}, {int32(windowBucket(100000)), 10}}, 50)
	if ops != 110 || slow != 10 {
		t.Fatalf("slow %v of %v, want 10 of 110", slow, ops)
	}
	b := windowBucket(50000)
	lo, hi := windowBucketBounds(b)
	slow, _ = slowerThan(WindowHist{{int32(b), 100}}, math.Sqrt(lo*hi)/1000)
	if slow < 45 || slow > 55 {
		t.Fatalf("half a bucket above the bound: %v slow of 100", slow)
	}
}
