package result

import (
	"fmt"
	"runtime"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// BenchmarkTimelineRowBytes is the live heap one timeline row holds as a
// long run keeps it (issue 28 item 5: the first hour's per-second rows are
// most of the tool's growth): the baseline's shape, four tiers, three miss
// causes, ten families, and one second of its latency (about 5,000
// commands from 20 us to 4 ms, a hundred window buckets). It reports
// bytes/row: what an hour of rows (3,600) costs is 3,600 times that.
func BenchmarkTimelineRowBytes(b *testing.B) {
	h := hdrhistogram.New(1, 60_000_000, 3)
	for i := range 5000 {
		// a long-tailed spread: most fast, a few slow
		v := int64(20 + (i*i)%400)
		if i%50 == 0 {
			v = int64(400 + (i*37)%3600)
		}
		_ = h.RecordValue(v)
	}
	tiers := []string{"api", "meta", "persistent", "session"}
	causes := []string{"cold", "evicted", "expired"}
	var fams []string
	for i := range 10 {
		fams = append(fams, fmt.Sprintf("family_%d", i))
	}
	const n = 3600
	var perRow float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rows := make([]TimelineRow, 0, n)
		for i := range n {
			r := TimelineRow{T: float64(i), Phase: "steady", Ops: 5000, HitRateByTier: map[string]float64{}, MissesByCause: map[string]uint64{}}
			for _, t := range tiers {
				r.HitRateByTier[t] = 0.95
			}
			for _, c := range causes {
				r.MissesByCause[c] = 10
			}
			r.HitRateByFamily = map[string]float64{}
			for _, f := range fams {
				r.HitRateByFamily[f] = 0.9
			}
			r.LatencyHist = NewWindowHist(h)
			rows = append(rows, r)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRow = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(rows)
	}
	b.ReportMetric(perRow, "bytes/row")
	b.ReportMetric(float64(len(NewWindowHist(h))), "buckets")
}
