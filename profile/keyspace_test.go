package profile

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// simulateAlive runs one key's life event by event: commands arrive at
// rate r, each a read, write or delete by m; a read of an absent key fills
// it, a write sets it, either restarting its TTL of T seconds, a delete
// removes it. It returns the share of the time the key was cached.
func simulateAlive(r, T float64, m opMix, seed uint64) float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	var now, present, expires float64
	alive := false
	const horizon = 2e6
	for now < horizon {
		next := now + rng.ExpFloat64()/r
		if alive && expires < next {
			present += expires - now
			alive = false
		} else if alive {
			present += next - now
		}
		now = next
		u := rng.Float64()
		switch {
		case u < m.write:
			alive, expires = true, now+T
		case u < m.write+m.del:
			alive = false
		case !alive:
			alive, expires = true, now+T
		}
	}
	return present / now
}

// The steady-state share of the time a key is cached, as aliveShare
// computes it, against a key simulated event by event: reads only, reads
// and writes, reads and deletes, all three.
func TestAliveShareMatchesSimulation(t *testing.T) {
	for i, c := range []struct {
		r, T float64
		m    opMix
	}{
		{0.01, 60, opMix{read: 1}},
		{0.01, 60, opMix{read: 0.7, write: 0.3}},
		{0.01, 60, opMix{read: 0.7, del: 0.3}},
		{0.05, 60, opMix{read: 0.6, write: 0.2, del: 0.2}},
		{0.002, 300, opMix{read: 0.9, del: 0.1}},
	} {
		got, want := aliveShare(c.r, c.T, c.m), simulateAlive(c.r, c.T, c.m, uint64(i+1))
		if math.Abs(got-want) > 0.01 {
			t.Errorf("r %g T %g %+v: aliveShare %.4f, simulated %.4f", c.r, c.T, c.m, got, want)
		}
	}
}

// A delete ends a key's life where a write would have extended it: the
// same cached count with a share of deletes means more ids than with the
// same share of writes (the profile replayed deletes as writes before, and
// read the baseline's opendota profiles as 757 ids).
func TestKeyspaceWithDeletes(t *testing.T) {
	pop := ZipfFit{Kind: "zipf", Exponent: 0.6}
	writes, ok1 := keyspace(600, 4, 10*time.Minute, pop, opMix{read: 0.73, write: 0.27})
	deletes, ok2 := keyspace(600, 4, 10*time.Minute, pop, opMix{read: 0.73, del: 0.27})
	if !ok1 || !ok2 || deletes <= 1.1*writes {
		t.Errorf("600 cached keys: %.0f ids with 27 %% writes, %.0f with 27 %% deletes (want clearly more)", writes, deletes)
	}
}

// A family that has not turned over holds every id touched since the
// cache started: the key space in which that much history touches as many
// distinct ids is recovered from a simulated stream.
func TestGrownKeyspaceRecoversIDs(t *testing.T) {
	for _, c := range []struct {
		n int
		s float64
	}{{20_000, 0.8}, {5_000, 1.0}, {50_000, 0.5}} {
		const lambda, history = 10.0, 600 * time.Second
		draws := int(lambda * history.Seconds())
		live := len(simulateCounts(c.n, c.s, draws, 5))
		got, ok := grownKeyspace(float64(live), lambda, history, ZipfFit{Kind: "zipf", Exponent: c.s}, opMix{read: 1})
		if !ok || math.Abs(got-float64(c.n)) > 0.1*float64(c.n) {
			t.Errorf("zipf %.1f over %d ids, %d touched in %d draws: key space %.0f (ok %v)", c.s, c.n, live, draws, got, ok)
		}
	}
	// Every id touched well within the history: the cached keys are the
	// key space.
	if got, ok := grownKeyspace(100, 10, time.Hour, ZipfFit{Kind: "uniform"}, opMix{read: 1}); ok || got != 100 {
		t.Errorf("100 ids read 36,000 times: %.0f, %v", got, ok)
	}
}

// The cache's age is its oldest key's in a family whose TTL has not run
// out; a TTL shorter than that age (or than the profile's own watch) has
// turned over whatever its oldest sampled key says; the history before
// the recorded phase is the age when the profile's window opened.
func TestCacheAgeAndShortTTLs(t *testing.T) {
	fam := func(name string, ttl time.Duration, oldest time.Duration) Family {
		return Family{Name: name, Placeholders: 1, Sampled: 100, TTL: TTLFit{TTL: ttl, MinMs: (ttl - oldest).Milliseconds()}}
	}
	p := &Profile{Families: []Family{
		fam("avatar", 24*time.Hour, 10*time.Minute+35*time.Second),
		fam("session", 30*time.Minute, 10*time.Minute),
		fam("ratelimit", time.Minute, 35*time.Second),
		fam("profile", 5*time.Minute, 299*time.Second),
	}}
	p.cacheAge(40 * time.Second)
	// The window opened 40 s before the sample: 9m55s of history before
	// the recorded phase.
	if p.CacheAge != 10*time.Minute+35*time.Second || p.CacheAgeBy != "avatar" || p.Prefill != 9*time.Minute+55*time.Second {
		t.Errorf("cache age %s (by %s), prefill %s: want 10m35s by avatar, prefill 9m55s", p.CacheAge, p.CacheAgeBy, p.Prefill)
	}
	for _, f := range p.Families {
		want := f.Name == "ratelimit" || f.Name == "profile"
		if got := p.turnedOver(f.TTL, 40*time.Second); got != want {
			t.Errorf("%s (TTL %s, oldest %s): turned over %v, want %v", f.Name, f.TTL.TTL, f.TTL.OldestAge(), got, want)
		}
	}
	// With every family turned over the age is unknown: twice the
	// longest TTL.
	old := &Profile{Families: []Family{fam("profile", 5*time.Minute, 299*time.Second)}}
	old.cacheAge(time.Minute)
	if old.CacheAge != 0 || old.Prefill != 10*time.Minute || !strings.Contains(old.PrefillBy, "turned over") {
		t.Errorf("all turned over: age %s, prefill %s (%s)", old.CacheAge, old.Prefill, old.PrefillBy)
	}
	// A one-minute TTL watched for two minutes has turned over even with
	// no other family to date the cache.
	short := &Profile{}
	if !short.turnedOver(fam("ratelimit", time.Minute, 20*time.Second).TTL, 2*time.Minute) {
		t.Error("a 1m TTL watched for 2m read as not turned over")
	}
}

// Observed DELs of a family's keys are its delete share, not writes: the
// written scenario says deletes: and loads; without --observe the
// server's DEL and UNLINK calls are apportioned to every family.
func TestDeletesObservedAndWritten(t *testing.T) {
	var keys []Key
	var acc []Access
	for i := range 300 {
		k := "page:" + itoa(1000+i)
		keys = append(keys, Key{Key: k, Type: "string", Mem: 600, TTLms: 500_000, Elem: 512, Idle: int64(i % 7), Freq: -1})
	}
	at := 0.0
	for i := range 2000 {
		k := "page:" + itoa(1000+i%300)
		at += 0.01
		switch {
		case i%10 == 0:
			acc = append(acc, Access{Key: k, Write: true, Delete: true, Client: "c", At: at})
		case i%10 == 1:
			acc = append(acc, Access{Key: k, Write: true, Client: "c", At: at + 5})
		default:
			acc = append(acc, Access{Key: k, Client: "c", At: at})
		}
	}
	p := &Profile{DBSize: int64(len(keys)), Sampled: len(keys), Census: true, Deployment: Deployment{MaxMemory: 64 << 20, Policy: "allkeys-lru"},
		Observation: Observation{Enabled: true, Duration: 20 * time.Second, Accesses: len(acc)}, Traffic: Traffic{HitRate: 0.9}, Unread: Unread{}}
	p.build(keys, nil, acc, Config{}, 30*time.Second)
	f := p.Families[0]
	if f.Deletes != 200 || math.Abs(f.DeleteShare-0.1) > 1e-9 || f.Writes+f.Fills != 200 {
		t.Fatalf("page: %d deletes (share %.3f), %d writes, %d fills; want 200, 0.1 and 200 writes or fills", f.Deletes, f.DeleteShare, f.Writes, f.Fills)
	}
	text, err := p.Scenario(DefaultScenario)
	if err != nil || !strings.Contains(string(text), "deletes: 0.1 ") {
		t.Fatalf("scenario (%v) without deletes: 0.1:\n%s", err, text)
	}
	// INFO alone: 50 DELs of 1,000 reads and writes less 100 misses.
	q := &Profile{DBSize: int64(len(keys)), Sampled: len(keys), Census: true, Deployment: Deployment{MaxMemory: 64 << 20, Policy: "allkeys-lru"},
		Traffic: Traffic{Reads: 800, Writes: 200, Deletes: 50, Misses: 100, Window: 10 * time.Second}, Unread: Unread{}}
	q.build(keys, nil, nil, Config{}, 30*time.Second)
	if g := q.Families[0]; math.Abs(g.DeleteShare-50.0/900) > 1e-9 || math.Abs(g.WriteShare-50.0/900) > 1e-9 {
		t.Errorf("from INFO: writes %.4f, deletes %.4f; want 50/900 each", g.WriteShare, g.DeleteShare)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A cache of users' own keys under session churn (300 active users, one
// replaced every 2 s, 30 reads a second) is a hot set and a tail of new
// ids: fitted from the ids touched over the cache's age and over a 30 s
// window, the hot share is the share of reads that are not a new user's
// first (1 - 0.5/30.5).
func TestHotTailUnderChurn(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	const active, lambda, arrive, age, window = 300, 30.0, 0.5, 638.0, 30.0
	set := make([]int, active)
	next := active
	for i := range set {
		set[i] = i
	}
	seen, inWindow := map[int]bool{}, map[int]bool{}
	reads := 0
	for now := 0.0; now < age; now += r.ExpFloat64() / (lambda + arrive) {
		if r.Float64() < arrive/(lambda+arrive) {
			set[r.IntN(active)] = next
			next++
			continue
		}
		id := set[r.IntN(active)]
		seen[id] = true
		if now > age-window {
			inWindow[id] = true
			reads++
		}
	}
	pop, n, ok := hotTail(float64(len(seen)), float64(len(inWindow)), float64(reads)/window, age, window)
	t.Logf("%d ids touched, %d in the window: %+v over %.0f (hot %.0f)", len(seen), len(inWindow), pop, n, pop.HotFraction*n)
	if !ok || math.Abs(pop.HotShare-(1-arrive/lambda)) > 0.006 || math.Abs(pop.HotFraction*n-active) > 0.25*active {
		t.Errorf("%d ids touched, %d in the window: %+v over %.0f (hot %.0f ids), ok %v; want about %.3f of the reads on about %d ids",
			len(seen), len(inWindow), pop, n, pop.HotFraction*n, ok, 1-arrive/lambda, active)
	}
}

// A growing family takes the shape its window's reads look like: users'
// own keys under session churn a hot set and a tail of new ids, a zipf
// over a fixed set of ids its zipf over a key space near the ids'.
func TestGrowingFamilyShape(t *testing.T) {
	const age, window = 636.0, 30.0
	grow := func(next func(r *rand.Rand) int, lambda float64) *Family {
		r := rand.New(rand.NewPCG(4, 2))
		seen := map[int]bool{}
		f := &Family{Name: "f", Placeholders: 1, Sampled: 100, counts: map[string]int{}}
		for now := 0.0; now < age; now += r.ExpFloat64() / lambda {
			id := next(r)
			if id < 0 {
				continue
			}
			seen[id] = true
			if now > age-window {
				f.counts[itoa(id)]++
				f.Reads++
			}
		}
		f.Keys = float64(len(seen))
		f.Weight = 1
		z := fitZipfJoint(countsOf(f.counts), len(seen))
		f.Popularity = fitHotspot(z, countsOf(f.counts), z.Keyspace)
		p := &Profile{OpsPerSec: lambda, CacheAge: age * time.Second, Prefill: (age - window) * time.Second, Observation: Observation{Duration: window * time.Second}}
		p.keyspaceOf(f, window*time.Second)
		return f
	}
	// 300 active users, one replaced every 2 s (a negative draw is an
	// arrival), 30 reads a second.
	set := make([]int, 300)
	for i := range set {
		set[i] = i
	}
	next := 300
	churn := grow(func(r *rand.Rand) int {
		if r.Float64() < 0.5/30.5 {
			set[r.IntN(len(set))] = next
			next++
			return -1
		}
		return set[r.IntN(len(set))]
	}, 30.5)
	if churn.Popularity.Kind != "hotspot" || churn.Popularity.HotShare < 0.97 {
		t.Errorf("session churn: %+v over %.0f ids (%s)", churn.Popularity, churn.Keyspace, churn.KeyspaceBy)
	}
	t.Logf("churn: %+v over %.0f", churn.Popularity, churn.Keyspace)
	zipf := grow(workloadZipf(3000, 0.9), 40)
	t.Logf("zipf: %+v over %.0f", zipf.Popularity, zipf.Keyspace)
	if zipf.Popularity.Kind != "zipf" || math.Abs(zipf.Keyspace-3000) > 600 {
		t.Errorf("zipf 0.9 over 3,000 ids: %+v over %.0f ids (%s)", zipf.Popularity, zipf.Keyspace, zipf.KeyspaceBy)
	}
}

// workloadZipf draws ids the way the workload does (rank k with weight
// k^-s), by inversion of the cumulative weights.
func workloadZipf(n int, s float64) func(r *rand.Rand) int {
	cdf := make([]float64, n)
	acc := 0.0
	for k := range n {
		acc += math.Pow(float64(k+1), -s)
		cdf[k] = acc
	}
	return func(r *rand.Rand) int {
		u := r.Float64() * acc
		lo, hi := 0, n-1
		for lo < hi {
			mid := (lo + hi) / 2
			if cdf[mid] < u {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo
	}
}
