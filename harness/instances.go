package harness

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// fleet is the run's bot instances' managers, instance 0 first. Each has
// the scenario's pool settings: a Discord bot runs each process with its
// own pool, so max_conns is per instance and Redis sees instances x
// max_conns connections at most.
type fleet []*pool.Manager

// Stats sums the instances' counters and pools (the sampler's and the pool
// section's view: one pool per process, added up).
func (f fleet) Stats() pool.Stats {
	var s pool.Stats
	for i, m := range f {
		st := m.Stats()
		if i == 0 {
			s = st
			continue
		}
		s.Hits += st.Hits
		s.Misses += st.Misses
		s.Sets += st.Sets
		s.Errors += st.Errors
		s.Fetches += st.Fetches
		s.FetchErrors += st.FetchErrors
		s.SharedFetches += st.SharedFetches
		s.FillErrors += st.FillErrors
		s.InvalidationsReceived += st.InvalidationsReceived
		s.InvalidationsSent += st.InvalidationsSent
		s.Dials += st.Dials
		s.DialErrors += st.DialErrors
		s.PrimarySwitches += st.PrimarySwitches
		for k, n := range st.CommandErrors {
			s.CommandErrors[k] += n
		}
		p, q := &s.Pool, st.Pool
		p.Hits += q.Hits
		p.Misses += q.Misses
		p.Timeouts += q.Timeouts
		p.TotalConns += q.TotalConns
		p.IdleConns += q.IdleConns
		p.StaleConns += q.StaleConns
		p.WaitCount += q.WaitCount
		p.WaitDurationNs += q.WaitDurationNs
	}
	return s
}

// connectInstances starts the bot instances after the first (connect made
// instance 0, which also serves the fault read-backs and the cleanup), and
// wires the driver to all of them: each instance's near cache, its pub/sub
// handler and its hot set.
func (r *run) connectInstances(ctx context.Context) error {
	n := max(r.model.Config().Instances, 1)
	r.mgrs = fleet{r.mgr}
	for i := 1; i < n; i++ {
		cfg := r.pcfg
		cfg.ClientName = fmt.Sprintf("cacheproof-%d", i)
		m, err := pool.New(ctx, cfg)
		if err != nil {
			return &EnvError{Op: fmt.Sprintf("connect bot instance %d", i), Err: err}
		}
		r.mgrs = append(r.mgrs, m)
	}
	d := r.d
	fams := r.model.Families()
	d.nearFam = make([]bool, len(fams))
	for _, name := range r.pcfg.NearCache {
		for i := range fams {
			if fams[i].Name == name && isString(&fams[i]) {
				d.nearFam[i] = true
			}
		}
	}
	d.wlog = newWriteLog()
	d.layer = newLayerStats()
	d.insts = make([]instance, n)
	for i, m := range r.mgrs {
		in := &d.insts[i]
		in.c = m
		if slices.Contains(d.nearFam, true) && r.pcfg.NearCacheTTL > 0 {
			in.near = newNearCache(r.pcfg.NearCacheTTL)
		}
		in.hot = newHotSet(r.pcfg.WarmKeys)
		m.OnInvalidate(d.onInvalidate(in))
	}
	r.smp.mgr = r.mgrs
	return nil
}

// disconnectInstances shuts the instances after the first down.
func (r *run) disconnectInstances() {
	if len(r.mgrs) < 2 {
		return
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range r.mgrs[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.Shutdown(sctx) }()
	}
	wg.Wait()
}

// warmAll warms every instance at once, as every bot process does on its
// own, and returns when all are done.
func (r *run) warmAll(ctx context.Context, trigger string, fault int) {
	meta := metaFamilies(r.model.Families())
	var wg sync.WaitGroup
	for i := range r.d.insts {
		wg.Add(1)
		go func() { defer wg.Done(); r.d.warm(ctx, i, trigger, fault, meta) }()
	}
	wg.Wait()
}

// warmStart is the bot's warming at start (warm_on_start): the meta keys
// (nothing has been served yet, so the hot sets are empty), before the
// load begins.
func (r *run) warmStart(ctx context.Context) {
	if !r.pcfg.WarmOnStart || len(r.d.insts) == 0 {
		return
	}
	r.warmAll(ctx, "start", -1)
}

// warmsAfter reports whether a bot finds Redis empty or on another node
// after a fault of kind and warms again: the kind declares it (Rewarms).
func warmsAfter(kind string) bool {
	t, _ := chaos.TraitsOf(kind)
	return t.Rewarms
}

// watchFaults re-warms after every restart or failover that ended, when
// warming applies to it (the fault's warm: on|off, else warm_on_start),
// until stop is closed. It polls the runner's events: a bot learns of a
// restart by reconnecting, a few tens of milliseconds are within that.
// Neither part offers an event to start from instead: chaos's OnRestart
// fires for a restart only, without persistence, before its event is
// ended, naming the node but not the occurrence (whose index, repetition
// and warm: parameter the warming needs), and never for a failover; the
// pool manager exports no reconnect or primary-switch notification.
func (r *run) watchFaults(stop <-chan struct{}) {
	if r.runner == nil || len(r.d.insts) == 0 {
		return
	}
	r.warmers.Add(1)
	go func() {
		defer r.warmers.Done()
		done := map[[2]int]bool{}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, ev := range r.runner.Events() {
				id := [2]int{ev.Fault.Index, ev.N}
				if done[id] || !ev.Ended || !ev.Injected || !warmsAfter(ev.Fault.Kind) {
					continue
				}
				done[id] = true
				if !faultWarms(ev.Fault, r.pcfg.WarmOnStart) {
					continue
				}
				r.warmers.Add(1)
				go func() {
					defer r.warmers.Done()
					ctx, cancel := context.WithTimeout(r.warmCtx, time.Minute)
					defer cancel()
					// Named as the text report names faults ("restart
					// @150s"): "#N" counted repetitions of one entry, so
					// two entries' first restarts were both "#1".
					r.warmAll(ctx, fmt.Sprintf("%s @%gs", ev.Fault.Kind, ev.Start.Round(100*time.Millisecond).Seconds()), ev.Fault.Index<<16|ev.N)
				}()
			}
		}
	}()
}

// faultWarms is whether the bot warms after fault f: its own warm
// parameter when the scenario wrote one, else the pool's warm_on_start.
func faultWarms(f chaos.Fault, poolWarms bool) bool {
	if v, ok := f.Params["warm"].(string); ok {
		return v == "on"
	}
	return poolWarms
}

// collectLayer reports the seed's layer beyond GET and SET.
func (r *run) collectLayer(c counts) {
	d := r.d
	if d.layer == nil {
		return
	}
	n := len(r.mgrs)
	lr := &result.LayerReport{Instances: n}
	// Published counts the messages Redis accepted, from the managers: an
	// update whose DEL failed may still have published.
	var published uint64
	for i, m := range r.mgrs {
		st := m.Stats()
		published += st.InvalidationsSent
		lr.ByInstance = append(lr.ByInstance, result.InstanceReport{
			Instance: i, TotalConns: uint64(st.Pool.TotalConns), Timeouts: uint64(st.Pool.Timeouts),
			WaitMs: float64(st.Pool.WaitDurationNs) / 1e6, Dials: st.Dials,
			InvalidationsSent: st.InvalidationsSent, InvalidationsReceived: st.InvalidationsReceived,
		})
	}
	lr.RateLimit = result.RateLimitReport{Allowed: c.rateAllowed, Denied: c.rateDenied, SkippedOps: c.rateSkipped}
	lr.CAS = result.CASReport{Conflicts: c.casConflicts, GaveUp: c.casGaveUp}
	d.layer.mu.Lock()
	lr.Invalidate = result.InvalidationReport{
		Published: published, Expected: published * uint64(n-1),
		Received: d.layer.received.Load(), CopiesDropped: d.layer.dropped.Load(),
		LagMs: result.Summarize(d.layer.lag),
	}
	warms := slices.Clone(d.layer.warms)
	d.layer.mu.Unlock()
	nc := result.NearCacheReport{TTLS: r.pcfg.NearCacheTTL.Seconds(), GraceMs: float64(staleGrace.Milliseconds()), ByFamily: map[string]result.NearCounts{}, Families: []string{}}
	for i, f := range r.model.Families() {
		if !d.isNear(&f) {
			continue
		}
		nc.Families = append(nc.Families, f.Name)
		fc := &c.fams[i]
		nc.ByFamily[f.Name] = result.NearCounts{Hits: fc.nearHits, Misses: fc.nearMisses, StaleReads: fc.stale, StaleInFlight: fc.staleInFlight}
		nc.Hits += fc.nearHits
		nc.Misses += fc.nearMisses
		nc.StaleReads += fc.stale
		nc.StaleInFlight += fc.staleInFlight
	}
	lr.NearCache = nc
	sort.SliceStable(warms, func(i, j int) bool { return warms[i].at < warms[j].at })
	lr.Warming = []result.WarmingReport{}
	for _, w := range warms {
		lr.Warming = append(lr.Warming, result.WarmingReport{
			Instance: w.instance, Trigger: w.trigger, AtS: roundS(w.at.Seconds()), TookS: roundS(w.took.Seconds()),
			Keys: w.keys, MetaKeys: w.metaKeys, HotKeys: w.hot, OriginLoads: w.loads, OriginErrors: w.loadErrs, WriteErrors: w.writeErrs,
		})
	}
	r.res.Layer = lr
	if lr.Invalidate.Expected > lr.Invalidate.Received {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("invalidation: %d of %d expected deliveries never arrived (a subscriber was reconnecting): %d stale reads served from local copies",
			lr.Invalidate.Expected-lr.Invalidate.Received, lr.Invalidate.Expected, nc.StaleReads))
	}
	// Each restart or failover says whether the bot re-warmed after it.
	for i := range r.res.Faults {
		fr := &r.res.Faults[i]
		if !warmsAfter(fr.Kind) {
			continue
		}
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
		fr.Warming = fw
	}
}

// stopWarming ends the fault watcher and waits for warmings in progress,
// at most DrainTimeout, then cancels them.
func (r *run) stopWarming() {
	if r.warmStop == nil {
		return
	}
	close(r.warmStop)
	done := make(chan struct{})
	go func() { r.warmers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(r.o.DrainTimeout):
		r.warmCancel()
		<-done
	}
	r.warmCancel()
}

// managers are the run's bot instances' managers (instance 0 alone before
// connectInstances).
func (r *run) managers() fleet {
	if len(r.mgrs) > 0 {
		return r.mgrs
	}
	return fleet{r.mgr}
}

var _ = workload.OpGet
