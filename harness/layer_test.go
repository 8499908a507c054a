package harness

import (
	"context"
	"testing"

	"github.com/cacheproof/cacheproof/scenarios"
)

// everyFeature is the seed's catalogue with every feature on (the default)
// beside two families of the scenario's own of the other data types, on a
// short run at a rate that reaches each command often: the one scenario
// that must show every part of the layer in Redis's own counters.
const everyFeature = `
name: every-feature
seed: 5
pool: {profile: development, min_idle: 1, max_conns: 8}
workload:
  population: 5000
  active_users: 200
  commands_per_user_per_minute: 240
  instances: 3
  rate_limit: {hits: 5, window: 1m}
  families:
    - {name: profile_hash, key: "ph:{id}", keys: 300, type: hash, fields: 8, tier: api, mean_size: 128b, weight: 10, writes: 0.3}
    - {name: board, key: "board:{id}", keys: 50, type: zset, members: 20, tier: api, mean_size: 128b, weight: 10, writes: 0.3}
phases:
  - {name: steady, duration: 4s}
`

// Every feature's traffic reaches Redis: the scripts (EVALSHA: rate limit,
// session get-and-extend, CAS), MGET, PUBLISH, the hash and sorted-set
// commands, as INFO commandstats counts them; and the report's by_op,
// layer and near-cache figures are filled.
func TestEveryFeatureReachesRedis(t *testing.T) {
	needRedis(t)
	sc, err := scenarios.LoadBytes("every.yaml", []byte(everyFeature))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"evalsha", "mget", "publish", "hget", "hset", "zadd", "zrange", "hmget", "get", "set", "del"} {
		if st := res.Server.LatencyStats[cmd]; st.Calls == 0 {
			t.Errorf("INFO commandstats: no %s calls (have %v)", cmd, keys(res.Server.LatencyStats))
		} else {
			t.Logf("cmdstat_%s calls=%d", cmd, st.Calls)
		}
	}
	for _, op := range []string{"get", "set", "session_get", "mget", "cas", "rate_limit", "update", "hget", "zrange"} {
		if res.Latency.ByOp[op].Count == 0 {
			t.Errorf("latency_ms.by_op has no %s (have %v)", op, keys(res.Latency.ByOp))
		}
	}
	l := res.Layer
	if l == nil {
		t.Fatal("no layer section")
	}
	if l.Instances != 3 || len(l.ByInstance) != 3 {
		t.Errorf("instances %d, by_instance %d, want 3", l.Instances, len(l.ByInstance))
	}
	for _, in := range l.ByInstance {
		if in.Dials == 0 {
			t.Errorf("instance %d never dialled: %+v", in.Instance, in)
		}
	}
	if l.RateLimit.Allowed == 0 || l.RateLimit.Denied == 0 || l.RateLimit.SkippedOps == 0 {
		t.Errorf("rate limit at 5 per minute and 4 commands a minute per user... %+v", l.RateLimit)
	}
	if l.Invalidate.Published == 0 || l.Invalidate.Received == 0 || l.Invalidate.Expected != 2*l.Invalidate.Published {
		t.Errorf("invalidation: %+v", l.Invalidate)
	}
	if l.NearCache.Hits == 0 || l.NearCache.Misses == 0 || len(l.NearCache.Families) == 0 {
		t.Errorf("near cache: %+v", l.NearCache)
	}
	if res.Integrity.Mismatches != 0 {
		t.Errorf("integrity: %+v", res.Integrity)
	}
	t.Logf("errors %v", res.Errors)
	t.Logf("layer: rate %+v cas %+v inval %+v near hits %d misses %d stale %d in-flight %d warming %d runs",
		l.RateLimit, l.CAS, l.Invalidate, l.NearCache.Hits, l.NearCache.Misses, l.NearCache.StaleReads, l.NearCache.StaleInFlight, len(l.Warming))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
