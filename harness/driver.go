package harness

import (
	"context"
	"errors"
	"strconv"
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
	SessionGet(ctx context.Context, key string) (string, bool, error)
	MGet(ctx context.Context, keys ...string) ([]string, []bool, error)
	CompareAndSwap(ctx context.Context, key, old string, found bool, val string, tier pool.Tier) (bool, error)
	RateLimit(ctx context.Context, key string, limit int64, window time.Duration) (pool.RateResult, error)
	Broadcast(ctx context.Context, keys ...string) error
	Invalidate(ctx context.Context, keysOrPattern ...string) (int64, error)
	HGet(ctx context.Context, key, field string) (string, bool, error)
	HSet(ctx context.Context, key, field, val string, tier pool.Tier) error
	ZRange(ctx context.Context, key string, n int) ([]string, bool, error)
	ZAdd(ctx context.Context, key string, tier pool.Tier, members ...pool.ZMember) error
	SetBatch(ctx context.Context, items []pool.Item, batch int) error
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
	// emptied reports whether a fault that empties the cache (a restart
	// without persistence) overlapped [from, to], offsets from start; nil
	// when the run has none.
	emptied func(from, to time.Duration) bool
	// insts are the simulated bot instances (Command.Instance picks one);
	// nearFam marks, by family index, the families they keep locally;
	// wlog the acknowledged writes of those families; layer the
	// cross-instance counters. All may be empty (then d.cache is the one
	// instance, without a near cache).
	insts   []instance
	nearFam []bool
	wlog    *writeLog
	layer   *layerStats

	start time.Time
	// startNs is start as Unix nanoseconds, set with it: pub/sub handlers
	// run on the managers' goroutines from the moment they subscribe,
	// before the clock starts, and read it instead of start.
	startNs atomic.Int64
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
			_ = h.byOp[opSlot[cmd.Ops[i].Kind]].RecordValue(delay)
			if cmd.Ops[i].Family.Tier != "" {
				_ = h.byTier[tierIndex(cmd.Ops[i].Family.Tier)].RecordValue(delay)
			}
		}
	}
	if ph.recorded {
		_ = s.totalH.command.RecordValue(delay)
	}
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
	// The seed's layer beyond GET and SET: rate-limit decisions and the
	// operations a refusal skipped, compare-and-set conflicts and
	// give-ups, invalidations published.
	rateAllowed, rateDenied, rateSkipped uint64
	casConflicts, casGaveUp, published   uint64
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

// near records a read of a near family's local copy.
func (r *cmdRecord) near(fam int16, served bool, stale uint8) {
	r.lookups = append(r.lookups, lookup{fam: fam, near: true, nearHit: served, stale: stale})
}

// lookupErr records a lookup that got no usable answer: it counts against
// the hit rate (hits / (hits + misses + lookup errors)), never as a hit.
func (r *cmdRecord) lookupErr(tier int8, fam int16) {
	r.lookups = append(r.lookups, lookup{tier: tier, fam: fam, err: true})
}

// instance is the bot instance that handles a command. A driver built
// without instances (the accounting tests) has one, over d.cache.
func (d *driver) instance(i int) *instance {
	if n := len(d.insts); n > 0 {
		return &d.insts[i%n]
	}
	return &instance{c: d.cache}
}

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
	in := d.instance(cmd.Instance)
	for i := range cmd.Ops {
		if ctx.Err() != nil {
			// The command's deadline passed (or the run abandoned it): the
			// rest was never attempted. Counted, and no ~1 µs sample of a
			// call that failed before it was sent.
			rec.abandoned += uint64(len(cmd.Ops) - i)
			break
		}
		errsBefore := rec.ncache
		denied := d.execOp(ctx, in, &rec, &cmd.Ops[i], &due)
		d.activity.Record(time.Since(d.start), rec.ncache > errsBefore)
		if denied {
			// The bot answers "slow down" and does nothing else: the
			// command's other operations never reach the cache.
			rec.rateSkipped += uint64(len(cmd.Ops) - i - 1)
			break
		}
	}
	rec.commandUs = time.Since(intended).Microseconds()
	d.apply(cmd, &rec)
}

// execOp runs one operation of a command on instance in; due is the
// intended start of the next operation (the command's start for the first,
// then the end of the one before) and is advanced here. It reports whether
// the command's rate limit refused it (the rest of the command is then not
// run).
func (d *driver) execOp(ctx context.Context, in *instance, rec *cmdRecord, op *workload.Op, duep *time.Time) (denied bool) {
	due := *duep
	defer func() { *duep = due }()
	fam := op.Family
	tier := writeTier(fam)
	ti := int8(tierIndex(fam.Tier))
	fi := int16(fam.Index)
	c := in.c
	switch op.Kind {
	case workload.OpGetOrFetch:
		if d.nearRead(in, rec, fam, op.Key) {
			return false
		}
		in.hot.note(op)
		sent := time.Now()
		size := op.Size
		val, out, err := c.GetOrFetchRaw(ctx, op.Key, tier, func(fctx context.Context) (string, error) {
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
			if ver, ok := d.hit(rec, fam, ti, op.Key, val, sent); ok {
				d.nearKeep(in, fam, op.Key, ver, sent)
			}
		case out.GetErr != nil:
			// Neither hit nor miss: the cache failed and the manager
			// fell back to the origin. A lookup error, and an error of
			// its kind.
			rec.lookupErr(ti, fi)
			rec.err(pool.ErrorKind(out.GetErr))
		case out.GetDur > 0:
			rec.lookup(ti, fi, false, d.classify(op.Key, sent))
			d.observeRead(fam, op.Key, 0, false, sent)
		}
		if out.Fetched && out.FillErr == nil && err == nil {
			d.ledger.Wrote(op.Key, now, d.ttl[fam.Name])
			if ver, verr := workload.Verify(op.Key, val); verr == nil {
				d.nearKeep(in, fam, op.Key, ver, sent)
			}
		}
		if out.Fetched && fam.Tier == tierPersistent && d.writes.Active() {
			fillSent := now.Add(-out.FillDur)
			d.observeFill(fam, op.Key, val, fillSent.Add(-out.FetchDur), fillSent, now, out.FillErr, false)
		}
		if out.FillErr != nil {
			rec.err(pool.ErrorKind(out.FillErr))
		}
		if err != nil && (out.GetErr == nil || !errors.Is(err, out.GetErr)) {
			rec.err(pool.ErrorKind(err))
		}
		due = now
	case workload.OpGet, workload.OpSessionGet:
		slot := opiGet
		if op.Kind == workload.OpSessionGet {
			slot = opSlot[workload.OpSessionGet]
		} else if d.nearRead(in, rec, fam, op.Key) {
			return false
		}
		in.hot.note(op)
		sent := time.Now()
		var val string
		var found bool
		var err error
		if op.Kind == workload.OpSessionGet {
			val, found, err = c.SessionGet(ctx, op.Key)
		} else {
			val, found, err = c.Get(ctx, op.Key)
		}
		now := time.Now()
		rec.sample(slot, ti, now.Sub(due), now.Sub(sent))
		due = now
		if err != nil {
			rec.lookupErr(ti, fi)
			rec.err(pool.ErrorKind(err))
			return false
		}
		if found {
			if ver, ok := d.hit(rec, fam, ti, op.Key, val, sent); ok {
				d.nearKeep(in, fam, op.Key, ver, sent)
			}
			return false
		}
		rec.lookup(ti, fi, false, d.classify(op.Key, sent))
		d.observeRead(fam, op.Key, 0, false, sent)
		// A plain read that misses creates the value, as the bot does for
		// a new session or a guild with no locale yet.
		due = d.set(ctx, in, rec, op, tier, ti, now, opiSet)
	case workload.OpSet:
		due = d.set(ctx, in, rec, op, tier, ti, due, opiSet)
	case workload.OpUpdate:
		// Write the new value, then tell the other instances to drop their
		// local copies (pub/sub); the shared copy is the new one, so it is
		// not deleted. One sample covers both round trips: the update is
		// one call of the bot's.
		due = d.set(ctx, in, rec, op, tier, ti, due, opSlot[workload.OpUpdate])
	case workload.OpMGet:
		due = d.mget(ctx, in, rec, op, tier, ti, due)
	case workload.OpCAS:
		due = d.cas(ctx, in, rec, op, tier, ti, due)
	case workload.OpRateLimit:
		sent := time.Now()
		r, err := c.RateLimit(ctx, op.Key, fam.RateLimit, fam.TTL)
		now := time.Now()
		rec.sample(opSlot[workload.OpRateLimit], noTier, now.Sub(due), now.Sub(sent))
		due = now
		if err != nil {
			// The limiter failing lets the command through: a bot that
			// refused every command while Redis was down would be down too.
			rec.err(pool.ErrorKind(err))
			return false
		}
		if !r.Allowed {
			rec.rateDenied++
			return true
		}
		rec.rateAllowed++
	case workload.OpTouch:
		sent := time.Now()
		ok, err := c.Expire(ctx, op.Key, tier)
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
		_, err := c.Del(ctx, op.Key)
		now := time.Now()
		rec.sample(opiDel, ti, now.Sub(due), now.Sub(sent))
		due = now
		if err != nil {
			rec.err(pool.ErrorKind(err))
		} else {
			d.ledger.Deleted(op.Key)
			if in.near != nil {
				in.near.drop(op.Key)
			}
		}
		if fam.Tier == tierPersistent && d.writes.Active() {
			// Whatever its outcome, the delete may have landed: it excuses
			// a later miss of a write before it.
			d.writes.ObserveDelete(op.Key, sent, now)
		}
	case workload.OpHSet, workload.OpZAdd:
		due = d.writeTyped(ctx, in, rec, op, tier, ti, due, op.Kind)
	case workload.OpHGet, workload.OpZRange:
		in.hot.note(op)
		sent := time.Now()
		var val string
		var found bool
		var err error
		if op.Kind == workload.OpHGet {
			val, found, err = c.HGet(ctx, op.Key, op.Field)
		} else {
			_, found, err = c.ZRange(ctx, op.Key, zrangeTop)
		}
		now := time.Now()
		rec.sample(opSlot[op.Kind], ti, now.Sub(due), now.Sub(sent))
		due = now
		switch {
		case err != nil:
			rec.lookupErr(ti, fi)
			rec.err(pool.ErrorKind(err))
		case found && op.Kind == workload.OpHGet:
			d.hit(rec, fam, ti, op.Key, val, sent)
		case found:
			// A sorted set's members are names, not versioned values:
			// nothing to verify.
			rec.lookup(ti, fi, true, 0)
		default:
			rec.lookup(ti, fi, false, d.classify(op.Key, sent))
			due = d.fetchFill(ctx, in, rec, op, tier, ti, now)
		}
	}
	return false
}

// classify says why a read of key sent at sent missed. The ledger forgets
// what it wrote when a restarted node serves again (chaos's OnRestart), but
// the node serves before that call: a bot instance whose pool dials on
// every command reaches it first, and commands sent before or during the
// restart are answered by the empty node too. A miss the ledger calls
// evicted while a restart overlapped the read is a key the restart wiped:
// cold, not evicted.
func (d *driver) classify(key string, sent time.Time) workload.MissCause {
	c := d.ledger.Classify(key, sent)
	if c == workload.MissEvicted && d.emptied != nil && d.emptied(sent.Sub(d.start), time.Since(d.start)) {
		return workload.MissCold
	}
	return c
}

// writeTier is the tier the manager is told a write of fam belongs to. A
// family with its own TTL outside the tiers (Tier "": a scenario's ttl:)
// is written under the tier its figures are counted under (tierIndex: the
// first, api); the manager gives it its own TTL by key prefix
// (pool.Config.KeyTTL, from workload.Model.OwnTTLs), which takes
// precedence over the tier's.
func writeTier(fam *workload.Family) pool.Tier {
	if fam.Tier == "" {
		return pool.Tier(tierNames[tierIndex(fam.Tier)])
	}
	return pool.Tier(fam.Tier)
}

// zrangeTop is how many members a sorted-set read asks for: a leaderboard
// page.
const zrangeTop = 10

// noTier marks a sample of a key outside the tiers (rate-limit counters):
// it counts in the overall and per-op latency, not in a tier's.
const noTier int8 = -1

// set writes a new version of op's key (OpSet, the fill after a plain
// read's miss, OpUpdate) and records it under slot; an update then
// broadcasts the change to the other instances. It returns when the call
// ended, the next operation's intended start.
func (d *driver) set(ctx context.Context, in *instance, rec *cmdRecord, op *workload.Op, tier pool.Tier, ti int8, due time.Time, slot int8) time.Time {
	ver := d.version.Add(1)
	val := workload.Value(op.Key, ver, op.Size)
	sent := time.Now()
	err := in.c.Set(ctx, op.Key, val, tier)
	acked := time.Now()
	now := acked
	if err == nil && op.Kind == workload.OpUpdate {
		// The keys the update makes obsolete (linking an account drops
		// the user's cached profiles) are deleted and announced; an update
		// without them announces its own key, whose new value is in place.
		var perr error
		// Every published key is logged, near-cached or not, so the
		// delivery lag is measured whether or not any instance keeps a
		// local copy to drop.
		if d.wlog != nil {
			pub := int64(time.Since(d.start))
			if len(op.Keys) == 0 {
				d.wlog.publishing(op.Key, pub)
			}
			for _, k := range op.Keys {
				d.wlog.publishing(k, pub)
			}
		}
		if len(op.Keys) > 0 {
			_, perr = in.c.Invalidate(ctx, op.Keys...)
		} else {
			perr = in.c.Broadcast(ctx, op.Key)
		}
		now = time.Now()
		// Whatever its outcome, the delete may have landed: a later miss
		// of these keys is not an eviction.
		for _, k := range op.Keys {
			d.ledger.Deleted(k)
		}
		if perr != nil {
			rec.err(pool.ErrorKind(perr))
		} else {
			rec.published++
			for j, k := range op.Keys {
				f := keyFamily(op, j)
				if in.near != nil {
					in.near.drop(k)
				}
				// A deletion is a write no copy holds (version 0): every
				// copy loaded before it is stale once it is acknowledged.
				if d.isNear(f) && d.wlog != nil {
					d.wlog.acked(k, 0, int64(now.Sub(d.start)))
				}
			}
		}
	}
	rec.sample(slot, ti, now.Sub(due), now.Sub(sent))
	if err != nil {
		rec.err(pool.ErrorKind(err))
	} else {
		d.ledger.Wrote(op.Key, acked, d.ttl[op.Family.Name])
		d.acked(in, op.Family, op.Key, ver, acked)
	}
	if op.Family.Tier == tierPersistent && d.writes.Active() {
		d.writes.Observe(chaos.Write{Key: op.Key, Version: ver, Sent: sent, Done: acked, Outcome: outcomeOf(err), TTL: d.ttl[op.Family.Name]})
	}
	return now
}

// mget reads op's keys in one round trip; each key is a lookup of the
// family, and each miss is fetched from the origin and filled, as the bot's
// get-or-fetch would. Keys the instance holds locally are served from its
// near cache and not asked of Redis.
func (d *driver) mget(ctx context.Context, in *instance, rec *cmdRecord, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	keys, sizes, fams := op.Keys, op.Sizes, op.Families
	if in.near != nil {
		keys, sizes, fams = nil, nil, nil
		for j, k := range op.Keys {
			if f := keyFamily(op, j); !d.nearRead(in, rec, f, k) {
				keys = append(keys, k)
				sizes = append(sizes, op.Sizes[j])
				fams = append(fams, f)
			}
		}
	}
	if len(keys) == 0 {
		return due
	}
	in.hot.note(op)
	sent := time.Now()
	vals, found, err := in.c.MGet(ctx, keys...)
	now := time.Now()
	rec.sample(opSlot[workload.OpMGet], ti, now.Sub(due), now.Sub(sent))
	due = now
	if err != nil {
		for j := range keys {
			f := famAt(fams, j, op.Family)
			rec.lookupErr(int8(tierIndex(f.Tier)), int16(f.Index))
		}
		rec.err(pool.ErrorKind(err))
		return due
	}
	for j, k := range keys {
		fam := famAt(fams, j, op.Family)
		fi, ti, tier := int16(fam.Index), int8(tierIndex(fam.Tier)), writeTier(fam)
		if found[j] {
			if ver, ok := d.hit(rec, fam, ti, k, vals[j], sent); ok {
				d.nearKeep(in, fam, k, ver, sent)
			}
			continue
		}
		rec.lookup(ti, fi, false, d.classify(k, sent))
		d.observeRead(fam, k, 0, false, sent)
		fetchStart := time.Now()
		v, ferr := d.origin.Fetch(ctx, fam, k, sizes[j])
		if ferr != nil {
			rec.err(pool.KindFetch)
			due = time.Now()
			continue
		}
		fillSent := time.Now()
		serr := in.c.Set(ctx, k, v, tier)
		now := time.Now()
		rec.sample(opiSet, ti, now.Sub(fetchStart), now.Sub(fillSent))
		due = now
		if fam.Tier == tierPersistent && d.writes.Active() {
			d.observeFill(fam, k, v, fetchStart, fillSent, now, serr, false)
		}
		if serr != nil {
			rec.err(pool.ErrorKind(serr))
			continue
		}
		d.ledger.Wrote(k, now, d.ttl[fam.Name])
		if ver, verr := workload.Verify(k, v); verr == nil {
			d.nearKeep(in, fam, k, ver, fillSent)
		}
	}
	return due
}

// keyFamily is the family of op's j-th key (Op.Families when the keys are
// of several families).
func keyFamily(op *workload.Op, j int) *workload.Family {
	return famAt(op.Families, j, op.Family)
}

func famAt(fams []*workload.Family, j int, def *workload.Family) *workload.Family {
	if j < len(fams) && fams[j] != nil {
		return fams[j]
	}
	return def
}

// casAttempts bounds a compare-and-swap's tries: after that many conflicts
// in a row the bot gives up and tells the user to try again.
const casAttempts = 3

// cas updates op's key by compare-and-swap on its value: read it (GET, a
// lookup, verified like any read), write a new version only if the key
// still holds what was read (or is still absent), and on a conflict read
// again and retry, up to casAttempts. Values carry their version and
// checksum, so comparing them is exact. Both round trips of every attempt
// are samples of "cas". A swap is an acknowledged write: the ledger, the
// write log other instances' local copies are judged against, and, for a
// family the instances keep locally, a broadcast so they drop theirs.
func (d *driver) cas(ctx context.Context, in *instance, rec *cmdRecord, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	fam := op.Family
	fi := int16(fam.Index)
	slot := opSlot[workload.OpCAS]
	for attempt := 1; ; attempt++ {
		sent := time.Now()
		cur, found, err := in.c.Get(ctx, op.Key)
		now := time.Now()
		rec.sample(slot, ti, now.Sub(due), now.Sub(sent))
		due = now
		if err != nil {
			if attempt == 1 {
				rec.lookupErr(ti, fi)
			}
			rec.err(pool.ErrorKind(err))
			return due
		}
		if attempt == 1 {
			if found {
				d.hit(rec, fam, ti, op.Key, cur, sent)
			} else {
				rec.lookup(ti, fi, false, d.classify(op.Key, sent))
				d.observeRead(fam, op.Key, 0, false, sent)
			}
		}
		ver := d.version.Add(1)
		val := workload.Value(op.Key, ver, op.Size)
		sent = time.Now()
		ok, err := in.c.CompareAndSwap(ctx, op.Key, cur, found, val, tier)
		acked := time.Now()
		if ok && d.isNear(fam) && d.wlog != nil {
			d.wlog.publishing(op.Key, int64(acked.Sub(d.start)))
		}
		if err == nil && ok {
			d.ledger.Wrote(op.Key, acked, d.ttl[fam.Name])
			d.acked(in, fam, op.Key, ver, acked)
			if d.isNear(fam) {
				if perr := in.c.Broadcast(ctx, op.Key); perr != nil {
					rec.err(pool.ErrorKind(perr))
				} else {
					rec.published++
				}
			}
		}
		now = time.Now()
		rec.sample(slot, ti, now.Sub(due), now.Sub(sent))
		due = now
		if fam.Tier == tierPersistent && d.writes.Active() && (ok || err != nil) {
			d.writes.Observe(chaos.Write{Key: op.Key, Version: ver, Sent: sent, Done: acked, Outcome: outcomeOf(err), TTL: d.ttl[fam.Name]})
		}
		if err != nil {
			rec.err(pool.ErrorKind(err))
			return due
		}
		if ok {
			return due
		}
		rec.casConflicts++
		if attempt >= casAttempts {
			rec.casGaveUp++
			return due
		}
	}
}

// fetchFill loads a hash field or a sorted set the cache did not have from
// the origin and writes it back (the typed form of get-or-fetch's fill).
func (d *driver) fetchFill(ctx context.Context, in *instance, rec *cmdRecord, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	v, err := d.origin.Fetch(ctx, op.Family, op.Key, op.Size)
	if err != nil {
		rec.err(pool.KindFetch)
		return time.Now()
	}
	sent := time.Now()
	if op.Kind == workload.OpHGet {
		err = in.c.HSet(ctx, op.Key, op.Field, v, tier)
	} else {
		err = in.c.ZAdd(ctx, op.Key, tier, zsetFill(op.Family)...)
	}
	now := time.Now()
	rec.sample(opiSet, ti, now.Sub(due), now.Sub(sent))
	if err != nil {
		rec.err(pool.ErrorKind(err))
	} else {
		d.ledger.Wrote(op.Key, now, d.ttl[op.Family.Name])
	}
	return now
}

// zsetFill is the set a sorted-set family's miss rebuilds: its members
// (at most 100), scored by rank.
func zsetFill(f *workload.Family) []pool.ZMember {
	n := min(max(f.Members, 1), 100)
	out := make([]pool.ZMember, n)
	for i := range out {
		out[i] = pool.ZMember{Member: "m" + strconv.Itoa(i), Score: float64(n - i)}
	}
	return out
}

// writeTyped runs OpHSet (a versioned value in the field) or OpZAdd (the
// member rescored with a fresh version, so later writes rank higher).
func (d *driver) writeTyped(ctx context.Context, in *instance, rec *cmdRecord, op *workload.Op, tier pool.Tier, ti int8, due time.Time, kind workload.OpKind) time.Time {
	ver := d.version.Add(1)
	sent := time.Now()
	var err error
	if kind == workload.OpHSet {
		err = in.c.HSet(ctx, op.Key, op.Field, workload.Value(op.Key, ver, op.Size), tier)
	} else {
		err = in.c.ZAdd(ctx, op.Key, tier, pool.ZMember{Member: op.Field, Score: float64(ver)})
	}
	now := time.Now()
	rec.sample(opSlot[kind], ti, now.Sub(due), now.Sub(sent))
	if err != nil {
		rec.err(pool.ErrorKind(err))
	} else {
		d.ledger.Wrote(op.Key, now, d.ttl[op.Family.Name])
	}
	return now
}

// isNear reports whether instances keep fam's keys locally.
func (d *driver) isNear(fam *workload.Family) bool {
	return fam.Index < len(d.nearFam) && d.nearFam[fam.Index]
}

// nearRead serves a read of a near family from instance in's local copy
// when it has one, judging it against the writes acknowledged so far; it
// reports whether it did. A read it cannot serve is a near-cache miss and
// goes to Redis.
func (d *driver) nearRead(in *instance, rec *cmdRecord, fam *workload.Family, key string) bool {
	if in.near == nil || !d.isNear(fam) {
		return false
	}
	now := int64(time.Since(d.start))
	e, ok := in.near.get(key, now)
	if !ok {
		rec.near(int16(fam.Index), false, fresh)
		return false
	}
	rec.near(int16(fam.Index), true, d.wlog.staleness(key, e, now))
	return true
}

// nearKeep keeps a copy of a value read (or written) at load in instance
// in's near cache.
func (d *driver) nearKeep(in *instance, fam *workload.Family, key string, ver uint32, load time.Time) {
	if in.near == nil || !d.isNear(fam) {
		return
	}
	in.near.put(key, ver, int64(load.Sub(d.start)), int64(time.Since(d.start)))
}

// acked records an acknowledged write of a near family's key: the
// reference other instances' copies are judged stale against, and the
// writer's own copy.
func (d *driver) acked(in *instance, fam *workload.Family, key string, ver uint32, at time.Time) {
	if !d.isNear(fam) {
		return
	}
	if d.wlog != nil {
		d.wlog.acked(key, ver, int64(at.Sub(d.start)))
	}
	d.nearKeep(in, fam, key, ver, at)
}

// observeFill tracks a cache-aside fill (get-or-fetch's, an MGET miss's,
// or a warm's) of the persistent tier: the origin's value fetched at
// fetched, written from sent to done. The lost-write check tells a write
// the application overwrote with such a value from one Redis lost.
func (d *driver) observeFill(fam *workload.Family, key, val string, fetched, sent, done time.Time, err error, warm bool) {
	v, verr := workload.Verify(key, val)
	if verr != nil {
		return
	}
	d.writes.Observe(chaos.Write{Key: key, Version: v, Sent: sent, Done: done, Outcome: outcomeOf(err),
		Fill: true, Fetched: fetched, Warm: warm, TTL: d.ttl[fam.Name]})
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
func (d *driver) hit(rec *cmdRecord, fam *workload.Family, ti int8, key, val string, sent time.Time) (uint32, bool) {
	rec.checked++
	ver, err := workload.Verify(key, val)
	if err != nil {
		rec.mismatches++
		rec.lookupErr(ti, int16(fam.Index))
		rec.err(kindIntegrity)
		// A corrupt value destroyed whatever write was acknowledged.
		d.observeRead(fam, key, 0, false, sent)
		return 0, false
	}
	rec.lookup(ti, int16(fam.Index), true, 0)
	d.observeRead(fam, key, ver, true, sent)
	return ver, true
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
		c.rateAllowed += r.rateAllowed
		c.rateDenied += r.rateDenied
		c.rateSkipped += r.rateSkipped
		c.casConflicts += r.casConflicts
		c.casGaveUp += r.casGaveUp
		c.published += r.published
		for i := range r.lookups {
			l := &r.lookups[i]
			f := &c.fams[l.fam]
			switch {
			case l.near:
				if !l.nearHit {
					f.nearMisses++
					continue
				}
				f.nearHits++
				switch l.stale {
				case stale:
					f.stale++
				case staleInFlight:
					f.staleInFlight++
				}
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
			if smp.tier >= 0 {
				_ = h.byTier[smp.tier].RecordValue(smp.lat)
			}
		}
	}
	if ph.recorded {
		_ = s.totalH.command.RecordValue(max(r.commandUs, 1))
	}
}
