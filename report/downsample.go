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

// bucket is one or more consecutive timeline rows combined for drawing.
// Counters are summed, tail latencies take the worst row (a spike must not
// be averaged away), p50 is ops-weighted, gauges are averaged except memory
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
		b.row = combineRows(rows[i:end])
		out = append(out, b)
	}
	return out
}

func combineRows(rows []result.TimelineRow) result.TimelineRow {
	if len(rows) == 1 {
		return rows[0]
	}
	var c result.TimelineRow
	c.T = rows[len(rows)-1].T
	c.Phase = rows[len(rows)-1].Phase
	c.ErrorsByKind = map[string]uint64{}
	c.MissesByCause = map[string]uint64{}
	c.HitRateByTier = map[string]float64{}
	tierN := map[string]int{}
	faults := map[string]bool{}
	var p50w float64
	var poolTotal, poolIdle, active float64
	for _, r := range rows {
		c.Ops += r.Ops
		c.Errors += r.Errors
		addCounts(c.ErrorsByKind, r.ErrorsByKind)
		addCounts(c.MissesByCause, r.MissesByCause)
		p50w += r.P50 * float64(r.Ops)
		c.P99, c.P999, c.Max = math.Max(c.P99, r.P99), math.Max(c.P999, r.P999), math.Max(c.Max, r.Max)
		c.Hits += r.Hits
		c.Misses += r.Misses
		c.LookupErrors += r.LookupErrors
		for k, v := range r.HitRateByTier {
			c.HitRateByTier[k] += v
			tierN[k]++
		}
		c.EvictedKeys += r.EvictedKeys
		c.ExpiredKeys += r.ExpiredKeys
		c.UsedMemory = max(c.UsedMemory, r.UsedMemory)
		c.MaxMemory = max(c.MaxMemory, r.MaxMemory)
		c.ConnectedClients = max(c.ConnectedClients, r.ConnectedClients)
		poolTotal += float64(r.PoolTotal)
		poolIdle += float64(r.PoolIdle)
		active += float64(r.Active)
		c.PoolTimeouts += r.PoolTimeouts
		c.PoolWaitMs += r.PoolWaitMs
		c.Late += r.Late
		c.Dropped += r.Dropped
		c.Abandoned += r.Abandoned
		for _, f := range splitFaults(r.Fault) {
			faults[f] = true
		}
	}
	n := float64(len(rows))
	if c.Ops > 0 {
		c.P50 = p50w / float64(c.Ops)
	}
	c.HitRate = result.LookupHitRate(c.Hits, c.Misses, c.LookupErrors)
	for k := range c.HitRateByTier {
		c.HitRateByTier[k] /= float64(tierN[k])
	}
	c.PoolTotal, c.PoolIdle, c.Active = uint64(math.Round(poolTotal/n)), uint64(math.Round(poolIdle/n)), int(math.Round(active/n))
	c.Fault = strings.Join(sortedKeys(faults), ",")
	return c
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
