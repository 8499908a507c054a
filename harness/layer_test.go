package harness

import (
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
)

// everyFeature is the seed's catalogue with every feature on (the default)
// beside two families of the scenario's own of the other data types, on a
// short run at a rate that reaches each command often: the one scenario
// that must show every part of the layer in Redis's own counters.
const everyFeature = `
name: every-feature
seed: 5
pool: {profile: development, min_idle: 1, max_conns: 8, near_cache: [user_connected, guild_locale, stratz_profile, opendota_profile]}
workload:
  population: 5000
  active_users: 200
  commands_per_user_per_minute: 240
  instances: 3
  prefill: 1m
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
	res := runYAML(t, "every.yaml", everyFeature)
	for _, cmd := range []string{"evalsha", "mget", "publish", "hget", "hset", "zadd", "zrange", "get", "set", "del"} {
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
	// Prefill wrote the typed families as their types: a hash or sorted-set
	// read never met a string (WRONGTYPE would be an error of kind other
	// on hget/zrange).
	if hf := res.Cache.ByFamily["profile_hash"]; hf.Hits == 0 {
		t.Errorf("the hash family never hit after prefill: %+v", hf)
	}
	if bf := res.Cache.ByFamily["board"]; bf.Hits == 0 || bf.LookupErrors != 0 {
		t.Errorf("the sorted-set family after prefill: %+v", bf)
	}
	// Every second's hit rate per family, for /metrics.
	seen := false
	for _, row := range res.Timeline {
		_, ok := row.HitRateByFamily["profile_hash"]
		seen = seen || ok
	}
	if !seen {
		t.Errorf("no timeline row has a hit rate for profile_hash")
	}
	// Each family's latency is recorded beside its counts, and its
	// histogram is kept for merge: every family with lookups has samples
	// (fewer than lookups where an MGET reads several keys in one
	// operation, filed under its own family).
	var samples int64
	for _, s := range res.Latency.ByFamily {
		samples += s.Count
	}
	if want := res.Latency.Overall.Count; samples == 0 || samples > want {
		t.Errorf("%d family latency samples for %d operations", samples, want)
	}
	for name, c := range res.Cache.ByFamily {
		if c.Hits+c.Misses+c.LookupErrors == 0 {
			continue
		}
		if s := res.Latency.ByFamily[name]; s.Count == 0 {
			t.Errorf("family %s: no latency samples for %d lookups", name, c.Hits+c.Misses)
		}
		if res.HDR["family:"+name] == "" {
			t.Errorf("family %s: no family:%s histogram", name, name)
		}
	}
	// Every script and typed command met the type it expects: no WRONGTYPE
	// (kind other), CAS included, which swaps the family's plain string.
	if n := res.Errors["other"]; n != 0 {
		t.Errorf("%d errors of kind other (WRONGTYPE?): %v", n, res.Errors)
	}
	t.Logf("errors %v", res.Errors)
	t.Logf("layer: rate %+v cas %+v inval %+v near hits %d misses %d stale %d in-flight %d warming %d runs",
		l.RateLimit, l.CAS, l.Invalidate, l.NearCache.Hits, l.NearCache.Misses, l.NearCache.StaleReads, l.NearCache.StaleInFlight, len(l.Warming))
}

// Settings updates of two guilds' locale from three instances at once: CAS
// conflicts happen, are retried and counted in the layer section, and none
// is an error; the locale stays the string every other read expects.
func TestCASConflictsCounted(t *testing.T) {
	needRedis(t)
	res := runYAML(t, "cas.yaml", `
name: cas-contention
seed: 11
pool: {profile: development, max_conns: 8}
workload:
  population: 2000
  active_users: 200
  commands_per_user_per_minute: 240
  instances: 3
  guilds: 2
  features: {rate_limit: false}
  families:
    - {name: guild_locale, weight: 400}
phases:
  - {name: steady, duration: 3s}
`)
	t.Logf("errors %v, cas %+v, by_op cas %d", res.Errors, res.Layer.CAS, res.Latency.ByOp["cas"].Count)
	if res.Latency.ByOp["cas"].Count == 0 {
		t.Fatalf("no CAS issued: by_op %v", keys(res.Latency.ByOp))
	}
	if n := res.Errors["other"]; n != 0 {
		t.Errorf("%d errors of kind other (CAS's WRONGTYPE?): %v", n, res.Errors)
	}
	if res.Layer == nil || res.Layer.CAS.Conflicts == 0 {
		t.Errorf("two guilds updated by 200 users: no CAS conflict counted: %+v", res.Layer)
	}
	if res.Integrity.Mismatches != 0 {
		t.Errorf("integrity: %+v", res.Integrity)
	}
	if gl := res.Cache.ByFamily["guild_locale"]; gl.Hits == 0 || gl.LookupErrors != 0 {
		t.Errorf("guild_locale read back by GET/MGET after CAS: %+v", gl)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// warmingPair restarts Redis empty twice: the first time the bot does not
// re-warm (warm: off), the second time it does (warm: on). Everything else
// is the same run, so the two fault reports side by side are the warming's
// effect.
const warmingPair = `
name: warming-pair
seed: 9
pool: {profile: production, command_timeout: 400ms, connect_timeout: 250ms, pool_timeout: 500ms, max_retries: 1, warm_keys: 3000}
workload:
  population: 3000
  active_users: 300
  commands_per_user_per_minute: 120
  instances: 2
  zipf: 1.2
  prefill: 2m
  origins:
    stratz: {latency: 2ms, p99: 5ms}
    opendota: {latency: 2ms, p99: 5ms}
    steam: {latency: 2ms, p99: 5ms}
    internal: {latency: 1ms, p99: 2ms}
driver: {op_timeout: 2s}
phases:
  - {name: steady, duration: 16s}
faults:
  - {at: 3s, kind: restart, mode: kill, warm: "off"}
  - {at: 10s, kind: restart, mode: kill, warm: "on"}
`

// A restart with warming dips less (or re-warms sooner) than one without,
// and the warming's cost (keys, origin loads) is reported for the one that
// warmed. The direction is asserted, never a timing.
func TestWarmingComparison(t *testing.T) {
	needRedis(t)
	res := runYAML(t, "warming.yaml", warmingPair)
	if len(res.Faults) != 2 {
		t.Fatalf("want 2 fault reports, got %d", len(res.Faults))
	}
	off, on := res.Faults[0], res.Faults[1]
	for _, f := range []struct {
		name string
		f    result.FaultReport
	}{{"off", off}, {"on", on}} {
		rw := -1.0
		if f.f.RewarmS != nil {
			rw = *f.f.RewarmS
		}
		t.Logf("warm %s: hit rate before %.3f min %.3f rewarm_s %.2f warming %+v", f.name, f.f.HitRateBefore, f.f.HitRateMin, rw, f.f.Warming)
	}
	if off.Warming == nil || off.Warming.Warmed {
		t.Errorf("the warm: off restart warmed: %+v", off.Warming)
	}
	if on.Warming == nil || !on.Warming.Warmed || on.Warming.Keys == 0 || on.Warming.OriginLoads == 0 {
		t.Fatalf("the warm: on restart did not warm: %+v", on.Warming)
	}
	better := on.HitRateMin > off.HitRateMin ||
		(on.RewarmS != nil && (off.RewarmS == nil || *on.RewarmS < *off.RewarmS))
	if !better {
		t.Errorf("warming helped neither the dip (min %.3f vs %.3f without) nor the re-warm", on.HitRateMin, off.HitRateMin)
	}
}

// Without a near cache (the default: the seed's manager has none) the
// invalidations are still published and delivered, and their delivery lag
// is still measured: it is what an instance with local state would wait.
func TestInvalidationLagWithoutNearCache(t *testing.T) {
	needRedis(t)
	y := strings.Replace(everyFeature, ", near_cache: [user_connected, guild_locale, stratz_profile, opendota_profile]", "", 1)
	if y == everyFeature {
		t.Fatal("the every-feature scenario no longer names its near cache; update this test")
	}
	res := runYAML(t, "no-near.yaml", y)
	iv := res.Layer.Invalidate
	if iv.Received == 0 || iv.LagMs.Count == 0 {
		t.Fatalf("invalidation without a near cache: received %d, lag samples %d; want both (%+v)", iv.Received, iv.LagMs.Count, iv)
	}
	if nc := res.Layer.NearCache; nc.Hits != 0 || nc.StaleReads != 0 {
		t.Errorf("no near cache configured, yet %+v", nc)
	}
}

// typedFills has only a hash family and a sorted-set family, read-only, so
// every HSET and ZADD Redis sees is the fill after a miss.
const typedFills = `
name: typed-fills
seed: 9
pool: {profile: development, min_idle: 1, max_conns: 8}
workload:
  population: 5000
  active_users: 100
  commands_per_user_per_minute: 300
  catalogue: none
  families:
    - {name: product, key: "product:{id}", keys: 2000, type: hash, fields: 8, tier: api, mean_size: 128b, weight: 10}
    - {name: board, key: "board:{id}", keys: 500, type: zset, members: 20, tier: api, mean_size: 64b, weight: 10}
phases:
  - {name: steady, duration: 3s}
`

// A hash miss's fill is recorded as hset and a sorted set's as zadd, one
// sample per command Redis saw (INFO commandstats, reset as the load
// starts), and none as set: no string was written.
func TestTypedFillsRecordedAsTheirCommand(t *testing.T) {
	needRedis(t)
	res := runYAML(t, "typed-fills.yaml", typedFills)
	if s, ok := res.Latency.ByOp["set"]; ok && s.Count > 0 {
		t.Errorf("latency_ms.by_op.set has %d samples, want none: the fills were HSET and ZADD", s.Count)
	}
	for _, cmd := range []string{"hset", "zadd"} {
		calls := res.Server.LatencyStats[cmd].Calls
		if calls == 0 {
			t.Fatalf("Redis saw no %s (have %v)", cmd, keys(res.Server.LatencyStats))
		}
		if got := res.Latency.ByOp[cmd].Count; uint64(got) != uint64(calls) {
			t.Errorf("latency_ms.by_op.%s count %d, want Redis's %d %s calls", cmd, got, calls, cmd)
		}
	}
}
