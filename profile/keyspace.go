package profile

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// The key space a family's scenario draws its ids from is not the count
// of its keys cached now: ids are read that are not cached (they expired,
// were deleted, or were never read before). Two regimes, told apart by the
// keys' ages:
//
//   - turned over: the family's keys have lived their TTL, so the cache
//     holds the steady state of fills, rewrites, deletes and expiries
//     (keyspace: the ids whose expected cached count is the measured one);
//   - growing: no key has expired yet (a TTL longer than the cache is old,
//     or no TTL), so the cached keys are every id touched since the cache
//     started, less those deleted since (grownKeyspace: the ids whose
//     expected distinct count over the cache's age is the measured one).
//
// In both the written scenario replays the family as measured, so the
// models are the scenario's own: ids drawn by the fitted popularity,
// reads that fill on a miss, writes that set the key and restart its TTL,
// deletes that remove it.

// ageKeys is how many sampled keys a family needs before its oldest key
// dates the cache (a sample of a few keys may hold no old one).
const ageKeys = 20

// maxPrefill bounds the history a written scenario replays (its cost
// grows with it; a family still growing after longer is fitted to this
// much history).
const maxPrefill = time.Hour

// opMix is a family's commands by what they do to a key, as the written
// scenario replays them: reads (a miss fills the key), writes (set it and
// restart its TTL) and deletes (remove it), as shares of its commands;
// fields is a hash's fields when reads fill it a field at a time.
type opMix struct {
	read, write, del float64
	fields           int
}

func (f *Family) mix() opMix {
	m := opMix{write: f.WriteShare, del: f.DeleteShare}
	m.read = math.Max(0, 1-m.write-m.del)
	if f.Type == "hash" {
		m.fields = max(1, int(math.Round(f.Len)))
		if f.Fields > 0 {
			m.fields = f.Fields
		}
	}
	return m
}

// turnedOver reports whether a family with this TTL is in its steady
// state: its oldest sampled key is near expiry (TTLFit.turnedOver), or
// its TTL is shorter than the cache is known to be old (the profile has
// watched the server longer, or another family holds older keys). The
// second catches a family of short-lived keys whose oldest sampled key
// happens to be young: one-minute rate-limit counters read 35 seconds
// after their first window opened are not a family that never expires.
func (p *Profile) turnedOver(t TTLFit, elapsed time.Duration) bool {
	if t.TTL <= 0 {
		return false
	}
	return t.turnedOver() || t.TTL <= max(elapsed, p.oldestKey)
}

// cacheAge dates the cache from its families' keys and sets the history
// the scenario replays (Prefill): the cache's age when a family has not
// turned over (its oldest key is about as old as the cache), so the run
// starts from a cache as old as the one profiled, with its growing
// families as grown and its young TTLs not yet expired; else twice the
// longest TTL, at least 10 minutes, so every TTL has turned over.
func (p *Profile) cacheAge(elapsed time.Duration) {
	var longest time.Duration
	p.oldestKey = 0
	for _, f := range p.Families {
		longest = max(longest, f.TTL.TTL)
		if f.TTL.TTL > 0 && f.Placeholders > 0 && f.Sampled >= ageKeys {
			if a := f.TTL.OldestAge(); a > p.oldestKey {
				p.oldestKey, p.CacheAgeBy = a, f.Name
			}
		}
	}
	p.CacheAge = 0
	for _, f := range p.Families {
		if f.TTL.TTL > 0 && f.Placeholders > 0 && f.Sampled >= ageKeys && !p.turnedOver(f.TTL, elapsed) {
			p.CacheAge = p.oldestKey
			break
		}
	}
	if p.CacheAge <= 0 {
		p.CacheAgeBy = ""
		p.Prefill = min(max(2*longest, 10*time.Minute), maxPrefill)
		p.PrefillBy = "twice the longest TTL, at least 10 minutes and at most an hour: every family with a TTL has turned over, so the cache is older than its TTLs by an unknown time"
		return
	}
	// The oldest key was read at the sample, elapsed after the window
	// opened: the cache was that much younger when the server's figures
	// (its hit rate, the observed reads) began.
	p.Prefill = min(max(p.CacheAge-elapsed, 0).Round(time.Second), maxPrefill)
	p.PrefillBy = fmt.Sprintf("the cache's age when the profile's window opened, %s (the oldest sampled key, of %s, was %s old at the sample; a family whose TTL has not run out says the cache is about that old): the run's recorded phase starts from a cache as old",
		p.Prefill, p.CacheAgeBy, p.CacheAge.Round(time.Second))
	if p.CacheAge-elapsed > maxPrefill {
		p.PrefillBy += fmt.Sprintf(", at most %s (families still growing are fitted to that much history)", maxPrefill)
	}
}

// history is how long the cache had been filling when its keys were
// counted: its age at the sample (the prefill and the profile's watch),
// or the prefill when the age is unknown.
func (p *Profile) history(elapsed time.Duration) time.Duration {
	if p.CacheAge > 0 {
		return min(p.CacheAge, maxPrefill+elapsed)
	}
	return p.Prefill
}

// keyspaceOf sets the key space the scenario draws the family's ids from
// (Keyspace, with KeyspaceBy saying how), and fits the observed reads'
// popularity again over it.
func (p *Profile) keyspaceOf(f *Family, elapsed time.Duration) {
	f.Keyspace, f.KeyspaceBy = f.Keys, "cached keys (DBSIZE share)"
	if f.Placeholders == 0 {
		return
	}
	lambda := p.OpsPerSec * f.Weight // the family's commands a second
	m := f.mix()
	joint := f.Popularity.Keyspace
	if p.turnedOver(f.TTL, elapsed) {
		// Cached keys turn over with the TTL: more ids are read than are
		// cached at once, and a zipf fitted over the cached ids alone is
		// flattened. The turnover model says how many ids (and the
		// popularity is fitted again over them, until both settle);
		// where it cannot (nearly every id cached), the joint fit's key
		// space stands.
		resolved := false
		for range 3 {
			ks, ok := keyspace(f.Keys, lambda, f.TTL.TTL, f.Popularity, m)
			if !ok || ks < 1.05*f.Keys {
				// Near saturation every key space a little above the
				// cached count fits the turnover: it cannot tell.
				break
			}
			resolved = true
			f.Keyspace, f.KeyspaceBy = ks, fmt.Sprintf("TTL turnover: %.0f cached keys at %.1f commands/s (%.0f %% reads, %.0f %% writes, %.0f %% deletes) with a %s TTL mean about %.0f ids in use",
				f.Keys, lambda, 100*m.read, 100*m.write, 100*m.del, f.TTL.TTL, ks)
			if !f.refit(int(ks)) {
				break
			}
		}
		if !resolved && float64(joint) > f.Keys*1.02 {
			f.Keyspace, f.KeyspaceBy = float64(joint), fmt.Sprintf("the observed reads' spread: %.0f cached keys, about %d ids read (the TTL turnover cannot tell: nearly every id is cached)", f.Keys, joint)
		}
		return
	}
	// No key has expired yet (or none ever does): the cached keys are
	// every id touched since the cache started, less those deleted. The
	// key space is the one in which the scenario's own history (Prefill,
	// the cache's age when known) touches as many.
	why := fmt.Sprintf("the oldest sampled key is %s old, short of the %s TTL, so none has expired yet", f.TTL.OldestAge().Round(time.Second), f.TTL.TTL)
	if f.TTL.TTL <= 0 {
		why = "its keys never expire"
	}
	ks, grown := f.Keys, false
	for range 4 {
		n, ok := grownKeyspace(f.Keys, lambda, p.history(elapsed), f.Popularity, m)
		if !ok {
			break
		}
		grown = true
		moved := math.Abs(n-ks) > 0.02*ks
		ks = n
		if !moved || !f.refit(int(n)) {
			break
		}
	}
	if grown {
		f.Keyspace, f.KeyspaceBy = ks, fmt.Sprintf("growth: %s; %.0f cached keys after %s of history at %.1f commands/s mean about %.0f ids, the rest not read yet",
			why, f.Keys, p.history(elapsed).Round(time.Second), lambda, ks)
	} else {
		f.KeyspaceBy = fmt.Sprintf("cached keys (DBSIZE share): %s, and every id is read within %s of history", why, p.history(elapsed).Round(time.Second))
	}
	if d := f.Popularity.Distinct; len(f.counts) > 0 && float64(d) > f.Keyspace {
		f.Keyspace = float64(d)
		f.KeyspaceBy = fmt.Sprintf("the observed reads' distinct ids (%d, above %.0f cached keys): %s", d, f.Keys, why)
		f.refit(d)
	}
	if w := p.Observation.Duration.Seconds(); p.CacheAge > 0 && len(f.counts) > 0 && w > 0 {
		// The other shape a growing family takes: a hot set read again
		// and again and a tail of ids read about once each (a new user's
		// key, a one-off lookup), sized so that the history touches as
		// many ids as are cached and the window as many as it read. It
		// is kept when the window's reads, rank by rank, look more like
		// it than like the popularity fitted above (a zipf over a fixed
		// set of ids reads its head far more than a hot set does).
		counts := countsOf(f.counts)
		pop, n, ok := hotTail(f.Keys, float64(len(counts)), float64(f.Reads)/w, p.history(elapsed).Seconds(), w)
		if ok && popDistance(pop, int(n), counts) < popDistance(f.Popularity, int(f.Keyspace), counts) {
			pop.Reads, pop.Distinct = f.Popularity.Reads, f.Popularity.Distinct
			pop.Err = popDistance(pop, int(n), counts)
			f.Popularity, f.Keyspace = pop, n
			f.KeyspaceBy = fmt.Sprintf("growth: %s; %.0f cached keys after %s of history and %d ids read in the %s window (%.1f reads/s) mean a hot set of %.0f ids with %.1f %% of the reads and a tail of ids read about once, %.0f in all",
				why, f.Keys, p.history(elapsed).Round(time.Second), len(counts), p.Observation.Duration, float64(f.Reads)/w, pop.HotFraction*n, 100*pop.HotShare, n)
		}
	}
}

// popDistance is how far the observed read counts are from draws of the
// same number over n ids by pop (curveDistance, over three draws).
func popDistance(pop ZipfFit, n int, counts []int) float64 {
	m := 0
	for _, c := range counts {
		m += c
	}
	n = max(n, 1)
	var d float64
	for rep := range 3 {
		var sim []int
		switch pop.Kind {
		case "zipf":
			sim = simulateCounts(min(n, 2_000_000), pop.Exponent, m, uint64(rep+1))
		case "hotspot":
			sim = simulateHotspot(n, pop.HotFraction, pop.HotShare, m, uint64(rep+1))
		default:
			sim = simulateCounts(min(n, 2_000_000), 0, m, uint64(rep+1))
		}
		d += curveDistance(countsSorted(counts), sim)
	}
	return d / 3
}

func countsSorted(c []int) []int {
	out := slices.Clone(c)
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

// refit fits the observed reads' popularity again over a key space of n
// ids, and reports whether it moved (false: nothing observed, or the same
// fit).
func (f *Family) refit(n int) bool {
	if len(f.counts) == 0 || (f.Popularity.Kind != "zipf" && f.Popularity.Kind != "hotspot") {
		return false
	}
	prev := f.Popularity
	counts := countsOf(f.counts)
	z := fitZipf(counts, n)
	z.Keyspace = n
	f.Popularity = fitHotspot(z, counts, n)
	return f.Popularity.Kind != prev.Kind || math.Abs(f.Popularity.Exponent-prev.Exponent) >= 0.01 ||
		f.Popularity.HotFraction != prev.HotFraction || f.Popularity.HotShare != prev.HotShare
}

// rankWeights is each rank's share of a family's accesses over n ids
// (rank 1 the most popular), as the workload draws them: zipf, hotspot
// (a share of the draws uniformly over the first fraction of the ids),
// else uniform.
func rankWeights(pop ZipfFit, n int) []float64 {
	w := make([]float64, n)
	switch pop.Kind {
	case "zipf":
		var h float64
		for k := range n {
			w[k] = math.Pow(float64(k+1), -pop.Exponent)
			h += w[k]
		}
		for k := range w {
			w[k] /= h
		}
	case "hotspot":
		hot := max(1, int(math.Round(pop.HotFraction*float64(n))))
		for k := range w {
			switch {
			case hot >= n:
				w[k] = 1 / float64(n)
			case k < hot:
				w[k] = pop.HotShare / float64(hot)
			default:
				w[k] = (1 - pop.HotShare) / float64(n-hot)
			}
		}
	default:
		for k := range w {
			w[k] = 1 / float64(n)
		}
	}
	return w
}

// aliveShare is the share of the time a key is cached in the steady state
// when it gets r commands a second of the mix m and is written with TTL T
// seconds. Absent, the next read (its fill) or write creates it: rate c.
// Present, writes (and, for a hash filled a field at a time, reads of a
// field it lacks) restart its TTL at rate u, deletes remove it at rate d,
// and it expires T after the last (re)start. Its expected life from a
// (re)start is L = (1-e^(-(u+d)T)) / (d + u e^(-(u+d)T)), the renewal of
// "no event within T" and "an event: a delete ends it, a restart begins
// again"; cached L/(L+1/c) of the time. With no deletes and no restarts
// that is cT/(1+cT); with no deletes, (e^(uT)-1)/u for L.
//
// A hash filled a field at a time is rewritten by every read of a field it
// lacks, and how many it lacks depends on the key: a key read rarely holds
// the field it was created by and little else, while a hot key holds them
// all. A read's chance of refilling is (1-1/fields)^(1+rT), the chance the
// field read is one not yet filled after about 1+rT reads of the key
// (5,000 product ids read as 6,600 in the round trip with one share for
// the family).
func aliveShare(r, T float64, m opMix) float64 {
	create := (m.read + m.write) * r
	if create <= 0 {
		return 0
	}
	restart := m.write * r
	if m.fields > 1 {
		restart += m.read * r * math.Pow(1-1/float64(m.fields), 1+m.read*r*T)
	}
	del := m.del * r
	c := restart + del
	life := T
	if c*T > 1e-9 {
		e := math.Exp(-c * T)
		den := del + restart*e
		if den <= 0 {
			return 1 // rewritten so often it never expires
		}
		life = -math.Expm1(-c*T) / den
	}
	if math.IsInf(life, 1) {
		return 1
	}
	return create * life / (1 + create*life)
}

// keyspace estimates how many ids a turned-over family ranges over from
// how many of its keys are cached: the n whose expected cached count
// (aliveShare over its ranks, each at its share of lambda commands a
// second) is the measured one, by bisection. With no TTL, or when that
// many keys cannot be cached at this rate in any key space, or nearly
// every id is cached, it returns live itself and false.
func keyspace(live float64, lambda float64, ttl time.Duration, pop ZipfFit, m opMix) (float64, bool) {
	if ttl <= 0 || lambda <= 0 || live < 2 {
		return live, false
	}
	T := ttl.Seconds()
	return bisectKeyspace(live, ranksAlive(pop, lambda, func(rate float64) float64 { return aliveShare(rate, T, m) }))
}

// grownKeyspace estimates how many ids a family that has not turned over
// ranges over: the n in which history of the family's commands (lambda a
// second, ids drawn by pop) leaves live keys cached. A key created at rate
// c (reads and writes) and deleted at rate d is cached at time t with
// probability c/(c+d) (1-e^(-(c+d)t)), starting absent. It returns live
// and false when every id is cached within the history (the cached keys
// are the whole key space) or when no key space leaves that many (the
// history is too short at this rate).
func grownKeyspace(live, lambda float64, history time.Duration, pop ZipfFit, m opMix) (float64, bool) {
	if history <= 0 || lambda <= 0 || live < 2 {
		return live, false
	}
	t := history.Seconds()
	return bisectKeyspace(live, ranksAlive(pop, lambda, func(rate float64) float64 {
		c, d := (m.read+m.write)*rate, m.del*rate
		if c <= 0 {
			return 0
		}
		return c / (c + d) * -math.Expm1(-(c+d)*t)
	}))
}

// ranksAlive is the expected number of cached keys of a key space of n ids
// as a function of n: share(rate) summed over the ranks, each rank at its
// share of lambda commands a second.
func ranksAlive(pop ZipfFit, lambda float64, share func(rate float64) float64) func(int) float64 {
	return func(n int) float64 {
		var a float64
		for _, w := range rankWeights(pop, n) {
			a += share(lambda * w)
		}
		return a
	}
}

// bisectKeyspace finds the n from live to 50 times it (at most 2,000,000)
// whose alive(n) is live, alive growing with n; false when alive(live)
// is already live within 1 % (every id cached) or alive never reaches it.
func bisectKeyspace(live float64, alive func(int) float64) (float64, bool) {
	lo, hi := int(live), int(math.Min(live*50, 2_000_000))
	if hi <= lo || alive(hi) < live {
		return live, false
	}
	if alive(lo) >= live*0.99 {
		return live, false
	}
	for hi-lo > max(1, lo/200) {
		mid := (lo + hi) / 2
		if alive(mid) < live {
			lo = mid
		} else {
			hi = mid
		}
	}
	return float64(hi), true
}

// hotTail fits a family that has not turned over as a hot set of ids read
// again and again and a tail of ids read about once each, which is what a
// cache of users' own keys looks like under session churn: the active
// users' keys are read throughout their sessions, each new user's key is
// new. Its figures are the cached keys (every id touched in history
// seconds) and the distinct ids the reads named in window seconds, at
// rate reads a second. A share q of the reads go uniformly to H hot ids,
// the rest uniformly to a tail ten times the tail's reads over the
// history (so a tail id is read again about one time in twenty); q is the
// one whose H (from the cached count) also gives the window's distinct
// ids. It returns the hotspot, the key space H + tail, and false when no
// share between 0.5 and 0.999 explains both within 10 %.
func hotTail(cached, distinct, reads, history, window float64) (ZipfFit, float64, bool) {
	if cached <= distinct || history <= window || reads <= 0 {
		return ZipfFit{}, 0, false
	}
	touched := func(ids, rate, t float64) float64 { return ids * -math.Expm1(-rate*t/ids) }
	bestErr, bestH, bestQ, bestN := math.Inf(1), 0.0, 0.0, 0.0
	for i := 500; i < 1000; i++ {
		q := float64(i) / 1000
		tailReads := (1 - q) * reads
		tail := math.Max(10*tailReads*history, 1)
		hot := cached - touched(tail, tailReads, history)
		if hot < 1 || q*reads*history <= hot {
			continue // the tail alone touches more ids, or the hot reads cannot touch that many
		}
		// H with touched(H, q reads, history) = hot: it grows with H.
		lo, hi := hot, hot*2
		for touched(hi, q*reads, history) < hot {
			hi *= 2
		}
		for hi-lo > 0.5 {
			mid := (lo + hi) / 2
			if touched(mid, q*reads, history) < hot {
				lo = mid
			} else {
				hi = mid
			}
		}
		h := math.Round(hi)
		seen := touched(h, q*reads, window) + touched(tail, tailReads, window)
		if e := math.Abs(seen - distinct); e < bestErr {
			bestErr, bestH, bestQ, bestN = e, h, q, h+math.Round(tail)
		}
	}
	if bestErr > 0.1*distinct || bestN <= bestH {
		return ZipfFit{}, 0, false
	}
	return ZipfFit{Kind: "hotspot", HotFraction: bestH / bestN, HotShare: bestQ, Keyspace: int(bestN),
		Method: "observed reads (MONITOR) and the cached count over the cache's age: a hot set and a tail of ids read about once"}, bestN, true
}
