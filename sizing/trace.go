// Package sizing answers "how much memory, and which TTLs, give the
// target hit rate?" by simulating the access stream a run would send
// (harness.Plan: the same workload model, prefill history and phases)
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
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/cacheproof/cacheproof/workload"
)

// Event kinds of the simulated stream, from the generic predicates of
// workload.OpKind (never a list of kinds, so a new kind is not lost).
const (
	evRead    uint8 = iota // lookup; a miss is filled (cache-aside)
	evWrite                // written whether present or not
	evRefresh              // TTL extended when present
	evDelete               // removed
)

// event is one key-level access of the stream.
type event struct {
	at   time.Duration // offset from the start of the history (or of the run without one)
	key  int32         // index into Trace.Keys
	size int32         // value bytes written by a write or a fill
	kind uint8
	// phase is the scenario phase (0-based), or -1 during the history.
	phase int16
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
	// End is the time of the last phase's end.
	End time.Duration
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
}

// BuildTrace generates the stream of model over plan's phases, preceded
// by history when it is positive, exactly as harness builds the run's
// schedule.
func BuildTrace(cfg workload.Config, phases []workload.PhasePlan, history time.Duration, o TraceOptions) (*Trace, error) {
	model, err := workload.New(cfg)
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
	for _, p := range plans {
		t.End += p.Duration
		est += p.Duration.Seconds() * float64(p.UsersStart+p.UsersEnd) / 2 * cfg.CommandsPerUserPerMinute / 60 * 7
	}
	if cfg.CommandsPerUserPerMinute == 0 {
		est = 0 // the model's default rate: let the cap below decide
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
	add := func(c *workload.Command, fam *workload.Family, key string, size int, kind uint8) {
		if threshold[fam.Index] != math.MaxUint64 && xxhash.Sum64String(key) >= threshold[fam.Index] {
			return
		}
		id, ok := ids[key]
		if !ok {
			id = int32(len(t.Keys))
			ids[key] = id
			t.Keys = append(t.Keys, KeyInfo{Fam: int16(fam.Index), KeyLen: int32(len(key)), Weight: float32(1 / t.FamRate[fam.Index])})
		}
		t.events = append(t.events, event{at: c.At, key: id, size: int32(min(size, math.MaxInt32)), kind: kind, phase: int16(c.Phase - shift)})
	}
	sched := model.Schedule(plans)
	for {
		c, ok := sched.Next()
		if !ok {
			break
		}
		t.Commands++
		for i := range c.Ops {
			op := &c.Ops[i]
			var kind uint8
			switch k := op.Kind; {
			case k.Reads():
				kind = evRead
			case k.Writes():
				kind = evWrite
			case k.Refreshes():
				kind = evRefresh
			case k.Deletes():
				kind = evDelete
			default:
				continue // touches no key's presence (none today)
			}
			rec := c.Phase-shift >= 0 && t.Recorded[c.Phase-shift]
			if len(op.Keys) > 0 {
				for j, k := range op.Keys {
					t.Ops++
					size := op.Size
					if j < len(op.Sizes) {
						size = op.Sizes[j]
					}
					if rec && kind == evRead {
						t.Lookups[op.Family.Index]++
					}
					add(&c, op.Family, k, size, kind)
				}
				continue
			}
			t.Ops++
			if rec && kind == evRead {
				t.Lookups[op.Family.Index]++
			}
			add(&c, op.Family, op.Key, op.Size, kind)
		}
	}
	return t, nil
}
