package report

import (
	"math"
	"sort"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// maxChartPoints bounds the points per chart series: a one-hour run (3,600
// rows) is drawn from 720 buckets of five seconds, which keeps report.html
// small and fast while still showing a one-bucket spike.
const maxChartPoints = 720

// bucket is one or more consecutive timeline rows combined for drawing, by
// the rule that folds a long run's old rows (result.CompactRows): counters
// are summed, tail latencies take the worst row (a spike must not be
// averaged away), p50 is ops-weighted, gauges are averaged except memory
// and clients which take the peak.
type bucket struct {
	t0, t1 float64
	row    result.TimelineRow
	rows   int
}

func (b bucket) span() float64 { return math.Max(b.t1-b.t0, 1e-9) }

// perSec turns an interval counter into a rate.
func (b bucket) perSec(v uint64) float64 { return float64(v) / b.span() }

func downsample(rows []result.TimelineRow, maxPoints int) []bucket {
	if len(rows) == 0 {
		return nil
	}
	size := int(math.Ceil(float64(len(rows)) / float64(maxPoints)))
	out := make([]bucket, 0, len(rows)/size+1)
	prevT := rows[0].T - 1
	if len(rows) > 1 {
		prevT = rows[0].T - (rows[1].T - rows[0].T)
	}
	for i := 0; i < len(rows); i += size {
		end := min(i+size, len(rows))
		b := bucket{t0: prevT, t1: rows[end-1].T, rows: end - i}
		prevT = b.t1
		b.row = result.CompactRows(rows[i:end], b.t0)
		out = append(out, b)
	}
	return out
}

func splitFaults(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func addCounts(dst, src map[string]uint64) {
	for k, v := range src {
		dst[k] += v
	}
}

// topKeys returns the keys of the largest totals (at most n), largest first;
// the rest are folded into "other" by the caller so charts stay legible.
func topKeys(totals map[string]uint64, n int) (top []string, rest []string) {
	keys := sortedKeys(totals)
	sort.SliceStable(keys, func(i, j int) bool { return totals[keys[i]] > totals[keys[j]] })
	if len(keys) <= n {
		return keys, nil
	}
	return keys[:n-1], keys[n-1:]
}
