package harness

import (
	"fmt"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// topologySpec turns the scenario's target into what topology.Start needs:
// topology's own mapping of its settings, plus the command line's choices
// and, for an external Redis named nowhere else, the seed's REDIS_HOST,
// REDIS_PORT and REDIS_PASSWORD.
func topologySpec(s *scenarios.Scenario, o Options) topology.Spec {
	t := s.Target
	spec := t.Spec()
	spec.RedisServer = o.RedisServer
	spec.AllowDestructive = o.AllowDestructive
	spec.Logf = o.Logf
	if o.Image != "" {
		spec.Image = o.Image
	}
	if t.Backend == string(topology.BackendExternal) {
		ext := &spec.External
		getenv := o.getenv()
		if len(ext.Addrs) == 0 && len(ext.SentinelAddrs) == 0 {
			if host := getenv("REDIS_HOST"); host != "" {
				port := getenv("REDIS_PORT")
				if port == "" {
					port = "6379"
				}
				ext.Addrs = []string{host + ":" + port}
			}
		}
		if ext.Password == "" {
			ext.Password = getenv("REDIS_PASSWORD")
		}
	}
	return spec
}

// poolConfig builds the manager's configuration: the profile, then the
// scenario's pool: section, then the seed's environment variables, then the
// addresses of the deployment actually running.
func poolConfig(s *scenarios.Scenario, ep topology.Endpoints, o Options) (pool.Config, error) {
	p := s.Pool
	cfg, err := p.Config()
	if err != nil {
		return cfg, fmt.Errorf("pool.profile: %w", err)
	}
	// The seed's catalogue gives some families their own TTL inside a tier
	// (opendota 600 s and steam avatars a day, in the 300 s api tier): the
	// manager applies those by key prefix.
	for _, f := range workload.DefaultFamilies() {
		if f.TTL != cfg.TTL[pool.Tier(f.Tier)] {
			if cfg.KeyTTL == nil {
				cfg.KeyTTL = map[string]time.Duration{}
			}
			cfg.KeyTTL[familyPrefix(f.KeyPattern)] = f.TTL
		}
	}
	// A scenario's family written with ttl: (no tier) has its own TTL
	// outside the tiers, applied the same way (the model says which, by
	// prefix; its validation keeps them constant and disjoint). A workload
	// the model refuses is reported by the workload stage.
	if m, werr := workload.New(workloadConfig(s, o)); werr == nil {
		for p, d := range m.OwnTTLs() {
			if cfg.KeyTTL == nil {
				cfg.KeyTTL = map[string]time.Duration{}
			}
			cfg.KeyTTL[p] = d
		}
	}
	cfg.MaxMemory = int64(s.Target.Redis.MaxMemory)
	cfg.MaxMemoryPolicy = s.Target.Redis.MaxMemoryPolicy
	// The deployment decides where the manager connects and in which shape:
	// for the process and container backends that is the Redis this run
	// started, whatever REDIS_HOST says. It is applied before the seed's
	// environment variables (whose validation needs a coherent shape) and
	// again after them.
	useEndpoints := func() {
		cfg.Addrs = append([]string(nil), ep.Addrs...)
		cfg.EnableSentinel = ep.Shape == topology.ShapeSentinel
		cfg.SentinelAddrs = ep.SentinelAddrs
		cfg.MasterName = ep.MasterName
		cfg.Cluster = ep.Shape == topology.ShapeCluster
		if ep.Username != "" {
			cfg.Username = ep.Username
		}
		if ep.Password != "" {
			cfg.Password = ep.Password
		}
		if ep.TLS != nil {
			cfg.TLS = ep.TLS
		}
	}
	useEndpoints()
	if cfg, err = cfg.WithEnv(o.getenv()); err != nil {
		return cfg, err
	}
	useEndpoints()
	if !s.Target.OwnsNodes() {
		cfg.ProtectServer = !o.AllowDestructive
		if cfg.KeyPrefix == "" && p.KeyPrefix == nil {
			cfg.KeyPrefix = "cacheproof:"
		}
	}
	return cfg, cfg.Validate()
}

// workloadConfig is the workload's configuration for the scenario's
// workload: section, with the run's seed and shard.
func workloadConfig(s *scenarios.Scenario, o Options) workload.Config {
	cfg := s.Workload.Config()
	cfg.Seed, cfg.Shard, cfg.Shards = s.Seed, o.Shard, o.Shards
	return cfg
}

// phasePlans maps scenario phases onto the workload schedule. With --shard,
// each shard runs its share of the users.
func phasePlans(s *scenarios.Scenario, shards int) ([]workload.PhasePlan, []engine.Phase) {
	if shards < 1 {
		shards = 1
	}
	share := func(n int) int { return (n + shards - 1) / shards }
	plans := make([]workload.PhasePlan, len(s.Phases))
	infos := make([]engine.Phase, len(s.Phases))
	var at time.Duration
	for i, p := range s.Phases {
		var from, to int // users: 0 is an idle phase, not "unset"
		switch {
		case p.UsersFrom != nil:
			from, to = *p.UsersFrom, *p.UsersTo
		case p.Users != nil:
			from, to = *p.Users, *p.Users
		}
		plans[i] = workload.PhasePlan{Name: p.Name, Duration: p.Duration.D(), UsersStart: share(from), UsersEnd: share(to), Record: p.Recorded()}
		infos[i] = engine.Phase{Name: p.Name, Recorded: p.Recorded(), Start: at, End: at + p.Duration.D()}
		at += p.Duration.D()
	}
	return plans, infos
}

// redactedScenario is the resolved scenario for the report, with secrets out.
func redactedScenario(s *scenarios.Scenario) scenarios.Scenario {
	c := *s
	if c.Target.Password != "" {
		c.Target.Password = "***"
	}
	if c.Target.TLS != nil {
		t := *c.Target.TLS
		if t.KeyFile != "" {
			t.KeyFile = "***"
		}
		c.Target.TLS = &t
	}
	c.Target.Addrs = append([]string(nil), c.Target.Addrs...)
	for i, a := range c.Target.Addrs {
		if at := strings.LastIndex(a, "@"); at >= 0 {
			c.Target.Addrs[i] = "***@" + a[at+1:]
		}
	}
	return c
}

// familyPrefix is the constant part of a key pattern: "steam:avatar:" of
// "steam:avatar:{steamId}".
func familyPrefix(pattern string) string {
	if i := strings.IndexByte(pattern, '{'); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

// familyTTLs is the TTL the manager really applies to each family's keys,
// for the miss ledger: the family's own where the catalogue gives one, else
// its tier's (which a scenario's pool.ttl may have changed).
func familyTTLs(cfg pool.Config, fams []workload.Family) map[string]time.Duration {
	out := make(map[string]time.Duration, len(fams))
	for _, f := range fams {
		ttl := cfg.TTL[pool.Tier(f.Tier)]
		if d, ok := cfg.KeyTTL[familyPrefix(f.KeyPattern)]; ok {
			ttl = d
		}
		out[f.Name] = ttl
	}
	return out
}
