package harness

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/runplan"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/workload"
)

// noEnv is a run with no command-line choices beside its scenario.
var noEnv runplan.Env

// Prefill replays history with every feature on, rate limit included, and
// writes the keys alive at its end to a real redis-server: never a
// rate-limit counter (the Lua script INCRs those; a replayed value there
// would break the next INCR, and a leftover count would deny users who
// never hit the limit), while the seed's other families are written.
func TestPrefillWritesNoRateLimitCounter(t *testing.T) {
	needRedis(t)
	dep := startDeployment(t)
	sc, err := scenarios.LoadBytes("prefill-rl.yaml", []byte(`
name: prefill-rate-limit
seed: 6
workload: {population: 3000, active_users: 300, commands_per_user_per_minute: 120, prefill: 2m, rate_limit: {hits: 2, window: 10m}}
phases:
  - {name: steady, duration: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	pcfg, err := runplan.PoolConfig(sc, dep.Endpoints(), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mgr, err := pool.New(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mgr.Shutdown(context.Background()) }()
	model, err := workload.New(runplan.WorkloadConfig(sc, noEnv))
	if err != nil {
		t.Fatal(err)
	}
	if !model.Features().RateLimit {
		t.Fatal("rate limit off: the test would prove nothing")
	}
	h := sc.Workload.Prefill.D()
	plans := runplan.Phases(sc, 1)
	history := workload.PhasePlan{Name: "history", Duration: h, UsersStart: plans[0].UsersStart, UsersEnd: plans[0].UsersStart}
	// The history does issue rate-limit hits: what prefill must skip.
	var hits int
	probe := model.Schedule([]workload.PhasePlan{history})
	for c, ok := probe.Next(); ok; c, ok = probe.Next() {
		for _, op := range c.Ops {
			if op.Kind == workload.OpRateLimit {
				hits++
			}
		}
	}
	if hits == 0 {
		t.Fatal("the replayed history has no rate-limit hit")
	}
	var ver atomic.Uint32
	_, pr, err := prefill(ctx, model.Schedule(append([]workload.PhasePlan{history}, plans...)), h, mgr, workload.NewLedger(),
		runplan.FamilyTTLs(pcfg, model.Families()), func() uint32 { return ver.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	keys, err := dep.Do(ctx, "primary-0", "KEYS", "*")
	if err != nil {
		t.Fatal(err)
	}
	all, _ := keys.([]any)
	var counters []string
	for _, k := range all {
		if s, _ := k.(string); strings.Contains(s, "ratelimit:") {
			counters = append(counters, s)
		}
	}
	t.Logf("history: %d commands, %d rate-limit hits; prefill wrote %d keys, Redis holds %d", pr.commands, hits, pr.keys, len(all))
	if pr.keys == 0 || len(all) == 0 {
		t.Fatalf("prefill wrote nothing (%d keys, Redis %d)", pr.keys, len(all))
	}
	if len(counters) > 0 {
		t.Errorf("prefill wrote %d rate-limit counters, e.g. %q", len(counters), counters[:min(3, len(counters))])
	}
}
