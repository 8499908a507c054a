package harness

import (
	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
)

// newFaults makes the run's faults from the scenario's entries (each
// translated by scenarios.Fault.Spec), checked against the run as loading
// checked them: a fault the overrides pushed past the run's end is an error
// here too.
func newFaults(s *scenarios.Scenario) ([]chaos.Fault, error) {
	specs := make([]chaos.Spec, len(s.Faults))
	for i, f := range s.Faults {
		specs[i] = f.Spec()
	}
	return chaos.New(specs, chaos.Site{Shape: topology.Shape(s.Target.Topology), Total: s.TotalDuration()})
}

// faultSamples is the timeline as chaos measures faults against it.
func faultSamples(rows []result.TimelineRow) []chaos.Sample {
	out := make([]chaos.Sample, len(rows))
	for i, r := range rows {
		out[i] = chaos.Sample{
			T: r.T, Ops: r.Ops, Errors: r.Errors, ErrorsByKind: r.ErrorsByKind, P99: r.P99,
			Hits: r.Hits, Misses: r.Misses, LookupErrors: r.LookupErrors, HitRate: r.HitRate, EvictedKeys: r.EvictedKeys, InfoT: r.InfoT,
		}
	}
	return out
}

// faultTargets are the bounds fault measurement needs, from the targets as
// parsed at load: the latency_p99 bound in milliseconds (0: none, p99
// recovery is not measured) and the hit_rate target as a fraction (0:
// re-warm means back to the hit rate before the fault). A target whose
// expression does not apply to its metric is ignored (it fails on its own).
func faultTargets(targets []result.Target) (p99Ms, hitRate float64) {
	for _, t := range targets {
		if t.Name != "latency_p99" && t.Name != "hit_rate" {
			continue
		}
		v, ok := t.Bound()
		if !ok {
			continue
		}
		if t.Name == "latency_p99" {
			p99Ms = v
		} else {
			hitRate = v
		}
	}
	return p99Ms, hitRate
}

// faultReports puts chaos's measures into the report.
func faultReports(ms []chaos.FaultMeasure) []result.FaultReport {
	out := make([]result.FaultReport, len(ms))
	for i, m := range ms {
		out[i] = result.FaultReport{
			Kind: m.Kind, Node: m.Node, Params: m.Params, StartS: m.StartS, EndS: m.EndS,
			Injected: m.Injected, Occurrence: m.Occurrence, Planned: m.Planned,
			ErrorsByKind:       m.ErrorsByKind,
			FirstErrorAfterS:   m.FirstErrorAfterS,
			RecoveredAfterS:    m.RecoveredAfterS,
			P99RecoveredAfterS: m.P99RecoveredAfterS,
			HitRateBefore:      m.HitRateBefore,
			HitRateMin:         m.HitRateMin,
			RewarmS:            m.RewarmS,
			Rewarm90S:          m.Rewarm90S,
			HitsLost:           m.HitsLost,
			Evictions:          m.Evictions,
			OOMErrors:          m.OOMErrors,
			Reconnects:         m.Reconnects,
			LostWrites:         m.LostWrites,
			UnknownWrites:      m.UnknownWrites,
			AckedAfterStart:    m.AckedAfterStart,
			WriteCheck:         writeCheck(m.Writes),
			Control:            writeCheck(m.Control),
			Notes:              m.Notes,
		}
	}
	return out
}

// writeCheck puts one lost-write check into the report: every cause, in
// order, even at zero, so a reader sees what was looked for.
func writeCheck(l *chaos.LostWrites) *result.WriteCheck {
	if l == nil {
		return nil
	}
	w := &result.WriteCheck{StartS: l.Start.Seconds(), WindowS: l.Window.Seconds(), Acked: l.Acked, Fills: l.Fills, Reads: l.Reads,
		EvictionsNotified: l.Evictions, EvictionsWatched: l.EvictionsWatched}
	for _, c := range chaos.Causes {
		lc := result.LostWriteCause{Cause: string(c), Counts: c == chaos.CauseReplication, Count: l.Count(c), Examples: []string{}}
		if t := l.ByCause[c]; t != nil {
			lc.Examples = append(lc.Examples, t.Examples...)
		}
		w.Causes = append(w.Causes, lc)
	}
	return w
}
