package capacity

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/result"
)

// ToolReasons are the typed reasons (result.Tool*) why the load generator,
// not the system under test, made a step miss, and their figures for
// people; none for a passing step. Three reasons count:
//
//   - the tool's own CPU at 90 % of the CPUs it may use: it could not apply
//     the load, so the step says nothing about the cache;
//   - commands dropped while most late starts had in-flight slots free;
//   - late starts beyond the host's: over 1 % of commands started over
//     1 ms late with slots free, more than twice the share of late wake-ups
//     the host timer probe saw (a late start rests on two wake-ups), the
//     late starts moved the p99, no pool timeout, and every missed target
//     is a latency from intended start whose service-time counterpart (from
//     the actual send) held: a late start adds its slip to the one and not
//     the other, nor to pool timeouts or the hit rate.
//
// The machine's CPU shared with a local Redis, or a load average above the
// CPUs, are not the tool's: a Redis that fills its core is the system under
// test, and a host busy with other work is noise the confirmation re-runs
// and the notes deal with.
func ToolReasons(r *result.Result) (reasons []string, why string) {
	if r == nil || r.Verdict == result.VerdictPass {
		return nil, ""
	}
	var whys []string
	c, u := r.Client, r.Users
	if c.WindowS > 0 {
		limit := float64(c.GOMAXPROCS)
		if c.NumCPU > 0 && (limit == 0 || float64(c.NumCPU) < limit) {
			limit = float64(c.NumCPU)
		}
		if cores := c.CPUSeconds / c.WindowS; limit > 0 && cores >= result.ToolBusyShare*limit {
			reasons = append(reasons, result.ToolCPU)
			whys = append(whys, fmt.Sprintf("the tool used %.2f of the %.0f CPUs it may use", cores, limit))
		}
	}
	toolLate := u.Late - min(u.LateWaitingForSlot, u.Late)
	if u.Dropped > 0 && toolLate > u.LateWaitingForSlot {
		reasons = append(reasons, result.ToolDropped)
		whys = append(whys, fmt.Sprintf("%d commands dropped while most late starts (%d of %d) had in-flight slots free: the tool could not keep its schedule",
			u.Dropped, toolLate, u.Late))
	}
	if why, ok := lateBeyondHost(r, toolLate); ok {
		reasons = append(reasons, result.ToolLate)
		whys = append(whys, why)
	}
	return reasons, strings.Join(whys, "; ")
}

// lateBeyondHost is the late-start reason of ToolReasons.
func lateBeyondHost(r *result.Result, toolLate uint64) (string, bool) {
	u, lat, h := r.Users, r.Latency, r.Client.HostTimer
	if u.Commands == 0 || r.Pool.Timeouts > 0 {
		return "", false
	}
	share := float64(toolLate) / float64(u.Commands)
	tailMoved := lat.Overall.P99 > 0 && lat.Overall.P99-lat.Service.P99 > result.LateTailShare*lat.Overall.P99
	if share <= result.ToolLateShare || !tailMoved {
		return "", false
	}
	host := "no host timer probe to compare with"
	if h != nil && h.Wakes > 0 {
		if h.Late > 0 && share <= result.HostWakesPerStart*h.LateFraction {
			return "", false // the machine's: its own timer wake-ups were as late
		}
		host = fmt.Sprintf("the host timer probe saw %.2f%% of its wake-ups over 1 ms late", 100*h.LateFraction)
	}
	if !onlyStartLatencyMissed(r) {
		return "", false
	}
	return fmt.Sprintf("%.1f%% of commands started over 1 ms late with in-flight slots free (%s), and service time (from the actual send) held every missed latency target",
		100*share, host), true
}

// onlyStartLatencyMissed: every missed target is a latency from intended
// start (latency_*) whose service-time counterpart holds.
func onlyStartLatencyMissed(r *result.Result) bool {
	missed := 0
	for _, t := range r.Targets {
		if t.Pass {
			continue
		}
		missed++
		head, _, _ := strings.Cut(t.Name, ".")
		q, ok := strings.CutPrefix(head, "latency_")
		if !ok {
			return false
		}
		svc, err := result.ParseTarget(result.TargetSpec{Name: "service_" + q + strings.TrimPrefix(t.Name, head), Expr: t.Expr})
		if err != nil {
			return false
		}
		if ev := result.Evaluate(r, []result.Target{svc}); len(ev) != 1 || !ev[0].Pass {
			return false
		}
	}
	return missed > 0
}

// Thresholds of Diagnose.
const (
	redisCPUBusy  = 0.8  // Redis's command thread: cores over the recorded seconds
	poolWaitShare = 0.05 // pool waits per request above which the pool queues
	// clientGapGrowth: the client's service p99 less Redis's own p99 grew
	// by at least this factor from the passing step to the failing one.
	clientGapGrowth = 2.0
)

// Diagnose names the likely limiting resource of a failing step from its
// figures (and, when there is one, those of the highest passing step), in
// order: the load generator itself (typed reasons only), Redis's CPU, the
// pool, memory, the network, the client side. Redis's CPU comes before the
// pool: when Redis's command thread is full, commands wait in it, their
// connections stay busy, and pool waits are the symptom, not the cause. It
// never blames Redis for what the tool did.
func Diagnose(fail, pass *result.Result) (limit, evidence string) {
	if fail == nil {
		return result.LimitUndecided, ""
	}
	u := fail.Users
	if reasons, why := ToolReasons(fail); len(reasons) > 0 {
		return result.LimitTool, why
	}
	rec := fail.RecordedSeconds()
	var poolWhy []string
	if pt := fail.Pool.Timeouts + fail.Errors["pool_timeout"]; pt > 0 {
		poolWhy = append(poolWhy, fmt.Sprintf("%d pool timeouts", max(fail.Pool.Timeouts, fail.Errors["pool_timeout"])))
	}
	if req := u.Requests; req > 0 && float64(fail.Pool.WaitCount) > poolWaitShare*float64(req) {
		poolWhy = append(poolWhy, fmt.Sprintf("%d waits for a pooled connection for %d requests (%.0f ms waited in all)",
			fail.Pool.WaitCount, req, fail.Pool.WaitMs))
	}
	if rec > 0 {
		if cores := fail.Server.CPUSeconds / rec; cores >= redisCPUBusy {
			ev := fmt.Sprintf("Redis used %.2f CPU cores over the recorded %.0f s (its command thread is one core)", cores, rec)
			if len(poolWhy) > 0 {
				ev += "; the pool's " + strings.Join(poolWhy, ", ") + " follow from it: connections stay busy while Redis queues their commands"
			}
			return result.LimitRedisCPU, ev
		}
	}
	if len(poolWhy) > 0 {
		return result.LimitPool, strings.Join(poolWhy, "; ")
	}
	if fail.Server.EvictedKeys > 0 && pass != nil && fail.Cache.HitRate < pass.Cache.HitRate {
		return result.LimitMemory, fmt.Sprintf("%d keys evicted; hit rate %.1f%% against %.1f%% at the passing load (maxmemory %d bytes)",
			fail.Server.EvictedKeys, 100*fail.Cache.HitRate, 100*pass.Cache.HitRate, fail.Server.MaxMemory)
	}
	for _, f := range fail.Faults {
		if t, _ := chaos.TraitsOf(f.Kind); t.LimitsNetwork && f.Injected {
			return result.LimitNetwork, "a network fault was active on the link to Redis"
		}
	}
	if ev, ok := clientSide(fail, pass); ok {
		return result.LimitClient, ev
	}
	return result.LimitUndecided, fmt.Sprintf("no resource stood out: pool waits %d, Redis CPU %.2f cores, evictions %d",
		fail.Pool.WaitCount, fail.Server.CPUSeconds/math.Max(rec, 1), fail.Server.EvictedKeys)
}

// clientSide says whether the time went between Redis and the caller: a
// latency target failed, and the gap between the client's service p99 and
// Redis's own p99 (INFO latencystats, in ms like every latency of the
// result) grew by clientGapGrowth or more from the passing step, and by
// more than Redis's own p99 grew. The gap alone says nothing: Redis's
// figure is its time inside the server (microseconds), the client's
// includes the round trip, so it is always many times larger.
func clientSide(fail, pass *result.Result) (string, bool) {
	if pass == nil || !latencyMissed(fail) {
		return "", false
	}
	gf, sf, ok1 := clientGap(fail)
	gp, sp, ok2 := clientGap(pass)
	if !ok1 || !ok2 || gf < clientGapGrowth*gp || gf-gp <= sf-sp {
		return "", false
	}
	return fmt.Sprintf("the client's service p99 less Redis's own p99 grew from %.3f ms at the passing load to %.3f ms, while Redis's own p99 went from %.3f to %.3f ms: the time went between them "+
		"(the network, or the client host's CPU: the tool used %.2f cores, its GC pause p99 %.1f ms)",
		gp, gf, sp, sf, fail.Client.CPUSeconds/math.Max(fail.Client.WindowS, 1), fail.Client.GCPauseP99Ms), true
}

// clientGap is a run's client service p99 less Redis's own p99 (GET's, or
// the highest of its commands' when it has no GET), and Redis's p99.
func clientGap(r *result.Result) (gap, server float64, ok bool) {
	if get, found := r.Server.LatencyStats["get"]; found && get.P99 > 0 {
		server = get.P99
	} else {
		for _, l := range r.Server.LatencyStats {
			server = math.Max(server, l.P99)
		}
	}
	svc := r.Latency.Service.P99
	if server <= 0 || svc <= 0 {
		return 0, 0, false
	}
	return svc - server, server, true
}

// latencyMissed: a latency target (from intended start or service time)
// failed.
func latencyMissed(r *result.Result) bool {
	for _, t := range r.Targets {
		head, _, _ := strings.Cut(t.Name, ".")
		if !t.Pass && (strings.HasPrefix(head, "latency_") || strings.HasPrefix(head, "service_")) {
			return true
		}
	}
	return false
}

// anyLoadImproved is the share of a target's excess over its bound that
// must be gone at the easiest failing load, against the hardest, for the
// failure to count as the load's doing.
const anyLoadImproved = 0.5

// anyLoadFinding is a target that failed at every load tried and did not
// get better as the load eased.
type anyLoadFinding struct {
	name, expr string
	easiest    float64
	evidence   string
}

// first is the broken targets with the finding's first.
func (f *anyLoadFinding) first(targets []result.TargetResult) (*result.BrokenTarget, []result.BrokenTarget) {
	first, others := brokenTargets(targets)
	if first == nil || first.Name == f.name {
		return first, others
	}
	all := append([]result.BrokenTarget{*first}, others...)
	for i, b := range all {
		if b.Name == f.name {
			rest := append(slices.Clone(all[:i]), all[i+1:]...)
			return &b, rest
		}
	}
	return first, others
}

// findAnyLoad recognises a failure that does not change with load: no load
// passed, at least three loads failed (the first failure and two steps
// easier), and some target failed at every one of them with at least half
// of its excess over the bound still there at the easiest load (a p99 flat
// at twice its bound, a hit rate falling as the load falls). Such a search
// would otherwise walk down to its minimum; its answer is "fails at any
// load: <target>, not a capacity limit".
func (s *searcher) findAnyLoad() *anyLoadFinding {
	var failing []*atLoad
	for _, a := range s.at {
		switch s.verdict(a) {
		case result.VerdictPass:
			return nil
		case result.VerdictFail:
			failing = append(failing, a)
		}
	}
	if len(failing) < 3 {
		return nil
	}
	slices.SortFunc(failing, func(x, y *atLoad) int {
		return int(math.Copysign(1, s.hardness(y.load)-s.hardness(x.load)))
	})
	hardest, easiest := failing[0], failing[len(failing)-1]
	_, hardRes := s.rep(hardest)
	_, easyRes := s.rep(easiest)
	for _, t := range easyRes.Targets {
		if t.Pass {
			continue
		}
		ex := excess(t)
		hard, ok := targetIn(hardRes, t.Name)
		if !ok || hard.Pass || math.IsNaN(ex) {
			continue
		}
		exHard := excess(hard)
		if math.IsNaN(exHard) || exHard <= 0 || ex < anyLoadImproved*exHard {
			continue
		}
		var seen []string
		every := true
		busy, cpus, loadLo, loadHi := true, 0, math.Inf(1), 0.0
		for i := len(failing) - 1; i >= 0; i-- {
			_, r := s.rep(failing[i])
			tr, ok := targetIn(r, t.Name)
			if !ok || tr.Pass {
				every = false
				break
			}
			seen = append(seen, tr.ObservedText+" at "+loadText(s.p, failing[i].load))
			h := r.Client.HostLoad1m
			busy = busy && r.Client.NumCPU > 0 && h > float64(r.Client.NumCPU)
			cpus, loadLo, loadHi = r.Client.NumCPU, math.Min(loadLo, h), math.Max(loadHi, h)
		}
		if !every {
			continue
		}
		what := "load"
		if s.p.Knob {
			what = s.p.Vary
		}
		eased := math.Max(hardest.load/easiest.load, easiest.load/hardest.load)
		ev := fmt.Sprintf("%s %s failed at every %s tried (%s) and did not get better as the %s eased %.3gx: the cause is not the %s",
			t.Name, t.Expr, what, strings.Join(seen, ", "), what, eased, what)
		if busy {
			// The host's own load is one such cause: say so beside it.
			ev += fmt.Sprintf("; this host's load average was %.1f to %.1f on %d CPUs at those steps: other processes competed for the CPU, so the machine may be the cause", loadLo, loadHi, cpus)
		}
		return &anyLoadFinding{name: t.Name, expr: t.Expr, easiest: easiest.load, evidence: ev}
	}
	return nil
}

// targetIn is the target named name of a run.
func targetIn(r *result.Result, name string) (result.TargetResult, bool) {
	if r == nil {
		return result.TargetResult{}, false
	}
	for _, t := range r.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return result.TargetResult{}, false
}

// excess is how far a target's observation lies beyond its bound, in the
// bad direction (NaN when it has no bound to measure against).
func excess(t result.TargetResult) float64 {
	pt, err := result.ParseTarget(result.TargetSpec{Name: t.Name, Expr: t.Expr})
	if err != nil || t.Detail != "" && t.ObservedText == "" {
		return math.NaN()
	}
	bound, ok := pt.Bound()
	if !ok {
		return math.NaN()
	}
	switch pt.Expr.Op {
	case "<", "<=":
		return t.Observed - bound
	case ">", ">=":
		return bound - t.Observed
	case "==":
		return math.Abs(t.Observed - bound)
	}
	return math.NaN()
}
