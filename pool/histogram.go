package pool

import (
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// latencyHist is a lock-free log-linear histogram of nanosecond durations:
// 32 linear sub-buckets per power of two (relative error under 3.2 %), one
// atomic add per record. hdrhistogram-go is not safe for concurrent writers,
// and a mutex around it would sit on the hot path; this records cheaply and
// converts to an HDR histogram only when a snapshot is asked for.
type latencyHist struct {
	counts [histBuckets]atomic.Uint64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	// histMaxBits bounds recorded values to 2^40 ns (about 18 minutes);
	// longer values are clamped into the top bucket.
	histMaxBits = 40
	histBuckets = (histMaxBits-histSubBits)*histSub + histSub
)

// histBucket maps a value to its bucket index.
func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	if v >= 1<<histMaxBits {
		return histBuckets - 1
	}
	shift := bits.Len64(v) - histSubBits - 1
	return (shift+1)*histSub + int(v>>uint(shift)) - histSub
}

// histBucketValue returns the midpoint of a bucket, the value a snapshot
// records for every count in it.
func histBucketValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	low := uint64(i%histSub+histSub) << uint(shift)
	return low + (uint64(1)<<uint(shift))/2
}

func (h *latencyHist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histBucket(uint64(d))].Add(1)
}

// snapshot returns an HDR histogram of the recorded values in microseconds
// (at least 1), the unit HDR summaries in reports use, with 2 significant
// figures, or nil when nothing was recorded.
func (h *latencyHist) snapshot() *hdrhistogram.Histogram {
	var out *hdrhistogram.Histogram
	for i := range h.counts {
		n := h.counts[i].Load()
		if n == 0 {
			continue
		}
		if out == nil {
			out = hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 2)
		}
		us := int64(histBucketValue(i) / uint64(time.Microsecond))
		if us < 1 {
			us = 1
		}
		_ = out.RecordValues(us, int64(n))
	}
	return out
}
