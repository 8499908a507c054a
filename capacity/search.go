// Package capacity finds how much load a cache layer holds before a target
// breaks: it runs a scenario's workload at increasing open-loop load, each
// step a whole harness run (its own Redis, its own prefill, its own
// verdict), then bisects between the highest passing and the lowest failing
// step. It adds no measuring path: every figure is a step's result.Result.
//
// Each step is prefilled on its own rather than carrying the cache over:
// what the cache holds at steady state (how many sessions are live, which
// keys survived eviction) depends on the load, so a step that inherited the
// previous step's cache would start from another load's steady state.
//
// Search takes the step runner as a function, so its ramp, bisection and
// verdict logic can be tested without Redis; HarnessRunner is the real one.
package capacity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// StepRunner runs the scenario at one load and returns its result. An
// error stops the search (Redis could not start, the run was interrupted).
type StepRunner func(ctx context.Context, load float64) (*result.Result, error)

// Plan is a resolved search: every default filled.
type Plan struct {
	Vary   string  // "users" or "rate"
	Unit   string  // unit of every load ("users", "commands/user/min")
	Design float64 // the scenario's own load
	From   float64
	To     float64
	Growth float64
	// Precision is the bisection's end: the gap between passing and failing
	// load, relative to the passing load when Relative, else absolute.
	Precision     float64
	Relative      bool
	PrecisionText string
	MaxLoad       float64 // 0: none
	MaxSteps      int
	// Whole: loads are whole numbers (users).
	Whole bool
	// Min is the lowest load worth trying when even From fails.
	Min float64
	// Knob: the steps vary a setting (max_conns) at the scenario's load,
	// and more of it holds more: the search finds the least that holds.
	Knob bool
	// Users and PerUserPerMinute are the scenario's workload; the varied
	// one is replaced by each step's load.
	Users            int
	PerUserPerMinute float64
}

// offered is a step's users, commands per user per minute and the
// commands per second its schedule asks for.
func (p Plan) offered(load float64) (users int, cpm, perSec float64) {
	users, cpm = p.Users, p.PerUserPerMinute
	switch p.Vary {
	case "users":
		users = int(math.Round(load))
	case "rate":
		cpm = load
	}
	return users, cpm, float64(users) * cpm / 60
}

// Defaults of a plan.
const (
	DefaultGrowth    = 2.0
	DefaultPrecision = "10%"
	DefaultMaxSteps  = 12
)

// Check reports a plan that cannot be searched.
func (p Plan) Check() error {
	switch {
	case !(p.From > 0):
		return fmt.Errorf("from must be positive, got %v", p.From)
	case !(p.To > p.From):
		return fmt.Errorf("to (%v) must be above from (%v)", p.To, p.From)
	case !(p.Growth > 1):
		return fmt.Errorf("growth must be above 1, got %v", p.Growth)
	case !(p.Precision > 0):
		return fmt.Errorf("precision must be positive")
	case p.MaxSteps < 2:
		return fmt.Errorf("max steps must be at least 2, got %d", p.MaxSteps)
	case p.MaxLoad > 0 && p.From > p.MaxLoad:
		return fmt.Errorf("from (%v) is beyond the maximum load (%v)", p.From, p.MaxLoad)
	}
	return nil
}

func (p Plan) round(v float64) float64 {
	if p.Whole {
		return math.Round(v)
	}
	return math.Round(v*1000) / 1000
}

// top is the highest load the search may try.
func (p Plan) top() float64 {
	if p.MaxLoad > 0 && p.MaxLoad < p.To {
		return p.MaxLoad
	}
	return p.To
}

// ramp is the upward sequence of loads: From, From×Growth, ..., up to the
// top, with the design point inserted when it lies between, so the
// design point's verdict is measured, not inferred.
func (p Plan) ramp() []float64 {
	var out []float64
	top := p.top()
	for v := p.From; ; v *= p.Growth {
		r := p.round(math.Min(v, top))
		if len(out) == 0 || r > out[len(out)-1] {
			out = append(out, r)
		}
		if v >= top {
			break
		}
	}
	if d := p.round(p.Design); d > p.From && d < top && !slices.Contains(out, d) {
		out = append(out, d)
		slices.Sort(out)
	}
	return out
}

// closeEnough reports whether the bisection is done.
func (p Plan) closeEnough(pass, fail float64) bool {
	gap := math.Abs(fail - pass)
	if p.Whole && gap <= 1 {
		return true
	}
	if p.Relative {
		return gap <= p.Precision*pass
	}
	return gap <= p.Precision
}

// OnStep is called after every step, before the step is kept: it may set
// the step's Report folder (the command writes the step's reports there).
type OnStep func(st *result.CapacityStep, res *result.Result)

// ErrInterrupted wraps the error of a search whose context was canceled;
// the steps run so far are still in the returned Capacity.
var ErrInterrupted = errors.New("capacity search interrupted")

// Search runs the plan: a ramp up from From (down from it, by Growth, when
// From already fails) until a step fails, then bisection between the highest
// passing and the lowest failing load to the precision. A step whose failure
// the load generator caused (client.bottleneck) ends the search: the answer
// is then "at least" the highest passing load, never a knee. The returned
// Capacity has the steps and the answer; its header (tool, scenario, times,
// exit code) is the caller's. On an error it still holds the steps run.
func Search(ctx context.Context, p Plan, run StepRunner, onStep OnStep) (*result.Capacity, error) {
	c := &result.Capacity{
		SchemaVersion: result.SchemaVersion,
		Kind:          result.KindCapacity,
		Vary:          p.Vary,
		Knob:          p.Knob,
		Unit:          p.Unit,
		DesignPoint:   p.Design,
		Search: result.CapacitySearch{From: p.From, To: p.To, Growth: p.Growth, Precision: p.PrecisionText,
			MaxLoad: p.MaxLoad, MaxSteps: p.MaxSteps},
	}
	if err := p.Check(); err != nil {
		return c, err
	}
	results := map[float64]*result.Result{}
	step := func(stage string, load float64) (*result.CapacityStep, error) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInterrupted, err)
		}
		res, err := run(ctx, load)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %v", ErrInterrupted, err)
			}
			return nil, fmt.Errorf("step %d (%s %v): %w", len(c.Steps)+1, p.Unit, load, err)
		}
		if res.Interrupted {
			return nil, fmt.Errorf("%w at step %d", ErrInterrupted, len(c.Steps)+1)
		}
		st := Summarize(res)
		st.ToolLimited, _ = ToolLimited(res)
		st.N, st.Stage, st.Load = len(c.Steps)+1, stage, load
		_, st.CommandsPerUserPerMinute, st.OfferedCommandsPerSec = p.offered(load)
		if st.Users == 0 {
			st.Users, _, _ = p.offered(load)
		}
		if onStep != nil {
			onStep(&st, res)
		}
		c.Steps = append(c.Steps, st)
		results[load] = res
		return &c.Steps[len(c.Steps)-1], nil
	}
	budget := func() bool { return len(c.Steps) < p.MaxSteps }
	pass, fail, toolLimited, err := sweep(p, step, budget)
	if p.Knob {
		return finishKnob(c, p, pass, fail, toolLimited, results), err
	}
	return finish(c, p, pass, fail, toolLimited, results), err
}

// sweep is the one walk of a load search and a knob sweep alike: a ramp up
// from From until a step ends it, a walk down by Growth from a first step
// that already ends it, then bisection between the passing and the failing
// step to the precision. A load search climbs while steps pass and stops at
// a failure; a knob sweep (more of the setting holds more) climbs while
// steps fail and stops at a pass. A tool-limited step ends the walk. On a
// step's error, pass and fail are those of the steps run so far.
func sweep(p Plan, step func(string, float64) (*result.CapacityStep, error), budget func() bool) (pass, fail *result.CapacityStep, toolLimited bool, err error) {
	// low is the side the ramp climbs through, high the side that ends it.
	low, high := &pass, &fail
	if p.Knob {
		low, high = &fail, &pass
	}
	try := func(stage string, load float64) error {
		st, err := step(stage, load)
		if err != nil {
			return err
		}
		if st.Pass {
			pass = st
		} else {
			fail, toolLimited = st, st.ToolLimited
		}
		return nil
	}
	// Ramp up.
	for _, load := range p.ramp() {
		if !budget() {
			break
		}
		if err := try("ramp", load); err != nil {
			return pass, fail, toolLimited, err
		}
		if *high != nil || toolLimited {
			break
		}
	}
	// Down from a first step that already ends the ramp.
	for *low == nil && *high != nil && !toolLimited && budget() {
		load := p.round((*high).Load / p.Growth)
		if load < p.Min || load >= (*high).Load {
			break
		}
		if err := try("down", load); err != nil {
			return pass, fail, toolLimited, err
		}
	}
	// Bisect.
	for pass != nil && fail != nil && !toolLimited && budget() && !p.closeEnough(pass.Load, fail.Load) {
		mid := p.round((pass.Load + fail.Load) / 2)
		if mid <= (*low).Load || mid >= (*high).Load {
			break
		}
		if err := try("bisect", mid); err != nil {
			return pass, fail, toolLimited, err
		}
	}
	return pass, fail, toolLimited, nil
}

// finish writes the answer from the highest passing and lowest failing steps.
func finish(c *result.Capacity, p Plan, pass, fail *result.CapacityStep, toolLimited bool, results map[float64]*result.Result) *result.Capacity {
	a := &c.Answer
	if pass != nil {
		a.MaxLoad, a.MaxUsers, a.MaxOpsPerSec = pass.Load, pass.Users, pass.OpsPerSec
	}
	if p.Design > 0 {
		a.Headroom = math.Round(a.MaxLoad/p.Design*100) / 100
	}
	a.DesignHolds = pass != nil && a.MaxLoad >= p.round(p.Design)
	switch {
	case fail == nil:
		a.AtLeast = true
		a.Limit = result.LimitNone
		if pass != nil {
			a.Evidence = fmt.Sprintf("every target held at every step, up to %s", loadText(p, pass.Load))
		}
	case toolLimited:
		a.AtLeast = true
		a.FailLoad = fail.Load
		a.Limit = result.LimitTool
		_, why := ToolLimited(results[fail.Load])
		a.Evidence = "the load generator or its machine was the bottleneck at " + loadText(p, fail.Load) + ": " + why
	default:
		a.FailLoad = fail.Load
		var prev *result.Result
		if pass != nil {
			prev = results[pass.Load]
		}
		a.Limit, a.Evidence = Diagnose(results[fail.Load], prev)
		if a.Limit == result.LimitTool {
			a.AtLeast = true
		}
	}
	if fail != nil {
		a.Broke, a.AlsoBroke = brokenTargets(fail.Targets)
	}
	a.Headline = headline(p, c)
	c.Verdict = result.VerdictFail
	if a.DesignHolds {
		c.Verdict = result.VerdictPass
	}
	return c
}

func loadText(p Plan, v float64) string {
	s := trimFloat(v)
	if p.Whole {
		s = groupThousands(int64(math.Round(v)))
	}
	return s + " " + p.Unit
}

func trimFloat(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func groupThousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupThousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// headline is the answer in one sentence: "holds to 1.42x the 10,000 users
// design point (14,200 users, 9,870 ops/s); latency_p99 broke first at
// 15,000 users (7.1 ms against < 5ms, 1.42x the bound); limit: pool".
func headline(p Plan, c *result.Capacity) string {
	a := c.Answer
	design := loadText(p, p.Design)
	var b strings.Builder
	switch {
	case a.MaxLoad == 0 && a.AtLeast:
		fmt.Fprintf(&b, "no load could be shown to hold: %s", a.Evidence)
		return b.String()
	case a.MaxLoad == 0:
		fmt.Fprintf(&b, "no load held: a target broke already at %s (the %s design point does not hold)", loadText(p, a.FailLoad), design)
	case a.AtLeast && a.Limit == result.LimitTool:
		fmt.Fprintf(&b, "holds to at least %s (%.0f ops/s, %.2fx the %s design point); the tool could not push further, so this is not a knee",
			loadText(p, a.MaxLoad), a.MaxOpsPerSec, a.Headroom, design)
	case a.AtLeast:
		fmt.Fprintf(&b, "holds to at least %s (%.0f ops/s, %.2fx the %s design point): no target broke up to the search's end",
			loadText(p, a.MaxLoad), a.MaxOpsPerSec, a.Headroom, design)
	default:
		fmt.Fprintf(&b, "holds to %.2fx the %s design point (%s, %.0f ops/s)", a.Headroom, design, loadText(p, a.MaxLoad), a.MaxOpsPerSec)
	}
	if a.Broke != nil {
		fmt.Fprintf(&b, "; %s broke first at %s (%s against %s, %s)", a.Broke.Name, loadText(p, a.FailLoad), a.Broke.ObservedText, a.Broke.Expr, a.Broke.By)
	}
	if a.Limit != "" && a.Limit != result.LimitNone && !(a.AtLeast && a.Limit == result.LimitTool) {
		fmt.Fprintf(&b, "; likely limit: %s", a.Limit)
	}
	if !a.DesignHolds && a.MaxLoad > 0 {
		b.WriteString("; the design point does not hold")
	}
	return b.String()
}

// broken describes how far a failed target went past its bound.
// brokenTargets are the failed targets of a step: the first, and the others.
func brokenTargets(targets []result.TargetResult) (first *result.BrokenTarget, others []result.BrokenTarget) {
	for _, t := range targets {
		if t.Pass {
			continue
		}
		b := broken(t)
		if first == nil {
			first = &b
		} else {
			others = append(others, b)
		}
	}
	return first, others
}

func broken(t result.TargetResult) result.BrokenTarget {
	b := result.BrokenTarget{Name: t.Name, Expr: t.Expr, Observed: t.Observed, ObservedText: t.ObservedText, Unit: t.Unit}
	pt, err := result.ParseTarget(result.TargetSpec{Name: t.Name, Expr: t.Expr})
	bound, ok := pt.Bound()
	switch {
	case err != nil || !ok:
		b.By = t.Detail
	case t.Detail != "" && t.ObservedText == "":
		b.Bound, b.By = bound, t.Detail
	case t.Unit == result.UnitFraction:
		b.Bound = bound
		b.By = fmt.Sprintf("%.1f points %s", math.Abs(t.Observed-bound)*100, map[bool]string{true: "short", false: "over"}[t.Observed < bound])
	case bound == 0:
		b.Bound, b.By = 0, fmt.Sprintf("%s against 0", trimFloat(t.Observed))
	default:
		b.Bound = bound
		b.By = fmt.Sprintf("%.2fx the bound", t.Observed/bound)
	}
	if b.By == "" {
		b.By = "failed"
	}
	return b
}

// Summarize is a step's figures from its run's result.
func Summarize(r *result.Result) result.CapacityStep {
	rec := r.RecordedSeconds()
	st := result.CapacityStep{
		Users:              r.Users.Active,
		OpsPerSec:          math.Round(r.OpsPerSec()*10) / 10,
		LatencyMs:          r.Latency.Overall,
		HitRate:            r.Cache.HitRate,
		PoolWaitMs:         r.Pool.WaitMs,
		PoolWaitCount:      r.Pool.WaitCount,
		PoolTimeouts:       r.Pool.Timeouts,
		Errors:             cacheErrors(r),
		EvictedKeys:        r.Server.EvictedKeys,
		Late:               r.Users.Late,
		LateWaitingForSlot: r.Users.LateWaitingForSlot,
		Dropped:            r.Users.Dropped,
		Verdict:            r.Verdict,
		Pass:               r.Verdict == result.VerdictPass,
		Bottleneck:         r.Client.Bottleneck,
		NumCPU:             r.Client.NumCPU,
		Targets:            r.Targets,
	}
	if rec > 0 {
		st.ServerCPUCores = math.Round(r.Server.CPUSeconds/rec*1000) / 1000
	}
	if r.Client.WindowS > 0 {
		st.ClientCPUCores = math.Round(r.Client.CPUSeconds/r.Client.WindowS*1000) / 1000
	}
	st.LatencyMs.Count = r.Latency.Overall.Count
	return st
}

// ToolLimited reports whether the load generator, not the system under
// test, made a step fail, and why. The harness's client.bottleneck has two
// kinds of reason. The tool's (or the machine's) CPU saturated, or commands
// were dropped while in-flight slots were free: the tool could not apply the
// load, so the step says nothing about the cache. Commands started over
// 1 ms late with slots free (on this 2-core VM a Go timer oversleeps by
// over 1 ms about one sleep in six at low rates): a late start adds its
// slip to the latency from intended start, never to service time (from the
// actual send, pool wait included) nor to pool timeouts or the hit rate; so
// such a step is tool-limited only when every target it missed is an
// intended-start latency whose service-time counterpart held.
func ToolLimited(r *result.Result) (bool, string) {
	if r == nil || r.Verdict == result.VerdictPass {
		return false, ""
	}
	b, u := r.Client.Bottleneck, r.Users
	if strings.Contains(b, "CPU") {
		return true, b
	}
	if tool := u.Late - min(u.LateWaitingForSlot, u.Late); u.Dropped > 0 && tool > u.LateWaitingForSlot {
		return true, fmt.Sprintf("%d commands dropped while most late starts (%d of %d) had in-flight slots free: the tool could not keep its schedule",
			u.Dropped, tool, u.Late)
	}
	if b == "" {
		return false, ""
	}
	for _, t := range r.Targets {
		if t.Pass {
			continue
		}
		head, _, _ := strings.Cut(t.Name, ".")
		q, ok := strings.CutPrefix(head, "latency_")
		if !ok {
			return false, ""
		}
		svc, err := result.ParseTarget(result.TargetSpec{Name: "service_" + q, Expr: t.Expr})
		if err != nil {
			return false, ""
		}
		if ev := result.Evaluate(r, []result.Target{svc}); len(ev) != 1 || !ev[0].Pass {
			return false, ""
		}
	}
	return true, b + "; service time (from the actual send) held the latency targets, so the late starts explain the miss"
}

// Thresholds of Diagnose.
const (
	redisCPUBusy  = 0.8  // Redis's command thread: cores over the recorded seconds
	poolWaitShare = 0.05 // pool waits per request above which the pool queues
)

// Diagnose names the likely limiting resource of a failing step from its
// figures (and, when there is one, those of the highest passing step), in
// order: the load generator itself, the pool, Redis's CPU, memory, the
// network. It never blames Redis for what the tool did.
func Diagnose(fail, pass *result.Result) (limit, evidence string) {
	if fail == nil {
		return result.LimitUndecided, ""
	}
	u := fail.Users
	if tool, why := ToolLimited(fail); tool {
		return result.LimitTool, why
	}
	var why []string
	rec := fail.RecordedSeconds()
	if pt := fail.Pool.Timeouts + fail.Errors["pool_timeout"]; pt > 0 {
		why = append(why, fmt.Sprintf("%d pool timeouts", max(fail.Pool.Timeouts, fail.Errors["pool_timeout"])))
	}
	if req := u.Requests; req > 0 && float64(fail.Pool.WaitCount) > poolWaitShare*float64(req) {
		why = append(why, fmt.Sprintf("%d waits for a pooled connection for %d requests (%.0f ms waited in all)",
			fail.Pool.WaitCount, req, fail.Pool.WaitMs))
	}
	if len(why) > 0 {
		return result.LimitPool, strings.Join(why, "; ")
	}
	if rec > 0 {
		if cores := fail.Server.CPUSeconds / rec; cores >= redisCPUBusy {
			return result.LimitRedisCPU, fmt.Sprintf("Redis used %.2f CPU cores over the recorded %.0f s (its command thread is one core)", cores, rec)
		}
	}
	if fail.Server.EvictedKeys > 0 && pass != nil && fail.Cache.HitRate < pass.Cache.HitRate {
		return result.LimitMemory, fmt.Sprintf("%d keys evicted; hit rate %.1f%% against %.1f%% at the passing load (maxmemory %d bytes)",
			fail.Server.EvictedKeys, 100*fail.Cache.HitRate, 100*pass.Cache.HitRate, fail.Server.MaxMemory)
	}
	for _, f := range fail.Faults {
		if f.Kind == "network" && f.Injected {
			return result.LimitNetwork, "a network fault was active on the link to Redis"
		}
	}
	if get, ok := fail.Server.LatencyStats["get"]; ok && get.P99 > 0 && fail.Latency.Service.P99 > 5*get.P99 {
		return result.LimitClient, fmt.Sprintf("Redis's own GET p99 was %.3f ms while the client's service p99 was %.3f ms: the time went between them "+
			"(the network, or the client host's CPU: the tool used %.2f cores, its GC pause p99 %.1f ms)",
			get.P99, fail.Latency.Service.P99, fail.Client.CPUSeconds/math.Max(fail.Client.WindowS, 1), fail.Client.GCPauseP99Ms)
	}
	return result.LimitUndecided, fmt.Sprintf("no resource stood out: pool waits %d, Redis CPU %.2f cores, evictions %d",
		fail.Pool.WaitCount, fail.Server.CPUSeconds/math.Max(rec, 1), fail.Server.EvictedKeys)
}

// originErrors is the error kind of a failed origin fetch (pool's
// KindFetch): the simulated upstream's configured error rate, not the
// cache's doing, so a step's errors leave it out.
const originErrors = "fetch"

// cacheErrors is a step's errors but the origin's.
func cacheErrors(r *result.Result) uint64 {
	return r.TotalErrors() - r.Errors[originErrors]
}
