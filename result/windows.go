package result

import (
	"math"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// WindowHist is the latency of one sampling window (a timeline row) as a
// coarse, sparse histogram: [bucket, count] pairs in bucket order, where a
// value of v microseconds falls in bucket floor(WindowBucketsPerOctave ×
// log2(v)), so each bucket is 2^(1/16) ≈ 4.4 % wide.
//
// It exists so the variance of a run's latency over time can be measured:
// a run's p99 is one figure, but whether the next run of the same load
// would land on the same side of a 5 ms bound depends on how the tail is
// spread over its seconds. Resampling the seconds (confidence.go) needs each
// second's distribution, and a full HDR histogram per second (a few KB
// encoded, tens of thousands of counters to merge) is too heavy to keep and
// to merge a thousand times; 4.4 % buckets are finer than the run-to-run
// spread they measure, and the point estimate still comes from the exact
// HDR of the whole run.
//
// Pairs are 32-bit: a long run keeps one per bucket a row, about a hundred
// a second of load, and at 64-bit they were a third of a timeline row's
// memory (1.6 of ~4.5 kB). A bucket index is under windowBucketCount and a
// row's count is at most its commands (2^31 would be 35 million a second
// over a minute's folded row).
type WindowHist [][2]int32

// Add returns the sum of two window histograms (a merge of shards' rows:
// the same second's latency over every shard), neither modified.
func (w WindowHist) Add(o WindowHist) WindowHist {
	if len(o) == 0 {
		return w
	}
	if len(w) == 0 {
		return append(WindowHist(nil), o...)
	}
	out := make(WindowHist, 0, len(w)+len(o))
	i, j := 0, 0
	for i < len(w) || j < len(o) {
		switch {
		case j == len(o) || i < len(w) && w[i][0] < o[j][0]:
			out = append(out, w[i])
			i++
		case i == len(w) || o[j][0] < w[i][0]:
			out = append(out, o[j])
			j++
		default:
			out = append(out, [2]int32{w[i][0], w[i][1] + o[j][1]})
			i, j = i+1, j+1
		}
	}
	return out
}

// WindowBucketsPerOctave is the number of WindowHist buckets per doubling.
const WindowBucketsPerOctave = 16

// windowBucketCount bounds the bucket index: 60 s in µs is under 2^26.
const windowBucketCount = 26 * WindowBucketsPerOctave

// windowBucket is the bucket of a value in microseconds.
func windowBucket(us int64) int {
	if us <= 1 {
		return 0
	}
	b := int(math.Floor(WindowBucketsPerOctave * math.Log2(float64(us))))
	return min(max(b, 0), windowBucketCount-1)
}

// windowBucketBounds are a bucket's lower and upper edges in microseconds.
func windowBucketBounds(b int) (lo, hi float64) {
	return math.Exp2(float64(b) / WindowBucketsPerOctave), math.Exp2(float64(b+1) / WindowBucketsPerOctave)
}

// NewWindowHist reduces a microsecond HDR histogram to a WindowHist (nil
// for an empty one).
func NewWindowHist(h *hdrhistogram.Histogram) WindowHist {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	var dense [windowBucketCount]int64
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		dense[windowBucket((bar.From+bar.To)/2)] += bar.Count
	}
	used := 0
	for _, n := range dense {
		if n > 0 {
			used++
		}
	}
	// Exactly as long as it needs: a long run keeps every row's.
	out := make(WindowHist, 0, used)
	for b, n := range dense {
		if n > 0 {
			out = append(out, [2]int32{int32(b), int32(min(n, math.MaxInt32))})
		}
	}
	return out
}

// windowAcc adds WindowHists up and reads quantiles off the sum. One is
// reused across bootstrap replicates (reset between them).
type windowAcc struct {
	counts [windowBucketCount]int64
	total  int64
}

func (a *windowAcc) reset() { *a = windowAcc{} }

func (a *windowAcc) add(w WindowHist) {
	for _, p := range w {
		b := int(p[0])
		if b < 0 || b >= windowBucketCount {
			continue
		}
		a.counts[b] += int64(p[1])
		a.total += int64(p[1])
	}
}

// quantile returns the q-quantile (0 < q < 1) in milliseconds, or the
// maximum's bucket edge for q >= 1, interpolating geometrically inside the
// bucket. ok is false when nothing was added.
func (a *windowAcc) quantile(q float64) (float64, bool) {
	if a.total == 0 {
		return 0, false
	}
	if q >= 1 {
		for b := windowBucketCount - 1; b >= 0; b-- {
			if a.counts[b] > 0 {
				_, hi := windowBucketBounds(b)
				return hi / 1000, true
			}
		}
	}
	rank := q * float64(a.total)
	var cum float64
	for b, n := range a.counts {
		if n == 0 {
			continue
		}
		if cum+float64(n) >= rank {
			lo, hi := windowBucketBounds(b)
			f := (rank - cum) / float64(n)
			return lo * math.Pow(hi/lo, f) / 1000, true
		}
		cum += float64(n)
	}
	_, hi := windowBucketBounds(windowBucketCount - 1)
	return hi / 1000, true
}

// mean returns the mean in milliseconds from bucket midpoints.
func (a *windowAcc) mean() (float64, bool) {
	if a.total == 0 {
		return 0, false
	}
	var s float64
	for b, n := range a.counts {
		if n > 0 {
			lo, hi := windowBucketBounds(b)
			s += float64(n) * math.Sqrt(lo*hi)
		}
	}
	return s / float64(a.total) / 1000, true
}

// quantileLevels maps the quantile part of a latency metric name to its
// level; "max" is 1 and "mean" is handled apart.
var quantileLevels = map[string]float64{"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999, "max": 1}

// percentile returns the q-quantile of sorted values (linear between
// order statistics).
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// Median returns the median of values (unsorted; not modified), 0 for
// none: the one median of the run judgement and of compare.
func Median(values []float64) float64 {
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	return percentile(s, 0.5)
}
