// Package sizing answers "how much memory, and which TTLs, give the
// target hit rate?" by simulating the access stream a run would send
// (runplan.Plan: the same workload model, prefill history and phases)
// against a model of Redis's eviction (sampled LRU and LFU with an
// eviction pool of 16, volatile-ttl, and exact LRU for reference), with
// Redis's lazy and active expiry, at many maxmemory sizes. Key costs come
// from a calibration against a real redis-server (calibrate.go).
//
// The stream is spatially sampled (SHARDS: a key is kept when a hash of it
// falls under a rate R, its cost scaled by 1/R), so ten minutes of 10,000
// users simulate at two dozen sizes and four policies in seconds. Families
// whose key does not depend on a user (a single key) are always kept: one
// such key is too large a share of the lookups to sample.
package sizing

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/cacheproof/cacheproof/bots"
	"github.com/cacheproof/cacheproof/workload"
)

// Event kinds of the simulated stream, from the generic predicates of
// workload.OpKind (never a list of kinds, so a new kind is not lost).
const (
	evRead    uint8 = iota // lookup; a miss is filled (cache-aside)
	evWrite                // written whether present or not
	evRefresh              // TTL extended when present
	evDelete               // removed

	// evThinned marks a read of a whole-kept key that stands for 1/rate
	// reads (see BuildTrace).
	evThinned uint8 = 0x80
	// evAlsoRefresh marks a read that also extends a present key's TTL
	// (the session get-and-extend).
	evAlsoRefresh uint8 = 0x40
	// evKeepTTL marks a write that creates a missing key with its TTL but
	// leaves a present one's expiry alone (a fixed-window counter's INCR).
	evKeepTTL uint8 = 0x20
	evKind    uint8 = 0x1f
)

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// event is one key-level access of the stream.
type event struct {
	at   time.Duration // offset from the start of the history (or of the run without one)
	key  int32         // index into Trace.Keys
	size int32         // value bytes written by a write or a fill
	kind uint8
	// phase is the scenario phase (0-based), or -1 during the history.
	phase int16
	// field is the hash field or sorted-set member the access addresses
	// (its index in the family's f0..fN / m0..mN), or -1 for the whole key
	// (a string, a ZRANGE of a sorted set).
	field int32
}

// fieldIndex is the index of a hash field or sorted-set member name
// ("f12", "m3": workload's names), or -1 for none.
func fieldIndex(name string) int32 {
	if len(name) < 2 {
		return -1
	}
	n, err := strconv.Atoi(name[1:])
	if err != nil || n < 0 || n > math.MaxInt32 {
		return -1
	}
	return int32(n)
}

// KeyInfo is one distinct key of the sampled stream.
type KeyInfo struct {
	Fam    int16   // workload.Family.Index
	KeyLen int32   // bytes
	Weight float32 // 1/sampling rate of its family
}

// Trace is the sampled access stream of a scenario.
type Trace struct {
	Families []workload.Family
	Keys     []KeyInfo
	events   []event
	// History is the prefill's length (events before it are replayed with
	// an unbounded cache, as harness's prefill does).
	History  time.Duration
	Recorded []bool // per phase
	// Rate is the sampling rate of the families that are sampled, and
	// FamRate each family's (1 for single-key families).
	Rate    float64
	FamRate []float64
	// Commands and Ops count the whole (unsampled) stream; Lookups its
	// recorded lookups per family.
	Commands, Ops int64
	Lookups       []int64
	// RoundTrips counts the phases' operations (after the prefill), each
	// one request to Redis, and PhaseReads those of them that read: a read
	// that misses is followed by its fill, one more. Clients takes the
	// request rate from them, unsampled.
	RoundTrips, PhaseReads int64
	// End is the time of the last phase's end.
	End time.Duration
	// Denied counts the recorded commands a rate-limit counter refused
	// (their later operations are not replayed: the bot does not issue
	// them).
	Denied int64
	// MultiReads and Invalidations say whether the load (after the
	// prefill) reads several keys in one operation (the pool's MGET) and
	// invalidates keys (DEL and, with an invalidation channel, PUBLISH):
	// Commands names the Redis commands from them.
	MultiReads, Invalidations bool
}

// Events is the number of sampled key accesses.
func (t *Trace) Events() int { return len(t.events) }

// TraceOptions choose how the stream is built.
type TraceOptions struct {
	// Rate is the SHARDS sampling rate in (0, 1]; 0 picks one from the
	// scenario's size (about MaxEvents sampled accesses).
	Rate float64
	// MaxEvents bounds the automatic rate's sampled accesses (default
	// 600,000).
	MaxEvents int
	// NearFamilies and NearTTL are the bot instances' near cache (the
	// pool's near_cache families, each copy served for NearTTL): reads it
	// answers never reach Redis.
	NearFamilies []string
	NearTTL      time.Duration
	// Salt changes which keys the sampling keeps (a different sample of
	// the same stream; "" is the default one).
	Salt string
}

// BuildTrace generates the stream of model over plan's phases, preceded
// by history when it is positive, exactly as harness builds the run's
// schedule.
func BuildTrace(ws workload.Settings, run workload.Run, phases []workload.PhasePlan, history time.Duration, o TraceOptions) (*Trace, error) {
	model, err := workload.New(ws, run)
	if err != nil {
		return nil, fmt.Errorf("sizing: workload: %w", err)
	}
	fams := model.Families()
	t := &Trace{Families: fams, History: history, FamRate: make([]float64, len(fams)), Lookups: make([]int64, len(fams))}
	plans := phases
	shift := 0
	if history > 0 && len(phases) > 0 {
		h := workload.PhasePlan{Name: "history", Duration: history, UsersStart: phases[0].UsersStart, UsersEnd: phases[0].UsersStart}
		plans = append([]workload.PhasePlan{h}, phases...)
		shift = 1
	} else {
		t.History = 0
	}
	t.Recorded = make([]bool, len(phases))
	var est float64
	for i, p := range phases {
		t.Recorded[i] = p.Record
	}
	cpm := model.Config().CommandsPerUserPerMinute // resolved: New validated it positive
	for _, p := range plans {
		t.End += p.Duration
		est += p.Duration.Seconds() * float64(p.UsersStart+p.UsersEnd) / 2 * cpm / 60 * 7
	}
	rate := o.Rate
	if rate == 0 {
		maxEv := o.MaxEvents
		if maxEv <= 0 {
			maxEv = 600_000
		}
		rate = 1
		if est > float64(maxEv) {
			rate = float64(maxEv) / est
		}
	}
	if !(rate > 0 && rate <= 1) {
		return nil, fmt.Errorf("sizing: sampling rate %v must be in (0, 1]", rate)
	}
	t.Rate = rate
	for i := range fams {
		t.FamRate[i] = rate
		// A family whose key is the same for every id has one key: keep
		// it whole.
		if model.Key(&fams[i], 1) == model.Key(&fams[i], 2) {
			t.FamRate[i] = 1
		}
	}
	threshold := make([]uint64, len(fams))
	for i, r := range t.FamRate {
		if r >= 1 {
			threshold[i] = math.MaxUint64
		} else {
			threshold[i] = uint64(r * float64(math.MaxUint64))
		}
	}

	ids := make(map[string]int32, 1<<16)
	t.events = make([]event, 0, 1<<16)
	rthresh := uint64(rate * float64(math.MaxUint64))
	var nth uint64
	add := func(c *workload.Command, fam *workload.Family, key string, size int, kind uint8, field int32) {
		if threshold[fam.Index] != math.MaxUint64 {
			h := xxhash.Sum64String(key)
			if o.Salt != "" {
				h = xxhash.Sum64String(key + o.Salt)
			}
			if h >= threshold[fam.Index] {
				return
			}
		} else if kind == evRead && rate < 1 {
			// A key kept whole is read far more often than any sampled
			// one: its reads are thinned at the rate instead (each kept
			// one weighs 1/rate), which leaves it as recent and as hot.
			// Writes, refreshes and deletes are all kept.
			nth++
			if splitmix(nth) >= rthresh {
				return
			}
			kind |= evThinned
		}
		id, ok := ids[key]
		if !ok {
			id = int32(len(t.Keys))
			ids[key] = id
			t.Keys = append(t.Keys, KeyInfo{Fam: int16(fam.Index), KeyLen: int32(len(key)), Weight: float32(1 / t.FamRate[fam.Index])})
		}
		t.events = append(t.events, event{at: c.At, key: id, size: int32(min(size, math.MaxInt32)), kind: kind, phase: int16(c.Phase - shift), field: field})
	}
	var near *nearModel
	if o.NearTTL > 0 && len(o.NearFamilies) > 0 {
		near = newNearModel(fams, o.NearFamilies, o.NearTTL)
	}
	limits := rateLimits{}
	sched := model.Schedule(plans)
	for {
		c, ok := sched.Next()
		if !ok {
			break
		}
		t.Commands++
		inPhase := c.Phase-shift >= 0
		rec := inPhase && t.Recorded[c.Phase-shift]
		if inPhase {
			t.RoundTrips += int64(len(c.Ops))
			for i := range c.Ops {
				if c.Ops[i].Kind.Reads() {
					t.PhaseReads++
				}
			}
		}
		for i := range c.Ops {
			op := &c.Ops[i]
			k := op.Kind
			if k.Limits() {
				if !inPhase {
					// harness's prefill leaves counters out: they live one
					// window.
					continue
				}
				t.Ops++
				add(&c, op.Family, op.Key, op.Size, evWrite|evKeepTTL, -1)
				if limits.hit(op.Family, op.Key, c.At) {
					// Refused: the bot issues none of the command's later
					// operations.
					if rec {
						t.Denied++
					}
					break
				}
				continue
			}
			var kind uint8
			switch {
			case k.Reads():
				kind = evRead
				if k.Refreshes() {
					kind |= evAlsoRefresh
				}
			case k.Writes():
				kind = evWrite
			case k.Refreshes():
				kind = evRefresh
			case k.Deletes():
				kind = evDelete
			default:
				continue // touches no key's presence (none today)
			}
			if inPhase {
				t.MultiReads = t.MultiReads || (kind&evKind == evRead && len(op.Keys) > 0)
				t.Invalidations = t.Invalidations || k.Invalidates()
			}
			famOf := func(j int) *workload.Family {
				if j < len(op.Families) && op.Families[j] != nil {
					return op.Families[j]
				}
				return op.Family
			}
			// one is a key-level access: a near-cache hit never reaches
			// Redis and is no lookup; a read that does reach it leaves a
			// copy in the instance (a hit, or the fill after a miss).
			field := fieldIndex(op.Field)
			one := func(fam *workload.Family, key string, size int, kind uint8) {
				t.Ops++
				if near != nil && inPhase && near.isNear[fam.Index] {
					switch {
					case kind&evKind == evRead && k.ServedNear():
						if near.fresh(c.Instance, key, c.At) {
							return
						}
						near.put(c.Instance, key, c.At)
					case kind&evKind == evRead || kind == evWrite:
						near.put(c.Instance, key, c.At)
					case kind == evDelete:
						near.drop(c.Instance, key)
					}
				}
				if rec && kind&evKind == evRead {
					t.Lookups[fam.Index]++
				}
				f := int32(-1)
				if key == op.Key && fam == op.Family {
					f = field
				}
				add(&c, fam, key, size, kind, f)
			}
			if k.Invalidates() {
				one(op.Family, op.Key, op.Size, kind)
				for j, key := range op.Keys {
					if near != nil && inPhase {
						near.dropAll(key)
					}
					one(famOf(j), key, 0, evDelete)
				}
				if len(op.Keys) == 0 && near != nil && inPhase {
					near.dropOthers(c.Instance, op.Key)
				}
				continue
			}
			if len(op.Keys) > 0 {
				for j, key := range op.Keys {
					size := op.Size
					if j < len(op.Sizes) {
						size = op.Sizes[j]
					}
					one(famOf(j), key, size, kind)
				}
				continue
			}
			one(op.Family, op.Key, op.Size, kind)
			if kind&evKind == evRead && k.Writes() {
				// A read-modify-write (compare-and-swap): the read is the
				// lookup, then the new value is written whatever it found.
				one(op.Family, op.Key, op.Size, evWrite)
			}
		}
	}
	return t, nil
}

// rateLimits is the fixed-window counters of the phases as the seed's Lua
// script keeps them (pool.RateLimit): the first hit opens a window of the
// family's TTL, every hit counts, and a hit over the family's RateLimit is
// refused. Counters start empty after the history, as the run's do.
type rateLimits map[string]rateWindow

type rateWindow struct {
	opened time.Duration
	n      int64
}

// hit counts one hit at now and reports whether it is refused.
func (r rateLimits) hit(fam *workload.Family, key string, now time.Duration) bool {
	w, ok := r[key]
	if !ok || now >= w.opened+fam.TTL {
		w = rateWindow{opened: now}
	}
	w.n++
	r[key] = w
	return fam.RateLimit > 0 && w.n > fam.RateLimit
}

// nearModel is the bot instances' near caches as harness keeps them
// (bots/layer.go): per instance a copy per key, served until its
// expiry; a shard of the map that reaches its limit is emptied on the next
// put. It depends only on the stream (every read that reaches Redis leaves
// a copy), so it is applied while the trace is built.
type nearModel struct {
	ttl    time.Duration
	isNear []bool
	inst   map[int]*[bots.NearShards]map[string]time.Duration
}

func newNearModel(fams []workload.Family, names []string, ttl time.Duration) *nearModel {
	n := &nearModel{ttl: ttl, isNear: make([]bool, len(fams)), inst: map[int]*[bots.NearShards]map[string]time.Duration{}}
	for i, f := range fams {
		for _, name := range names {
			if f.Name == name {
				n.isNear[i] = true
			}
		}
	}
	return n
}

func (n *nearModel) shards(inst int) *[bots.NearShards]map[string]time.Duration {
	s := n.inst[inst]
	if s == nil {
		s = new([bots.NearShards]map[string]time.Duration)
		for i := range s {
			s[i] = map[string]time.Duration{}
		}
		n.inst[inst] = s
	}
	return s
}

func (n *nearModel) fresh(inst int, key string, now time.Duration) bool {
	m := n.shards(inst)[bots.NearShardOf(key)]
	exp, ok := m[key]
	if ok && now >= exp {
		delete(m, key)
		return false
	}
	return ok
}

func (n *nearModel) put(inst int, key string, now time.Duration) {
	m := n.shards(inst)[bots.NearShardOf(key)]
	if len(m) >= bots.NearShardLimit {
		clear(m)
	}
	m[key] = now + n.ttl
}

func (n *nearModel) drop(inst int, key string) { delete(n.shards(inst)[bots.NearShardOf(key)], key) }

func (n *nearModel) dropAll(key string) {
	for i := range n.inst {
		n.drop(i, key)
	}
}

func (n *nearModel) dropOthers(inst int, key string) {
	for i := range n.inst {
		if i != inst {
			n.drop(i, key)
		}
	}
}
