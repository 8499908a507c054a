package result

import (
	"math"
	"sort"
	"strings"
)

// A long run keeps its timeline bounded: a 24-hour soak writes 86,400
// one-second rows of a few kB each, hundreds of MB in the tool's memory and
// in report.json, while what a reader needs from its early hours is the
// shape, not each second. CompactRows is the one rule for folding
// consecutive seconds into one row; the sampler applies it to rows older
// than an hour outside fault windows (harness/sampler.go), so faults keep
// their per-second rows for time to first error and recovery.

// CompactRows folds consecutive rows of one phase into one row spanning
// them (SpanS: from prevT, the T of the row before the first, to the last
// row's T). Counters add up; the latency histogram is summed so targets
// and their intervals read the same samples; p99, p99.9 and max are the
// worst row's (a spike is not averaged away, as the charts draw it) and
// p50 the ops-weighted mean; memory and clients take the peak, pool and
// active gauges the mean; hit rates are recomputed from the summed counts
// (per tier and family: the mean of the rows that had one); the fault
// names are the union.
func CompactRows(rows []TimelineRow, prevT float64) TimelineRow {
	if len(rows) == 0 {
		return TimelineRow{}
	}
	last := rows[len(rows)-1]
	c := TimelineRow{T: last.T, Phase: last.Phase, InfoT: last.InfoT, SpanS: math.Round((last.T-prevT)*1000) / 1000}
	if len(rows) == 1 && rows[0].SpanS == 0 {
		c = rows[0]
		c.SpanS = math.Round((last.T-prevT)*1000) / 1000
		return c
	}
	var p50w, poolTotal, poolIdle, active float64
	tierN, famN := map[string]int{}, map[string]int{}
	faults := map[string]bool{}
	for _, r := range rows {
		c.Ops += r.Ops
		c.Errors += r.Errors
		c.ErrorsByKind = addCountsNew(c.ErrorsByKind, r.ErrorsByKind)
		p50w += r.P50 * float64(r.Ops)
		c.P99, c.P999, c.Max = math.Max(c.P99, r.P99), math.Max(c.P999, r.P999), math.Max(c.Max, r.Max)
		c.LatencyHist = c.LatencyHist.Add(r.LatencyHist)
		c.Hits += r.Hits
		c.Misses += r.Misses
		c.LookupErrors += r.LookupErrors
		c.MissesByCause = addCountsNew(c.MissesByCause, r.MissesByCause)
		for k, v := range r.HitRateByTier {
			if c.HitRateByTier == nil {
				c.HitRateByTier = map[string]float64{}
			}
			c.HitRateByTier[k] += v
			tierN[k]++
		}
		for k, v := range r.HitRateByFamily {
			if c.HitRateByFamily == nil {
				c.HitRateByFamily = map[string]float64{}
			}
			c.HitRateByFamily[k] += v
			famN[k]++
		}
		c.EvictedKeys += r.EvictedKeys
		c.ExpiredKeys += r.ExpiredKeys
		c.UsedMemory = max(c.UsedMemory, r.UsedMemory)
		c.MaxMemory = max(c.MaxMemory, r.MaxMemory)
		c.ConnectedClients = max(c.ConnectedClients, r.ConnectedClients)
		c.ClientsMemory = max(c.ClientsMemory, r.ClientsMemory)
		poolTotal += float64(r.PoolTotal)
		poolIdle += float64(r.PoolIdle)
		active += float64(r.Active)
		c.PoolTimeouts += r.PoolTimeouts
		c.PoolWaitMs += r.PoolWaitMs
		c.Late += r.Late
		c.Dropped += r.Dropped
		c.Abandoned += r.Abandoned
		c.ServerCPUS += r.ServerCPUS
		c.ServerCommands += r.ServerCommands
		c.OriginCalls += r.OriginCalls
		c.ServerNetOutBytes += r.ServerNetOutBytes
		for _, f := range strings.Split(r.Fault, ",") {
			if f = strings.TrimSpace(f); f != "" {
				faults[f] = true
			}
		}
	}
	n := float64(len(rows))
	if c.Ops > 0 {
		c.P50 = p50w / float64(c.Ops)
	}
	c.HitRate = LookupHitRate(c.Hits, c.Misses, c.LookupErrors)
	for k, m := range tierN {
		c.HitRateByTier[k] /= float64(m)
	}
	for k, m := range famN {
		c.HitRateByFamily[k] /= float64(m)
	}
	c.PoolTotal, c.PoolIdle, c.Active = uint64(math.Round(poolTotal/n)), uint64(math.Round(poolIdle/n)), int(math.Round(active/n))
	c.ServerCPUS = math.Round(c.ServerCPUS*1e6) / 1e6
	names := make([]string, 0, len(faults))
	for f := range faults {
		names = append(names, f)
	}
	sort.Strings(names)
	c.Fault = strings.Join(names, ",")
	return c
}
