package runplan

import (
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// Plan is what a run would replay and drive, without running it: the
// workload's configuration, the phase plans, the prefill's history and the
// TTL the cache manager applies to each family. `cacheproof size` simulates
// exactly this timeline, so its predicted hit rate is comparable with a
// run's measured one; it is built by the same functions the run uses (one
// owner per rule), not copied.
type Plan struct {
	// Workload is the scenario's workload: section (resolved at load) and
	// Run the seed and shard the model is built with (workload.New).
	Workload workload.Settings
	Run      workload.Run
	// Phases are the scenario's phases as the driver runs them (Record
	// false for a warm-up).
	Phases []workload.PhasePlan
	// History is workload.prefill: the stretch replayed before Phases with
	// an unbounded cache, whose surviving keys are written oldest first.
	History time.Duration
	// TTL is, by family name, what the manager applies to its keys (0 =
	// no expiry); TierTTL the tiers' own.
	TTL     map[string]time.Duration
	TierTTL map[string]time.Duration
	// CountedTier is, by family name, the tier the run counts the
	// family's lookups under (a family with its own ttl: has none of its
	// own: the recorder's engine.TierIndex).
	CountedTier map[string]string
	// Pool is the manager's resolved configuration (its connections count
	// in Redis's memory).
	Pool pool.Config
}

// Of resolves a scenario into the plan a run of it would follow (the seed's
// REDIS_* variables are in the scenario, as the run's).
func Of(s *scenarios.Scenario) (*Plan, error) {
	var o Env
	// The endpoints only decide where the manager would connect; the
	// TTLs and pool size do not depend on them.
	ep := topology.Endpoints{Shape: topology.ShapeStandalone, Addrs: []string{"127.0.0.1:6379"}}
	if !s.Target.OwnsNodes() {
		ep.Addrs = append([]string(nil), s.Target.Addrs...)
		if len(ep.Addrs) == 0 {
			ep.Addrs = []string{"127.0.0.1:6379"}
		}
	}
	pcfg, err := PoolConfig(s, ep, o)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	run := WorkloadRun(s, o)
	model, err := workload.New(s.Workload, run)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	plans := Phases(s, 1)
	tier := make(map[string]time.Duration, len(pcfg.TTL))
	for t, d := range pcfg.TTL {
		tier[string(t)] = d
	}
	counted := map[string]string{}
	for _, f := range model.Families() {
		counted[f.Name] = engine.TierNames[engine.TierIndex(f.Tier)]
	}
	return &Plan{
		CountedTier: counted,
		Workload:    s.Workload,
		Run:         run,
		Phases:      plans,
		History:     s.Workload.Prefill.D(),
		TTL:         FamilyTTLs(pcfg, model.Families()),
		TierTTL:     tier,
		Pool:        pcfg,
	}, nil
}
