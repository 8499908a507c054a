// Package scenarios owns the Scenario type: what SREs write in YAML, how it is
// loaded strictly (unknown fields, wrong types and duplicate keys are errors
// with file:line:column), and the built-in scenario files. The target:,
// pool: and workload: sections are the settings types of topology, pool and
// workload, which default and validate them; scenarios records which keys
// the file wrote, calls them, and maps the field paths of their errors to
// file:line:column. It knows nothing about how a run executes; harness
// turns a Scenario into topology, pool, workload and chaos settings.
package scenarios

import (
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// Scenario is one load-and-chaos experiment.
//
// A key the file leaves out gets its default (see Defaults: each section's
// from the package that owns it), so the resolved scenario in a report shows
// every value the run used. A key the file writes keeps the value written —
// 0, 0s and "" included — and validation judges it as written:
// "active_users: 0" is an error at its line, never a quiet 10,000. To tell
// the two apart without changing the plain field types the rest of the tool
// reads, each struct that has defaults or kind-specific parameters carries
// the set of keys its YAML mapping gave a value (field.Keys: Wrote in the
// domain packages' settings, wrote here).
type Scenario struct {
	Name        string     `yaml:"name" json:"name"`
	Description string     `yaml:"description,omitempty" json:"description,omitempty"`
	Seed        int64      `yaml:"seed,omitempty" json:"seed"`
	Target      Deployment `yaml:"target,omitempty" json:"target"`
	Pool        Pool       `yaml:"pool,omitempty" json:"pool"`
	Workload    Workload   `yaml:"workload,omitempty" json:"workload"`
	Driver      Driver     `yaml:"driver,omitempty" json:"driver"`
	Phases      []Phase    `yaml:"phases,omitempty" json:"phases"`
	Faults      []Fault    `yaml:"faults,omitempty" json:"faults"`
	Targets     Targets    `yaml:"targets,omitempty" json:"targets"`
	// Capacity configures `cacheproof capacity` (see capacity.go); a run
	// ignores it.
	Capacity *Capacity `yaml:"capacity,omitempty" json:"capacity,omitempty"`
	// Repeat is how many runs one verdict is judged from (repeat.go); run's
	// --repeat wins over it.
	Repeat Repeat `yaml:"repeat,omitempty" json:"repeat,omitempty"`

	// File is where the scenario was loaded from ("builtin:NAME" for an
	// embedded one); it is not part of the YAML.
	File string `yaml:"-" json:"file,omitempty"`
	// Sets are the values set on the command line (run --set), in the
	// order given, already written into the scenario; a report records
	// them (Info) so that compare can show them as the change under test.
	Sets []Set `yaml:"-" json:"-"`
	// Notes say what the command line changed beyond the values it named
	// (faults moved with rescaled phases); the console and the report's
	// notes show them.
	Notes []string `yaml:"-" json:"-"`

	wrote keySet
}

// Info is the scenario as a report's header names it (without the
// resolved scenario, which the writer of the report adds).
func (s *Scenario) Info() result.ScenarioInfo {
	var over []Set
	for _, st := range s.Sets {
		over = append(over, redactSet(st))
	}
	return result.ScenarioInfo{Name: s.Name, Description: s.Description, File: s.File, Seed: s.Seed, Overrides: over}
}

// keySet is the set of keys one YAML mapping of the file gave a value (see
// field.Keys); the loader fills it.
type keySet = field.Keys

// The sections whose settings a domain package owns are that package's
// types: it fills their defaults and validates them (see Defaults and
// validate); scenarios decodes the file into them and records which keys it
// wrote.
type (
	// Deployment is the target: section (topology.Settings).
	Deployment = topology.Settings
	// RedisConf is target.redis (topology.RedisSettings).
	RedisConf = topology.RedisSettings
	// TLS is target.tls (topology.TLSSettings).
	TLS = topology.TLSSettings
	// Pool is the pool: section (pool.Settings).
	Pool = pool.Settings
	// Workload is the workload: section (workload.Settings).
	Workload = workload.Settings
	// FamilyOverride is one entry of workload.families (workload.FamilySettings).
	FamilyOverride = workload.FamilySettings
	// Popularity is a family's popularity (workload.PopularitySettings).
	Popularity = workload.PopularitySettings
	// Features is workload.features (workload.FeatureSettings).
	Features = workload.FeatureSettings
	// RateLimit is workload.rate_limit (workload.RateLimitSettings).
	RateLimit = workload.RateLimitSettings
	// OriginConfig is one entry of workload.origins (workload.OriginSettings).
	OriginConfig = workload.OriginSettings
)

// Driver tunes the open-loop driver.
type Driver struct {
	// DropAfter: a command that cannot start within this bound of its
	// intended time is dropped and counted, never silently skipped.
	DropAfter Duration `yaml:"drop_after,omitempty" json:"drop_after"`
	// MaxInflight bounds concurrently executing commands. Unwritten, it
	// stays 0 in the resolved scenario and the run uses its peak number of
	// users (a user runs one command at a time), which only the run knows:
	// --users and --shard change it. Written, it must be at least 1.
	MaxInflight int `yaml:"max_inflight,omitempty" json:"max_inflight"`
	// OpTimeout bounds one command (all its operations).
	OpTimeout Duration `yaml:"op_timeout,omitempty" json:"op_timeout"`

	wrote keySet
}

// Phase is one stretch of the run. Users rise or fall linearly from
// UsersFrom to UsersTo when both are set; otherwise Users (default: the
// workload's active_users) stay active throughout. users: 0 is an idle
// phase (no load, e.g. to watch keys expire); it is not "the default".
type Phase struct {
	Name      string   `yaml:"name" json:"name"`
	Duration  Duration `yaml:"duration" json:"duration"`
	Record    *bool    `yaml:"record,omitempty" json:"record"`
	Users     *int     `yaml:"users,omitempty" json:"users,omitempty"`
	UsersFrom *int     `yaml:"users_from,omitempty" json:"users_from,omitempty"`
	UsersTo   *int     `yaml:"users_to,omitempty" json:"users_to,omitempty"`

	wrote keySet
}

// Recorded reports whether the phase counts toward targets (warm-up does not).
func (p Phase) Recorded() bool { return p.Record == nil || *p.Record }

// TotalDuration is the sum of all phases.
func (s *Scenario) TotalDuration() time.Duration {
	var d time.Duration
	for _, p := range s.Phases {
		d += p.Duration.D()
	}
	return d
}
