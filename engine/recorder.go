package engine

import (
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// Operation names as they appear in the report's latency_ms.by_op: the
// first four are the names reports had before the seed's other operations
// were driven (reads, get-or-fetch included, are "get"; touches "expire"),
// so existing reports, golden files and comparisons keep their meaning;
// every later kind is a slot of its own under workload.OpKind's name.
const (
	SlotGet int8 = iota
	SlotSet
	SlotExpire
	SlotDel
	// numOpSlots: get and get_or_fetch share a slot.
	NumOpSlots = workload.NumOpKinds - 1
)

// OpSlot is each kind's by_op slot, OpNames each slot's name: arrays, so
// the hot path indexes instead of hashing a name.
var OpSlot, OpNames = func() (slot [workload.NumOpKinds]int8, names [NumOpSlots]string) {
	names[SlotGet], names[SlotSet], names[SlotExpire], names[SlotDel] = "get", "set", "expire", "del"
	slot[workload.OpGetOrFetch], slot[workload.OpGet] = SlotGet, SlotGet
	slot[workload.OpSet], slot[workload.OpTouch], slot[workload.OpDel] = SlotSet, SlotExpire, SlotDel
	next := SlotDel + 1
	for k := workload.OpSessionGet; int(k) < workload.NumOpKinds; k++ {
		slot[k], names[next] = next, k.String()
		next++
	}
	return slot, names
}()

// TierNames index the per-tier arrays: pool's tiers (their one source), in
// pool's order, so the hot path indexes arrays instead of hashing strings.
var TierNames = pool.TierNames()

// TierPersistent is the tier whose keys never expire: a write to it must
// survive faults (the lost-write tracker follows it).
const TierPersistent = string(pool.TierPersistent)

// TierIndex is tier t's index into TierNames (0, the first, for a name
// outside the tiers).
func TierIndex(t string) int {
	for i, n := range TierNames {
		if n == t {
			return i
		}
	}
	return 0
}

// Counts are the additive figures of one recorder shard. Interval copies are
// swapped out by the sampler every second; totals only grow.
type Counts struct {
	Ops, Commands, Late, Dropped uint64
	Abandoned                    uint64                                        // operations never attempted
	LateSlot                     uint64                                        // late commands that waited for an in-flight slot
	Hits, Misses, LookupErrs     [pool.NumTiers]uint64                         // by tier
	Causes                       [pool.NumTiers][workload.NumMissCauses]uint64 // by tier, by workload.MissCause
	Fams                         []FamCounts                                   // by workload.Family.Index
	Errors                       map[string]uint64
	Tally
}

// Tally is what a command counts beside its samples, lookups and errors,
// kept alike in a Record and in Counts: values checked and the mismatches
// among them, and the seed's layer beyond GET and SET (rate-limit
// decisions and the operations refused commands skipped, compare-and-set
// conflicts and give-ups, invalidations published).
type Tally struct {
	Checked, Mismatches                  uint64
	RateAllowed, RateDenied, RateSkipped uint64
	CASConflicts, CASGaveUp, Published   uint64
}

func (t *Tally) add(o *Tally) {
	t.Checked += o.Checked
	t.Mismatches += o.Mismatches
	t.RateAllowed += o.RateAllowed
	t.RateDenied += o.RateDenied
	t.RateSkipped += o.RateSkipped
	t.CASConflicts += o.CASConflicts
	t.CASGaveUp += o.CASGaveUp
	t.Published += o.Published
}

// FamCounts are one key family's lookups, and the reads of its near-cache
// copies (served, not held, stale beyond the grace, stale within it).
type FamCounts struct {
	Hits, Misses, LookupErrs uint64
	Causes                   [workload.NumMissCauses]uint64 // by workload.MissCause
	NearHits, NearMisses     uint64
	Stale, StaleInFlight     uint64
	// Produced are the family's producer's writes sent (commands with
	// workload.Command.Producer, not the users'), ProducedErrs the ones
	// that failed, ProducedLate and ProducedDropped the ones that started
	// late or never: the producer's share of Ops, Late and Dropped.
	Produced, ProducedErrs, ProducedLate, ProducedDropped uint64
}

func newCounts(families int) Counts {
	return Counts{Fams: make([]FamCounts, families), Errors: map[string]uint64{}}
}

func (c *Counts) add(o *Counts) {
	c.Ops += o.Ops
	c.Commands += o.Commands
	c.Late += o.Late
	c.Dropped += o.Dropped
	c.Abandoned += o.Abandoned
	c.LateSlot += o.LateSlot
	for t := range c.Hits {
		c.Hits[t] += o.Hits[t]
		c.Misses[t] += o.Misses[t]
		c.LookupErrs[t] += o.LookupErrs[t]
		for k := range c.Causes[t] {
			c.Causes[t][k] += o.Causes[t][k]
		}
	}
	for i := range o.Fams {
		f, of := &c.Fams[i], &o.Fams[i]
		f.Hits += of.Hits
		f.Misses += of.Misses
		f.LookupErrs += of.LookupErrs
		f.NearHits += of.NearHits
		f.NearMisses += of.NearMisses
		f.Stale += of.Stale
		f.StaleInFlight += of.StaleInFlight
		f.Produced += of.Produced
		f.ProducedErrs += of.ProducedErrs
		f.ProducedLate += of.ProducedLate
		f.ProducedDropped += of.ProducedDropped
		for k := range f.Causes {
			f.Causes[k] += of.Causes[k]
		}
	}
	for k, v := range o.Errors {
		c.Errors[k] += v
	}
	c.Tally.add(&o.Tally)
}

// Hists are the latency histograms of one shard (microseconds).
type Hists struct {
	Overall, Service, Command *hdrhistogram.Histogram
	ByOp                      [NumOpSlots]*hdrhistogram.Histogram
	ByTier                    [pool.NumTiers]*hdrhistogram.Histogram
	// ByFamily is each key family's latency (by workload.Family.Index),
	// made when the family's first sample arrives and at two significant
	// digits (result.NewFamilyHistogram): a full-precision histogram per
	// family per shard would cost megabytes for a figure read at 1 %.
	ByFamily []*hdrhistogram.Histogram
}

// recordFamily adds one sample of family fam (NoFamily: none) in µs.
func (h *Hists) recordFamily(fam int16, us int64) {
	if fam < 0 || int(fam) >= len(h.ByFamily) {
		return
	}
	if h.ByFamily[fam] == nil {
		h.ByFamily[fam] = result.NewFamilyHistogram()
	}
	_ = h.ByFamily[fam].RecordValue(us)
}

func newHists(families int) *Hists {
	h := &Hists{Overall: result.NewHistogram(), Service: result.NewHistogram(), Command: result.NewHistogram(), ByFamily: make([]*hdrhistogram.Histogram, families)}
	for i := range h.ByOp {
		h.ByOp[i] = result.NewHistogram()
	}
	for i := range h.ByTier {
		h.ByTier[i] = result.NewHistogram()
	}
	return h
}

func (h *Hists) merge(o *Hists) {
	h.Overall.Merge(o.Overall)
	h.Service.Merge(o.Service)
	h.Command.Merge(o.Command)
	for i := range h.ByOp {
		h.ByOp[i].Merge(o.ByOp[i])
	}
	for i := range h.ByTier {
		h.ByTier[i].Merge(o.ByTier[i])
	}
	for i, f := range o.ByFamily {
		if f == nil {
			continue
		}
		if h.ByFamily[i] == nil {
			h.ByFamily[i] = result.NewFamilyHistogram()
		}
		h.ByFamily[i].Merge(f)
	}
}

// shard is one lock's worth of recording state: the counts and the
// current interval's histograms. Commands pick shards round robin, so with
// a few shards per core contention stays negligible and no histogram is
// ever per user (10,000 of them would cost over a gigabyte).
type shard struct {
	mu sync.Mutex
	// total: recorded phases only (what targets judge). phase: per phase.
	total    Counts
	phase    []Counts
	interval Counts
	// intervalH is the overall latency of the current sampling interval,
	// every phase included, for the timeline.
	intervalH *hdrhistogram.Histogram
	// intervalSvc is the service time (send to reply) of the current
	// interval's operations, for live metrics beside the intended-start
	// view: how much of a slow second was Redis and the network.
	intervalSvc *hdrhistogram.Histogram
	// intervalFam is each key family's latency in the current interval
	// (by workload.Family.Index, made at the family's first sample, at
	// result.FamilySigFigs), for live metrics per family.
	intervalFam []*hdrhistogram.Histogram
	// spareH and spareSvc are the histograms the next interval swaps in;
	// only the sampler's goroutine touches them.
	spareH, spareSvc *hdrhistogram.Histogram
	spareFam         []*hdrhistogram.Histogram
	_                [64]byte // keep shards on separate cache lines
}

// totals are the run's latency histograms, one set for every shard under
// a lock of its own (issue 28 item 5): a set per shard (eight on two
// cores) held about 25 MB of the tool's 64 MB live heap at 10,000 users,
// for a lock a command takes once, for a few hundred nanoseconds
// (BenchmarkApplyParallel).
type totals struct {
	mu sync.Mutex
	// h: recorded phases only (what targets judge). phase: each phase's
	// overall latency.
	h     *Hists
	phase []*hdrhistogram.Histogram
	_     [64]byte
}

// Recorder is the set of shards, the run's histograms, and the merge logic.
type Recorder struct {
	shards   []*shard
	tot      totals
	families int
}

// NewRecorder makes n shards for the given number of phases and key families.
func NewRecorder(n, phases, families int) *Recorder {
	r := &Recorder{shards: make([]*shard, n), families: families}
	r.tot.h = newHists(families)
	r.tot.phase = make([]*hdrhistogram.Histogram, phases)
	for p := range r.tot.phase {
		r.tot.phase[p] = result.NewHistogram()
	}
	for i := range r.shards {
		s := &shard{total: newCounts(families), interval: newCounts(families), intervalH: result.NewHistogram(), intervalSvc: result.NewHistogram(), intervalFam: make([]*hdrhistogram.Histogram, families)}
		s.phase = make([]Counts, phases)
		for p := range s.phase {
			s.phase[p] = newCounts(families)
		}
		r.shards[i] = s
	}
	return r
}

// Interval is one sampling interval's merge over every shard: its counts
// and latency histograms (µs).
type Interval struct {
	Counts
	// Latency is from each operation's intended start, Service from its
	// send to the reply.
	Latency, Service *hdrhistogram.Histogram
	// ByFamily is each key family's latency (by workload.Family.Index;
	// nil for a family with no sample in the interval), at
	// result.FamilySigFigs.
	ByFamily []*hdrhistogram.Histogram
}

// TakeInterval swaps out every shard's interval state and returns the
// merge.
func (r *Recorder) TakeInterval() Interval {
	iv := Interval{Counts: newCounts(r.families), Latency: result.NewHistogram(), Service: result.NewHistogram(),
		ByFamily: make([]*hdrhistogram.Histogram, r.families)}
	spare := func(h *hdrhistogram.Histogram) *hdrhistogram.Histogram {
		if h == nil {
			return result.NewHistogram()
		}
		return h
	}
	for _, s := range r.shards {
		fresh := newCounts(r.families)
		freshH, freshSvc := spare(s.spareH), spare(s.spareSvc)
		s.mu.Lock()
		freshFam := s.spareFam
		if freshFam == nil {
			freshFam = make([]*hdrhistogram.Histogram, r.families)
		}
		old, oldH, oldSvc, oldFam := s.interval, s.intervalH, s.intervalSvc, s.intervalFam
		s.interval, s.intervalH, s.intervalSvc, s.intervalFam = fresh, freshH, freshSvc, freshFam
		s.mu.Unlock()
		iv.Counts.add(&old)
		iv.Latency.Merge(oldH)
		iv.Service.Merge(oldSvc)
		for i, f := range oldFam {
			if f == nil || f.TotalCount() == 0 {
				continue
			}
			if iv.ByFamily[i] == nil {
				iv.ByFamily[i] = result.NewFamilyHistogram()
			}
			iv.ByFamily[i].Merge(f)
			f.Reset()
		}
		// The shard's old histograms are the next interval's: a
		// histogram is 128 KiB, and eight fresh ones a second were most
		// of the sampler's garbage.
		oldH.Reset()
		oldSvc.Reset()
		s.spareH, s.spareSvc, s.spareFam = oldH, oldSvc, oldFam
	}
	return iv
}

// Totals merges the recorded-phase counts of every shard, with a copy of
// the run's histograms.
func (r *Recorder) Totals() (Counts, *Hists) {
	sum := newCounts(r.families)
	for _, s := range r.shards {
		s.mu.Lock()
		sum.add(&s.total)
		s.mu.Unlock()
	}
	h := newHists(r.families)
	r.tot.mu.Lock()
	h.merge(r.tot.h)
	r.tot.mu.Unlock()
	return sum, h
}

// PhaseTotals merges one phase's counts over every shard, with a copy of
// its latency histogram.
func (r *Recorder) PhaseTotals(p int) (Counts, *hdrhistogram.Histogram) {
	sum := newCounts(r.families)
	for _, s := range r.shards {
		s.mu.Lock()
		sum.add(&s.phase[p])
		s.mu.Unlock()
	}
	h := result.NewHistogram()
	r.tot.mu.Lock()
	h.Merge(r.tot.phase[p])
	r.tot.mu.Unlock()
	return sum, h
}
