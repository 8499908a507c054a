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
	// Quantum, when positive, is the step between loads: every load is a
	// multiple of it (maxmemory: 64kb, so sizes read as Redis writes them),
	// and a bracket one quantum wide is done.
	Quantum float64
	// Knob: the steps vary a setting (max_conns) at the scenario's load,
	// and more of it holds more: the search finds the least that holds.
	Knob bool
	// Users and PerUserPerMinute are the scenario's workload; the varied
	// one is replaced by each step's load.
	Users            int
	PerUserPerMinute float64
	// Confirm is the most runs at one load: a boundary load is re-run
	// until two runs agree, an inconclusive step until it is decided, up to
	// this many runs (1: no re-runs; 0: DefaultConfirm). MaxReruns bounds
	// the re-runs of the whole search (0: 2×(Confirm−1), which keeps the
	// built-in search within 1.6× its unconfirmed time).
	Confirm   int
	MaxReruns int
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
	DefaultConfirm   = 3
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
	case p.Confirm < 0:
		return fmt.Errorf("confirm must be at least 1, got %d", p.Confirm)
	case p.Design > 0 && p.top() < p.round(p.Design):
		return fmt.Errorf("the search's top (%v %s) is below the design point (%v %s), which would then never be measured: raise to (or max_load) to at least %v",
			p.top(), p.Unit, p.Design, p.Unit, p.round(p.Design))
	}
	return nil
}

func (p Plan) round(v float64) float64 {
	if p.Quantum > 0 {
		return math.Max(p.Quantum, math.Round(v/p.Quantum)*p.Quantum)
	}
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
// top, with the design point inserted (before From when it lies below),
// so the design point's verdict is measured, not inferred. Check refuses a
// top below the design point.
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
	if d := p.round(p.Design); d > 0 && d < top && !slices.Contains(out, d) {
		out = append(out, d)
		slices.Sort(out)
	}
	return out
}

// closeEnough reports whether the bisection is done.
func (p Plan) closeEnough(pass, fail float64) bool {
	gap := math.Abs(fail - pass)
	if p.Whole && gap <= max(1, p.Quantum) {
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
// passing and the lowest failing load to the precision. A step whose
// verdict is inconclusive is re-run (up to Confirm runs at that load) and
// decided by the majority of its runs. The design point is always a step
// (a ramp step, a bisection's midpoint when it falls in the bracket, or a
// step of its own at the end), never inferred from other loads. Then the
// boundary, the highest passing and the lowest failing load, is confirmed:
// each re-run until a majority of at least two runs agree, at most Confirm
// runs, at most MaxReruns re-runs in all, so the answer is an interval
// whose ends are each decided by repeated runs.
//
// A step whose failure the load generator caused (ToolReasons) ends the
// search: the answer is then "at least" the highest passing load, never a
// knee. A target that fails at the first step and two steps down without
// getting better as the load falls ends it too: "fails at any load", not a
// capacity limit. The returned Capacity has the steps and the answer; its
// header (tool, scenario, times, exit code) is the caller's. On an error it
// still holds the steps run, and the design point is not_measured unless a
// step ran there.
func Search(ctx context.Context, p Plan, run StepRunner, onStep OnStep) (*result.Capacity, error) {
	if p.Confirm <= 0 {
		p.Confirm = DefaultConfirm
	}
	if p.MaxReruns <= 0 {
		p.MaxReruns = 2 * (p.Confirm - 1)
	}
	c := &result.Capacity{
		SchemaVersion: result.SchemaVersion,
		Kind:          result.KindCapacity,
		Vary:          p.Vary,
		Knob:          p.Knob,
		Unit:          p.Unit,
		DesignPoint:   p.Design,
		Search: result.CapacitySearch{From: p.From, To: p.To, Growth: p.Growth, Precision: p.PrecisionText,
			MaxLoad: p.MaxLoad, MaxSteps: p.MaxSteps, Confirm: p.Confirm, MaxReruns: p.MaxReruns},
	}
	s := &searcher{ctx: ctx, p: p, run: run, onStep: onStep, c: c, at: map[float64]*atLoad{}}
	if err := p.Check(); err != nil {
		s.finish()
		return c, err
	}
	// Walk, measure the design point, confirm the boundary; a
	// confirmation that flips a load moves the boundary, and the walk goes
	// on from there while it has steps left.
	var err error
	for {
		var walked, confirmed int
		if walked, err = s.walk(); err != nil {
			break
		}
		if err = s.measureDesign(); err != nil {
			break
		}
		if confirmed, err = s.confirm(); err != nil || walked+confirmed == 0 {
			break
		}
	}
	s.finish()
	return c, err
}

// searcher is one search's state: every step run, grouped by load.
type searcher struct {
	ctx    context.Context
	p      Plan
	run    StepRunner
	onStep OnStep
	c      *result.Capacity
	at     map[float64]*atLoad
	// walked counts the walk's steps (ramp, down, bisect: what MaxSteps
	// bounds); reruns the re-runs of inconclusive steps and boundaries.
	walked, reruns int
	// tool: a load was tool-limited (the walk ended there); unfinished:
	// the walk ran out of MaxSteps with more to do; anyLoad: the failure
	// that did not change with load, when one ended the walk.
	tool       bool
	unfinished bool
	// wentDown: the walk has stepped down (the step that sent it down was
	// confirmed first, once).
	wentDown bool
	anyLoad  *anyLoadFinding
}

// atLoad is every run at one load: indexes into Capacity.Steps and the
// runs' results, in run order.
type atLoad struct {
	load    float64
	steps   []int
	results []*result.Result
}

// runVerdict is one run's verdict for the search: a tool-limited run says
// nothing about the cache, so it counts as inconclusive whatever its
// targets; any verdict but pass and fail is inconclusive.
func runVerdict(st result.CapacityStep) string {
	switch {
	case st.ToolLimited:
		return result.VerdictInconclusive
	case st.Verdict == result.VerdictPass || st.Verdict == result.VerdictFail:
		return st.Verdict
	}
	return result.VerdictInconclusive
}

// runs are the verdicts of every run at a load, in run order.
func (s *searcher) runs(a *atLoad) []string {
	out := make([]string, len(a.steps))
	for i, k := range a.steps {
		out[i] = runVerdict(s.c.Steps[k])
	}
	return out
}

// verdict is a load's verdict: pass or fail when more than half of its
// runs say so, else inconclusive (one run decides alone).
func (s *searcher) verdict(a *atLoad) string {
	v, _ := majority(s.runs(a))
	return v
}

// majority is the verdict more than half of runs agree on (inconclusive
// when none), and the share of runs that agree with it.
func majority(runs []string) (string, float64) {
	n := map[string]int{}
	for _, v := range runs {
		n[v]++
	}
	for _, v := range []string{result.VerdictPass, result.VerdictFail} {
		if 2*n[v] > len(runs) {
			return v, float64(n[v]) / float64(len(runs))
		}
	}
	if len(runs) == 0 {
		return result.VerdictInconclusive, 0
	}
	return result.VerdictInconclusive, float64(n[result.VerdictInconclusive]) / float64(len(runs))
}

// confirmed: at least two runs, and a majority agree.
func (s *searcher) confirmed(a *atLoad) bool {
	return len(a.steps) >= 2 && s.verdict(a) != result.VerdictInconclusive
}

// toolLimited: the load is undecided and one of its runs was limited by
// the load generator.
func (s *searcher) toolLimited(a *atLoad) bool {
	if a == nil || s.verdict(a) != result.VerdictInconclusive {
		return false
	}
	for _, k := range a.steps {
		if s.c.Steps[k].ToolLimited {
			return true
		}
	}
	return false
}

// rep is a load's representative run: the last whose verdict is the
// load's (for a tool-limited load, its last tool-limited run), else the
// last.
func (s *searcher) rep(a *atLoad) (*result.CapacityStep, *result.Result) {
	if a == nil {
		return nil, nil
	}
	v, tool := s.verdict(a), s.toolLimited(a)
	for i := len(a.steps) - 1; i >= 0; i-- {
		st := &s.c.Steps[a.steps[i]]
		if (tool && st.ToolLimited) || (!tool && runVerdict(*st) == v) {
			return st, a.results[i]
		}
	}
	i := len(a.steps) - 1
	return &s.c.Steps[a.steps[i]], a.results[i]
}

// runOnce runs one step at load and keeps it.
func (s *searcher) runOnce(stage string, load float64) (*atLoad, error) {
	c, p := s.c, s.p
	if err := s.ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	res, err := s.run(s.ctx, load)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %v", ErrInterrupted, err)
		}
		return nil, fmt.Errorf("step %d (%s %v): %w", len(c.Steps)+1, p.Unit, load, err)
	}
	if res.Interrupted {
		return nil, fmt.Errorf("%w at step %d", ErrInterrupted, len(c.Steps)+1)
	}
	a := s.at[load]
	if a == nil {
		a = &atLoad{load: load}
		s.at[load] = a
	}
	st := Summarize(res)
	st.ToolReasons, st.ToolWhy = ToolReasons(res)
	st.ToolLimited = len(st.ToolReasons) > 0
	st.N, st.Stage, st.Load, st.Run = len(c.Steps)+1, stage, load, len(a.steps)+1
	_, st.CommandsPerUserPerMinute, st.OfferedCommandsPerSec = p.offered(load)
	if st.Users == 0 {
		st.Users, _, _ = p.offered(load)
	}
	if s.onStep != nil {
		s.onStep(&st, res)
	}
	c.Steps = append(c.Steps, st)
	a.steps = append(a.steps, len(c.Steps)-1)
	a.results = append(a.results, res)
	return a, nil
}

// decide runs a step at load and re-runs it while its verdict is
// inconclusive, up to Confirm runs and while re-runs are left.
func (s *searcher) decide(stage string, load float64) (*atLoad, error) {
	a, err := s.runOnce(stage, load)
	if err != nil {
		return nil, err
	}
	for s.verdict(a) == result.VerdictInconclusive && len(a.steps) < s.p.Confirm && s.reruns < s.p.MaxReruns {
		s.reruns++
		if _, err := s.runOnce("rerun", load); err != nil {
			return a, err
		}
	}
	return a, nil
}

// walk is the one walk of a load search and a knob sweep alike, driven by
// the boundary of every run so far (so a re-run that flips a load moves it
// on): a ramp up from From until a step ends it, a walk down by Growth from
// a first step that already ends it, then bisection between the passing
// and the failing load to the precision. A load search climbs while steps
// pass and stops at a failure; a knob sweep (more of the setting holds
// more) climbs while steps fail and stops at a pass. Before walking down,
// the step that sends it down is confirmed: a first step that failed on
// the machine's noise would otherwise send the whole search below the
// knee. A tool-limited step, or a failure that does not change with load,
// ends the walk; so does running out of MaxSteps, which leaves the search
// unfinished. It returns how many steps it ran.
func (s *searcher) walk() (int, error) {
	p := s.p
	ran := 0
	for {
		stage, load, ok := s.next()
		if !ok {
			return ran, nil
		}
		if stage == "confirm" {
			s.reruns++
			if _, err := s.runOnce(stage, load); err != nil {
				return ran, err
			}
			ran++
			continue
		}
		if s.walked >= p.MaxSteps {
			s.unfinished = true
			return ran, nil
		}
		s.walked++
		s.wentDown = s.wentDown || stage == "down"
		a, err := s.decide(stage, load)
		if err != nil {
			return ran, err
		}
		ran++
		if s.toolLimited(a) {
			s.tool = true
			return ran, nil
		}
		if stage != "bisect" {
			if s.anyLoad = s.findAnyLoad(); s.anyLoad != nil {
				return ran, nil
			}
		}
	}
}

// next is the walk's next step from the boundary of every run so far:
// the next ramp load, a step down, a bisection's midpoint, or a re-run
// that confirms the step sending the walk down; ok false when the walk is
// done.
func (s *searcher) next() (stage string, load float64, ok bool) {
	p := s.p
	if s.tool || s.anyLoad != nil {
		return "", 0, false
	}
	hp, lf := s.boundary()
	if s.toolLimited(lf) {
		return "", 0, false
	}
	// climbing: no step has yet ended the ramp (a load search's failure,
	// a knob sweep's pass); down: the first step already ended it.
	climbing, down := lf == nil, lf != nil && hp == nil
	end := lf
	if p.Knob {
		climbing, down, end = hp == nil, hp != nil && lf == nil, hp
	}
	switch {
	case climbing:
		highest := math.Inf(-1)
		for l := range s.at {
			highest = math.Max(highest, l)
		}
		for _, l := range p.ramp() {
			if l > highest {
				return "ramp", l, true
			}
		}
		return "", 0, false
	case down:
		if !s.wentDown && !s.confirmed(end) && len(end.steps) < p.Confirm && s.reruns < p.MaxReruns {
			return "confirm", end.load, true
		}
		l := p.round(end.load / p.Growth)
		if l < p.Min || l >= end.load || s.at[l] != nil {
			return "", 0, false
		}
		return "down", l, true
	}
	lo, hi := math.Min(hp.load, lf.load), math.Max(hp.load, lf.load)
	if p.closeEnough(hp.load, lf.load) {
		return "", 0, false
	}
	mid := p.round((lo + hi) / 2)
	// The design point is the midpoint when it lies inside the bracket
	// and has not run, so it is measured, not inferred.
	if d := p.round(p.Design); s.at[d] == nil && d > lo && d < hi {
		mid = d
	}
	if mid <= lo || mid >= hi || s.at[mid] != nil {
		return "", 0, false
	}
	return "bisect", mid, true
}

// measureDesign runs a step at the design point when the walk did not:
// its verdict is measured, never inferred from other loads, whatever ended
// the walk (a failure below it, a tool-limited step, a failure at any
// load, max steps). It does not count against MaxSteps.
func (s *searcher) measureDesign() error {
	d := s.p.round(s.p.Design)
	if d <= 0 || s.at[d] != nil {
		return nil
	}
	_, err := s.decide("design", d)
	return err
}

// confirm re-runs the boundary, the highest passing and the lowest failing
// load, until each is confirmed (two runs or more, a majority agreeing) or
// has Confirm runs, while re-runs are left, and returns how many it ran. A re-run that flips a load
// moves the boundary, and the new boundary is confirmed in turn. A
// tool-limited load is not re-run here: it is not a knee.
func (s *searcher) confirm() (int, error) {
	ran := 0
	for s.reruns < s.p.MaxReruns {
		hp, lf := s.boundary()
		var a *atLoad
		switch {
		case hp != nil && !s.confirmed(hp) && len(hp.steps) < s.p.Confirm:
			a = hp
		case lf != nil && !s.toolLimited(lf) && !s.confirmed(lf) && len(lf.steps) < s.p.Confirm:
			a = lf
		}
		if a == nil {
			return ran, nil
		}
		s.reruns++
		if _, err := s.runOnce("confirm", a.load); err != nil {
			return ran, err
		}
		ran++
	}
	return ran, nil
}

// hardness orders loads from the easiest to hold to the hardest: the load
// itself for a load search, less of the setting for a knob sweep.
func (s *searcher) hardness(load float64) float64 {
	if s.p.Knob {
		return -load
	}
	return load
}

// boundary is the search's bracket from every run so far: lf the easiest
// load that did not pass (fail, inconclusive or tool-limited), hp the
// hardest load easier than it that passed.
func (s *searcher) boundary() (hp, lf *atLoad) {
	for _, a := range s.at {
		if s.verdict(a) != result.VerdictPass && (lf == nil || s.hardness(a.load) < s.hardness(lf.load)) {
			lf = a
		}
	}
	for _, a := range s.at {
		if s.verdict(a) == result.VerdictPass && (lf == nil || s.hardness(a.load) < s.hardness(lf.load)) &&
			(hp == nil || s.hardness(a.load) > s.hardness(hp.load)) {
			hp = a
		}
	}
	return hp, lf
}

// passedBeyond are the loads harder than lf that passed: the verdict was
// not monotone in the load there (noise, or a step that flipped).
func (s *searcher) passedBeyond(lf *atLoad) []float64 {
	var out []float64
	if lf == nil {
		return nil
	}
	for _, a := range s.at {
		if s.verdict(a) == result.VerdictPass && s.hardness(a.load) > s.hardness(lf.load) {
			out = append(out, a.load)
		}
	}
	slices.Sort(out)
	return out
}
