package sizing

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/runplan"
	"github.com/cacheproof/cacheproof/scenarios"
)

// fixedCal is a calibration as Redis 7.0.15 measured it, so the
// simulator's own tests need no server.
var fixedCal = &Calibration{RedisVersion: "test", Types: map[string]Fit{"string": {A: 108, B: 1.090}, "hash": {A: 200, B: 1.1}, "zset": {A: 250, B: 1.2}, "counter": {A: 49, B: 1.083}},
	Volatile: 46, Startup: 876_000, PerClient: 25_000, PerIdleClient: 4_000, RoundTripS: 100e-6}

func smallSetup(t testing.TB, rate float64) (*Trace, *Costs, []time.Duration, float64) {
	return smallSample(t, rate, "")
}

func smallSample(t testing.TB, rate float64, salt string) (*Trace, *Costs, []time.Duration, float64) {
	t.Helper()
	tr, plan := loadTrace(t, "testdata/small.yaml", TraceOptions{Rate: rate, Salt: salt})
	costs, err := fixedCal.Costs(tr.Families)
	if err != nil {
		t.Fatal(err)
	}
	ttl := make([]time.Duration, len(tr.Families))
	for i, f := range tr.Families {
		ttl[i] = plan.TTL[f.Name]
		if ttl[i] == 0 && f.RateLimit > 0 {
			ttl[i] = f.TTL
		}
	}
	return tr, costs, ttl, fixedCal.Base(Clients(plan, tr, fixedCal.RoundTripS), len(Commands(tr, plan.Pool.InvalidationChannel != "")))
}

// loadTrace builds the stream of a scenario file as size does (its near
// cache included).
func loadTrace(t testing.TB, file string, o TraceOptions) (*Trace, *runplan.Plan) {
	t.Helper()
	s, err := scenarios.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := runplan.Of(s)
	if err != nil {
		t.Fatal(err)
	}
	o.NearFamilies, o.NearTTL = plan.Pool.NearCache, plan.Pool.NearCacheTTL
	tr, err := BuildTrace(plan.Workload, plan.Run, plan.Phases, plan.History, o)
	if err != nil {
		t.Fatal(err)
	}
	return tr, plan
}

func hitRate(t testing.TB, tr *Trace, costs *Costs, ttl []time.Duration, policy string, capacity float64) float64 {
	t.Helper()
	r, err := Simulate(tr, SimConfig{Policy: policy, Capacity: capacity, Costs: costs, TTL: ttl, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r.HitRate()
}

// TestShardsAgreesWithFullStream validates the sampling against the
// simulator itself: a quarter of the keys (costs scaled by 4) estimates
// the full stream's hit rate without bias, for every policy. One sample
// of the small stream keeps only ~4,000 keys, and whether its few hottest
// users' keys are in it moves the hit rate by up to ~2.5 points at 6 MB
// (volatile-ttl; ±1 for the others, ±0.9 at 12 MB; ±3 at 3 MB, where a
// sample's cache holds a few hundred keys), so the bound of a point is on
// the mean of eight samples (eight salts of the hash); each one is held
// to 4 points. The baseline's sample keeps some 30 times more keys.
func TestShardsAgreesWithFullStream(t *testing.T) {
	full, costs, ttl, _ := smallSetup(t, 1)
	const n = 8
	parts := make([]*Trace, n)
	pcosts := make([]*Costs, n)
	for i := range parts {
		parts[i], pcosts[i], _, _ = smallSample(t, 0.25, fmt.Sprint("salt", i))
		if parts[i].Events() >= full.Events()/2 {
			t.Fatalf("sampling kept %d of %d accesses", parts[i].Events(), full.Events())
		}
	}
	for _, pol := range Policies {
		for _, mb := range []float64{6, 12} {
			a := hitRate(t, full, costs, ttl, pol, mb*(1<<20))
			var mean float64
			line := ""
			for i := range parts {
				b := hitRate(t, parts[i], pcosts[i], ttl, pol, mb*(1<<20))
				mean += b / n
				line += fmt.Sprintf(" %+.2f", 100*(b-a))
				if math.Abs(a-b) > 0.04 {
					t.Errorf("%s at %.0f MB: full stream %.2f%%, a 1/4 sample %.2f%%", pol, mb, 100*a, 100*b)
				}
			}
			t.Logf("%-13s %4.0f MB: full %.2f%%, mean of %d samples %.2f%% (each:%s)", pol, mb, 100*a, n, 100*mean, line)
			if math.Abs(a-mean) > 0.01 {
				t.Errorf("%s at %.0f MB: full stream %.2f%%, mean of %d 1/4 samples %.2f%%", pol, mb, 100*a, n, 100*mean)
			}
		}
	}
}

// TestMoreMemoryNeverHurtsExactLRU checks the stack property of true LRU
// on the simulator: the hit rate does not fall as memory grows, and an
// unbounded cache is the ceiling.
func TestMoreMemoryNeverHurtsExactLRU(t *testing.T) {
	tr, costs, ttl, _ := smallSetup(t, 1)
	prev := 0.0
	for _, mb := range []float64{1, 2, 4, 8, 16, 32} {
		h := hitRate(t, tr, costs, ttl, ExactLRU, mb*(1<<20))
		if h+1e-9 < prev {
			t.Errorf("exact LRU at %.0f MB: %.4f, below %.4f at half the memory", mb, h, prev)
		}
		prev = h
	}
	if ceil := hitRate(t, tr, costs, ttl, ExactLRU, math.Inf(1)); ceil+1e-9 < prev {
		t.Errorf("unbounded %.4f below bounded %.4f", ceil, prev)
	}
}

// TestVolatileTTLNeverEvictsPersistentKeys: with room for little more than
// the persistent keys, volatile-ttl refuses writes (OOM) rather than evict
// them, as Redis does.
func TestVolatileTTLNeverEvictsPersistentKeys(t *testing.T) {
	tr, costs, ttl, _ := smallSetup(t, 1)
	r, err := Simulate(tr, SimConfig{Policy: VolatileTTL, Capacity: 64 << 10, Costs: costs, TTL: ttl, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.OOM == 0 {
		t.Errorf("volatile-ttl at 64 KB: no write refused (evicted %.0f)", r.Evicted)
	}
}

// TestEveryPolicyEvictsWhatRedisWould: the volatile policies never evict a
// family without a TTL (and refuse writes when only such keys are left),
// noeviction evicts nothing and refuses, the allkeys policies evict
// persistent keys too.
func TestEveryPolicyEvictsWhatRedisWould(t *testing.T) {
	tr, costs, ttl, _ := smallSetup(t, 1)
	for _, pol := range Simulated {
		kind, volOnly, _ := policyOf(pol)
		r, err := Simulate(tr, SimConfig{Policy: pol, Capacity: 2 << 20, Costs: costs, TTL: ttl, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		var persistent float64
		for i := range tr.Families {
			if ttl[i] == 0 {
				persistent += r.EvictedBy[i]
			}
		}
		t.Logf("%-15s at 2 MB: hit %.2f%%, evicted %.0f (%.0f without a TTL), refused %.0f", pol, 100*r.HitRate(), r.Evicted, persistent, r.OOM)
		switch {
		case kind == kindNone:
			if r.Evicted != 0 || r.OOM == 0 {
				t.Errorf("noeviction: evicted %.0f, refused %.0f writes; want none evicted, some refused", r.Evicted, r.OOM)
			}
		case volOnly:
			if persistent != 0 || r.Evicted == 0 {
				t.Errorf("%s: evicted %.0f keys without a TTL (of %.0f)", pol, persistent, r.Evicted)
			}
		default:
			if persistent == 0 || r.Evicted == 0 {
				t.Errorf("%s: evicted %.0f, none of them without a TTL", pol, r.Evicted)
			}
		}
	}
	if _, err := Simulate(tr, SimConfig{Policy: "volatile-lfru", Costs: costs, TTL: ttl}); err == nil {
		t.Error("an unknown policy was simulated")
	}
}

// TestLFUSettingsMatter: lfu-decay-time 0 (counters never decay) and a log
// factor of 0 (every access counts) keep a different cache than Redis's
// defaults.
func TestLFUSettingsMatter(t *testing.T) {
	tr, costs, ttl, _ := smallSetup(t, 1)
	hr := func(lfu *LFUConfig) float64 {
		r, err := Simulate(tr, SimConfig{Policy: AllKeysLFU, Capacity: 4 << 20, Costs: costs, TTL: ttl, Seed: 1, LFU: lfu})
		if err != nil {
			t.Fatal(err)
		}
		return r.HitRate()
	}
	def, same, other := hr(nil), hr(&LFUConfig{LogFactor: 10, DecayTime: 1}), hr(&LFUConfig{LogFactor: 0, DecayTime: 0})
	t.Logf("allkeys-lfu at 4 MB: defaults %.2f%%, log factor 0 and no decay %.2f%%", 100*def, 100*other)
	if def != same {
		t.Errorf("nil LFU config gave %.4f, Redis's defaults written out %.4f", def, same)
	}
	if def == other {
		t.Errorf("lfu-log-factor 0 and lfu-decay-time 0 gave the defaults' hit rate %.4f", def)
	}
}

func TestPoolKeepsTheBestCandidates(t *testing.T) {
	s := &sim{}
	for i := range s.pool {
		s.pool[i].key = noKey
	}
	for k, idle := range []uint64{5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 11, 12, 13, 14, 15, 16, 17, 0} {
		s.poolInsert(int32(k), idle)
	}
	for i := 1; i < evpoolSize; i++ {
		if s.pool[i-1].idle > s.pool[i].idle {
			t.Fatalf("pool not sorted: %+v", s.pool)
		}
	}
	if s.pool[evpoolSize-1].idle != 17 || s.pool[0].idle != 2 {
		t.Errorf("pool holds %+v, want the 16 idlest (2..17)", s.pool)
	}
}

// BenchmarkCurve is one simulation of the small scenario's full stream
// (about 0.5M accesses) at one size: a curve is ~100 of these.
func BenchmarkCurve(b *testing.B) {
	tr, costs, ttl, _ := smallSetup(b, 1)
	b.ResetTimer()
	for range b.N {
		if _, err := Simulate(tr, SimConfig{Policy: AllKeysLRU, Capacity: 6 << 20, Costs: costs, TTL: ttl, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tr.Events()), "accesses/op")
}

// TestRepeatsUntilSteady: the first n simulations of a point start evenly
// within Redis's second and minute, later ones between them; a point
// whose simulations disagree (a family's standard error over half a
// point) asks for more, one whose simulations agree does not.
func TestRepeatsUntilSteady(t *testing.T) {
	span := time.Minute + time.Second
	seen := map[time.Duration]bool{}
	for i := range 16 {
		p := repeatPhase(i, 4)
		if p < 0 || p >= span || seen[p] {
			t.Fatalf("repeatPhase(%d, 4) = %v: outside [0, %v) or repeated", i, p, span)
		}
		seen[p] = true
	}
	if repeatPhase(2, 4) != span/2 {
		t.Fatalf("repeatPhase(2, 4) = %v, want %v", repeatPhase(2, 4), span/2)
	}
	res := func(hits ...float64) []*SimResult {
		var rs []*SimResult
		for _, h := range hits {
			rs = append(rs, &SimResult{Hits: []float64{h, 50}, Lookups: []float64{100, 100}})
		}
		return rs
	}
	if noisy(res(40, 40.2, 39.9, 40.1)) {
		t.Fatal("four simulations within 0.3 points called noisy")
	}
	if !noisy(res(30, 36, 33, 39)) {
		t.Fatal("four simulations 9 points apart (a family of 300 large hashes) not called noisy")
	}
}
