package capacity

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

// Prepared is a search ready to run: the plan, the settings merged over the
// scenario's capacity: section, and the scenario of its first step (every
// step has its phases). Prepare refuses what would fail later, before a
// step runs.
type Prepared struct {
	Scenario *scenarios.Scenario
	Plan     Plan
	Settings Settings
	First    *scenarios.Scenario
}

// Prepare resolves the plan and builds the step scenarios at both ends of
// it, so that a load at which the scenario would not be valid is a usage
// error now, not a failed step later.
func Prepare(sc *scenarios.Scenario, f Settings) (*Prepared, error) {
	plan, s, err := Resolve(sc, f)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Scenario: sc, Plan: plan, Settings: s}
	for _, load := range []float64{plan.From, plan.To} {
		step, err := StepScenario(sc, s, load)
		if err != nil {
			return nil, &StepError{Load: load, Unit: plan.Unit, Err: err}
		}
		if p.First == nil {
			p.First = step
		}
	}
	return p, nil
}

// StepError is a load of the plan at which the scenario is not valid.
type StepError struct {
	Load float64
	Unit string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("at %v %s: %v", e.Load, e.Unit, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// RunOptions are what a command wires into a search: how each step runs
// and what happens after it.
type RunOptions struct {
	// Harness are every step's run options; Scenario and LogDir are set
	// per step.
	Harness harness.Options
	// LogDir is where a step's node logs go, by load; nil keeps none.
	LogDir func(load float64) string
	// OnStep is called after every step (it may set the step's Report
	// folder); the step's host load average is recorded before it.
	OnStep OnStep
	// Tool is the tool the result names.
	Tool result.ToolInfo
	// Runner runs one step; nil: a harness run of the step's scenario
	// (HarnessRunner with Harness and LogDir).
	Runner StepRunner
}

// Run searches and returns the finished result: the steps and the answer,
// and the header a report needs (the tool, the scenario, the times, each
// step's length, the targets) with its notes. The error is the search's
// (interrupted: ErrInterrupted; a step's environment or configuration);
// the result is returned with it, holding the steps run.
func (p *Prepared) Run(ctx context.Context, o RunOptions) (*result.Capacity, error) {
	runner := o.Runner
	if runner == nil {
		runner = HarnessRunner(p.Scenario, p.Settings, o.Harness, o.LogDir)
	}
	started := time.Now()
	c, err := Search(ctx, p.Plan, runner, func(st *result.CapacityStep, res *result.Result) {
		st.HostLoad1 = hostLoad1()
		if o.OnStep != nil {
			o.OnStep(st, res)
		}
	})
	if c == nil {
		c = &result.Capacity{SchemaVersion: result.SchemaVersion, Kind: result.KindCapacity}
	}
	p.finish(c, o.Tool, started)
	switch {
	case err == nil:
	case errors.Is(err, ErrInterrupted) || ctx.Err() != nil:
		c.Interrupted = true
		c.Notes = append(c.Notes, "interrupted: the answer covers the steps run")
	default:
		var cfg *harness.ConfigError
		if !errors.As(err, &cfg) {
			c.Notes = append(c.Notes, "stopped: "+err.Error())
		}
	}
	return c, err
}

// finish fills the header of a search's result and the note on the host's
// load at the failing load.
func (p *Prepared) finish(c *result.Capacity, tool result.ToolInfo, started time.Time) {
	sc := p.Scenario
	warm, rec := StepTimes(p.First)
	c.Tool = tool
	c.Scenario = sc.Info()
	c.StartedAt = started.UTC()
	c.DurationS = time.Since(started).Seconds()
	c.Search.StepWarmupS, c.Search.StepDurationS = warm, rec
	c.Search.Prefill = "each step from its own prefill (workload.prefill " + sc.Workload.Prefill.D().String() + "): the cache's steady state depends on the load"
	for _, t := range sc.Targets {
		c.Targets = append(c.Targets, result.TargetSpec{Name: t.Name, Expr: t.Expr})
	}
	// One note for the failing load, however many runs it had: the
	// highest load average among them.
	var busiest *result.CapacityStep
	for i, st := range c.Steps {
		if st.Load == c.Answer.FailLoad && st.NumCPU > 0 && st.HostLoad1 > float64(st.NumCPU) && (busiest == nil || st.HostLoad1 > busiest.HostLoad1) {
			busiest = &c.Steps[i]
		}
	}
	if busiest != nil {
		c.Notes = append(c.Notes, fmt.Sprintf("this host's 1-minute load average was up to %.1f on %d CPUs at the failing load: other processes competed with the tool and Redis for the CPU, so the knee may be this host's rather than the cache layer's",
			busiest.HostLoad1, busiest.NumCPU))
	}
}

// hostLoad1 is this host's 1-minute load average, 0 when unknown: a step
// run while other processes held the CPUs may have measured the host.
func hostLoad1() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	if _, err := fmt.Sscan(string(data), &l); err != nil {
		return 0
	}
	return l
}
