package runplan

import (
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// noEnv is a run with no command-line choices beside its scenario.
var noEnv Env

var localEndpoints = topology.Endpoints{Shape: topology.ShapeStandalone, Addrs: []string{"127.0.0.1:6379"}}

func loadScenario(t *testing.T, path string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The zeros a scenario writes where they mean something reach the topology,
// pool and workload configs as written, not as the profile's or the
// model's defaults.
func TestConfigKeepsWrittenZeros(t *testing.T) {
	s := loadScenario(t, "../scenarios/testdata/good/zeros.yaml")

	if spec := TopologySpec(s, noEnv); spec.MaxMemory != 0 {
		t.Errorf("maxmemory: 0 reached topology as %s, want 0 (no limit)", spec.MaxMemory)
	}

	pcfg, err := PoolConfig(s, localEndpoints, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if pcfg.MinConnections != 0 {
		t.Errorf("min_idle: 0 became MinConnections %d (the production profile's is 10)", pcfg.MinConnections)
	}
	if pcfg.MaxRetries != -1 {
		t.Errorf("max_retries: 0 became MaxRetries %d; the pool reads 0 as go-redis's default of 3, -1 as none", pcfg.MaxRetries)
	}
	if pcfg.HealthCheckInterval != 0 {
		t.Errorf("health_check_interval: 0s became %s", pcfg.HealthCheckInterval)
	}
	if pcfg.MaxMemory != 0 {
		t.Errorf("maxmemory: 0 became pool MaxMemory %d", pcfg.MaxMemory)
	}

	wcfg := s.Workload.Config(WorkloadRun(s, noEnv))
	if o := wcfg.Origins["stratz"]; o.ErrorRate != 0 || o.Latency != 0 || o.P99 != 0 {
		t.Errorf("stratz origin written as zeros reached the workload as %+v", o)
	}
	// steam wrote only error_rate: 0; its latency is steam's default.
	if o := wcfg.Origins["steam"]; o.ErrorRate != 0 || o.Latency != 60*time.Millisecond {
		t.Errorf("steam origin: %+v, want error_rate 0 and the default 60ms", o)
	}
	if f := wcfg.Families[0]; f.Name != "stratz_profile" || f.Weight >= 0 {
		t.Errorf("weight: 0 must turn the command off (workload: negative), got %+v", f)
	}
	if err := workload.Validate(s.Workload, WorkloadRun(s, noEnv)); err != nil {
		t.Errorf("workload config: %v", err)
	}

	plans := Phases(s, 1)
	if p := plans[0]; p.UsersStart != 0 || p.UsersEnd != 100 {
		t.Errorf("ramp from 0: %+v", p)
	}
	if p := plans[1]; p.UsersStart != 0 || p.UsersEnd != 0 {
		t.Errorf("idle phase (users: 0) runs %d→%d users", p.UsersStart, p.UsersEnd)
	}
	if p := plans[2]; p.UsersStart != 100 || p.UsersEnd != 100 {
		t.Errorf("steady phase (users unwritten) runs %d→%d, want active_users 100", p.UsersStart, p.UsersEnd)
	}
	if s.Workload.Prefill.D() != 0 {
		t.Errorf("prefill: 0s resolved to %s; the run prefills only when it is positive", s.Workload.Prefill.D())
	}
}

// The contrast: what a scenario leaves out comes from the profile and the
// defaults.
func TestConfigUnwrittenTakesDefaults(t *testing.T) {
	s, err := scenarios.LoadBytes("d.yaml", []byte("name: d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if spec := TopologySpec(s, noEnv); spec.MaxMemory != topology.DefaultMaxMemory {
		t.Errorf("default maxmemory reached topology as %s", spec.MaxMemory)
	}
	pcfg, err := PoolConfig(s, localEndpoints, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if pcfg.MinConnections != 10 || pcfg.MaxRetries != 3 || pcfg.HealthCheckInterval != 30*time.Second {
		t.Errorf("production profile: MinConnections %d, MaxRetries %d, HealthCheckInterval %s", pcfg.MinConnections, pcfg.MaxRetries, pcfg.HealthCheckInterval)
	}
	wcfg := s.Workload.Config(WorkloadRun(s, noEnv))
	if wcfg.Guilds != wcfg.Population/50 {
		t.Errorf("guilds %d, want the model's population/50", wcfg.Guilds)
	}
}

// A zipf family popularity without an exponent used to reach the workload
// as exponent 0, which the model rejects only when the run starts.
func TestConfigPopularityExponentResolved(t *testing.T) {
	s, err := scenarios.LoadBytes("p.yaml", []byte("name: p\nworkload:\n  families:\n    - {name: stratz_profile, popularity: {kind: zipf}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := workload.Validate(s.Workload, WorkloadRun(s, noEnv)); err != nil {
		t.Errorf("workload refuses the resolved scenario: %v", err)
	}
}

// The built-in custom-families scenario's cart (ttl: 30m, no tier) has its
// TTL in the manager's key rules and in the plan the ledger and sizing use.
func TestDefinedFamilyTTLWired(t *testing.T) {
	s, err := scenarios.Resolve("custom-families")
	if err != nil {
		t.Fatal(err)
	}
	pcfg, err := PoolConfig(s, localEndpoints, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if d := pcfg.KeyTTL["cart:{discordId}"]; d != 30*time.Minute {
		t.Errorf("KeyTTL[cart:{discordId}] = %v, want 30m (have %v)", d, pcfg.KeyTTL)
	}
	p, err := Of(s)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.TTL["cart"]; d != 30*time.Minute {
		t.Errorf("plan TTL of cart = %v, want 30m", d)
	}
}

// A scenario without the seed's families gets none of the seed's TTL rules:
// its own family over the seed's keys ("steam:avatar:{avatar_id}", as
// cacheproof profile writes it from a Redis the seed's bot fills) does not
// overlap a rule it never asked for.
func TestNoSeedTTLRulesWithoutTheSeed(t *testing.T) {
	s, err := scenarios.LoadBytes("own.yaml", []byte(`name: own
workload:
  catalogue: none
  families:
    - {name: steam_avatar, key: "steam:avatar:{avatar_id}", keys: 1000, ttl: 24h, mean_size: 1kb, weight: 1}
phases:
  - {name: steady, duration: 10s}
`))
	if err != nil {
		t.Fatal(err)
	}
	pcfg, err := PoolConfig(s, localEndpoints, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pcfg.KeyTTL["steam:avatar:{steamId}"]; ok || pcfg.KeyTTL["steam:avatar:{avatar_id}"] != 24*time.Hour {
		t.Errorf("KeyTTL %v: want only the scenario's own rule", pcfg.KeyTTL)
	}
}
