package capacity

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

// Settings are the command line's choices; a zero field takes the
// scenario's capacity: section, then the default.
type Settings struct {
	Vary         string
	From, To     float64
	Growth       float64
	StepDuration time.Duration
	StepWarmup   *time.Duration
	Precision    string
	MaxLoad      float64
	MaxSteps     int
	// Confirm is the most runs at one load (boundary confirmation and
	// inconclusive steps); 0: DefaultConfirm, 1: no re-runs.
	Confirm int
}

// Units of the loads, by what is varied.
var loadUnits = map[string]string{scenarios.VaryUsers: "users", scenarios.VaryRate: "commands/user/min", scenarios.VaryMaxConns: "connections", scenarios.VaryMaxMemory: "bytes"}

// Resolve merges the flags over the scenario's capacity: section and the
// defaults, and returns the plan and the step settings. The design point is
// the scenario's own load; From defaults to half of it, To to four times.
// An external Redis needs a maximum load: the tool never goes beyond it.
func Resolve(sc *scenarios.Scenario, f Settings) (Plan, Settings, error) {
	var k scenarios.Capacity
	if sc.Capacity != nil {
		k = *sc.Capacity
	}
	if f.Vary != "" && f.Vary != cmp.Or(k.Vary, scenarios.VaryUsers) {
		// The section's loads are in the unit of what it varies (users
		// are not bytes): --vary another thing keeps only its unitless
		// settings, and a precision only as a share.
		k.From, k.To, k.MaxLoad = 0, 0, 0
		if _, rel, err := units.ParsePercent(k.Precision); err != nil || !rel {
			k.Precision = ""
		}
	}
	s := Settings{Vary: k.Vary, From: k.From, To: k.To, Growth: k.Growth, StepDuration: k.StepDuration.D(),
		Precision: k.Precision, MaxLoad: k.MaxLoad, MaxSteps: k.MaxSteps}
	if k.StepWarmup != nil {
		d := k.StepWarmup.D()
		s.StepWarmup = &d
	}
	over := func(dst *float64, v float64) {
		if v != 0 {
			*dst = v
		}
	}
	if f.Vary != "" {
		s.Vary = f.Vary
	}
	over(&s.From, f.From)
	over(&s.To, f.To)
	over(&s.Growth, f.Growth)
	over(&s.MaxLoad, f.MaxLoad)
	if f.StepDuration != 0 {
		s.StepDuration = f.StepDuration
	}
	if f.StepWarmup != nil {
		s.StepWarmup = f.StepWarmup
	}
	if f.Precision != "" {
		s.Precision = f.Precision
	}
	if f.MaxSteps != 0 {
		s.MaxSteps = f.MaxSteps
	}
	s.Confirm = f.Confirm
	if s.Confirm == 0 {
		s.Confirm = DefaultConfirm
	}
	if s.Vary == "" {
		s.Vary = scenarios.VaryUsers
	}
	if s.Growth == 0 {
		s.Growth = DefaultGrowth
	}
	if s.Precision == "" {
		s.Precision = DefaultPrecision
	}
	if s.MaxSteps == 0 {
		s.MaxSteps = DefaultMaxSteps
	}
	p := Plan{Users: sc.Workload.ActiveUsers, PerUserPerMinute: sc.Workload.CommandsPerUserPerMinute, Vary: s.Vary, Unit: loadUnits[s.Vary], Growth: s.Growth, MaxLoad: s.MaxLoad, MaxSteps: s.MaxSteps, PrecisionText: s.Precision, Confirm: s.Confirm}
	switch s.Vary {
	case scenarios.VaryUsers:
		p.Design, p.Whole, p.Min = float64(sc.Workload.ActiveUsers), true, 1
	case scenarios.VaryRate:
		p.Design, p.Min = sc.Workload.CommandsPerUserPerMinute, 0.01
	case scenarios.VaryMaxConns:
		cfg, err := sc.Pool.Config()
		if err != nil {
			return p, s, fmt.Errorf("pool: %v", err)
		}
		p.Design, p.Whole, p.Min, p.Knob = float64(cfg.MaxConnections), true, 1, true
	case scenarios.VaryMaxMemory:
		// Each step starts its own Redis with the step's maxmemory; an
		// external Redis's is its owner's, and 0 (no limit) has no size to
		// search around.
		if !sc.Target.OwnsNodes() {
			return p, s, fmt.Errorf("--vary maxmemory: the steps set Redis's maxmemory, so they need a Redis the tool starts (target.backend process or container), not an external one")
		}
		if sc.Target.Redis.MaxMemory <= 0 {
			return p, s, fmt.Errorf("--vary maxmemory: the scenario sets no maxmemory (target.redis.maxmemory 0: no limit), so there is no design size; set one, e.g. --set target.redis.maxmemory=64mb")
		}
		p.Design, p.Whole, p.Min, p.Knob, p.Quantum = float64(sc.Target.Redis.MaxMemory), true, float64(minStepMemory), true, memoryQuantum
	default:
		return p, s, fmt.Errorf("--vary: unknown %q, expected one of %s", s.Vary, strings.Join(scenarios.CapacityVaries(), ", "))
	}
	var err error
	if p.Precision, p.Relative, err = parsePrecision(s.Vary, s.Precision); err != nil {
		return p, s, fmt.Errorf("--precision: %v", err)
	}
	p.From, p.To = s.From, s.To
	if p.From == 0 {
		p.From = p.round(p.Design / 2)
		if p.Knob {
			p.From = max(p.Min, p.round(p.Design/8))
		}
	}
	if p.To == 0 {
		p.To = p.round(p.Design * 4)
		if p.Knob {
			p.To = p.round(p.Design * 2)
		}
	}
	if p.Whole && s.Vary != scenarios.VaryMaxMemory && p.To > float64(sc.Workload.Population) {
		p.To = float64(sc.Workload.Population)
	}
	if !sc.Target.OwnsNodes() && p.MaxLoad <= 0 {
		return p, s, fmt.Errorf("an external Redis needs --max-load (or capacity.max_load): the most load the tool may send it")
	}
	if p.MaxLoad > 0 && p.To > p.MaxLoad {
		p.To = p.MaxLoad
	}
	if p.From >= p.To && p.MaxLoad > 0 && p.From <= p.MaxLoad {
		p.From = p.round(p.To / p.Growth)
	}
	if p.Whole && (p.From != math.Trunc(p.From) || p.To != math.Trunc(p.To)) {
		return p, s, fmt.Errorf("a number of users must be whole (from %v, to %v)", p.From, p.To)
	}
	return p, s, p.Check()
}

// StepScenario is the scenario of one step: a copy of base at load, its
// recorded phases and warm-up set to the step's, validated again.
func StepScenario(base *scenarios.Scenario, s Settings, load float64) (*scenarios.Scenario, error) {
	sc := *base
	sc.Phases = slices.Clone(base.Phases)
	sc.Faults = slices.Clone(base.Faults)
	sc.Targets = slices.Clone(base.Targets)
	ov := scenarios.Overrides{Duration: s.StepDuration, Warmup: s.StepWarmup}
	switch s.Vary {
	case scenarios.VaryUsers:
		ov.Users = int(math.Round(load))
	case scenarios.VaryRate:
		sc.Workload.CommandsPerUserPerMinute = load
	case scenarios.VaryMaxConns:
		n := int(math.Round(load))
		sc.Pool.MaxConns = &n
		// min_idle (written or the profile's) may not exceed max_conns.
		if cfg, err := base.Pool.Config(); err == nil && cfg.MinConnections > n {
			sc.Pool.MinIdle = &n
		}
	case scenarios.VaryMaxMemory:
		// Target is a value: the copy's Redis settings are the step's own.
		sc.Target.Redis.MaxMemory = units.Size(math.Round(load))
	}
	if err := sc.Apply(ov); err != nil {
		return nil, err
	}
	return &sc, nil
}

// HarnessRunner runs each step as a whole harness.Run of the step's
// scenario (its own Redis, prefill, warm-up and recorded phases), with opts
// as every run's options; logDir names each step's Redis log folder.
func HarnessRunner(base *scenarios.Scenario, s Settings, opts harness.Options, logDir func(load float64) string) StepRunner {
	return func(ctx context.Context, load float64) (*result.Result, error) {
		sc, err := StepScenario(base, s, load)
		if err != nil {
			return nil, &harness.ConfigError{Err: err}
		}
		o := opts
		o.Scenario = sc
		if logDir != nil {
			o.LogDir = logDir(load)
		}
		return harness.Run(ctx, o)
	}
}

// Warmup and recorded seconds of a step scenario, for the report.
func StepTimes(sc *scenarios.Scenario) (warmup, recorded float64) {
	for _, ph := range sc.Phases {
		if ph.Recorded() {
			recorded += ph.Duration.D().Seconds()
		} else {
			warmup += ph.Duration.D().Seconds()
		}
	}
	return warmup, recorded
}

// minStepMemory is the least maxmemory a step is run with: below 1mb Redis
// cannot hold its own overhead (topology refuses it).
const minStepMemory = 1 << 20

// memoryQuantum is the step between maxmemory sizes (64kb): finer than
// any precision worth a run, coarse enough that sizes read as kb or mb.
const memoryQuantum = 64 << 10

// parsePrecision reads --precision for what is varied: a share ("10%")
// for any, and for maxmemory an absolute size as Redis writes it ("4mb",
// or bytes), else an absolute load.
func parsePrecision(vary, text string) (float64, bool, error) {
	if vary == scenarios.VaryMaxMemory {
		if v, rel, err := units.ParsePercent(text); err == nil && rel {
			return scenarios.ParsePrecision(text)
		} else if err == nil && v > 0 {
			return v, false, nil
		}
		z, err := units.ParseSize(text)
		if err != nil || z <= 0 {
			return 0, false, fmt.Errorf("%q: expected a share such as 10%% or a size such as 4mb", text)
		}
		return float64(z), false, nil
	}
	return scenarios.ParsePrecision(text)
}
