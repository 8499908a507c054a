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
// A miss is explained by the tool's own scheduling, and INCONCLUSIVE too,
// when its goroutines' scheduling delay over the window (client.sched_latency,
// at the same quantile; p99.9 for p999 and max) is what separates the
// observed value from the bound, and Redis's own per-command latency holds
// it: every latency the tool records contains at least one such wait (the
// caller woken by its reply), so the part of the miss the tool spent
// waiting for a thread is not the cache's. Redis's latencystats must be
// reported for this rule: without them nothing shows the cache held.
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
			ev, ok = schedExplains(r, e, per[i].Observed, want, q)
		}
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
		var ok bool
		if redis, ok = redisHolds(r, e, want, level); !ok {
			return "", false
		}
	}
	return fmt.Sprintf("the miss is within this machine's measured noise: %.2f%% of commands started over 1 ms late with in-flight slots free, while a separate probe process saw %.2f%% of its timed wake-ups over 1 ms late (worst %.1f ms); the service time %s %s and %s held the bound",
		100*share, 100*h.LateFraction, h.MaxMs, q, FormatValue(service, UnitMs), redis), true
}

// redisHolds reports whether Redis's own worst per-command latency at the
// level (p99, or p99.9 above it) holds the bound, with the evidence; false
// when Redis reported none.
func redisHolds(r *Result, e Expr, want, level float64) (string, bool) {
	if len(r.Server.LatencyStats) == 0 {
		return "", false
	}
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
	return fmt.Sprintf("Redis's own worst per-command %s %s", map[bool]string{true: "p99.9", false: "p99"}[level > 0.99], FormatValue(worst, UnitMs)), true
}

// schedExplains reports whether run r's miss of a latency bound (observed
// against want ms at quantile q) is the tool's own scheduling delay: the
// observed value less the tool's own wait at the same quantile holds the
// bound, and Redis's own latency holds it. The wait is the commands' own
// (client.reply_wait: how long replies that had arrived waited to be read)
// where the run measured it, else the runtime's scheduling delay.
func schedExplains(r *Result, e Expr, observed, want float64, q string) (string, bool) {
	if e.Op != "<" && e.Op != "<=" {
		return "", false
	}
	level, isQuantile := quantileLevels[q]
	if !isQuantile {
		level = 0.5
	}
	var delay, over float64
	var name, what string
	pick := func(p50, p99, p999 float64) {
		delay, name = p99, "p99"
		switch {
		case level > 0.99:
			delay, name = p999, "p99.9"
		case level <= 0.5:
			delay, name = p50, "p50"
		}
	}
	switch w, s := r.Client.ReplyWait, r.Client.Sched; {
	case w != nil && w.Count > 0:
		pick(w.WaitP50Ms, w.WaitP99Ms, w.WaitP999Ms)
		over = w.WaitOver1msFraction
		what = "replies that had arrived (kernel arrival stamps) waited %s (%s) for the tool to read them, %s%% of commands over 1 ms"
	case s != nil && s.Count > 0:
		pick(s.P50Ms, s.P99Ms, s.P999Ms)
		over = s.Over1msFraction
		what = "its goroutines waited %s (%s) for a thread to run them, %s%% of waits over 1 ms"
	default:
		return "", false
	}
	if delay <= 0 || !e.holds(observed-delay, want) {
		return "", false
	}
	redis, ok := redisHolds(r, e, want, level)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("the miss is the tool's own scheduling delay: "+what+", and %s less that wait holds the bound, while %s held it",
		FormatValue(delay, UnitMs), name, formatShare(over), FormatValue(observed, UnitMs), redis), true
}

// formatShare is a fraction as a percentage with two decimals.
func formatShare(f float64) string { return fmt.Sprintf("%.2f", 100*f) }
