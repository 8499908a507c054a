package harness

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// lateThreshold is how far past its intended start an operation may begin
// before it counts as late (users.late).
const lateThreshold = time.Millisecond

// cache is the part of pool.Manager the driver uses; a seam for tests of the
// driver's accounting, never a stand-in for Redis in behaviour tests.
type cache interface {
	Get(ctx context.Context, key string) (string, bool, error)
	Set(ctx context.Context, key, val string, tier pool.Tier) error
	Expire(ctx context.Context, key string, tier pool.Tier) (bool, error)
	Del(ctx context.Context, keys ...string) (int64, error)
	GetOrFetchRaw(ctx context.Context, key string, tier pool.Tier, fetch func(context.Context) (string, error)) (string, pool.Outcome, error)
}

// driver executes a workload schedule open-loop: every command starts at its
// intended time whether or not earlier ones have finished, and latency is
// measured from that intended time (coordinated-omission corrected, as wrk2
// does), so a stalled Redis shows up as latency instead of as fewer requests.
type driver struct {
	cache    cache
	origin   *workload.Origin
	ledger   *workload.Ledger
	rec      *recorder
	phases   []phaseInfo
	ttl      map[string]time.Duration // by family: what the manager applies
	dropAft  time.Duration
	opTmo    time.Duration
	inflight chan struct{}
	// activity counts operations and errors at sub-second resolution for
	// fault recovery; writes follows persistent-tier writes through
	// readonly and failover faults. Both may be nil.
	activity *chaos.Activity
	writes   *chaos.WriteTracker

	start   time.Time
	next    atomic.Uint64  // round-robin shard picker
	version atomic.Uint32  // value versions for writes
	active  atomic.Int64   // users active at the dispatcher's position
	phase   atomic.Int32   // phase index at the dispatcher's position
	wg      sync.WaitGroup // commands in flight
	// jobs hands a command to an idle worker. Workers live for the run, so
	// a command costs neither a goroutine start nor the stack growth a new
	// goroutine pays on its first trip through go-redis.
	jobs chan job
	// runCtx is cancelled only when in-flight commands must be abandoned
	// (the drain bound passed), not when dispatching stops.
	runCtx context.Context
}

type phaseInfo struct {
	name     string
	recorded bool
	start    time.Duration
	end      time.Duration
}

// worker runs its first command, then whatever the dispatcher hands it,
// until dispatching ends.
func (d *driver) worker(j job) {
	for {
		d.exec(j)
		var ok bool
		if j, ok = <-d.jobs; !ok {
			return
		}
	}
}

// drop counts a command that could not start within drop_after of its
// intended time. Its operations still enter the intended-start latency view
// with the delay they had already suffered (at least drop_after): a user
// whose command was dropped waited at least that long, and leaving them out
// would let saturation hide from p99 (coordinated omission by another name).
// They never enter service time: nothing was sent.
func (d *driver) drop(cmd workload.Command, intended time.Time) {
	delay := max(time.Since(intended), d.dropAft).Microseconds()
	delay = max(delay, 1)
	s := d.rec.shards[d.next.Add(1)%uint64(len(d.rec.shards))]
	ph := d.phases[cmd.Phase]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.interval.dropped++
	s.phase[cmd.Phase].dropped++
	if ph.recorded {
		s.total.dropped++
	}
	for i := range cmd.Ops {
		_ = s.intervalH.RecordValue(delay)
		_ = s.phaseH[cmd.Phase].RecordValue(delay)
		if ph.recorded {
			h := s.totalH
			_ = h.overall.RecordValue(delay)
			_ = h.byOp[opIndex(cmd.Ops[i].Kind)].RecordValue(delay)
			_ = h.byTier[tierIndex(cmd.Ops[i].Family.Tier)].RecordValue(delay)
		}
	}
	if ph.recorded {
		_ = s.totalH.command.RecordValue(delay)
	}
}

// opIndex maps an operation kind to the report's by_op index: reads
// (get-or-fetch included) are gets, touches are expires.
func opIndex(k workload.OpKind) int8 {
	switch k {
	case workload.OpSet:
		return opiSet
	case workload.OpTouch:
		return opiExpire
	case workload.OpDel:
		return opiDel
	}
	return opiGet
}

// opSample is one cache operation's timing: lat from its intended start,
// svc from the moment it was sent.
type opSample struct {
	op, tier int8
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
}

// errCount is one error kind and how often a command met it.
type errCount struct {
	kind string
	n    uint32
}

// cmdRecord accumulates one command's figures so the shard lock is taken
// once per command rather than once per operation. The slices start on the
// fixed buffers, so a typical command allocates nothing here; a longer one
// grows them and loses nothing.
type cmdRecord struct {
	samples   []opSample
	lookups   []lookup
	errs      []errCount // by kind, every occurrence counted
	sampleBuf [16]opSample
	lookupBuf [8]lookup
	errBuf    [2]errCount
	// ncache counts the cache layer's own failures: every error but an
	// origin fetch error. The simulated upstream fails at its configured
	// rate whatever Redis does, so it must not delay a fault's recovery.
	ncache     int
	checked    uint64
	mismatches uint64
	// abandoned counts operations never attempted because the command's
	// deadline had passed: they record no latency sample.
	abandoned uint64
	late      bool
	waited    bool // waited for an in-flight slot
	commandUs int64
}

func (r *cmdRecord) init() {
	r.samples = r.sampleBuf[:0]
	r.lookups = r.lookupBuf[:0]
	r.errs = r.errBuf[:0]
}

func (r *cmdRecord) sample(op int8, tier int8, lat, svc time.Duration) {
	r.samples = append(r.samples, opSample{op: op, tier: tier, lat: max(lat.Microseconds(), 1), svc: max(svc.Microseconds(), 1)})
}

func (r *cmdRecord) err(kind string) {
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

func (r *cmdRecord) lookup(tier int8, fam int16, hit bool, cause workload.MissCause) {
	r.lookups = append(r.lookups, lookup{tier: tier, fam: fam, hit: hit, cause: cause})
}

// lookupErr records a lookup that got no usable answer: it counts against
// the hit rate (hits / (hits + misses + lookup errors)), never as a hit.
func (r *cmdRecord) lookupErr(tier int8, fam int16) {
	r.lookups = append(r.lookups, lookup{tier: tier, fam: fam, err: true})
}

const (
	opiGet int8 = iota
	opiSet
	opiExpire
	opiDel
)

func (d *driver) exec(j job) {
	cmd, intended := j.cmd, j.intended
	defer d.wg.Done()
	defer func() { <-d.inflight }()
	ctx, cancel := context.WithTimeout(d.runCtx, d.opTmo)
	defer cancel()

	var rec cmdRecord
	rec.init()
	startedAt := time.Now()
	rec.late = startedAt.Sub(intended) > lateThreshold
	rec.waited = j.waited
	// due is the intended start of the next operation: the command's start
	// for the first one, then the end of the one before.
	due := intended
	for i := range cmd.Ops {
		if ctx.Err() != nil {
			// The command's deadline passed (or the run abandoned it): the
			// rest was never attempted. Counted, and no ~1 µs sample of a
			// call that failed before it was sent.
			rec.abandoned += uint64(len(cmd.Ops) - i)
			break
		}
		errsBefore := rec.ncache
		d.execOp(ctx, &rec, &cmd.Ops[i], &due)
		d.activity.Record(time.Since(d.start), rec.ncache > errsBefore)
	}
	rec.commandUs = time.Since(intended).Microseconds()
	d.apply(cmd, &rec)
}

// execOp runs one operation of a command; due is the intended start of the
// next operation (the command's start for the first, then the end of the
// one before) and is advanced here.
func (d *driver) execOp(ctx context.Context, rec *cmdRecord, op *workload.Op, duep *time.Time) {
	due := *duep
	defer func() { *duep = due }()
	fam := op.Family
	tier := pool.Tier(fam.Tier)
	ti := int8(tierIndex(fam.Tier))
	switch op.Kind {
	case workload.OpGetOrFetch:
		sent := time.Now()
		size := op.Size
		val, out, err := d.cache.GetOrFetchRaw(ctx, op.Key, tier, func(fctx context.Context) (string, error) {
			return d.origin.Fetch(fctx, fam, op.Key, size)
		})
		now := time.Now()
		// GetDur includes a failed GET's time (a pool wait, a timeout), so
		// an outage shows as latency, never as fast errors.
		if out.GetDur > 0 {
			rec.sample(opiGet, ti, sent.Sub(due)+out.GetDur, out.GetDur)
		}
		if out.Fetched && out.FillDur > 0 {
			rec.sample(opiSet, ti, out.FillDur, out.FillDur)
		}
		switch {
		case out.Hit:
			d.hit(rec, fam, ti, op.Key, val, sent)
		case out.GetErr != nil:
			// Neither hit nor miss: the cache failed and the manager
			// fell back to the origin. A lookup error, and an error of
			// its kind.
			rec.lookupErr(ti, int16(fam.Index))
			rec.err(pool.ErrorKind(out.GetErr))
		case out.GetDur > 0:
			rec.lookup(ti, int16(fam.Index), false, d.ledger.Classify(op.Key, sent))
			d.observeRead(fam, op.Key, 0, false, sent)
		}
		if out.Fetched && out.FillErr == nil && err == nil {
			d.ledger.Wrote(op.Key, now, d.ttl[fam.Name])
		}
		if out.Fetched && fam.Tier == tierPersistent && d.writes.Active() {
			d.observeFill(op.Key, val, now.Add(-out.FillDur), now, out.FillErr)
		}
		if out.FillErr != nil {
			rec.err(pool.ErrorKind(out.FillErr))
		}
		if err != nil && (out.GetErr == nil || !errors.Is(err, out.GetErr)) {
			rec.err(pool.ErrorKind(err))
		}
		due = now
	case workload.OpGet:
		sent := time.Now()
		val, found, err := d.cache.Get(ctx, op.Key)
		now := time.Now()
		rec.sample(opiGet, ti, now.Sub(due), now.Sub(sent))
		due = now
		if err != nil {
			rec.lookupErr(ti, int16(fam.Index))
			rec.err(pool.ErrorKind(err))
			return
		}
		if found {
			d.hit(rec, fam, ti, op.Key, val, sent)
			return
		}
		rec.lookup(ti, int16(fam.Index), false, d.ledger.Classify(op.Key, sent))
		d.observeRead(fam, op.Key, 0, false, sent)
		// A plain read that misses creates the value, as the bot does for
		// a new session or a guild with no locale yet.
		due = d.set(ctx, rec, op, tier, ti, now)
	case workload.OpSet:
		due = d.set(ctx, rec, op, tier, ti, due)
	case workload.OpTouch:
		sent := time.Now()
		ok, err := d.cache.Expire(ctx, op.Key, tier)
		now := time.Now()
		rec.sample(opiExpire, ti, now.Sub(due), now.Sub(sent))
		due = now
		if err != nil {
			rec.err(pool.ErrorKind(err))
		} else if ok {
			d.ledger.Touched(op.Key, now, d.ttl[fam.Name])
		}
	case workload.OpDel:
		sent := time.Now()
		_, err := d.cache.Del(ctx, op.Key)
		now := time.Now()
		rec.sample(opiDel, ti, now.Sub(due), now.Sub(sent))
		due = now
		if err != nil {
			rec.err(pool.ErrorKind(err))
		} else {
			d.ledger.Deleted(op.Key)
		}
		if fam.Tier == tierPersistent && d.writes.Active() {
			// Whatever its outcome, the delete may have landed: it excuses
			// a later miss of a write before it.
			d.writes.ObserveDelete(op.Key, sent, now)
		}
	}
}

func (d *driver) set(ctx context.Context, rec *cmdRecord, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	ver := d.version.Add(1)
	val := workload.Value(op.Key, ver, op.Size)
	sent := time.Now()
	err := d.cache.Set(ctx, op.Key, val, tier)
	now := time.Now()
	rec.sample(opiSet, ti, now.Sub(due), now.Sub(sent))
	if err != nil {
		rec.err(pool.ErrorKind(err))
	} else {
		d.ledger.Wrote(op.Key, now, d.ttl[op.Family.Name])
	}
	if op.Family.Tier == tierPersistent && d.writes.Active() {
		d.writes.Observe(chaos.Write{Key: op.Key, Version: ver, Sent: sent, Done: now, Outcome: outcomeOf(err)})
	}
	return now
}

// observeFill tracks a get-or-fetch fill of the persistent tier.
func (d *driver) observeFill(key, val string, sent, done time.Time, err error) {
	v, verr := workload.Verify(key, val)
	if verr != nil {
		return
	}
	d.writes.Observe(chaos.Write{Key: key, Version: v, Sent: sent, Done: done, Outcome: outcomeOf(err)})
}

// outcomeOf tells a write Redis refused (it did not happen) from one whose
// fate is unknown (the reply never came). A refused connection or a pool
// timeout never sent the command, so it is refused too.
func outcomeOf(err error) chaos.Outcome {
	if err == nil {
		return chaos.Acked
	}
	switch pool.ErrorKind(err) {
	case pool.KindTimeout, pool.KindConnectionReset, pool.KindCanceled, pool.KindClosed, pool.KindOther:
		return chaos.Unknown
	}
	return chaos.Failed
}

// hit verifies a value the cache returned. Only a value that verifies is a
// hit; one that fails its checksum is a lookup error of kind "integrity":
// serving it would hand the user corrupt data, so it must not lift the hit
// rate.
func (d *driver) hit(rec *cmdRecord, fam *workload.Family, ti int8, key, val string, sent time.Time) {
	rec.checked++
	ver, err := workload.Verify(key, val)
	if err != nil {
		rec.mismatches++
		rec.lookupErr(ti, int16(fam.Index))
		rec.err(kindIntegrity)
		// A corrupt value destroyed whatever write was acknowledged.
		d.observeRead(fam, key, 0, false, sent)
		return
	}
	rec.lookup(ti, int16(fam.Index), true, 0)
	d.observeRead(fam, key, ver, true, sent)
}

// observeRead feeds a persistent-tier read that got an answer to the
// lost-write tracker while a fault window is open, so a write lost during a
// fault and later refilled is still seen lost (the read-back alone would
// find the refill). A read that errored says nothing about the key and is
// never observed.
func (d *driver) observeRead(fam *workload.Family, key string, ver uint32, found bool, sent time.Time) {
	if fam.Tier == tierPersistent && d.writes.Active() {
		d.writes.ObserveRead(key, ver, found, sent)
	}
}

// kindIntegrity is the error kind of a value that failed verification.
const kindIntegrity = "integrity"

// apply adds one command's record to a shard: to the interval (timeline), to
// its phase, and to the totals when the phase is recorded.
func (d *driver) apply(cmd workload.Command, r *cmdRecord) {
	s := d.rec.shards[d.next.Add(1)%uint64(len(d.rec.shards))]
	ph := d.phases[cmd.Phase]
	s.mu.Lock()
	defer s.mu.Unlock()
	targets := [3]*counts{&s.interval, &s.phase[cmd.Phase], nil}
	if ph.recorded {
		targets[2] = &s.total
	}
	for _, c := range targets {
		if c == nil {
			continue
		}
		c.commands++
		c.ops += uint64(len(r.samples))
		c.abandoned += r.abandoned
		if r.late {
			c.late++
			if r.waited {
				c.lateSlot++
			}
		}
		for i := range r.lookups {
			l := &r.lookups[i]
			f := &c.fams[l.fam]
			switch {
			case l.err:
				c.lookupErrs[l.tier]++
				f.lookupErrs++
			case l.hit:
				c.hits[l.tier]++
				f.hits++
			default:
				c.misses[l.tier]++
				c.causes[l.tier][l.cause]++
				f.misses++
				f.causes[l.cause]++
			}
		}
		for _, e := range r.errs {
			c.errors[e.kind] += uint64(e.n)
		}
		c.checked += r.checked
		c.mismatches += r.mismatches
	}
	for i := range r.samples {
		smp := &r.samples[i]
		_ = s.intervalH.RecordValue(smp.lat)
		_ = s.phaseH[cmd.Phase].RecordValue(smp.lat)
		if ph.recorded {
			h := s.totalH
			_ = h.overall.RecordValue(smp.lat)
			_ = h.service.RecordValue(smp.svc)
			_ = h.byOp[smp.op].RecordValue(smp.lat)
			_ = h.byTier[smp.tier].RecordValue(smp.lat)
		}
	}
	if ph.recorded {
		_ = s.totalH.command.RecordValue(max(r.commandUs, 1))
	}
}
