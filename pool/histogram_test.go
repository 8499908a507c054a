package pool

import (
	"math"
	"testing"
	"time"
)

func TestHistogramBucketsBoundTheError(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v += 1 + v/50 {
		i := histBucket(v)
		if i < prev {
			t.Fatalf("bucket index not monotonic at %d", v)
		}
		prev = i
		mid := histBucketValue(i)
		if v >= histSub && math.Abs(float64(mid)-float64(v))/float64(v) > 1.0/histSub {
			t.Fatalf("value %d -> bucket %d -> %d: error above %.1f%%", v, i, mid, 100.0/histSub)
		}
	}
	if histBucket(math.MaxUint64) != histBuckets-1 {
		t.Error("huge values must clamp into the last bucket")
	}
}

func TestHistogramSnapshotPercentiles(t *testing.T) {
	var h latencyHist
	if h.snapshot() != nil {
		t.Fatal("empty histogram gave a snapshot")
	}
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	s := h.snapshot()
	if s.TotalCount() != 1000 {
		t.Fatalf("count %d", s.TotalCount())
	}
	for q, want := range map[float64]float64{50: 500, 99: 990} {
		got := float64(s.ValueAtQuantile(q))
		if math.Abs(got-want)/want > 0.05 {
			t.Errorf("p%v = %v µs, want about %v", q, got, want)
		}
	}
}
