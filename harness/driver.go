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
	next    atomic.Uint64 // round-robin shard picker
	version atomic.Uint32 // value versions for writes
	active  atomic.Int64  // users active at the dispatcher's position
	phase   atomic.Int32  // phase index at the dispatcher's position
	wg      sync.WaitGroup
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

// run dispatches commands until the schedule ends or stop is closed, then
// waits for in-flight commands (up to the op timeout).
func (d *driver) run(stop <-chan struct{}, sched source) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		cmd, ok := sched.Next()
		if !ok {
			return
		}
		d.active.Store(int64(sched.Active()))
		d.phase.Store(int32(cmd.Phase))
		intended := d.start.Add(cmd.At)
		if wait := time.Until(intended); wait > 50*time.Microsecond {
			timer.Reset(wait)
			select {
			case <-stop:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-stop:
				return
			default:
			}
		}
		// Acquire an in-flight slot. If none frees up before the command's
		// drop bound, the command is dropped and counted, never hidden.
		select {
		case d.inflight <- struct{}{}:
		default:
			deadline := intended.Add(d.dropAft)
			wait := time.Until(deadline)
			acquired := false
			if wait > 0 {
				timer.Reset(wait)
				select {
				case d.inflight <- struct{}{}:
					acquired = true
					if !timer.Stop() {
						<-timer.C
					}
				case <-timer.C:
				case <-stop:
					return
				}
			}
			if !acquired {
				d.drop(cmd)
				continue
			}
		}
		if time.Since(intended) > d.dropAft {
			<-d.inflight
			d.drop(cmd)
			continue
		}
		d.wg.Add(1)
		go d.exec(cmd, intended)
	}
}

func (d *driver) drop(cmd workload.Command) {
	s := d.rec.shards[d.next.Add(1)%uint64(len(d.rec.shards))]
	ph := d.phases[cmd.Phase]
	s.mu.Lock()
	s.interval.dropped++
	s.phase[cmd.Phase].dropped++
	if ph.recorded {
		s.total.dropped++
	}
	s.mu.Unlock()
}

// opSample is one cache operation's timing: lat from its intended start,
// svc from the moment it was sent.
type opSample struct {
	op, tier int8
	lat, svc int64 // µs
}

type lookup struct {
	tier  int8
	fam   string
	hit   bool
	cause workload.MissCause
}

// cmdRecord accumulates one command's figures so the shard lock is taken
// once per command rather than once per operation.
type cmdRecord struct {
	samples [24]opSample
	ns      int
	lookups [16]lookup
	nl      int
	errs    [8]string
	ne      int
	nerr    int // errors, uncapped (errs keeps the first 8 kinds)
	// ncache counts the cache layer's own failures: every error but an
	// origin fetch error. The simulated upstream fails at its configured
	// rate whatever Redis does, so it must not delay a fault's recovery.
	ncache     int
	checked    uint64
	mismatches uint64
	late       bool
	commandUs  int64
}

func (r *cmdRecord) sample(op int8, tier int8, lat, svc time.Duration) {
	if r.ns < len(r.samples) {
		r.samples[r.ns] = opSample{op: op, tier: tier, lat: max(lat.Microseconds(), 1), svc: max(svc.Microseconds(), 1)}
		r.ns++
	}
}

func (r *cmdRecord) err(kind string) {
	r.nerr++
	if kind != pool.KindFetch {
		r.ncache++
	}
	if r.ne < len(r.errs) {
		r.errs[r.ne] = kind
		r.ne++
	}
}

func (r *cmdRecord) lookup(tier int8, fam string, hit bool, cause workload.MissCause) {
	if r.nl < len(r.lookups) {
		r.lookups[r.nl] = lookup{tier: tier, fam: fam, hit: hit, cause: cause}
		r.nl++
	}
}

const (
	opiGet int8 = iota
	opiSet
	opiExpire
	opiDel
)

func (d *driver) exec(cmd workload.Command, intended time.Time) {
	defer d.wg.Done()
	defer func() { <-d.inflight }()
	ctx, cancel := context.WithTimeout(d.runCtx, d.opTmo)
	defer cancel()

	var rec cmdRecord
	startedAt := time.Now()
	rec.late = startedAt.Sub(intended) > lateThreshold
	// due is the intended start of the next operation: the command's start
	// for the first one, then the end of the one before.
	due := intended
	for i := range cmd.Ops {
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
			rec.lookup(ti, fam.Name, true, 0)
			d.verify(rec, op.Key, val)
		case out.GetErr != nil:
			// Neither hit nor miss: the cache failed and the manager
			// fell back to the origin. Counted as an error of its kind.
			rec.err(pool.ErrorKind(out.GetErr))
		case out.GetDur > 0:
			rec.lookup(ti, fam.Name, false, d.ledger.Classify(op.Key, sent))
		}
		if out.Fetched && out.FillErr == nil && err == nil {
			d.ledger.Wrote(op.Key, now, d.ttl[fam.Name])
		}
		if out.Fetched && fam.Tier == workload.TierPersistent && d.writes.Active() {
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
			rec.err(pool.ErrorKind(err))
			return
		}
		if found {
			rec.lookup(ti, fam.Name, true, 0)
			d.verify(rec, op.Key, val)
			return
		}
		rec.lookup(ti, fam.Name, false, d.ledger.Classify(op.Key, sent))
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
	if op.Family.Tier == workload.TierPersistent && d.writes.Active() {
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

func (d *driver) verify(rec *cmdRecord, key, val string) {
	rec.checked++
	if _, err := workload.Verify(key, val); err != nil {
		rec.mismatches++
		if errors.Is(err, workload.ErrIntegrity) {
			rec.err("integrity")
		}
	}
}

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
		c.ops += uint64(r.ns)
		if r.late {
			c.late++
		}
		for i := 0; i < r.nl; i++ {
			l := &r.lookups[i]
			if l.hit {
				c.hits[l.tier]++
				c.famHits[l.fam]++
			} else {
				c.misses[l.tier]++
				c.causes[l.tier][l.cause]++
				c.famMisses[l.fam]++
				fc := c.famCauses[l.fam]
				if fc == nil {
					fc = new([3]uint64)
					c.famCauses[l.fam] = fc
				}
				fc[l.cause]++
			}
		}
		for i := 0; i < r.ne; i++ {
			c.errors[r.errs[i]]++
		}
		c.checked += r.checked
		c.mismatches += r.mismatches
	}
	for i := 0; i < r.ns; i++ {
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
