package capacity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
)

// fakeStep is a step result as the harness would give it: p99 climbs with
// the load and crosses 5 ms at knee, where the pool starts timing out;
// beyond toolAt (when set) the load generator is the bottleneck instead.
func fakeStep(knee, toolAt float64) StepRunner {
	return func(_ context.Context, load float64) (*result.Result, error) {
		p99 := 5 * load / knee
		pass := load <= knee
		r := &result.Result{
			Users:   result.UsersReport{Active: int(load), Requests: uint64(load * 50), Commands: uint64(load * 10), OpsPerSec: load * 5},
			Phases:  []result.PhaseReport{{Name: "steady", Recorded: true, StartS: 0, EndS: 10}},
			Latency: result.LatencyReport{Overall: result.Summary{P50: p99 / 4, P99: p99, P999: p99 * 2}},
			Cache:   result.CacheReport{CacheCounts: result.CacheCounts{HitRate: 0.97}},
			Client:  result.ClientReport{WindowS: 10, CPUSeconds: 5},
		}
		r.Targets = []result.TargetResult{
			{Name: "latency_p99", Expr: "< 5ms", Observed: p99, ObservedText: fmt.Sprintf("%.2f ms", p99), Unit: "ms", Pass: p99 < 5},
			{Name: "hit_rate", Expr: ">= 95%", Observed: 0.97, ObservedText: "97.0%", Unit: "fraction", Pass: true},
			{Name: "pool_timeouts", Expr: "== 0", Unit: "count", ObservedText: "0", Pass: true},
		}
		if !pass {
			// Timeouts grow with the load past the knee: 12 just past it.
			r.Pool.Timeouts = uint64(12 * load / knee)
			r.Pool.WaitCount = uint64(load * 10)
			r.Targets[2] = result.TargetResult{Name: "pool_timeouts", Expr: "== 0", Observed: float64(r.Pool.Timeouts),
				ObservedText: fmt.Sprint(r.Pool.Timeouts), Unit: "count"}
		}
		if toolAt > 0 && load > toolAt {
			pass = false
			r.Client = result.ClientReport{WindowS: 10, CPUSeconds: 19.5, GOMAXPROCS: 2, NumCPU: 2,
				Bottleneck: "the tool used 1.95 of the 2 CPUs it may use"}
			r.Users.Late = uint64(load)
			r.Targets[0].Pass = false
		}
		r.Verdict = result.VerdictFail
		if pass && r.Targets[0].Pass {
			r.Verdict = result.VerdictPass
		}
		return r, nil
	}
}

func usersPlan(design, from, to float64) Plan {
	return Plan{Vary: "users", Unit: "users", Design: design, From: from, To: to, Growth: 2,
		Precision: 0.1, Relative: true, PrecisionText: "10%", MaxSteps: 20, Whole: true, Min: 1}
}

func loads(c *result.Capacity) []float64 {
	var out []float64
	for _, s := range c.Steps {
		out = append(out, s.Load)
	}
	return out
}

// The knee at 3,700 users: the ramp 1,000 -> 2,000 -> 4,000 fails at 4,000,
// bisection brings the gap within 10 % of the passing load, and the answer
// names latency_p99, by how much, the pool and the headroom.
func TestSearchFindsKnee(t *testing.T) {
	const knee = 3700
	c, err := Search(context.Background(), usersPlan(2000, 1000, 16000), fakeStep(knee, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Answer
	t.Logf("steps %v; %s", loads(c), a.Headline)
	if a.MaxLoad > knee || a.FailLoad <= knee {
		t.Fatalf("knee %d not bracketed: pass %v, fail %v", knee, a.MaxLoad, a.FailLoad)
	}
	if gap := a.FailLoad - a.MaxLoad; gap > 0.1*a.MaxLoad {
		t.Errorf("gap %v above 10%% of %v", gap, a.MaxLoad)
	}
	if a.AtLeast || a.Limit != result.LimitPool || !a.DesignHolds || c.Verdict != result.VerdictPass {
		t.Errorf("answer %+v verdict %s", a, c.Verdict)
	}
	if a.Broke == nil || a.Broke.Name != "latency_p99" || !strings.Contains(a.Broke.By, "x the bound") {
		t.Errorf("broke %+v", a.Broke)
	}
	if len(a.AlsoBroke) != 1 || a.AlsoBroke[0].Name != "pool_timeouts" || a.AlsoBroke[0].By != "12 against 0" {
		t.Errorf("also broke %+v", a.AlsoBroke)
	}
	if want := a.MaxLoad / 2000; a.Headroom < want-0.01 || a.Headroom > want+0.01 {
		t.Errorf("headroom %v, want %v", a.Headroom, want)
	}
	if a.MaxOpsPerSec != a.MaxLoad*5 || a.MaxUsers != int(a.MaxLoad) {
		t.Errorf("max figures %+v", a)
	}
	if !strings.Contains(a.Headline, "holds to") || !strings.Contains(a.Headline, "latency_p99 broke first") {
		t.Errorf("headline %q", a.Headline)
	}
	if c.Steps[0].Stage != "ramp" || c.Steps[len(c.Steps)-1].Stage != "confirm" {
		t.Errorf("stages %+v", c.Steps)
	}
	// Both ends confirmed by a second run that agreed.
	iv := a.Interval
	if iv == nil || iv.Low != a.MaxLoad || iv.High != a.FailLoad || iv.Confidence != result.ConfidenceConfirmed || iv.Agreement != 1 ||
		!slices.Equal(iv.LowRuns, []string{"pass", "pass"}) || !slices.Equal(iv.HighRuns, []string{"fail", "fail"}) {
		t.Errorf("interval %+v", iv)
	}
	if a.DesignVerdict != result.VerdictPass || a.Unfinished || a.PrecisionReached == "" {
		t.Errorf("design %s unfinished %v precision %q", a.DesignVerdict, a.Unfinished, a.PrecisionReached)
	}
}

// A step the tool could not push ends the search with "at least": no knee
// is claimed and nothing is bisected past it.
func TestSearchToolBottleneckIsNotAKnee(t *testing.T) {
	c, err := Search(context.Background(), usersPlan(2000, 1000, 16000), fakeStep(1e9, 3000), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Answer
	t.Logf("steps %v; %s", loads(c), a.Headline)
	if !a.AtLeast || a.Limit != result.LimitTool || a.MaxLoad != 2000 || a.FailLoad != 4000 {
		t.Fatalf("answer %+v", a)
	}
	// The tool-limited load is re-run (it decides nothing about the
	// cache, so it is inconclusive) and the highest passing load confirmed;
	// nothing runs past the tool-limited load.
	if !slices.Equal(loads(c), []float64{1000, 2000, 4000, 4000, 4000, 2000}) {
		t.Errorf("steps %v: nothing should run past the tool-limited step", loads(c))
	}
	if st := c.Steps[2]; !st.ToolLimited || !slices.Equal(st.ToolReasons, []string{result.ToolCPU}) {
		t.Errorf("step 3 %+v", st)
	}
	if !strings.Contains(a.Headline, "at least 2,000 users") || !strings.Contains(a.Headline, "not a knee") {
		t.Errorf("headline %q", a.Headline)
	}
	if !strings.Contains(a.Evidence, "CPUs") {
		t.Errorf("evidence %q", a.Evidence)
	}
}

// When the first step already fails the search goes down until one passes,
// then bisects; the design point then does not hold.
func TestSearchDownFromFailingStart(t *testing.T) {
	c, err := Search(context.Background(), usersPlan(2000, 1000, 16000), fakeStep(300, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Answer
	t.Logf("steps %v; %s", loads(c), a.Headline)
	if a.MaxLoad > 300 || a.FailLoad <= 300 || a.FailLoad-a.MaxLoad > 0.1*a.MaxLoad {
		t.Fatalf("answer %+v", a)
	}
	if a.DesignHolds || c.Verdict != result.VerdictFail || !strings.Contains(a.Headline, "does not hold") {
		t.Errorf("design holds %v verdict %s headline %q", a.DesignHolds, c.Verdict, a.Headline)
	}
	// The first step's failure is confirmed before the walk goes down.
	if c.Steps[1].Stage != "confirm" || c.Steps[2].Stage != "down" {
		t.Errorf("steps %v", loads(c))
	}
}

// Nothing breaks up to the end of the range (or max_load): "at least".
func TestSearchNothingBreaks(t *testing.T) {
	p := usersPlan(2000, 1000, 16000)
	p.MaxLoad = 5000
	c, err := Search(context.Background(), p, fakeStep(1e9, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := loads(c); !slices.Equal(got, []float64{1000, 2000, 4000, 5000, 5000}) {
		t.Errorf("steps %v (never beyond max load 5000; the highest confirmed)", got)
	}
	a := c.Answer
	if !a.AtLeast || a.Limit != result.LimitNone || a.MaxLoad != 5000 || !a.DesignHolds || a.Headroom != 2.5 {
		t.Errorf("answer %+v", a)
	}
}

// The design point is one of the ramp's steps when it lies inside it.
func TestRampIncludesDesignPoint(t *testing.T) {
	p := usersPlan(10000, 5000, 40000)
	p.Growth = 3
	if got := p.ramp(); !slices.Equal(got, []float64{5000, 10000, 15000, 40000}) {
		t.Errorf("ramp %v", got)
	}
	p = Plan{Design: 6, From: 3, To: 24, Growth: 2, Precision: 1}
	if got := p.ramp(); !slices.Equal(got, []float64{3, 6, 12, 24}) {
		t.Errorf("rate ramp %v", got)
	}
}

// An absolute precision stops at that gap.
func TestSearchAbsolutePrecision(t *testing.T) {
	p := usersPlan(2000, 1000, 16000)
	p.Precision, p.Relative = 50, false
	c, err := Search(context.Background(), p, fakeStep(3700, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Answer; a.FailLoad-a.MaxLoad > 50 || a.MaxLoad > 3700 || a.FailLoad <= 3700 {
		t.Errorf("steps %v answer %+v", loads(c), a)
	}
}

// A step that cannot run stops the search with the steps so far.
func TestSearchStepError(t *testing.T) {
	boom := errors.New("redis-server could not start")
	ok := fakeStep(1e9, 0)
	run := func(ctx context.Context, load float64) (*result.Result, error) {
		if load > 1000 {
			return nil, boom
		}
		return ok(ctx, load)
	}
	c, err := Search(context.Background(), usersPlan(2000, 1000, 16000), run, nil)
	if !errors.Is(err, boom) || len(c.Steps) != 1 {
		t.Fatalf("err %v, steps %d", err, len(c.Steps))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Search(ctx, usersPlan(2000, 1000, 16000), ok, nil); !errors.Is(err, ErrInterrupted) {
		t.Errorf("canceled: %v", err)
	}
}

// Diagnose reads Redis's CPU and memory from the failing step's figures.
func TestDiagnose(t *testing.T) {
	rec := []result.PhaseReport{{Recorded: true, StartS: 0, EndS: 10}}
	cpu := &result.Result{Phases: rec, Server: result.ServerReport{CPUSeconds: 9.5}}
	if l, ev := Diagnose(cpu, nil); l != result.LimitRedisCPU {
		t.Errorf("cpu: %s %s", l, ev)
	}
	pass := &result.Result{Phases: rec, Cache: result.CacheReport{CacheCounts: result.CacheCounts{HitRate: 0.97}}}
	mem := &result.Result{Phases: rec, Cache: result.CacheReport{CacheCounts: result.CacheCounts{HitRate: 0.90}}, Server: result.ServerReport{EvictedKeys: 5000}}
	if l, ev := Diagnose(mem, pass); l != result.LimitMemory {
		t.Errorf("memory: %s %s", l, ev)
	}
	drop := &result.Result{Phases: rec, Users: result.UsersReport{Late: 100, LateWaitingForSlot: 5, Dropped: 3}}
	if l, _ := Diagnose(drop, nil); l != result.LimitTool {
		t.Errorf("dropped with slots free: %s", l)
	}
	if l, _ := Diagnose(&result.Result{Phases: rec}, nil); l != result.LimitUndecided {
		t.Errorf("nothing: %s", l)
	}
}

// Late starts make a step tool-limited only when they are the tool's
// (beyond the host timer probe's share) and service time held the missed
// latency target: a late start adds to latency from intended start, not
// to service time.
func TestToolReasonsLateStarts(t *testing.T) {
	late := func(svcP99 float64) *result.Result {
		return &result.Result{
			Verdict: result.VerdictFail,
			Users:   result.UsersReport{Commands: 100, Late: 20},
			Client:  result.ClientReport{Bottleneck: "20.0% of commands started over 1 ms late with in-flight slots free (the tool could not keep its schedule)"},
			Latency: result.LatencyReport{Overall: result.Summary{Count: 500, P99: 7}, Service: result.Summary{Count: 500, P99: svcP99}},
			Targets: []result.TargetResult{{Name: "latency_p99", Expr: "< 5ms", Observed: 7, Unit: "ms"}},
		}
	}
	if r, why := ToolReasons(late(1.2)); !slices.Equal(r, []string{result.ToolLate}) || !strings.Contains(why, "service time") {
		t.Errorf("service p99 1.2 ms under the 5 ms bound: want late_beyond_host, got %v %q", r, why)
	}
	if r, _ := ToolReasons(late(6.5)); len(r) != 0 {
		t.Errorf("service p99 6.5 ms over the bound: the system under test was slow, not the tool: %v", r)
	}
	r := late(1.2)
	r.Targets = append(r.Targets, result.TargetResult{Name: "pool_timeouts", Expr: "== 0", Observed: 3, Unit: "count"})
	if got, _ := ToolReasons(r); len(got) != 0 {
		t.Errorf("pool timeouts are not explained by late starts: %v", got)
	}
	// The host timer probe saw 15 % of its own wake-ups late: 20 % late
	// starts are within what two wake-ups a start rests on explain, so they
	// are the machine's, not the tool's.
	r = late(1.2)
	r.Client.HostTimer = &result.HostTimer{Wakes: 1000, Late: 150, LateFraction: 0.15}
	if got, _ := ToolReasons(r); len(got) != 0 {
		t.Errorf("late starts within the host's share: %v", got)
	}
	r.Client.HostTimer = &result.HostTimer{Wakes: 1000, Late: 5, LateFraction: 0.005}
	if got, why := ToolReasons(r); !slices.Equal(got, []string{result.ToolLate}) || !strings.Contains(why, "0.50%") {
		t.Errorf("late starts far beyond the host's share: %v %q", got, why)
	}
	r = late(6.5)
	r.Client = result.ClientReport{WindowS: 10, CPUSeconds: 19.5, GOMAXPROCS: 2, NumCPU: 2}
	if got, why := ToolReasons(r); !slices.Equal(got, []string{result.ToolCPU}) || !strings.Contains(why, "1.95 of the 2 CPUs") {
		t.Errorf("a saturated tool CPU is the tool's whatever the targets: %v %q", got, why)
	}
}

// The bottleneck's words never make a step tool-limited: the host's
// messages mention the CPU ("threads here waited for a CPU", "this
// machine was oversubscribed") whether or not the tool was short of it.
// A step that failed only on hit rate, with such a message and the tool's
// CPU at half, is a failure of the cache, and the search goes on to a knee.
func TestToolLimitedNotFromWords(t *testing.T) {
	words := "2.0% of commands started over 1 ms late, and this machine woke a separate probe process's timed sleeps as late (1.10% over 1 ms, worst 9.0 ms, while the tool and Redis used 1.10 of its 2 CPUs): threads here waited for a CPU whatever their code; " +
		"this machine was oversubscribed (load average 5.10 on 2 CPUs): more threads wanted the CPUs than there were"
	run := func(_ context.Context, load float64) (*result.Result, error) {
		hit := 0.97
		if load > 3000 {
			hit = 0.90
		}
		r := &result.Result{
			Users:   result.UsersReport{Active: int(load), Requests: 1000, Commands: 1000, Late: 20, OpsPerSec: load},
			Phases:  []result.PhaseReport{{Recorded: true, StartS: 0, EndS: 10}},
			Cache:   result.CacheReport{CacheCounts: result.CacheCounts{HitRate: hit}},
			Client:  result.ClientReport{WindowS: 10, CPUSeconds: 10, GOMAXPROCS: 2, NumCPU: 2, Bottleneck: words, HostTimer: &result.HostTimer{Wakes: 2000, Late: 22, LateFraction: 0.011}},
			Latency: result.LatencyReport{Overall: result.Summary{Count: 1000, P99: 3}, Service: result.Summary{Count: 1000, P99: 1}},
			Targets: []result.TargetResult{{Name: "hit_rate", Expr: ">= 95%", Observed: hit, Unit: "fraction", ObservedText: fmt.Sprintf("%.1f%%", hit*100), Pass: hit >= 0.95}},
			Verdict: result.VerdictPass,
		}
		if hit < 0.95 {
			r.Verdict = result.VerdictFail
		}
		return r, nil
	}
	c, err := Search(context.Background(), usersPlan(2000, 1000, 16000), run, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Answer
	t.Logf("steps %v; %s", loads(c), a.Headline)
	for _, st := range c.Steps {
		if st.ToolLimited {
			t.Errorf("step %d at %v tool-limited from words: %+v", st.N, st.Load, st.ToolReasons)
		}
	}
	if a.AtLeast || a.Limit == result.LimitTool || a.MaxLoad > 3000 || a.FailLoad <= 3000 || strings.Contains(a.Headline, "not a knee") {
		t.Errorf("answer %+v", a)
	}
}

// A max_conns sweep at fixed load finds the fewest connections that hold
// it: the ramp grows the pool until a step passes, then bisects down.
func TestSearchKnobFindsFewestConnections(t *testing.T) {
	const need = 12
	run := func(_ context.Context, conns float64) (*result.Result, error) {
		r := &result.Result{Users: result.UsersReport{Active: 10000, Requests: 1000, OpsPerSec: 7000},
			Phases: []result.PhaseReport{{Recorded: true, StartS: 0, EndS: 10}}, Verdict: result.VerdictPass}
		r.Targets = []result.TargetResult{{Name: "pool_timeouts", Expr: "== 0", Unit: "count", ObservedText: "0", Pass: true}}
		if conns < need {
			r.Verdict = result.VerdictFail
			r.Pool.Timeouts = uint64(100 * (need - conns))
			r.Targets[0] = result.TargetResult{Name: "pool_timeouts", Expr: "== 0", Unit: "count", Observed: float64(r.Pool.Timeouts), ObservedText: "n"}
		}
		return r, nil
	}
	p := Plan{Vary: "max_conns", Unit: "connections", Knob: true, Design: 50, From: 6, To: 100, Growth: 2,
		Precision: 0.1, Relative: true, PrecisionText: "10%", MaxSteps: 20, Whole: true, Min: 1, Users: 10000, PerUserPerMinute: 6}
	c, err := Search(context.Background(), p, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Answer
	t.Logf("steps %v; %s", loads(c), a.Headline)
	if a.MinHolding != need || a.FailLoad != need-1 || !a.DesignHolds || a.Limit != result.LimitPool || !c.Knob {
		t.Errorf("answer %+v", a)
	}
	if a.Headroom != 4.17 || !strings.Contains(a.Headline, "needs max_conns 12 connections") {
		t.Errorf("headroom %v headline %q", a.Headroom, a.Headline)
	}
	// A pool that never holds (or holds at the smallest) says so.
	p.From, p.To, p.Design = 2, 8, 8
	if c, _ := Search(context.Background(), p, run, nil); c.Answer.MinHolding != 0 || c.Answer.DesignHolds || !strings.Contains(c.Answer.Headline, "no max_conns up to 8") {
		t.Errorf("never holds: %+v", c.Answer)
	}
}

// A knob sweep whose first step errors (Redis could not start) or is
// interrupted returns the error and an answer that says nothing was
// measured; it never panics (it did: the answer read the failing step).
func TestSearchKnobFirstStepError(t *testing.T) {
	boom := errors.New("redis-server could not start")
	run := func(context.Context, float64) (*result.Result, error) { return nil, boom }
	p := Plan{Vary: "max_conns", Unit: "connections", Knob: true, Design: 50, From: 6, To: 100, Growth: 2,
		Precision: 0.1, Relative: true, PrecisionText: "10%", MaxSteps: 20, Whole: true, Min: 1, Users: 10000, PerUserPerMinute: 6}
	c, err := Search(context.Background(), p, run, nil)
	if !errors.Is(err, boom) || len(c.Steps) != 0 {
		t.Fatalf("err %v, steps %d", err, len(c.Steps))
	}
	if c.Answer.DesignHolds || c.Verdict == result.VerdictPass || !strings.Contains(c.Answer.Headline, "no step completed") {
		t.Errorf("answer %+v verdict %s", c.Answer, c.Verdict)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Search(ctx, p, run, nil); !errors.Is(err, ErrInterrupted) {
		t.Errorf("canceled: %v", err)
	}
}
