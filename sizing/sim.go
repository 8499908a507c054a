package sizing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Policies the simulator models: every maxmemory-policy of Redis 7.
// ExactLRU is not a Redis policy: it is true least-recently-used order,
// the reference the sampled LRU is compared with (the error Redis's
// sampling adds).
const (
	AllKeysLRU     = "allkeys-lru"
	AllKeysLFU     = "allkeys-lfu"
	AllKeysRandom  = "allkeys-random"
	VolatileLRU    = "volatile-lru"
	VolatileLFU    = "volatile-lfu"
	VolatileTTL    = "volatile-ttl"
	VolatileRandom = "volatile-random"
	NoEviction     = "noeviction"
	ExactLRU       = "exact-lru"
)

// Policies is the policies a curve is computed for by default: the three
// that differ most for a cache, and the exact-LRU reference.
var Policies = []string{AllKeysLRU, AllKeysLFU, VolatileTTL, ExactLRU}

// Simulated is every policy Simulate models (Redis's eight and exact LRU).
var Simulated = []string{AllKeysLRU, AllKeysLFU, AllKeysRandom, VolatileLRU, VolatileLFU, VolatileTTL, VolatileRandom, NoEviction, ExactLRU}

// policyKind is how a policy scores its candidates (evict.c's
// MAXMEMORY_FLAG_LRU / _LFU, volatile-ttl's expiry, the random policies).
type policyKind uint8

const (
	kindLRU policyKind = iota
	kindLFU
	kindTTL
	kindRandom
	kindNone
	kindExact
)

// policyOf splits a policy into its score and whether it evicts only keys
// with a TTL (MAXMEMORY_FLAG_ALLKEYS unset).
func policyOf(p string) (kind policyKind, volatile bool, ok bool) {
	switch p {
	case AllKeysLRU:
		return kindLRU, false, true
	case AllKeysLFU:
		return kindLFU, false, true
	case AllKeysRandom:
		return kindRandom, false, true
	case VolatileLRU:
		return kindLRU, true, true
	case VolatileLFU:
		return kindLFU, true, true
	case VolatileTTL:
		return kindTTL, true, true
	case VolatileRandom:
		return kindRandom, true, true
	case NoEviction:
		return kindNone, false, true
	case ExactLRU:
		return kindExact, false, true
	}
	return 0, false, false
}

// Redis constants the model follows (evict.c, expire.c, server.h of 7.x).
const (
	evpoolSize        = 16                     // EVPOOL_SIZE
	lfuInitVal        = 5                      // LFU_INIT_VAL
	lruResolution     = time.Second            // LRU_CLOCK_RESOLUTION
	expireKeysPerLoop = 20                     // ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP at effort 1
	expireStalePerc   = 10                     // ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE at effort 1
	expireMaxLoops    = 1000                   // stands in for the cycle's 25 ms time limit
	defaultHz         = 10                     // serverCron's hz: one slow expire cycle per 100 ms
	lfuDecayTime      = 1                      // lfu-decay-time default, minutes
	lfuLogFactor      = 10                     // lfu-log-factor default
	noKey             = int32(-1)              // an empty slot
	infiniteMemory    = math.MaxFloat64 / 1024 // capacity of an unbounded cache
)

// Costs prices a key in bytes of used_memory: per data type a + b*len
// (len = key + value bytes), plus the expires dict's entry for a key with a
// TTL. From a Calibration.
type Costs struct {
	A, B     []float64 // per family (its data type's fit)
	Volatile float64
}

func (c *Costs) of(k *KeyInfo, vlen int32, volatile bool) float64 {
	b := c.A[k.Fam] + c.B[k.Fam]*float64(k.KeyLen+vlen)
	if volatile {
		b += c.Volatile
	}
	return b * float64(k.Weight)
}

// SimConfig is one simulation: a policy at one maxmemory.
type SimConfig struct {
	Policy string
	// Capacity is the bytes keys may use: maxmemory minus the server's own
	// base (used_memory with no keys and the pool's connections); <= 0 or
	// +Inf is unbounded.
	Capacity float64
	Samples  int // maxmemory-samples (default 5)
	Costs    *Costs
	// TTL is, per family index, the TTL its writes get (0: none).
	TTL  []time.Duration
	Seed uint64
	// LFU is lfu-log-factor and lfu-decay-time; nil takes Redis's
	// defaults (10 and 1 minute).
	LFU *LFUConfig
	// Hz is the server's hz (the active expire cycle runs hz times a
	// second); 0 takes Redis's default, 10.
	Hz int
}

// LFUConfig is Redis's LFU tuning: lfu-log-factor, and lfu-decay-time in
// minutes (0: counters never decay).
type LFUConfig struct{ LogFactor, DecayTime int }

// SimResult is what one simulation counted over the recorded phases, each
// figure weighted by 1/sampling rate (so it estimates the whole stream).
type SimResult struct {
	Hits, Lookups []float64 // per family
	// EvictedBy is Evicted per family.
	EvictedBy []float64
	Evicted   float64
	Expired   float64 // reclaimed by active or lazy expiry
	OOM       float64 // writes refused: nothing left to evict (volatile-ttl)
	// Peak is the highest used bytes of keys seen during the phases; End
	// the bytes at the end.
	Peak, End float64
	// StaleAvg is the mean share of memory held by keys already expired
	// but not yet reclaimed, sampled every expire cycle of the phases.
	StaleAvg float64
}

// HitRate is the overall hit rate (hits over lookups).
func (r *SimResult) HitRate() float64 {
	var h, l float64
	for i := range r.Hits {
		h += r.Hits[i]
		l += r.Lookups[i]
	}
	if l == 0 {
		return 0
	}
	return h / l
}

type poolEntry struct {
	key  int32
	idle uint64
}

// sim is one simulated Redis: the keys present with their cost, expiry,
// LRU clock or LFU counter; dense arrays of the keys and of the volatile
// keys for random sampling (dictGetSomeKeys) and the expire cycle's sweep.
type sim struct {
	t    *Trace
	cfg  SimConfig
	rng  *rand.Rand
	used float64
	cap  float64

	pos    []int32 // index in all, or noKey
	vpos   []int32 // index in vol, or noKey
	all    []int32
	vol    []int32
	expire []time.Duration // absolute; 0 = none
	cost   []float64
	vlen   []int32
	lru    []int32 // seconds (LRU policies)
	lfu    []uint8 // counter (LFU)
	lfuMin []int32 // minutes of its last decrement
	prev   []int32 // exact LRU list
	next   []int32
	head   int32
	tail   int32

	kind    policyKind
	volOnly bool // the policy evicts only keys with a TTL
	logF    float64
	decay   int32

	pool    [evpoolSize]poolEntry
	cursor  int
	res     SimResult
	staleN  int
	staleSm float64
}

// Simulate runs the trace through one simulated Redis.
func Simulate(t *Trace, cfg SimConfig) (*SimResult, error) {
	kind, volOnly, ok := policyOf(cfg.Policy)
	if !ok {
		return nil, fmt.Errorf("sizing: policy %q is not one of %v", cfg.Policy, Simulated)
	}
	if cfg.Samples <= 0 {
		cfg.Samples = 5
	}
	lfu := LFUConfig{LogFactor: lfuLogFactor, DecayTime: lfuDecayTime}
	if cfg.LFU != nil {
		lfu = *cfg.LFU
	}
	if cfg.Hz <= 0 {
		cfg.Hz = defaultHz
	}
	n := len(t.Keys)
	s := &sim{t: t, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x51e)), cap: cfg.Capacity,
		pos: make([]int32, n), vpos: make([]int32, n), expire: make([]time.Duration, n),
		cost: make([]float64, n), vlen: make([]int32, n), head: noKey, tail: noKey,
		kind: kind, volOnly: volOnly, logF: float64(lfu.LogFactor), decay: int32(lfu.DecayTime)}
	if !(s.cap > 0) || math.IsInf(s.cap, 1) {
		s.cap = infiniteMemory
	}
	for i := range s.pos {
		s.pos[i], s.vpos[i] = noKey, noKey
	}
	for i := range s.pool {
		s.pool[i].key = noKey
	}
	switch kind {
	case kindLFU:
		s.lfu, s.lfuMin = make([]uint8, n), make([]int32, n)
	case kindExact:
		s.prev, s.next = make([]int32, n), make([]int32, n)
	default:
		s.lru = make([]int32, n)
	}
	nf := len(t.Families)
	s.res.Hits, s.res.Lookups, s.res.EvictedBy = make([]float64, nf), make([]float64, nf), make([]float64, nf)
	s.run()
	if s.staleN > 0 {
		s.res.StaleAvg = s.staleSm / float64(s.staleN)
	}
	s.res.End = s.used
	return &s.res, nil
}

// run replays the history as harness's prefill does (an unbounded cache
// that only tracks what is alive), writes the survivors oldest first with
// their remaining TTL, then runs the phases through the eviction model.
func (s *sim) run() {
	t := s.t
	ev := t.events
	i := 0
	if t.History > 0 {
		i = s.prefill()
	}
	cycle := time.Second / time.Duration(s.cfg.Hz)
	nextCycle := t.History + cycle
	for ; i < len(ev); i++ {
		e := &ev[i]
		for nextCycle <= e.at {
			s.expireCycle(nextCycle, t.Recorded[min(int(e.phase), len(t.Recorded)-1)])
			nextCycle += cycle
		}
		rec := t.Recorded[e.phase]
		k := e.key
		// Redis evicts before it runs a command, whatever the command.
		fits := s.evict(e.at, rec)
		switch e.kind & evKind {
		case evRead:
			present := s.present(k, e.at, rec)
			if rec {
				w := float64(t.Keys[k].Weight)
				if e.kind&evThinned != 0 {
					w = 1 / t.Rate
				}
				fam := t.Keys[k].Fam
				s.res.Lookups[fam] += w
				if present {
					s.res.Hits[fam] += w
				}
			}
			if present {
				if e.kind&evAlsoRefresh != 0 {
					if ttl := s.cfg.TTL[t.Keys[k].Fam]; ttl > 0 {
						s.setExpire(k, e.at+ttl)
					}
				}
				s.access(k, e.at)
				continue
			}
			s.write(k, e.size, e.at, fits, rec)
		case evWrite:
			if s.present(k, e.at, rec) && e.kind&evKeepTTL != 0 {
				// A counter's INCR: same size, same expiry.
				s.access(k, e.at)
				continue
			}
			s.write(k, e.size, e.at, fits, rec)
		case evRefresh:
			if s.present(k, e.at, rec) {
				if ttl := s.cfg.TTL[t.Keys[k].Fam]; ttl > 0 {
					s.setExpire(k, e.at+ttl)
				}
				s.access(k, e.at)
			}
		case evDelete:
			if s.pos[k] != noKey {
				s.remove(k)
			}
		}
		if rec && s.used > s.res.Peak {
			s.res.Peak = s.used
		}
	}
}

// prefill replays the history (events with phase -1) and writes what is
// alive at its end; it returns the index of the first event after it.
func (s *sim) prefill() int {
	t := s.t
	n := len(t.Keys)
	at := make([]time.Duration, n)
	size := make([]int32, n)
	alive := make([]bool, n)
	i := 0
	for ; i < len(t.events) && t.events[i].phase < 0; i++ {
		e := &t.events[i]
		k := e.key
		life := s.cfg.TTL[t.Keys[k].Fam]
		live := alive[k] && (life == 0 || e.at < at[k]+life)
		switch e.kind & evKind {
		case evRead:
			switch {
			case !live:
				alive[k], at[k], size[k] = true, e.at, e.size
			case e.kind&evAlsoRefresh != 0:
				at[k] = e.at
			}
		case evWrite:
			if !(live && e.kind&evKeepTTL != 0) {
				alive[k], at[k], size[k] = true, e.at, e.size
			}
		case evRefresh:
			if live {
				at[k] = e.at
			}
		case evDelete:
			alive[k] = false
		}
	}
	keys := make([]int32, 0, n)
	for k := range alive {
		if alive[k] {
			keys = append(keys, int32(k))
		}
	}
	slices.SortStableFunc(keys, func(a, b int32) int {
		switch {
		case at[a] < at[b]:
			return -1
		case at[a] > at[b]:
			return 1
		}
		return 0
	})
	now := t.History
	for _, k := range keys {
		life := s.cfg.TTL[t.Keys[k].Fam]
		var exp time.Duration
		if life > 0 {
			rem := at[k] + life - now
			if rem < time.Millisecond {
				continue
			}
			exp = now + rem
		}
		fits := s.evict(now, false)
		s.insertRaw(k, size[k], now, exp, fits, false)
	}
	return i
}

// present reports whether k is readable at now; a key past its expiry is
// deleted on the way (lazy expiry).
func (s *sim) present(k int32, now time.Duration, rec bool) bool {
	if s.pos[k] == noKey {
		return false
	}
	if exp := s.expire[k]; exp > 0 && exp <= now {
		if rec {
			s.res.Expired += float64(s.t.Keys[k].Weight)
		}
		s.remove(k)
		return false
	}
	return true
}

// write stores k (size bytes) with its family's TTL, unless the eviction
// before the command failed (OOM: the write is refused).
func (s *sim) write(k int32, size int32, now time.Duration, fits, rec bool) {
	var exp time.Duration
	if ttl := s.cfg.TTL[s.t.Keys[k].Fam]; ttl > 0 {
		exp = now + ttl
	}
	s.insertRaw(k, size, now, exp, fits, rec)
}

func (s *sim) insertRaw(k int32, size int32, now, exp time.Duration, fits, rec bool) {
	if !fits {
		if rec {
			s.res.OOM += float64(s.t.Keys[k].Weight)
		}
		return
	}
	ki := &s.t.Keys[k]
	c := s.cfg.Costs.of(ki, size, false) // setExpire prices the expires entry
	if s.pos[k] != noKey {
		if s.expire[k] > 0 {
			c += s.cfg.Costs.Volatile * float64(ki.Weight)
		}
		s.used += c - s.cost[k]
		s.cost[k] = c
		s.vlen[k] = size
		s.setExpire(k, exp)
		// SET on a present key looks it up for writing first (an access);
		// LFU keeps the counter across the overwrite, LRU stamps the new
		// object with the clock.
		s.access(k, now)
		return
	}
	s.pos[k] = int32(len(s.all))
	s.all = append(s.all, k)
	s.cost[k] = c
	s.vlen[k] = size
	s.used += c
	s.expire[k] = 0
	s.setExpire(k, exp)
	switch s.kind {
	case kindLFU:
		s.lfu[k] = lfuInitVal
		s.lfuMin[k] = minutes(now)
	case kindExact:
		s.pushFront(k)
	default:
		s.lru[k] = clock(now)
	}
}

// setExpire sets k's absolute expiry (0 = none), moving it in or out of
// the volatile set, and reprices its expires entry.
func (s *sim) setExpire(k int32, exp time.Duration) {
	was := s.expire[k] > 0
	s.expire[k] = exp
	switch {
	case exp > 0 && !was:
		s.vpos[k] = int32(len(s.vol))
		s.vol = append(s.vol, k)
		d := s.cfg.Costs.Volatile * float64(s.t.Keys[k].Weight)
		s.cost[k] += d
		s.used += d
	case exp == 0 && was:
		s.dropVolatile(k)
		d := s.cfg.Costs.Volatile * float64(s.t.Keys[k].Weight)
		s.cost[k] -= d
		s.used -= d
	}
}

func (s *sim) dropVolatile(k int32) {
	i := s.vpos[k]
	last := s.vol[len(s.vol)-1]
	s.vol[i] = last
	s.vpos[last] = i
	s.vol = s.vol[:len(s.vol)-1]
	s.vpos[k] = noKey
}

// remove deletes k (expiry, eviction or DEL).
func (s *sim) remove(k int32) {
	i := s.pos[k]
	last := s.all[len(s.all)-1]
	s.all[i] = last
	s.pos[last] = i
	s.all = s.all[:len(s.all)-1]
	s.pos[k] = noKey
	if s.vpos[k] != noKey {
		s.dropVolatile(k)
	}
	s.expire[k] = 0
	s.used -= s.cost[k]
	s.cost[k] = 0
	if s.kind == kindExact {
		s.unlink(k)
	}
}

func clock(now time.Duration) int32   { return int32(now / lruResolution) }
func minutes(now time.Duration) int32 { return int32(now / time.Minute) }

// access is a lookup of a present key: LRU takes the clock, LFU decays
// and then increments its logarithmic counter, exact LRU moves it to the
// front.
func (s *sim) access(k int32, now time.Duration) {
	switch s.kind {
	case kindLFU:
		c := s.lfuDecr(k, now)
		if c < 255 {
			base := float64(c) - lfuInitVal
			if base < 0 {
				base = 0
			}
			if s.rng.Float64() < 1/(base*s.logF+1) {
				c++
			}
		}
		s.lfu[k] = c
		s.lfuMin[k] = minutes(now)
	case kindExact:
		s.unlink(k)
		s.pushFront(k)
	default:
		s.lru[k] = clock(now)
	}
}

// lfuDecr is LFUDecrAndReturn: the counter less one per decay period
// elapsed since its last access (a decay time of 0 never decays).
func (s *sim) lfuDecr(k int32, now time.Duration) uint8 {
	c := int32(s.lfu[k])
	if s.decay <= 0 {
		return uint8(c)
	}
	periods := (minutes(now) - s.lfuMin[k]) / s.decay
	if periods > 0 {
		c = max(c-periods, 0)
	}
	return uint8(c)
}

// idle is the eviction pool's score: higher is evicted first.
func (s *sim) idle(k int32, now time.Duration) uint64 {
	switch s.kind {
	case kindLFU:
		return 255 - uint64(s.lfuDecr(k, now))
	case kindTTL:
		return math.MaxUint64 - uint64(s.expire[k])
	}
	return uint64(max(clock(now)-s.lru[k], 0)) * 1000
}

// evict frees memory until the keys fit the capacity, as performEvictions
// does before every command. It reports false when nothing evictable is
// left and memory is still over (a write is then refused with OOM).
func (s *sim) evict(now time.Duration, rec bool) bool {
	for s.used > s.cap {
		var k int32
		switch s.kind {
		case kindExact:
			k = s.tail
		case kindNone:
			k = noKey // noeviction: the write is refused
		case kindRandom:
			k = s.randomVictim()
		default:
			k = s.evictionCandidate(now)
		}
		if k == noKey {
			return false
		}
		if rec {
			w := float64(s.t.Keys[k].Weight)
			s.res.Evicted += w
			s.res.EvictedBy[s.t.Keys[k].Fam] += w
		}
		s.remove(k)
	}
	return true
}

// randomVictim is allkeys-random's and volatile-random's choice: one key
// drawn from the keyspace or the expires dict (dictGetRandomKey).
func (s *sim) randomVictim() int32 {
	from := s.all
	if s.volOnly {
		from = s.vol
	}
	if len(from) == 0 {
		return noKey
	}
	return from[s.rng.IntN(len(from))]
}

// evictionCandidate fills the eviction pool with maxmemory-samples random
// keys (all keys, or the volatile ones) and takes the best that still
// exists, as evictionPoolPopulate and performEvictions do.
func (s *sim) evictionCandidate(now time.Duration) int32 {
	from := &s.all
	if s.volOnly {
		from = &s.vol
	}
	for len(*from) > 0 {
		for range s.cfg.Samples {
			k := (*from)[s.rng.IntN(len(*from))]
			s.poolInsert(k, s.idle(k, now))
		}
		for i := evpoolSize - 1; i >= 0; i-- {
			k := s.pool[i].key
			if k == noKey {
				continue
			}
			s.pool[i].key = noKey
			if s.pos[k] == noKey || (s.volOnly && s.vpos[k] == noKey) {
				continue
			}
			return k
		}
	}
	return noKey
}

func (s *sim) poolInsert(k int32, idle uint64) {
	p := &s.pool
	i := 0
	for i < evpoolSize && p[i].key != noKey && p[i].idle < idle {
		i++
	}
	switch {
	case i == 0 && p[evpoolSize-1].key != noKey:
		return // worse than every candidate held
	case i < evpoolSize && p[i].key == noKey:
	case p[evpoolSize-1].key == noKey:
		copy(p[i+1:], p[i:evpoolSize-1])
	default:
		i--
		copy(p[:i], p[1:i+1])
	}
	p[i] = poolEntry{key: k, idle: idle}
}

// expireCycle is one slow active-expire cycle (serverCron, hz times a
// second): it sweeps the volatile keys from its cursor 20 at a time,
// deleting the expired, and goes on while more than 10 % of a batch was
// expired.
func (s *sim) expireCycle(now time.Duration, rec bool) {
	if rec && s.used > 0 {
		var stale float64
		// The stale share is sampled, not summed: a few hundred keys tell
		// it well enough.
		n := min(len(s.vol), 256)
		if n > 0 {
			var all float64
			for range n {
				k := s.vol[s.rng.IntN(len(s.vol))]
				all += s.cost[k]
				if s.expire[k] <= now {
					stale += s.cost[k]
				}
			}
			volShare := 0.0
			if all > 0 {
				volShare = stale / all
			}
			s.staleSm += volShare
			s.staleN++
		}
	}
	for loops := 0; loops < expireMaxLoops && len(s.vol) > 0; loops++ {
		n := min(expireKeysPerLoop, len(s.vol))
		expired := 0
		for range n {
			if s.cursor >= len(s.vol) {
				s.cursor = 0
				if len(s.vol) == 0 {
					break
				}
			}
			k := s.vol[s.cursor]
			if s.expire[k] <= now {
				if rec {
					s.res.Expired += float64(s.t.Keys[k].Weight)
				}
				s.remove(k) // the last key moves into the cursor's slot
				expired++
				continue
			}
			s.cursor++
		}
		if expired*100/n <= expireStalePerc {
			return
		}
	}
}

func (s *sim) pushFront(k int32) {
	s.prev[k], s.next[k] = noKey, s.head
	if s.head != noKey {
		s.prev[s.head] = k
	}
	s.head = k
	if s.tail == noKey {
		s.tail = k
	}
}

func (s *sim) unlink(k int32) {
	p, n := s.prev[k], s.next[k]
	if p != noKey {
		s.next[p] = n
	} else {
		s.head = n
	}
	if n != noKey {
		s.prev[n] = p
	} else {
		s.tail = p
	}
	s.prev[k], s.next[k] = noKey, noKey
}
