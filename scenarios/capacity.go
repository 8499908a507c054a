package scenarios

import (
	"fmt"
	"strings"

	"github.com/cacheproof/cacheproof/internal/units"
)

// Capacity is the capacity: section: how `cacheproof capacity` searches for
// the highest load at which every target holds. Each of its settings is also
// a flag of the command, which wins over the file. Loads are in the unit of
// what is varied: users (workload.active_users) or rate
// (workload.commands_per_user_per_minute).
//
//	capacity: {vary: users, from: 5000, to: 40000, step_duration: 30s, precision: 10%}
type Capacity struct {
	// Vary is what grows from step to step: users (default), rate,
	// max_conns (the pool's size, at the scenario's load: the search then
	// finds the fewest connections that hold it) or maxmemory (Redis's
	// memory limit in bytes, at the scenario's load: the smallest that
	// holds it).
	Vary string `yaml:"vary,omitempty" json:"vary"`
	// From is the first step's load (default: half the design point);
	// To the highest the ramp goes (default: four times the design point).
	From float64 `yaml:"from,omitempty" json:"from,omitempty"`
	To   float64 `yaml:"to,omitempty" json:"to,omitempty"`
	// Growth multiplies the load from one ramp step to the next (default 2).
	Growth float64 `yaml:"growth,omitempty" json:"growth,omitempty"`
	// StepDuration is each step's recorded time (default: the scenario's
	// recorded phases); StepWarmup its warm-up (default: the scenario's).
	StepDuration Duration  `yaml:"step_duration,omitempty" json:"step_duration,omitempty"`
	StepWarmup   *Duration `yaml:"step_warmup,omitempty" json:"step_warmup,omitempty"`
	// Precision ends the bisection: the gap between the highest passing
	// and the lowest failing load, as a share of the passing load ("10%",
	// the default) or in the load's unit ("500").
	Precision string `yaml:"precision,omitempty" json:"precision,omitempty"`
	// MaxLoad is a load never to go beyond; required against an external
	// Redis, whose owner must bound what the tool sends.
	MaxLoad float64 `yaml:"max_load,omitempty" json:"max_load,omitempty"`
	// MaxSteps bounds the number of runs (default 12).
	MaxSteps int `yaml:"max_steps,omitempty" json:"max_steps,omitempty"`

	wrote keySet
}

// Capacity varies.
const (
	VaryUsers    = "users"
	VaryRate     = "rate"
	VaryMaxConns = "max_conns" // the pool's size at the scenario's load
	// VaryMaxMemory is Redis's maxmemory at the scenario's load: the
	// search finds the smallest that holds it (loads in bytes).
	VaryMaxMemory = "maxmemory"
)

// CapacityVaries lists what `capacity` can vary.
func CapacityVaries() []string { return []string{VaryUsers, VaryRate, VaryMaxConns, VaryMaxMemory} }

// ParsePrecision reads a capacity precision: "10%" (relative to the
// passing load) or a plain positive number in the load's unit.
func ParsePrecision(s string) (v float64, relative bool, err error) {
	if strings.TrimSpace(s) == "" {
		return 0, false, fmt.Errorf("empty; expected a share such as 10%% or a load such as 500")
	}
	v, relative, err = units.ParsePercent(s)
	if err != nil || v <= 0 || v > 1e12 {
		return 0, false, fmt.Errorf("%q: expected a positive share such as 10%% or a positive load such as 500", s)
	}
	if relative && v >= 1 {
		return 0, false, fmt.Errorf("%q: a share must be below 100%%", s)
	}
	return v, relative, nil
}

// validateCapacity checks the capacity: section as written; what depends on
// the command line (max_load against an external Redis) is checked by the
// command once its flags are known.
func (s *Scenario) validateCapacity(c *checker) {
	k := s.Capacity
	if k == nil {
		return
	}
	const p = "$.capacity"
	if k.Vary != "" || k.wrote["vary"] {
		c.oneOf(p+".vary", "capacity.vary", k.Vary, CapacityVaries())
	}
	positive := func(key string, v float64) {
		if (v != 0 || k.wrote[key]) && !(v > 0) {
			c.add(p+"."+key, "capacity.%s: must be positive, got %v", key, v)
		}
	}
	positive("from", k.From)
	positive("to", k.To)
	positive("max_load", k.MaxLoad)
	if k.From > 0 && k.To > 0 && k.To <= k.From {
		c.add(p+".to", "capacity.to (%v) must be above capacity.from (%v)", k.To, k.From)
	}
	if k.MaxLoad > 0 && k.From > k.MaxLoad {
		c.add(p+".from", "capacity.from (%v) is beyond capacity.max_load (%v)", k.From, k.MaxLoad)
	}
	if (k.Growth != 0 || k.wrote["growth"]) && !(k.Growth > 1 && k.Growth <= 10) {
		c.add(p+".growth", "capacity.growth: must be above 1 and at most 10 (each ramp step multiplies the load by it), got %v", k.Growth)
	}
	if (k.StepDuration != 0 || k.wrote["step_duration"]) && k.StepDuration <= 0 {
		c.add(p+".step_duration", "capacity.step_duration: must be positive, e.g. 30s")
	}
	if k.StepWarmup != nil && *k.StepWarmup < 0 {
		c.add(p+".step_warmup", "capacity.step_warmup: must not be negative (0s: no warm-up)")
	}
	if k.Precision != "" || k.wrote["precision"] {
		if _, _, err := ParsePrecision(k.Precision); err != nil {
			c.add(p+".precision", "capacity.precision: %v", err)
		}
	}
	if (k.MaxSteps != 0 || k.wrote["max_steps"]) && (k.MaxSteps < 2 || k.MaxSteps > 100) {
		c.add(p+".max_steps", "capacity.max_steps: must be 2 to 100, got %d", k.MaxSteps)
	}
	if k.Vary == VaryUsers || k.Vary == VaryMaxConns || k.Vary == VaryMaxMemory {
		for _, key := range []string{"from", "to", "max_load"} {
			v := map[string]float64{"from": k.From, "to": k.To, "max_load": k.MaxLoad}[key]
			if v > 0 && v != float64(int(v)) {
				c.add(p+"."+key, "capacity.%s: a number of %s must be whole, got %v", key, k.Vary, v)
			}
			if k.Vary == VaryUsers && v > float64(s.Workload.Population) && key != "max_load" {
				c.add(p+"."+key, "capacity.%s: %v users exceed the population (%d)", key, v, s.Workload.Population)
			}
		}
	}
}
