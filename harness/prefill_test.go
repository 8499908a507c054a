package harness

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/runplan"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
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
	p := newPrefillCase(t, "prefill-rl.yaml", `
name: prefill-rate-limit
seed: 6
workload: {population: 3000, active_users: 300, commands_per_user_per_minute: 120, prefill: 2m, rate_limit: {hits: 2, window: 10m}}
phases:
  - {name: steady, duration: 1s}
`)
	ctx, dep, pcfg, mgr, model, h, plans, history := p.ctx, p.dep, p.pcfg, p.mgr, p.model, p.h, p.plans, p.history
	if !model.Features().RateLimit {
		t.Fatal("rate limit off: the test would prove nothing")
	}
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

// TestPrefillWritesEveryHashField: a hash holds, at the history's end,
// every field its reads filled and its writes set (not only the last one
// addressed), so Redis's HLEN of each hash equals the fields the history
// addressed; the ledger calls a field the history never addressed cold.
func TestPrefillWritesEveryHashField(t *testing.T) {
	p := newPrefillCase(t, "prefill-hash.yaml", `
name: prefill-hash
seed: 8
workload:
  population: 2000
  active_users: 100
  commands_per_user_per_minute: 60
  catalogue: none
  prefill: 1m
  families:
    - {name: profile, key: "profile:{id}", keys: 20, type: hash, fields: 50, tier: meta, mean_size: 100b, weight: 1, writes: 0.1}
phases:
  - {name: steady, duration: 1s}
`)
	ctx, dep, pcfg, mgr, model, h, plans, history := p.ctx, p.dep, p.pcfg, p.mgr, p.model, p.h, p.plans, p.history
	// The fields the history addresses, per hash (the meta tier's hour
	// outlives the minute of history: every one is alive at its end).
	want := map[string]map[string]bool{}
	probe := model.Schedule([]workload.PhasePlan{history})
	for c, ok := probe.Next(); ok; c, ok = probe.Next() {
		for _, op := range c.Ops {
			if op.Field != "" {
				if want[op.Key] == nil {
					want[op.Key] = map[string]bool{}
				}
				want[op.Key][op.Field] = true
			}
		}
	}
	ledger := workload.NewLedger()
	var ver atomic.Uint32
	if _, _, err := prefill(ctx, model.Schedule(append([]workload.PhasePlan{history}, plans...)), h, mgr, ledger,
		runplan.FamilyTTLs(pcfg, model.Families()), func() uint32 { return ver.Add(1) }); err != nil {
		t.Fatal(err)
	}
	many := 0
	for key, fields := range want {
		n, err := dep.Do(ctx, "primary-0", "HLEN", pcfg.KeyPrefix+key)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := n.(int64); got != int64(len(fields)) {
			t.Errorf("%s: Redis holds %v fields, the history addressed %d", key, n, len(fields))
		}
		if len(fields) > 1 {
			many++
		}
		for i := range 50 {
			f := "f" + strconv.Itoa(i)
			c := ledger.ClassifyField(key, f, time.Now().Add(time.Second))
			if fields[f] != (c != workload.MissCold) {
				t.Errorf("%s %s: addressed %v, the ledger classifies a miss %v", key, f, fields[f], c)
			}
		}
	}
	if many == 0 {
		t.Fatal("no hash had more than one field addressed: the test would prove nothing")
	}
	t.Logf("%d hashes, %d of them with several fields, each holding what the history addressed", len(want), many)
}

// TestPrefillWritesWholeHashes: a hash whose history rewrote it whole
// (write: replace_multi, from a producer) holds every one of the family's
// fields after prefill, and the ledger knows each of them was written: a
// miss of one is not cold.
func TestPrefillWritesWholeHashes(t *testing.T) {
	p := newPrefillCase(t, "prefill-whole.yaml", `
name: prefill-whole
seed: 9
workload:
  population: 2000
  active_users: 50
  commands_per_user_per_minute: 30
  catalogue: none
  prefill: 1m
  families:
    - {name: page, key: "page:{id}", keys: 50, tier: meta, mean_size: 100b, weight: 1}
    - {name: surge, key: "surge:{city}", keys: 4, type: hash, fields: 30, write: replace_multi, tier: meta, mean_size: 16b, weight: 1, producer: {every: 10s}}
phases:
  - {name: steady, duration: 1s}
`)
	ctx, dep, pcfg, mgr, model, h, plans, history := p.ctx, p.dep, p.pcfg, p.mgr, p.model, p.h, p.plans, p.history
	ledger := workload.NewLedger()
	var ver atomic.Uint32
	if _, _, err := prefill(ctx, model.Schedule(append([]workload.PhasePlan{history}, plans...)), h, mgr, ledger,
		runplan.FamilyTTLs(pcfg, model.Families()), func() uint32 { return ver.Add(1) }); err != nil {
		t.Fatal(err)
	}
	for city := range 4 {
		key := "surge:" + strconv.Itoa(city)
		n, err := dep.Do(ctx, "primary-0", "HLEN", pcfg.KeyPrefix+key)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := n.(int64); got != 30 {
			t.Errorf("%s: Redis holds %v fields after prefill, want all 30", key, n)
		}
		for i := range 30 {
			f := "f" + strconv.Itoa(i)
			if c := ledger.ClassifyField(key, f, time.Now().Add(time.Second)); c == workload.MissCold {
				t.Errorf("%s %s: a field the history wrote whole is classified cold", key, f)
			}
		}
	}
}

// prefillCase is a scenario made ready for prefill against a real
// redis-server: its manager, model and history plan.
type prefillCase struct {
	ctx     context.Context
	dep     topology.Deployment
	pcfg    pool.Config
	mgr     *pool.Manager
	model   *workload.Model
	h       time.Duration
	plans   []workload.PhasePlan
	history workload.PhasePlan
}

func newPrefillCase(t *testing.T, name, yaml string) *prefillCase {
	t.Helper()
	needRedis(t)
	p := &prefillCase{dep: startDeployment(t)}
	sc, err := scenarios.LoadBytes(name, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if p.pcfg, err = runplan.PoolConfig(sc, p.dep.Endpoints(), noEnv); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	p.ctx = ctx
	if p.mgr, err = pool.New(ctx, p.pcfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.mgr.Shutdown(context.Background()) })
	if p.model, err = workload.New(sc.Workload, runplan.WorkloadRun(sc, noEnv)); err != nil {
		t.Fatal(err)
	}
	p.h = sc.Workload.Prefill.D()
	p.plans = runplan.Phases(sc, 1)
	p.history = workload.PhasePlan{Name: "history", Duration: p.h, UsersStart: p.plans[0].UsersStart, UsersEnd: p.plans[0].UsersStart}
	return p
}
