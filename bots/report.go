package bots

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/result"
)

// Report puts the seed's layer beyond GET and SET into res: the
// instances, rate limits, compare-and-set, invalidation, the near cache
// and the warmings (c is the recorded totals), a note when invalidations
// went missing, and, on each restart or failover, whether the bot
// re-warmed after it. Before Connect it does nothing.
func (l *Layer) Report(res *result.Result, c engine.Counts) {
	if l.stats == nil {
		return
	}
	lr := &result.LayerReport{Instances: len(l.fleet)}
	lr.ByInstance, lr.Invalidate = l.instanceReports()
	lr.RateLimit = result.RateLimitReport{Allowed: c.RateAllowed, Denied: c.RateDenied, SkippedOps: c.RateSkipped}
	lr.CAS = result.CASReport{Conflicts: c.CASConflicts, GaveUp: c.CASGaveUp}
	lr.NearCache = l.nearReport(c)
	l.stats.mu.Lock()
	warms := slices.Clone(l.stats.warms)
	l.stats.mu.Unlock()
	sort.SliceStable(warms, func(i, j int) bool { return warms[i].at < warms[j].at })
	lr.Warming = []result.WarmingReport{}
	for _, w := range warms {
		lr.Warming = append(lr.Warming, result.WarmingReport{
			Instance: w.instance, Trigger: w.trigger, AtS: roundS(w.at.Seconds()), TookS: roundS(w.took.Seconds()),
			Keys: w.keys, MetaKeys: w.metaKeys, HotKeys: w.hot, OriginLoads: w.loads, OriginErrors: w.loadErrs, WriteErrors: w.writeErrs,
		})
	}
	res.Layer = lr
	if lr.Invalidate.Expected > lr.Invalidate.Received {
		res.Notes = append(res.Notes, fmt.Sprintf("invalidation: %d of %d expected deliveries never arrived (a subscriber was reconnecting): %d stale reads served from local copies",
			lr.Invalidate.Expected-lr.Invalidate.Received, lr.Invalidate.Expected, lr.NearCache.StaleReads))
	}
	for i := range res.Faults {
		if fr := &res.Faults[i]; warmsAfter(fr.Kind) {
			fr.Warming = faultWarming(fr, warms)
		}
	}
}

// instanceReports are each instance's pool and pub/sub figures, and the
// invalidations: published counts the messages Redis accepted, from the
// managers (an update whose DEL failed may still have published).
func (l *Layer) instanceReports() ([]result.InstanceReport, result.InvalidationReport) {
	var by []result.InstanceReport
	var published uint64
	for i, m := range l.fleet {
		st := m.Stats()
		published += st.InvalidationsSent
		by = append(by, result.InstanceReport{
			Instance: i, TotalConns: uint64(st.Pool.TotalConns), Timeouts: uint64(st.Pool.Timeouts),
			WaitMs: float64(st.Pool.WaitDurationNs) / 1e6, Dials: st.Dials,
			InvalidationsSent: st.InvalidationsSent, InvalidationsReceived: st.InvalidationsReceived,
		})
	}
	l.stats.mu.Lock()
	defer l.stats.mu.Unlock()
	return by, result.InvalidationReport{
		Published: published, Expected: published * uint64(len(l.fleet)-1),
		Received: l.stats.received.Load(), CopiesDropped: l.stats.dropped.Load(),
		LagMs: result.Summarize(l.stats.lag),
	}
}

// nearReport is the near cache's reads, by family and in all.
func (l *Layer) nearReport(c engine.Counts) result.NearCacheReport {
	nc := result.NearCacheReport{TTLS: l.nearTTL.Seconds(), GraceMs: float64(staleGrace.Milliseconds()), ByFamily: map[string]result.NearCounts{}, Families: []string{}}
	for i, f := range l.fams {
		if !l.isNear(&f) {
			continue
		}
		nc.Families = append(nc.Families, f.Name)
		fc := &c.Fams[i]
		nc.ByFamily[f.Name] = result.NearCounts{Hits: fc.NearHits, Misses: fc.NearMisses, StaleReads: fc.Stale, StaleInFlight: fc.StaleInFlight}
		nc.Hits += fc.NearHits
		nc.Misses += fc.NearMisses
		nc.StaleReads += fc.Stale
		nc.StaleInFlight += fc.StaleInFlight
	}
	return nc
}

// faultWarming says whether the bot re-warmed after fault occurrence fr:
// the warmings it triggered, from the first's start to the last's end.
func faultWarming(fr *result.FaultReport, warms []warmRun) *result.FaultWarming {
	idx, _ := fr.Params["index"].(int)
	id := idx<<16 | (fr.Occurrence - 1)
	fw := &result.FaultWarming{}
	var first, last time.Duration
	for _, w := range warms {
		if w.fault != id {
			continue
		}
		if !fw.Warmed || w.at < first {
			first = w.at
		}
		last = max(last, w.at+w.took)
		fw.Warmed = true
		fw.Keys += w.keys
		fw.OriginLoads += w.loads
	}
	if fw.Warmed {
		fw.TookS = roundS((last - first).Seconds())
	}
	return fw
}

// roundS rounds seconds to the millisecond, as the report's other
// durations are.
func roundS(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
