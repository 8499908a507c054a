// Package runplan resolves a scenario into what a run of it uses: the
// topology spec to start, the cache manager's configuration (profile,
// scenario, the deployment's endpoints), the
// workload's configuration, the phase plans and the TTL each family's keys
// get. harness runs with it; `cacheproof size` replays its Plan without
// running, so the two follow one owner of each rule.
package runplan

import (
	"fmt"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// Env is what a run takes from the command line beside its scenario: the
// redis-server binary and image to start, whether it may change a Redis it
// does not own, the shard it is and where progress goes. The seed's REDIS_*
// variables are not here: they are scenario values, applied when the
// scenario is loaded (scenarios.Options.Getenv), so the topology and the
// manager read the same ones.
type Env struct {
	// RedisServer is the redis-server binary for the process backend (""
	// = $CACHEPROOF_REDIS_SERVER, then PATH); Image overrides the
	// container backend's image.
	RedisServer, Image string
	// AllowDestructive permits faults and server configuration on an
	// external deployment.
	AllowDestructive bool
	// Shard and Shards select the Shard-th of Shards disjoint slices of
	// the population (0 and 0 or 1: everything).
	Shard, Shards int
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

// ConfigError marks a configuration problem found only when the run is
// wired (a pool setting the profile rejects): exit 2.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "configuration: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// TopologySpec turns the scenario's target into what topology.Start needs:
// topology's own mapping of its settings, plus the command line's choices.
func TopologySpec(s *scenarios.Scenario, o Env) topology.Spec {
	spec := s.Target.Spec()
	spec.RedisServer = o.RedisServer
	spec.AllowDestructive = o.AllowDestructive
	spec.Logf = o.Logf
	if o.Image != "" {
		spec.Image = o.Image
	}
	// A fault that cuts links between nodes needs them routed through the
	// deployment's gates from the start (the trait decides, not a name).
	for _, f := range s.Faults {
		if t, ok := chaos.TraitsOf(f.Kind); ok && t.NodeLinks {
			spec.NodeLinks = true
		}
	}
	return spec
}

// PoolConfig builds the manager's configuration: the profile, then the
// scenario's pool: section and its target's server settings (the seed's
// REDIS_* variables already in both, so the manager's maxmemory is the one
// topology started Redis with), then the addresses of the deployment
// actually running.
func PoolConfig(s *scenarios.Scenario, ep topology.Endpoints, o Env) (pool.Config, error) {
	p := s.Pool
	cfg, err := p.Config()
	if err != nil {
		return cfg, fmt.Errorf("pool.profile: %w", err)
	}
	// The seed's catalogue gives some families their own TTL inside a tier
	// (opendota 600 s and steam avatars a day, in the 300 s api tier): the
	// manager applies those by key pattern (the whole key matched); a
	// scenario without the seed's families has none of its rules (its own
	// "steam:avatar:{avatar_id}" would otherwise overlap the seed's).
	for _, f := range workload.DefaultFamilies() {
		if s.Workload.Catalogue == workload.CatalogueNone {
			break
		}
		if f.TTL != cfg.TTL[pool.Tier(f.Tier)] {
			if cfg.KeyTTL == nil {
				cfg.KeyTTL = map[string]time.Duration{}
			}
			cfg.KeyTTL[f.KeyPattern] = f.TTL
		}
	}
	// A scenario's family written with ttl: (no tier) has its own TTL
	// outside the tiers, applied the same way (the workload's
	// configuration says which, by pattern; its validation keeps them
	// disjoint). The model itself is built once, by the run.
	for p, d := range s.Workload.Config(WorkloadRun(s, o)).OwnTTLs() {
		if cfg.KeyTTL == nil {
			cfg.KeyTTL = map[string]time.Duration{}
		}
		cfg.KeyTTL[p] = d
	}
	cfg.MaxMemory = int64(s.Target.Redis.MaxMemory)
	cfg.MaxMemoryPolicy = s.Target.Redis.MaxMemoryPolicy
	// The deployment decides where the manager connects, in which shape
	// and as whom: for the process and container backends that is the
	// Redis this run started.
	cfg.Addrs = append([]string(nil), ep.Addrs...)
	cfg.EnableSentinel = ep.Shape == topology.ShapeSentinel
	cfg.SentinelAddrs = ep.SentinelAddrs
	cfg.MasterName = ep.MasterName
	cfg.Cluster = ep.Shape == topology.ShapeCluster
	cfg.Username, cfg.Password, cfg.TLS = ep.Username, ep.Password, ep.TLS
	if !s.Target.OwnsNodes() {
		cfg.ProtectServer = !o.AllowDestructive
		if cfg.KeyPrefix == "" && p.KeyPrefix == nil {
			cfg.KeyPrefix = "cacheproof:"
		}
	}
	return cfg, cfg.Validate()
}

// WorkloadRun is what the run adds to the scenario's workload: section
// (resolved at load) to build the model: the scenario's seed and the run's
// shard (workload.New(s.Workload, WorkloadRun(s, o))).
func WorkloadRun(s *scenarios.Scenario, o Env) workload.Run {
	return workload.Run{Seed: s.Seed, Shard: o.Shard, Shards: o.Shards}
}

// Phases maps scenario phases onto the workload schedule. With --shard,
// each shard runs its share of the users.
func Phases(s *scenarios.Scenario, shards int) []workload.PhasePlan {
	if shards < 1 {
		shards = 1
	}
	share := func(n int) int { return (n + shards - 1) / shards }
	plans := make([]workload.PhasePlan, len(s.Phases))
	for i, p := range s.Phases {
		var from, to int // users: 0 is an idle phase, not "unset"
		switch {
		case p.UsersFrom != nil:
			from, to = *p.UsersFrom, *p.UsersTo
		case p.Users != nil:
			from, to = *p.Users, *p.Users
		}
		plans[i] = workload.PhasePlan{Name: p.Name, Duration: p.Duration.D(), UsersStart: share(from), UsersEnd: share(to), Record: p.Recorded()}
	}
	return plans
}

// FamilyTTLs is the TTL the manager really applies to each family's keys,
// for the miss ledger: the family's own where the catalogue gives one, else
// its tier's (which a scenario's pool.ttl may have changed).
func FamilyTTLs(cfg pool.Config, fams []workload.Family) map[string]time.Duration {
	out := make(map[string]time.Duration, len(fams))
	for _, f := range fams {
		ttl := cfg.TTL[pool.Tier(f.Tier)]
		if d, ok := cfg.KeyTTL[f.KeyPattern]; ok {
			ttl = d
		}
		out[f.Name] = ttl
	}
	return out
}
