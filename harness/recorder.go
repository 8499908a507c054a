package harness

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
	opiGet int8 = iota
	opiSet
	opiExpire
	opiDel
	// numOpSlots: get and get_or_fetch share a slot.
	numOpSlots = workload.NumOpKinds - 1
)

// opSlot is each kind's by_op slot, opNames each slot's name: arrays, so
// the hot path indexes instead of hashing a name.
var opSlot, opNames = func() (slot [workload.NumOpKinds]int8, names [numOpSlots]string) {
	names[opiGet], names[opiSet], names[opiExpire], names[opiDel] = "get", "set", "expire", "del"
	slot[workload.OpGetOrFetch], slot[workload.OpGet] = opiGet, opiGet
	slot[workload.OpSet], slot[workload.OpTouch], slot[workload.OpDel] = opiSet, opiExpire, opiDel
	next := opiDel + 1
	for k := workload.OpSessionGet; int(k) < workload.NumOpKinds; k++ {
		slot[k], names[next] = next, k.String()
		next++
	}
	return slot, names
}()

// tierNames index the per-tier arrays: pool's tiers (their one source), in
// pool's order, so the hot path indexes arrays instead of hashing strings.
var tierNames = pool.TierNames()

// tierPersistent is the tier whose keys never expire: a write to it must
// survive faults (the lost-write tracker follows it).
const tierPersistent = string(pool.TierPersistent)

func tierIndex(t string) int {
	for i, n := range tierNames {
		if n == t {
			return i
		}
	}
	return 0
}

// counts are the additive figures of one recorder shard. Interval copies are
// swapped out by the sampler every second; totals only grow.
type counts struct {
	ops, commands, late, dropped uint64
	abandoned                    uint64                                        // operations never attempted
	lateSlot                     uint64                                        // late commands that waited for an in-flight slot
	hits, misses, lookupErrs     [pool.NumTiers]uint64                         // by tier
	causes                       [pool.NumTiers][workload.NumMissCauses]uint64 // by tier, by workload.MissCause
	fams                         []famCounts                                   // by workload.Family.Index
	errors                       map[string]uint64
	checked, mismatches          uint64
	// The rest of the seed's layer: rate-limit decisions and the
	// operations refused commands skipped, compare-and-set conflicts and
	// give-ups, invalidations published.
	rateAllowed, rateDenied, rateSkipped uint64
	casConflicts, casGaveUp, published   uint64
}

// famCounts are one key family's lookups, and the reads of its near-cache
// copies (served, not held, stale beyond the grace, stale within it).
type famCounts struct {
	hits, misses, lookupErrs uint64
	causes                   [workload.NumMissCauses]uint64 // by workload.MissCause
	nearHits, nearMisses     uint64
	stale, staleInFlight     uint64
}

func newCounts(families int) counts {
	return counts{fams: make([]famCounts, families), errors: map[string]uint64{}}
}

func (c *counts) add(o *counts) {
	c.ops += o.ops
	c.commands += o.commands
	c.late += o.late
	c.dropped += o.dropped
	c.abandoned += o.abandoned
	c.lateSlot += o.lateSlot
	for t := range c.hits {
		c.hits[t] += o.hits[t]
		c.misses[t] += o.misses[t]
		c.lookupErrs[t] += o.lookupErrs[t]
		for k := range c.causes[t] {
			c.causes[t][k] += o.causes[t][k]
		}
	}
	for i := range o.fams {
		f, of := &c.fams[i], &o.fams[i]
		f.hits += of.hits
		f.misses += of.misses
		f.lookupErrs += of.lookupErrs
		f.nearHits += of.nearHits
		f.nearMisses += of.nearMisses
		f.stale += of.stale
		f.staleInFlight += of.staleInFlight
		for k := range f.causes {
			f.causes[k] += of.causes[k]
		}
	}
	for k, v := range o.errors {
		c.errors[k] += v
	}
	c.checked += o.checked
	c.mismatches += o.mismatches
	c.rateAllowed += o.rateAllowed
	c.rateDenied += o.rateDenied
	c.rateSkipped += o.rateSkipped
	c.casConflicts += o.casConflicts
	c.casGaveUp += o.casGaveUp
	c.published += o.published
}

// hists are the latency histograms of one shard (microseconds).
type hists struct {
	overall, service, command *hdrhistogram.Histogram
	byOp                      [numOpSlots]*hdrhistogram.Histogram
	byTier                    [pool.NumTiers]*hdrhistogram.Histogram
}

func newHists() *hists {
	h := &hists{overall: result.NewHistogram(), service: result.NewHistogram(), command: result.NewHistogram()}
	for i := range h.byOp {
		h.byOp[i] = result.NewHistogram()
	}
	for i := range h.byTier {
		h.byTier[i] = result.NewHistogram()
	}
	return h
}

func (h *hists) merge(o *hists) {
	h.overall.Merge(o.overall)
	h.service.Merge(o.service)
	h.command.Merge(o.command)
	for i := range h.byOp {
		h.byOp[i].Merge(o.byOp[i])
	}
	for i := range h.byTier {
		h.byTier[i].Merge(o.byTier[i])
	}
}

// shard is one lock's worth of recording state. Commands pick shards round
// robin, so with a few shards per core contention stays negligible and no
// histogram is ever per user (10,000 of them would cost over a gigabyte).
type shard struct {
	mu sync.Mutex
	// total: recorded phases only (what targets judge). phase: per phase.
	total    counts
	totalH   *hists
	phase    []counts
	phaseH   []*hdrhistogram.Histogram
	interval counts
	// intervalH is the overall latency of the current sampling interval,
	// every phase included, for the timeline.
	intervalH *hdrhistogram.Histogram
	// spareH is the histogram the next interval swaps in; only the
	// sampler's goroutine touches it.
	spareH *hdrhistogram.Histogram
	_      [64]byte // keep shards on separate cache lines
}

// recorder is the set of shards plus the merge logic.
type recorder struct {
	shards   []*shard
	families int
}

// newRecorder makes n shards for the given number of phases and key families.
func newRecorder(n, phases, families int) *recorder {
	r := &recorder{shards: make([]*shard, n), families: families}
	for i := range r.shards {
		s := &shard{total: newCounts(families), totalH: newHists(), interval: newCounts(families), intervalH: result.NewHistogram()}
		s.phase = make([]counts, phases)
		s.phaseH = make([]*hdrhistogram.Histogram, phases)
		for p := range s.phase {
			s.phase[p] = newCounts(families)
			s.phaseH[p] = result.NewHistogram()
		}
		r.shards[i] = s
	}
	return r
}

// takeInterval swaps out every shard's interval state and returns the merge.
func (r *recorder) takeInterval() (counts, *hdrhistogram.Histogram) {
	sum := newCounts(r.families)
	h := result.NewHistogram()
	for _, s := range r.shards {
		fresh := newCounts(r.families)
		freshH := s.spareH
		if freshH == nil {
			freshH = result.NewHistogram()
		}
		s.mu.Lock()
		old, oldH := s.interval, s.intervalH
		s.interval, s.intervalH = fresh, freshH
		s.mu.Unlock()
		sum.add(&old)
		h.Merge(oldH)
		// The shard's old histogram is the next interval's: a histogram
		// is 128 KiB, and eight fresh ones a second were most of the
		// sampler's garbage.
		oldH.Reset()
		s.spareH = oldH
	}
	return sum, h
}

// totals merges the recorded-phase totals of every shard.
func (r *recorder) totals() (counts, *hists) {
	sum := newCounts(r.families)
	h := newHists()
	for _, s := range r.shards {
		s.mu.Lock()
		sum.add(&s.total)
		h.merge(s.totalH)
		s.mu.Unlock()
	}
	return sum, h
}

// phaseTotals merges one phase's counts and latency over every shard.
func (r *recorder) phaseTotals(p int) (counts, *hdrhistogram.Histogram) {
	sum := newCounts(r.families)
	h := result.NewHistogram()
	for _, s := range r.shards {
		s.mu.Lock()
		sum.add(&s.phase[p])
		h.Merge(s.phaseH[p])
		s.mu.Unlock()
	}
	return sum, h
}
