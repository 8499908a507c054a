package sizing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A defined family's deletes (workload deletes:) are removals in the
// simulation: a share of writes keeps its keys cached, the same share of
// deletes empties them and the next read misses (96.8 % with 20 % writes,
// 77.8 % with 20 % deletes over 2,000 zipf ids); held to 10 points apart.
func TestDeletesAreRemovals(t *testing.T) {
	const scenario = `name: deletes
seed: 3
target: {backend: process, redis: {maxmemory: 64mb, maxmemory_policy: allkeys-lru}}
workload:
  population: 10000
  active_users: 100
  commands_per_user_per_minute: 60
  catalogue: none
  prefill: 5m
  families:
    - {name: page, key: "page:{id}", keys: 2000, tier: api, mean_size: 200, popularity: {kind: zipf, exponent: 1.0}, weight: 1, SHARE}
phases:
  - {name: steady, duration: 2m}
`
	rate := func(share string) float64 {
		file := filepath.Join(t.TempDir(), "s.yaml")
		if err := os.WriteFile(file, []byte(strings.Replace(scenario, "SHARE", share, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		tr, plan := loadTrace(t, file, TraceOptions{Rate: 1})
		costs, err := fixedCal.Costs(tr.Families)
		if err != nil {
			t.Fatal(err)
		}
		ttl := []time.Duration{plan.TTL["page"]}
		return hitRate(t, tr, costs, ttl, "allkeys-lru", 60<<20)
	}
	writes, deletes := rate("writes: 0.2"), rate("deletes: 0.2")
	t.Logf("hit rate %.3f with 20 %% writes, %.3f with 20 %% deletes", writes, deletes)
	if deletes > writes-0.1 {
		t.Errorf("hit rate %.3f with 20 %% writes, %.3f with 20 %% deletes: deletes must empty keys", writes, deletes)
	}
}
