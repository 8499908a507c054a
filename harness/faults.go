package harness

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
)

// planFaults turns the scenario's faults into this shard's. Sharded, a fault
// that acts on Redis is run by shard 0 alone (n shards share one Redis); the
// others note it (see chaos.ForShard). On a Redis the tool does not own, a
// fault that acts on Redis (every kind but network) needs AllowDestructive.
func (r *run) planFaults() error {
	faults, err := newFaults(r.s)
	if err != nil {
		return &ConfigError{Err: err}
	}
	r.faults, r.byShard0 = chaos.ForShard(faults, r.o.Shard, r.o.Shards)
	if !r.s.Target.OwnsNodes() && !r.o.AllowDestructive {
		for _, f := range r.faults {
			if f.ActsOnRedis() {
				return &ConfigError{Err: fmt.Errorf("fault %s would change a Redis this tool does not own: %w", f, topology.ErrDestructive)}
			}
		}
	}
	return nil
}

// armFaults builds the chaos runner: the fault timeline on the deployment's
// controls and the proxy, with the driver's activity and write tracking for
// measuring recovery and lost writes. Without faults it does nothing.
func (r *run) armFaults() {
	if len(r.faults) == 0 {
		return
	}
	r.runner = chaos.NewRunner(r.faults, chaos.Options{
		Deployment: r.dep, Network: r.network, Protocol: r.protocol, Tracker: r.writes, Reader: r.mgr,
		Settle: r.o.FaultSettle, Total: r.total, Logf: r.o.Logf,
		// The bot layer re-warms after a restart or failover ends.
		Subscribers: []chaos.Subscriber{r.bots, chaos.SubscriberFunc(r.nodeEmptied)},
		Model:       r.model, Watch: r.watch, Ledger: r.ledger, KeyPrefix: r.pcfg.KeyPrefix,
	})
	r.smp.faults = r.runner.Active
	if !r.dep.Spec().Persistence && slices.ContainsFunc(r.faults, func(f chaos.Fault) bool { return f.Traits().EmptiesNode }) {
		r.bots.SetEmptied(restartOverlaps(r.runner))
	}
}

// nodeEmptied is the miss ledger's subscription to the faults: a node
// restarted without persistence comes back empty (chaos.NodeEmptied), so
// what the ledger remembers writing before it went down is gone, and a miss
// of it is wiped (written, then emptied by the fault), neither cold (never
// written) nor an eviction.
func (r *run) nodeEmptied(n chaos.Notice) {
	if n.What != chaos.NodeEmptied {
		return
	}
	start := r.d.Start()
	r.ledger.Wiped(start.Add(restartBegan(r.runner, n.Node, time.Since(start))))
}

// watchEvictions gives the lost-write check key-level eviction evidence
// when a fault tracks writes: keyspace notifications of evicted keys on
// every data node (chaos.WatchEvictions). It needs CONFIG SET, so only on a
// Redis this run started; elsewhere, or when it fails, a note says an
// eviction cannot be told from a loss by key.
func (r *run) watchEvictions(ctx context.Context) {
	if r.runner == nil || !slices.ContainsFunc(r.faults, chaos.Fault.TracksWrites) {
		return
	}
	if !r.s.Target.OwnsNodes() {
		r.evictionsNote = "lost writes: evictions are not watched on an external Redis (no CONFIG SET of notify-keyspace-events): a tracked key evicted and then missed counts as lost by replication"
		return
	}
	w, err := chaos.WatchEvictions(ctx, r.dep, r.dep.Endpoints(), r.writes)
	if err != nil {
		r.evictionsNote = fmt.Sprintf("lost writes: evictions not watched, a tracked key evicted and then missed counts as lost by replication: %v", err)
		r.o.logf("%s", r.evictionsNote)
		return
	}
	r.evictions = w
}

func (r *run) stopWatchingEvictions() {
	if err := r.evictions.Close(); err != nil {
		r.o.logf("lost writes: stopping the eviction watch: %v", err)
	}
}

// restartBegan is when the latest restart (a fault whose kind empties the
// node, chaos.Traits.EmptiesNode) of node that began by now
// (offsets from the run's start) was entered, just before the node went
// down: everything written before it was lost with the node, and nothing
// could be written to the node until it served again. now when the runner
// has no such event.
func restartBegan(rn *chaos.Runner, node string, now time.Duration) time.Duration {
	at, found := now, false
	if rn == nil {
		return at
	}
	for _, ev := range rn.Events() {
		if ev.Fault.Traits().EmptiesNode && ev.Node == node && !ev.NotStarted && ev.Start <= now && (!found || ev.Start > at) {
			at, found = ev.Start, true
		}
	}
	return at
}

// restartOverlaps reports whether a restart started at or before to and
// had not ended before from (offsets from the run's start). The runner
// enters an occurrence before it acts, so a restart is seen from before the
// node goes down until after the ledger was reset.
func restartOverlaps(rn *chaos.Runner) func(from, to time.Duration) bool {
	return func(from, to time.Duration) bool {
		for _, ev := range rn.Events() {
			if ev.Fault.Traits().EmptiesNode && !ev.NotStarted && ev.Start <= to && (!ev.Ended || ev.End >= from) {
				return true
			}
		}
		return false
	}
}

// newFaults makes the run's faults from the scenario's entries (each
// translated by scenarios.Fault.Spec), checked against the run as loading
// checked them: a fault the overrides pushed past the run's end is an error
// here too.
func newFaults(s *scenarios.Scenario) ([]chaos.Fault, error) {
	specs := make([]chaos.Spec, len(s.Faults))
	for i, f := range s.Faults {
		specs[i] = f.Spec()
	}
	return chaos.New(specs, chaos.Site{Shape: topology.Shape(s.Target.Topology), Backend: topology.Backend(s.Target.Backend), Total: s.TotalDuration(), Families: s.Workload.FamilyNames()})
}

// faultTargets are the bounds fault measurement needs, from the targets as
// parsed at load: the latency_p99 bound in milliseconds (0: none, p99
// recovery is not measured) and the hit_rate target as a fraction (0:
// re-warm means back to the hit rate before the fault). A target whose
// expression does not apply to its metric is ignored (it fails on its own).
func faultTargets(targets []result.Target) (p99Ms, hitRate float64) {
	for _, t := range targets {
		if t.Name != result.MetricLatencyP99 && t.Name != result.MetricHitRate {
			continue
		}
		v, ok := t.Bound()
		if !ok {
			continue
		}
		if t.Name == result.MetricLatencyP99 {
			p99Ms = v
		} else {
			hitRate = v
		}
	}
	return p99Ms, hitRate
}
