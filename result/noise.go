package result

import (
	"fmt"
	"strings"
)

// A latency miss that the machine's own noise explains is not a verdict on
// the cache. Latency is measured from each command's intended start, so a
// host that wakes the tool's threads late (a noisy neighbour on a VM, a
// burst of another process) adds its lateness to every figure the targets
// judge, while Redis and the wire were as fast as ever. The run measures
// both sides of that: the host timer probe (client.host_timer) counts how
// often this machine woke a sleeping thread over 1 ms late, and the service
// time (from the actual send) and Redis's own latencystats say whether the
// cache itself stayed within the bound.
//
// A miss is explained by the machine, and the target INCONCLUSIVE instead
// of FAIL, when all of these hold:
//
//   - the tool's late starts (with in-flight slots free) are no more than
//     HostWakesPerStart times the probe's late share: a command's start
//     rests on two timed wake-ups, the dispatcher's and its worker's;
//   - they are numerous enough to reach the judged quantile (at least half
//     of 1 − q of commands: fewer late starts cannot move a p99);
//   - the service time at the same quantile holds the bound;
//   - Redis's own per-command latency at that quantile (p99, or p99.9 for
//     p999 and max) holds it for every command, where Redis reports it.
//
// It never turns a miss into a pass: an SRE re-runs, or runs --repeat, on a
// quieter machine.

// noiseExplainsAll applies noiseExplains to every run whose own value broke
// the bound; the miss is explained only when each such run's is.
func noiseExplainsAll(runs []*Result, per []TargetResult, e Expr, want float64, q string) (string, bool) {
	var evidence []string
	for i, r := range runs {
		if e.holds(per[i].Observed, want) {
			continue
		}
		ev, ok := noiseExplains(r, e, want, q)
		if !ok {
			return "", false
		}
		if len(runs) > 1 {
			ev = fmt.Sprintf("run %d: %s", i+1, ev)
		}
		evidence = append(evidence, ev)
	}
	if len(evidence) == 0 {
		return "", false
	}
	return strings.Join(evidence, "; "), true
}

// noiseExplains reports whether run r's miss of a latency bound (want ms,
// quantile q) is within the machine's measured noise, with the evidence.
func noiseExplains(r *Result, e Expr, want float64, q string) (string, bool) {
	h := r.Client.HostTimer
	u := r.Users
	if h == nil || h.Wakes == 0 || h.Late == 0 || u.Commands == 0 {
		return "", false
	}
	tool := u.Late - min(u.LateWaitingForSlot, u.Late)
	share := float64(tool) / float64(u.Commands)
	if share > HostWakesPerStart*h.LateFraction {
		return "", false
	}
	level, isQuantile := quantileLevels[q]
	if !isQuantile {
		level = 0.5 // the mean: moved by late starts as a median would be
	}
	if level < 1 && share < (1-level)/2 {
		return "", false
	}
	if level >= 1 && tool == 0 {
		return "", false
	}
	service := r.Latency.Service.Quantile(q)
	if r.Latency.Service.Count == 0 || !e.holds(service, want) {
		return "", false
	}
	redis := "Redis's latencystats not reported"
	if len(r.Server.LatencyStats) > 0 {
		var worst float64
		for _, s := range r.Server.LatencyStats {
			v := s.P99
			if level > 0.99 {
				v = s.P999
			}
			worst = max(worst, v)
		}
		if !e.holds(worst, want) {
			return "", false
		}
		redis = fmt.Sprintf("Redis's own worst per-command %s %s", map[bool]string{true: "p99.9", false: "p99"}[level > 0.99], FormatValue(worst, UnitMs))
	}
	return fmt.Sprintf("the miss is within this machine's measured noise: %.2f%% of commands started over 1 ms late with in-flight slots free, while a separate probe process saw %.2f%% of its timed wake-ups over 1 ms late (worst %.1f ms); the service time %s %s and %s held the bound",
		100*share, 100*h.LateFraction, h.MaxMs, q, FormatValue(service, UnitMs), redis), true
}
