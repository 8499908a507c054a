package bots

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// Fleet is the run's bot instances' managers, instance 0 first. Each has
// the scenario's pool settings: a Discord bot runs each process with its
// own pool, so max_conns is per instance and Redis sees instances x
// max_conns connections at most.
type Fleet []*pool.Manager

// Stats sums the instances' counters and pools (the sampler's and the pool
// section's view: one pool per process, added up).
func (f Fleet) Stats() pool.Stats {
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
		s.Pool.Add(st.Pool)
	}
	return s
}

// Connect starts the bot instances after the first (the layer's Cache,
// made by the harness, which also serves the fault read-backs and the
// cleanup), n in all, each with cfg's pool settings under its own client
// name, and wires each one's near cache (cfg.NearCache's string families
// among fams, for cfg.NearCacheTTL), its pub/sub handler and its hot set
// (cfg.WarmKeys). On a failure it returns the instance that failed; the
// ones made so far are in the fleet, for Close.
func (l *Layer) Connect(ctx context.Context, first *pool.Manager, cfg pool.Config, n int, fams []workload.Family) (failed int, err error) {
	n = max(n, 1)
	l.fleet = Fleet{first}
	for i := 1; i < n; i++ {
		c := cfg
		c.ClientName = fmt.Sprintf("cacheproof-%d", i)
		m, err := pool.New(ctx, c)
		if err != nil {
			return i, err
		}
		l.fleet = append(l.fleet, m)
	}
	l.fams = fams
	l.nearTTL = cfg.NearCacheTTL
	l.warming.onStart = cfg.WarmOnStart
	l.nearFam = make([]bool, len(fams))
	for _, name := range cfg.NearCache {
		for i := range fams {
			if fams[i].Name == name && isString(&fams[i]) {
				l.nearFam[i] = true
			}
		}
	}
	l.wlog = newWriteLog()
	l.stats = newLayerStats()
	l.insts = make([]instance, n)
	for i, m := range l.fleet {
		in := &l.insts[i]
		in.c = m
		if slices.Contains(l.nearFam, true) && cfg.NearCacheTTL > 0 {
			in.near = newNearCache(cfg.NearCacheTTL)
		}
		in.hot = newHotSet(cfg.WarmKeys)
		m.OnInvalidate(l.onInvalidate(in))
	}
	return 0, nil
}

// Managers are the bot instances' managers, instance 0 first (nil before
// Connect).
func (l *Layer) Managers() Fleet { return l.fleet }

// Close shuts the instances after the first down (the first is the
// harness's).
func (l *Layer) Close() {
	if len(l.fleet) < 2 {
		return
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range l.fleet[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); _ = m.Shutdown(sctx) }()
	}
	wg.Wait()
}

// warmAll warms every instance at once, as every bot process does on its
// own, and returns when all are done.
func (l *Layer) warmAll(ctx context.Context, trigger string, fault int) {
	meta := metaFamilies(l.fams)
	var wg sync.WaitGroup
	for i := range l.insts {
		wg.Add(1)
		go func() { defer wg.Done(); l.warm(ctx, i, trigger, fault, meta) }()
	}
	wg.Wait()
}

// WarmStart is the bot's warming at start (warm_on_start): the meta keys
// (nothing has been served yet, so the hot sets are empty), before the
// load begins.
func (l *Layer) WarmStart(ctx context.Context) {
	if !l.warming.onStart || len(l.insts) == 0 {
		return
	}
	l.warmAll(ctx, "start", -1)
}

// warmsAfter reports whether a bot finds Redis empty or on another node
// after a fault of kind and warms again: the kind declares it (Rewarms).
func warmsAfter(kind string) bool {
	t, _ := chaos.TraitsOf(kind)
	return t.Rewarms
}

// WatchFaults opens the layer to fault notices (FaultNotice), until
// StopWarming: from now on a restart or failover that ends is re-warmed
// after. Call it before the fault timeline starts.
func (l *Layer) WatchFaults() {
	w := &l.warming
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.open = true
}

// FaultNotice is the layer's subscription to the fault timeline
// (chaos.Subscriber): when a restart or failover (a kind that Rewarms)
// that took effect ends, every instance warms again, as a bot does once it
// finds Redis back empty or its primary moved, when warming applies to it
// (the fault's warm: on|off, else warm_on_start). The warming runs on its
// own goroutine, named after the occurrence it follows; StopWarming waits
// for it.
func (l *Layer) FaultNotice(n chaos.Notice) {
	if n.What != chaos.Ended || !n.Injected || len(l.insts) == 0 || !warmsAfter(n.Fault.Kind) {
		return
	}
	w := &l.warming
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.open || !faultWarms(n.Fault, w.onStart) {
		return
	}
	ctx := w.ctx
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		// Named as the text report names faults ("restart @150s"): "#N"
		// counted repetitions of one entry, so two entries' first
		// restarts were both "#1".
		l.warmAll(ctx, fmt.Sprintf("%s @%gs", n.Fault.Kind, n.Start.Round(100*time.Millisecond).Seconds()), n.Fault.Index<<16|n.N)
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

// StopWarming closes the layer to fault notices and waits for warmings in
// progress, at most timeout, then cancels them.
func (l *Layer) StopWarming(timeout time.Duration) {
	w := &l.warming
	w.mu.Lock()
	if !w.open {
		w.mu.Unlock()
		return
	}
	w.open = false
	w.mu.Unlock()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		w.cancel()
		<-done
	}
	w.cancel()
}
