package engine

import (
	"time"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// NoTier marks a sample of a key outside the tiers (rate-limit counters):
// it counts in the overall and per-op latency, not in a tier's.
const NoTier int8 = -1

// NoFamily marks a sample of an operation that belongs to no key family:
// it counts in the overall, per-op and per-tier latency only.
const NoFamily int16 = -1

// Staleness of a read served from a bot instance's local copy (Record.Near).
const (
	Fresh         uint8 = iota
	StaleInFlight       // older than a write acknowledged less than the grace before the read
	Stale               // older than a write acknowledged at least the grace before the read
)

// opSample is one cache operation's timing: lat from its intended start,
// svc from the moment it was sent (0: never sent, an abandoned operation;
// it enters no service time).
type opSample struct {
	op, tier int8
	fam      int16 // workload.Family.Index, or NoFamily
	lat, svc int64 // µs
}

// lookup is one cache lookup's outcome: a hit, a miss (with its cause) or a
// lookup error (the GET failed or returned a value that failed verification:
// the cache gave no usable answer).
type lookup struct {
	tier  int8
	fam   int16 // workload.Family.Index
	hit   bool
	err   bool
	cause workload.MissCause
	// near marks a read of a near family's local copy (nearHit: served
	// from it; else not held, so Redis was asked) with its staleness; it is
	// not a Redis lookup and does not enter the hit rate.
	near, nearHit bool
	stale         uint8
}

// errCount is one error kind and how often a command met it.
type errCount struct {
	kind string
	n    uint32
}

// Record accumulates one command's figures so the shard lock is taken
// once per command rather than once per operation. The slices start on the
// fixed buffers, so a typical command allocates nothing here; a longer one
// grows them and loses nothing.
type Record struct {
	samples   []opSample
	lookups   []lookup
	errs      []errCount // by kind, every occurrence counted
	sampleBuf [16]opSample
	lookupBuf [8]lookup
	errBuf    [2]errCount
	// ncache counts the cache layer's own failures: every error but an
	// origin fetch error. The simulated upstream fails at its configured
	// rate whatever Redis does, so it must not delay a fault's recovery.
	ncache int
	// abandoned counts operations never attempted because the command's
	// deadline had passed (see abandon): each is a latency sample without
	// a service time, and a lookup error when it was a read.
	abandoned uint64
	late      bool
	waited    bool // waited for an in-flight slot
	commandUs int64
	// Tally: values checked, rate-limit decisions, compare-and-set
	// conflicts, invalidations published.
	Tally
}

// Init points the record's slices at its fixed buffers; a Record is used
// after Init.
func (r *Record) Init() {
	r.samples = r.sampleBuf[:0]
	r.lookups = r.lookupBuf[:0]
	r.errs = r.errBuf[:0]
}

// Sample records one operation's timing under by_op slot op (OpSlot), tier
// (TierIndex, or NoTier) and key family (workload.Family.Index, or
// NoFamily): lat from its intended start, svc from its send.
func (r *Record) Sample(op int8, tier int8, fam int16, lat, svc time.Duration) {
	r.samples = append(r.samples, opSample{op: op, tier: tier, fam: fam, lat: max(lat.Microseconds(), 1), svc: max(svc.Microseconds(), 1)})
}

// Err counts an error of kind (pool.ErrorKind); every kind but an origin
// fetch's is the cache layer's own failure.
func (r *Record) Err(kind string) {
	if kind != pool.KindFetch {
		r.ncache++
	}
	for i := range r.errs {
		if r.errs[i].kind == kind {
			r.errs[i].n++
			return
		}
	}
	r.errs = append(r.errs, errCount{kind: kind, n: 1})
}

// Lookup records a lookup Redis answered: a hit, or a miss with its cause.
func (r *Record) Lookup(tier int8, fam int16, hit bool, cause workload.MissCause) {
	r.lookups = append(r.lookups, lookup{tier: tier, fam: fam, hit: hit, cause: cause})
}

// Near records a read of a near family's local copy.
func (r *Record) Near(fam int16, served bool, stale uint8) {
	r.lookups = append(r.lookups, lookup{fam: fam, near: true, nearHit: served, stale: stale})
}

// LookupErr records a lookup that got no usable answer: it counts against
// the hit rate (hits / (hits + misses + lookup errors)), never as a hit.
func (r *Record) LookupErr(tier int8, fam int16) {
	r.lookups = append(r.lookups, lookup{tier: tier, fam: fam, err: true})
}

// drop counts a command that could not start within drop_after of its
// intended time. Its operations still enter the intended-start latency view
// with the delay they had already suffered (at least drop_after): a user
// whose command was dropped waited at least that long, and leaving them out
// would let saturation hide from p99 (coordinated omission by another name).
// They never enter service time: nothing was sent.
func (d *Driver) drop(cmd workload.Command, intended time.Time) {
	delay := max(time.Since(intended), d.dropAft).Microseconds()
	delay = max(delay, 1)
	s := d.rec.shards[d.next.Add(1)%uint64(len(d.rec.shards))]
	ph := d.phases[cmd.Phase]
	s.mu.Lock()
	s.interval.addDropped(&cmd)
	s.phase[cmd.Phase].addDropped(&cmd)
	if ph.Recorded {
		s.total.addDropped(&cmd)
	}
	for range cmd.Ops {
		_ = s.intervalH.RecordValue(delay)
	}
	s.mu.Unlock()
	t := &d.rec.tot
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range cmd.Ops {
		_ = t.phase[cmd.Phase].RecordValue(delay)
		if ph.Recorded {
			h := t.h
			_ = h.Overall.RecordValue(delay)
			_ = h.ByOp[OpSlot[cmd.Ops[i].Kind]].RecordValue(delay)
			if f := cmd.Ops[i].Family; f != nil {
				if f.Tier != "" {
					_ = h.ByTier[TierIndex(f.Tier)].RecordValue(delay)
				}
				h.recordFamily(int16(f.Index), delay)
			}
		}
	}
	if ph.Recorded {
		_ = t.h.Command.RecordValue(delay)
	}
}

// apply adds one command's record to a shard (the interval for the
// timeline, its phase, and the totals when the phase is recorded), then
// its latencies to the run's histograms.
func (d *Driver) apply(cmd workload.Command, r *Record) {
	s := d.rec.shards[d.next.Add(1)%uint64(len(d.rec.shards))]
	recorded := d.phases[cmd.Phase].Recorded
	s.mu.Lock()
	s.interval.addRecord(&cmd, r)
	s.phase[cmd.Phase].addRecord(&cmd, r)
	if recorded {
		s.total.addRecord(&cmd, r)
	}
	for i := range r.samples {
		smp := &r.samples[i]
		_ = s.intervalH.RecordValue(smp.lat)
		if smp.svc > 0 {
			_ = s.intervalSvc.RecordValue(smp.svc)
		}
		if f := smp.fam; f >= 0 && int(f) < len(s.intervalFam) {
			if s.intervalFam[f] == nil {
				s.intervalFam[f] = result.NewFamilyHistogram()
			}
			_ = s.intervalFam[f].RecordValue(smp.lat)
		}
	}
	s.mu.Unlock()
	// The run's histograms are one set under their own lock (recorder.go's
	// totals), taken once per command.
	t := &d.rec.tot
	t.mu.Lock()
	defer t.mu.Unlock()
	ph := t.phase[cmd.Phase]
	for i := range r.samples {
		smp := &r.samples[i]
		_ = ph.RecordValue(smp.lat)
		if recorded {
			h := t.h
			_ = h.Overall.RecordValue(smp.lat)
			if smp.svc > 0 {
				_ = h.Service.RecordValue(smp.svc)
			}
			_ = h.ByOp[smp.op].RecordValue(smp.lat)
			if smp.tier >= 0 {
				_ = h.ByTier[smp.tier].RecordValue(smp.lat)
			}
			h.recordFamily(smp.fam, smp.lat)
		}
	}
	if recorded {
		_ = t.h.Command.RecordValue(max(r.commandUs, 1))
	}
}

// addDropped counts cmd, which never started; a producer's also by its
// family.
func (c *Counts) addDropped(cmd *workload.Command) {
	c.Dropped++
	if cmd.Producer != "" && len(cmd.Ops) > 0 {
		c.Fams[cmd.Ops[0].Family.Index].ProducedDropped++
	}
}

// addRecord adds command cmd's record r to c; a producer's command (one
// write of its family) also to the family's producer counts.
func (c *Counts) addRecord(cmd *workload.Command, r *Record) {
	if cmd.Producer != "" && len(cmd.Ops) > 0 {
		f := &c.Fams[cmd.Ops[0].Family.Index]
		f.Produced += uint64(len(r.samples)) - r.abandoned
		if len(r.errs) > 0 {
			f.ProducedErrs++
		}
		if r.late {
			f.ProducedLate++
		}
	}
	c.Commands++
	// Requests are the operations sent; an abandoned one is a sample
	// but was never a request.
	c.Ops += uint64(len(r.samples)) - r.abandoned
	c.Abandoned += r.abandoned
	if r.late {
		c.Late++
		if r.waited {
			c.LateSlot++
		}
	}
	c.Tally.add(&r.Tally)
	for i := range r.lookups {
		c.addLookup(&r.lookups[i])
	}
	for _, e := range r.errs {
		c.Errors[e.kind] += uint64(e.n)
	}
}

// addLookup counts one lookup, by tier and by family; a read of a local
// copy counts only by family (it is not a Redis lookup).
func (c *Counts) addLookup(l *lookup) {
	f := &c.Fams[l.fam]
	switch {
	case l.near:
		if !l.nearHit {
			f.NearMisses++
			return
		}
		f.NearHits++
		switch l.stale {
		case Stale:
			f.Stale++
		case StaleInFlight:
			f.StaleInFlight++
		}
	case l.err:
		c.LookupErrs[l.tier]++
		f.LookupErrs++
	case l.hit:
		c.Hits[l.tier]++
		f.Hits++
	default:
		c.Misses[l.tier]++
		c.Causes[l.tier][l.cause]++
		f.Misses++
		f.Causes[l.cause]++
	}
}
