package sizing

import (
	"fmt"
	"math"
	"math/bits"
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
	// Alloc is, per family, how its string keys' bytes are counted: by
	// their allocations (stringAlloc; B is then 1 and A the dicts' share)
	// or, with allocNone, by the linear fit on key and value length.
	Alloc []uint8
	// Typed is, per family, how a hash or sorted-set key is priced by the
	// fields or members it holds (nil for strings and counters).
	Typed []*TypedCost
}

// TypedCost prices a hash or sorted-set key by what it holds, per
// encoding: A + C·fields + B·(key + Σ field name + value bytes); a hash in
// its hashtable encoding holds each value in its own allocation, so there
// the bytes are Σ the values' sds allocations (jemalloc's classes: a
// 260-byte allocation takes 320) with B = 1. A key is
// in the small encoding (listpack) while it has at most MaxEntries fields
// and no value over MaxValue bytes, and in the large one (hashtable,
// skiplist) once it has had more: Redis never converts back.
type TypedCost struct {
	Small, Large         TypedLine
	MaxEntries, MaxValue int
	// Zset: a member has no value (its score is in C), and a miss fills
	// Fill members (the run's zsetFill).
	Zset bool
	Fill int
	// ListpackA, when positive, prices a listpack-encoded key by its
	// encoding instead of Small's line: ListpackA + the listpack's
	// allocation (lpBytes in its jemalloc class) + the name's sds.
	ListpackA float64
	// HashtableA, when positive, prices a hash in its hashtable encoding
	// by its allocations: HashtableA + its dict's buckets (8 bytes each,
	// the table a power of two, grown once full) + per field a dict entry
	// (32) and the name's and value's sds + the key's name sds.
	HashtableA float64
}

// jeClass is the jemalloc size class an allocation of n bytes takes (the
// usable size zmalloc counts in used_memory): 8 and multiples of 16 up to
// 128, then four classes per doubling.
func jeClass(n int64) int64 {
	switch {
	case n <= 8:
		return 8
	case n <= 128:
		return (n + 15) / 16 * 16
	}
	step := int64(1) << (bits.Len64(uint64(n-1)) - 3)
	return (n + step - 1) / step * step
}

// sdsAlloc is what an sds string of n bytes allocates (sdsnewlen: a
// header of 1, 3, 5 or 9 bytes by length, the bytes, a NUL), in its
// jemalloc class.
func sdsAlloc(n int64) int64 {
	hdr := int64(9)
	switch {
	case n < 32:
		hdr = 1
	case n < 256:
		hdr = 3
	case n < 65536:
		hdr = 5
	}
	return jeClass(hdr + n + 1)
}

// fieldNameLen is the length of field or member i's name ("f12", "m3").
func fieldNameLen(i int32) int32 {
	n := int32(2)
	for x := i; x >= 10; x /= 10 {
		n++
	}
	return n
}

func (c *Costs) of(k *KeyInfo, vlen int32, volatile bool) float64 {
	var b float64
	if c.Alloc != nil && c.Alloc[k.Fam] != allocNone {
		b = c.A[k.Fam] + c.B[k.Fam]*float64(stringAlloc(c.Alloc[k.Fam], int64(k.KeyLen), int64(vlen)))
	} else {
		b = c.A[k.Fam] + c.B[k.Fam]*float64(k.KeyLen+vlen)
	}
	if volatile {
		b += c.Volatile
	}
	return b * float64(k.Weight)
}

// How a string key's allocations are counted (Costs.Alloc).
const (
	allocNone    uint8 = iota // the linear fit on lengths
	allocString               // a string value (embstr or raw)
	allocCounter              // an integer INCR made (no value string)
)

// embstrMax is OBJ_ENCODING_EMBSTR_SIZE_LIMIT: a value up to 44 bytes is
// stored in one allocation with its object.
const embstrMax = 44

// stringAlloc is what Redis 7 allocates for a string key, from its source:
// the dict entry (24 bytes, in jemalloc's 32 class), the key's sds, and
// the value: an embstr (object and sds in one allocation) up to 44 bytes,
// else a 16-byte object and its own sds; a counter INCR made is an object
// holding the integer (not shared under an LRU or LFU policy). The dicts'
// buckets are left to the calibration's constant.
func stringAlloc(kind uint8, klen, vlen int64) int64 {
	n := jeClass(24) + sdsAlloc(klen)
	switch {
	case kind == allocCounter:
		return n + jeClass(16)
	case vlen <= embstrMax:
		return n + jeClass(16+3+vlen+1)
	}
	return n + jeClass(16) + sdsAlloc(vlen)
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
	// ClockPhase is where, within Redis's minute, the trace's time 0 falls
	// (the LFU counters decay when the wall clock's minute turns, and the
	// LRU clock ticks on whole seconds).
	ClockPhase time.Duration
	// Hz is the server's hz (the active expire cycle runs hz times a
	// second); 0 takes Redis's default, 10.
	Hz int
	// PrefillSpan is how long the run's prefill takes to write the keys
	// alive at the history's end (oldest first, in pipelined batches that
	// end when the phases begin); when 0, PrefillPerWrite times the
	// prefill's write commands. Redis stamps each key with the LRU clock
	// (and LFU minute) of its arrival, so a span that crosses a tick of
	// the clock leaves the keys written before it older: where the tick
	// falls is ClockPhase's. Both 0 write them all at one instant.
	PrefillSpan     time.Duration
	PrefillPerWrite time.Duration
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
	// Keys and VolatileKeys are the keys held at the end (weighted);
	// KeysBy and BytesBy the keys and their bytes per family.
	Keys, VolatileKeys float64
	KeysBy, BytesBy    []float64
	// Peak is the highest used bytes of keys seen during the phases; End
	// the bytes at the end.
	Peak, End float64
	// PrefillWrites is the commands the prefill wrote the keys alive at
	// the history's end with, over PrefillSpan.
	PrefillWrites float64
	PrefillSpan   time.Duration
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

	// The main and expires dicts' bucket arrays: their weighted key
	// counts and table sizes (8 bytes a bucket, counted in used), grown
	// as Redis grows them (to the next power of two once full) and shrunk
	// by the cron below 10 % fill.
	nKeys, nVol       float64
	mainSize, volSize float64

	kind    policyKind
	volOnly bool // the policy evicts only keys with a TTL
	logF    float64
	decay   int32

	// The fields or members each hash or sorted-set key holds (bit set),
	// their count, their bytes (names and values) and whether the key is
	// in its large encoding; nil when the trace has no such family.
	fbits  [][]uint64
	nf     []int32
	fbytes []int64
	falloc []int64 // Σ the values' sds allocations (a hashtable's)
	lpb    []int64 // Σ the listpack entries' bytes
	nalloc []int64 // Σ the names' sds allocations (a hashtable's)
	ht     []htDict
	large  []bool

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
	if cfg.Costs != nil && slices.ContainsFunc(cfg.Costs.Typed, func(c *TypedCost) bool { return c != nil }) {
		s.fbits, s.nf, s.fbytes, s.falloc, s.large = make([][]uint64, n), make([]int32, n), make([]int64, n), make([]int64, n), make([]bool, n)
		s.lpb, s.nalloc, s.ht = make([]int64, n), make([]int64, n), make([]htDict, n)
	}
	nf := len(t.Families)
	s.res.Hits, s.res.Lookups, s.res.EvictedBy = make([]float64, nf), make([]float64, nf), make([]float64, nf)
	s.run()
	if s.staleN > 0 {
		s.res.StaleAvg = s.staleSm / float64(s.staleN)
	}
	s.res.End = s.used
	s.res.KeysBy, s.res.BytesBy = make([]float64, nf), make([]float64, nf)
	for _, k := range s.all {
		w := float64(t.Keys[k].Weight)
		s.res.Keys += w
		s.res.KeysBy[t.Keys[k].Fam] += w
		s.res.BytesBy[t.Keys[k].Fam] += s.cost[k]
	}
	for _, k := range s.vol {
		s.res.VolatileKeys += float64(t.Keys[k].Weight)
	}
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
			found := present
			if present && e.field >= 0 && s.typedCost(k) != nil {
				// HGET of a field the hash does not hold misses, though
				// the key is there (and is touched by the lookup).
				found = s.hasField(k, e.field)
				if s.large[k] {
					s.htStep(k, 1) // HGET's dictFind
				}
			}
			if rec {
				w := float64(t.Keys[k].Weight)
				if e.kind&evThinned != 0 {
					w = 1 / t.Rate
				}
				fam := t.Keys[k].Fam
				s.res.Lookups[fam] += w
				if found {
					s.res.Hits[fam] += w
				}
			}
			if found {
				s.access(k, e.at)
				if e.kind&evAlsoRefresh != 0 {
					if ttl := s.cfg.TTL[t.Keys[k].Fam]; ttl > 0 {
						s.setExpire(k, e.at+ttl)
					}
					// The session script's PEXPIRE looks the key up for
					// writing: a second access (LFU increments again).
					s.access(k, e.at)
				}
				continue
			}
			if present {
				s.access(k, e.at)
			}
			s.write(k, e.size, e.at, fits, rec, e.field)
		case evWrite:
			if s.present(k, e.at, rec) && e.kind&evKeepTTL != 0 {
				// A counter's INCR: same size, same expiry.
				s.access(k, e.at)
				continue
			}
			s.write(k, e.size, e.at, fits, rec, e.field)
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
	// A hash's or sorted set's fields alive at the history's end, as the
	// run's prefill writes them (every field, not only the last).
	var fields [][]int32
	var fsize [][]int32
	if s.fbits != nil {
		fields, fsize = make([][]int32, n), make([][]int32, n)
	}
	// typedWrite records what a write (or a miss's fill) of a typed key
	// leaves; it reports false for a string.
	typedWrite := func(k int32, e *event, live bool) bool {
		tc := s.typedCost(k)
		if tc == nil {
			return false
		}
		if !live {
			fields[k], fsize[k] = fields[k][:0], fsize[k][:0]
		}
		add := func(f, v int32) {
			if !slices.Contains(fields[k], f) {
				fields[k], fsize[k] = append(fields[k], f), append(fsize[k], v)
			}
		}
		if e.field >= 0 {
			add(e.field, e.size)
		} else if tc.Zset {
			for f := range int32(max(tc.Fill, 1)) {
				add(f, 0)
			}
		}
		// HSET and ZADD set the key's TTL again.
		alive[k], at[k], size[k] = true, e.at, e.size
		return true
	}
	i := 0
	for ; i < len(t.events) && t.events[i].phase < 0; i++ {
		e := &t.events[i]
		k := e.key
		life := s.cfg.TTL[t.Keys[k].Fam]
		live := alive[k] && (life == 0 || e.at < at[k]+life)
		switch e.kind & evKind {
		case evRead:
			switch {
			case live && e.field >= 0 && s.typedCost(k) != nil && !slices.Contains(fields[k], e.field):
				typedWrite(k, e, live)
			case !live:
				if !typedWrite(k, e, live) {
					alive[k], at[k], size[k] = true, e.at, e.size
				}
			case e.kind&evAlsoRefresh != 0:
				at[k] = e.at
			}
		case evWrite:
			if typedWrite(k, e, live) {
				continue
			}
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
	// The writes end when the phases begin; each key arrives in turn,
	// after the commands before it (a string's SET with its TTL is one; a
	// hash field's HSET and a sorted set's ZADD come with a PEXPIRE).
	// A sampled key stands for 1/R keys, and so do its writes.
	writesOf := func(k int32) float64 {
		n := 1
		if tc := s.typedCost(k); tc != nil {
			n = 2
			if !tc.Zset {
				n = 2 * max(len(fields[k]), 1)
			}
		}
		return float64(n) * float64(t.Keys[k].Weight)
	}
	var writes float64
	for _, k := range keys {
		writes += writesOf(k)
	}
	span := s.cfg.PrefillSpan
	if span <= 0 {
		span = time.Duration(writes * float64(s.cfg.PrefillPerWrite))
	}
	span = min(span, t.History)
	s.res.PrefillWrites, s.res.PrefillSpan = writes, span
	var done float64
	for _, k := range keys {
		done += writesOf(k)
		now := t.History - span + time.Duration(float64(span)*done/max(writes, 1))
		life := s.cfg.TTL[t.Keys[k].Fam]
		var exp time.Duration
		if life > 0 {
			// The remaining TTL as the harness computes it at the
			// history's end.
			rem := at[k] + life - t.History
			if rem < time.Millisecond {
				continue
			}
			exp = t.History + rem
		}
		fits := s.evict(now, false)
		if tc := s.typedCost(k); tc != nil {
			for j, f := range fields[k] {
				s.writeTyped(k, tc, f, fsize[k][j], now, exp, fits, false)
			}
			continue
		}
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
func (s *sim) write(k int32, size int32, now time.Duration, fits, rec bool, field int32) {
	var exp time.Duration
	if ttl := s.cfg.TTL[s.t.Keys[k].Fam]; ttl > 0 {
		exp = now + ttl
	}
	if tc := s.typedCost(k); tc != nil {
		s.writeTyped(k, tc, field, size, now, exp, fits, rec)
		return
	}
	s.insertRaw(k, size, now, exp, fits, rec)
}

// typedCost is k's family's typed pricing, or nil for a string.
func (s *sim) typedCost(k int32) *TypedCost {
	if s.fbits == nil {
		return nil
	}
	return s.cfg.Costs.Typed[s.t.Keys[k].Fam]
}

func (s *sim) hasField(k, f int32) bool {
	b := s.fbits[k]
	return int(f/64) < len(b) && b[f/64]&(1<<(f%64)) != 0
}

// addField records field or member f of k (vlen value bytes).
func (s *sim) addField(k int32, tc *TypedCost, f, vlen int32) {
	exact := !tc.Zset && tc.HashtableA > 0
	if s.hasField(k, f) {
		if exact && s.large[k] {
			s.htStep(k, 1) // HSET of a field it holds: dictFind
		}
		return
	}
	for int(f/64) >= len(s.fbits[k]) {
		s.fbits[k] = append(s.fbits[k], 0)
	}
	s.fbits[k][f/64] |= 1 << (f % 64)
	if exact {
		// hsetCommand converts a listpack whose new value is too long
		// before the insert (the dict sized to the fields it holds), and
		// one with too many fields after it.
		if !s.large[k] && vlen > int32(tc.MaxValue) {
			s.large[k] = true
			s.ht[k] = htDict{size: htInitial(s.nf[k])}
		}
		if s.large[k] {
			s.htStep(k, 1) // dictFind
			s.htStep(k, 1) // dictAddRaw's step, then its expand check
			s.ht[k].expand(s.nf[k])
		}
	}
	s.nf[k]++
	s.fbytes[k] += int64(fieldNameLen(f))
	s.lpb[k] += lpStringEntry(int64(fieldNameLen(f)))
	s.nalloc[k] += sdsAlloc(int64(fieldNameLen(f)))
	if !tc.Zset {
		s.fbytes[k] += int64(vlen)
		s.falloc[k] += sdsAlloc(int64(vlen))
		s.lpb[k] += lpStringEntry(int64(vlen))
	} else if f < int32(tc.Fill) {
		// A fill's member is scored by its rank; a member a write
		// added, by the writer's version (taken to fit 24 bits).
		s.lpb[k] += lpIntEntry(int64(tc.Fill))
	} else {
		s.lpb[k] += lpIntEntry(1 << 20)
	}
	if !s.large[k] && (s.nf[k] > int32(tc.MaxEntries) || (!tc.Zset && vlen > int32(tc.MaxValue))) {
		s.large[k] = true
		if exact {
			s.ht[k] = htDict{size: htInitial(s.nf[k])}
		}
	}
}

// htDict is a hash's own dict in its hashtable encoding (dict.c of Redis
// 7): its table's buckets and, while it rehashes, the old table's and the
// steps left. A hash's dict is rehashed only by the commands that use it
// (one bucket a dictFind or dictAdd), never by the cron, so an old table
// can stay allocated long after the hash stopped growing.
type htDict struct{ size, old, left int32 }

// htInitial is the table a dict is created with for n fields (dictExpand:
// the next power of two, at least 4; none for an empty dict).
func htInitial(n int32) int32 {
	if n <= 0 {
		return 0
	}
	return int32(dictTable(float64(n)))
}

// expand is _dictExpandIfNeeded before the insert of field n+1 (n
// held): the first table is 4 buckets; a full one (n >= size) is
// replaced by the next power of two over n, the old one kept until the
// rehash has moved its non-empty buckets (about 1 - 1/e of them at a
// load of 1). A dict already rehashing does not expand.
func (d *htDict) expand(n int32) {
	switch {
	case d.old > 0:
	case d.size == 0:
		d.size = 4
	case n >= d.size:
		d.old, d.size = d.size, int32(dictTable(float64(n+1)))
		d.left = int32(math.Ceil((1 - 1/math.E) * float64(d.old)))
	}
}

// step is n _dictRehashStep calls; it returns the buckets of the old
// table it freed (0 unless the rehash finished).
func (d *htDict) step(n int32) int32 {
	if d.old == 0 {
		return 0
	}
	if d.left -= n; d.left > 0 {
		return 0
	}
	freed := d.old
	d.old, d.left = 0, 0
	return freed
}

// htAfter is the dict of a hash written with n HSETs of new fields (the
// calibration's groups): a hashtable from the first when its values are
// too long for a listpack (long), else from the insert that takes it
// over maxEntries.
func htAfter(n int32, long bool, maxEntries int32) htDict {
	var d htDict
	for j := range n {
		switch {
		case long || j > maxEntries:
			d.step(2)
			d.expand(j)
		case j == maxEntries:
			d = htDict{size: htInitial(j + 1)}
		}
	}
	return d
}

// htStep is n rehash steps on hash k's dict; when they finish the rehash,
// the old table's memory is freed.
func (s *sim) htStep(k int32, n int32) {
	if freed := s.ht[k].step(n); freed > 0 {
		b := 8 * float64(freed) * float64(s.t.Keys[k].Weight)
		s.cost[k] -= b
		s.used -= b
	}
}

// typedPrice is what hash or sorted-set key k costs with what it holds
// (without its expires entry).
func (s *sim) typedPrice(k int32, tc *TypedCost) float64 {
	ki := &s.t.Keys[k]
	if s.large[k] && !tc.Zset && tc.HashtableA > 0 {
		n := int64(s.nf[k])
		b := tc.HashtableA + float64(8*int64(s.ht[k].size+s.ht[k].old)+n*jeClass(24)+s.nalloc[k]+s.falloc[k]+sdsAlloc(int64(ki.KeyLen)))
		return b * float64(ki.Weight)
	}
	if s.large[k] && !tc.Zset {
		fit := tc.Large
		return (fit.A + fit.C*float64(s.nf[k]) + fit.B*float64(s.falloc[k])) * float64(ki.Weight)
	}
	if !s.large[k] && tc.ListpackA > 0 {
		return (tc.ListpackA + float64(jeClass(lpHeader+s.lpb[k])+sdsAlloc(int64(ki.KeyLen)))) * float64(ki.Weight)
	}
	fit := tc.Small
	if s.large[k] {
		fit = tc.Large
	}
	return (fit.A + fit.C*float64(s.nf[k]) + fit.B*float64(int64(ki.KeyLen)+s.fbytes[k])) * float64(ki.Weight)
}

// writeTyped is HSET of field (HSET and EXPIRE in one round trip, as the
// manager writes), or ZADD of member field, or a miss's fill of a sorted
// set (field -1: the run's zsetFill members): the key is created when
// absent, the field added, the key repriced and its TTL set again.
func (s *sim) writeTyped(k int32, tc *TypedCost, field, size int32, now, exp time.Duration, fits, rec bool) {
	if !fits {
		if rec {
			s.res.OOM += float64(s.t.Keys[k].Weight)
		}
		return
	}
	if s.pos[k] == noKey {
		s.create(k, now)
	} else {
		s.access(k, now)
	}
	if field >= 0 {
		s.addField(k, tc, field, size)
	} else if tc.Zset {
		for i := range int32(max(tc.Fill, 1)) {
			s.addField(k, tc, i, 0)
		}
	}
	c := s.typedPrice(k, tc)
	if s.expire[k] > 0 {
		c += s.cfg.Costs.Volatile * float64(s.t.Keys[k].Weight)
	}
	s.used += c - s.cost[k]
	s.cost[k] = c
	s.setExpire(k, exp)
	if exp > 0 {
		// The PEXPIRE that follows HSET and ZADD looks the key up for
		// writing (lookupKeyWrite): an access of its own, which under LFU
		// increments the counter again (a new key's from LFU_INIT_VAL
		// surely: LFULogIncr's chance is 1 at the initial value).
		s.access(k, now)
	}
}

// dictTable is the bucket count a dict of n keys has grown to: 4 for the
// first key, doubled to the next power of two once it is full.
func dictTable(n float64) float64 {
	if n <= 0 {
		return 0
	}
	return math.Max(4, math.Exp2(math.Ceil(math.Log2(n))))
}

// grow accounts a dict's growth to n keys: a full table is replaced by
// one of the next power of two (8 bytes a bucket).
func (s *sim) grow(size *float64, n float64) {
	if n > *size {
		t := dictTable(n)
		s.used += 8 * (t - *size)
		*size = t
	}
}

// shrinkDicts is the cron's tryResizeHashTables: a table under 10 % full
// is shrunk to the keys it holds.
func (s *sim) shrinkDicts() {
	for _, d := range []struct{ size, n *float64 }{{&s.mainSize, &s.nKeys}, {&s.volSize, &s.nVol}} {
		if *d.size > 4 && *d.n*100 < *d.size*10 {
			t := dictTable(math.Max(*d.n, 1))
			s.used -= 8 * (*d.size - t)
			*d.size = t
		}
	}
}

// create adds k to the keyspace with no memory yet, its LRU clock or LFU
// counter that of a new object.
func (s *sim) create(k int32, now time.Duration) {
	s.nKeys += float64(s.t.Keys[k].Weight)
	s.grow(&s.mainSize, s.nKeys)
	s.pos[k] = int32(len(s.all))
	s.all = append(s.all, k)
	s.cost[k] = 0
	s.expire[k] = 0
	switch s.kind {
	case kindLFU:
		s.lfu[k] = lfuInitVal
		s.lfuMin[k] = s.minutes(now)
	case kindExact:
		s.pushFront(k)
	default:
		s.lru[k] = s.clock(now)
	}
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
	s.create(k, now)
	s.cost[k] = c
	s.vlen[k] = size
	s.used += c
	s.setExpire(k, exp)
}

// setExpire sets k's absolute expiry (0 = none), moving it in or out of
// the volatile set, and reprices its expires entry.
func (s *sim) setExpire(k int32, exp time.Duration) {
	was := s.expire[k] > 0
	s.expire[k] = exp
	switch {
	case exp > 0 && !was:
		s.nVol += float64(s.t.Keys[k].Weight)
		s.grow(&s.volSize, s.nVol)
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
	s.nVol -= float64(s.t.Keys[k].Weight)
	i := s.vpos[k]
	last := s.vol[len(s.vol)-1]
	s.vol[i] = last
	s.vpos[last] = i
	s.vol = s.vol[:len(s.vol)-1]
	s.vpos[k] = noKey
}

// remove deletes k (expiry, eviction or DEL).
func (s *sim) remove(k int32) {
	s.nKeys -= float64(s.t.Keys[k].Weight)
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
	if s.fbits != nil {
		clear(s.fbits[k])
		s.nf[k], s.fbytes[k], s.falloc[k], s.large[k], s.lpb[k], s.nalloc[k], s.ht[k] = 0, 0, 0, false, 0, 0, htDict{}
	}
	if s.kind == kindExact {
		s.unlink(k)
	}
}

// clock is Redis's LRU clock (seconds) and minutes its LFU time, at now
// shifted by the wall clock's phase (Redis counts both from the Unix
// epoch, not from the run's start).
func (s *sim) clock(now time.Duration) int32 {
	return int32((now + s.cfg.ClockPhase) / lruResolution)
}

func (s *sim) minutes(now time.Duration) int32 {
	return int32((now + s.cfg.ClockPhase) / time.Minute)
}

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
		s.lfuMin[k] = s.minutes(now)
	case kindExact:
		s.unlink(k)
		s.pushFront(k)
	default:
		s.lru[k] = s.clock(now)
	}
}

// lfuDecr is LFUDecrAndReturn: the counter less one per decay period
// elapsed since its last access (a decay time of 0 never decays).
func (s *sim) lfuDecr(k int32, now time.Duration) uint8 {
	c := int32(s.lfu[k])
	if s.decay <= 0 {
		return uint8(c)
	}
	periods := (s.minutes(now) - s.lfuMin[k]) / s.decay
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
	return uint64(max(s.clock(now)-s.lru[k], 0)) * 1000
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
	defer s.shrinkDicts()
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
