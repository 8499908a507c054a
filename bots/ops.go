package bots

import (
	"context"
	"errors"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// Exec runs op on bot instance inst (engine.Executor).
func (l *Layer) Exec(ctx context.Context, inst int, rec *engine.Record, op *workload.Op, due *time.Time) (denied bool) {
	return l.execOp(ctx, l.instance(inst), rec, op, due)
}

// execOp runs one operation of a command on instance in; due is the
// intended start of the next operation (the command's start for the first,
// then the end of the one before) and is advanced here. It reports whether
// the command's rate limit refused it (the rest of the command is then not
// run).
func (l *Layer) execOp(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, duep *time.Time) (denied bool) {
	due := *duep
	defer func() { *duep = due }()
	tier := writeTier(op.Family)
	ti := int8(engine.TierIndex(op.Family.Tier))
	switch op.Kind {
	case workload.OpGetOrFetch:
		due = l.getOrFetch(ctx, in, rec, op, tier, ti, due)
	case workload.OpGet, workload.OpSessionGet:
		due = l.get(ctx, in, rec, op, tier, ti, due)
	case workload.OpSet:
		due = l.set(ctx, in, rec, op, tier, ti, due, engine.SlotSet)
	case workload.OpUpdate:
		// Write the new value, then tell the other instances to drop their
		// local copies (pub/sub); the shared copy is the new one, so it is
		// not deleted. One sample covers both round trips: the update is
		// one call of the bot's.
		due = l.set(ctx, in, rec, op, tier, ti, due, engine.OpSlot[workload.OpUpdate])
	case workload.OpMGet:
		due = l.mget(ctx, in, rec, op, tier, ti, due)
	case workload.OpCAS:
		due = l.cas(ctx, in, rec, op, tier, ti, due)
	case workload.OpRateLimit:
		due, denied = l.rateLimit(ctx, in, rec, op, due)
	case workload.OpTouch:
		due = l.touch(ctx, in, rec, op, tier, ti, due)
	case workload.OpDel:
		due = l.del(ctx, in, rec, op, ti, due)
	case workload.OpHSet, workload.OpZAdd:
		due = l.writeTyped(ctx, in, rec, op, tier, ti, due, op.Kind)
	case workload.OpHSetAll, workload.OpZAddAll:
		due = l.writeWhole(ctx, in, rec, op, tier, ti, due)
	case workload.OpHGet, workload.OpZRange:
		due = l.readTyped(ctx, in, rec, op, tier, ti, due)
	}
	return denied
}

// getOrFetch reads op's key through the manager's get-or-fetch: a miss is
// loaded from the origin and filled. The near cache answers first when the
// instance keeps the family locally.
func (l *Layer) getOrFetch(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	fam := op.Family
	if l.nearRead(in, rec, fam, op.Key) {
		return due
	}
	in.hot.note(op)
	sent := time.Now()
	size := op.Size
	val, out, err := in.c.GetOrFetchRaw(ctx, op.Key, tier, func(fctx context.Context) (string, error) {
		return l.origin.Fetch(fctx, fam, op.Key, size)
	})
	now := time.Now()
	// GetDur includes a failed GET's time (a pool wait, a timeout), so
	// an outage shows as latency, never as fast errors.
	if out.GetDur > 0 {
		rec.Sample(engine.SlotGet, ti, famIndex(op), sent.Sub(due)+out.GetDur, out.GetDur)
	}
	if out.Fetched && out.FillDur > 0 {
		rec.Sample(engine.SlotSet, ti, famIndex(op), out.FillDur, out.FillDur)
	}
	switch {
	case out.Hit:
		if ver, ok := l.hit(rec, fam, ti, op.Key, val, sent); ok {
			l.nearKeep(in, fam, op.Key, ver, sent)
		}
	case out.GetErr != nil:
		// Neither hit nor miss: the cache failed and the manager
		// fell back to the origin. A lookup error, and an error of
		// its kind.
		rec.LookupErr(ti, int16(fam.Index))
		rec.Err(pool.ErrorKind(out.GetErr))
	case out.GetDur > 0:
		rec.Lookup(ti, int16(fam.Index), false, l.classify(op.Key, sent))
		l.observeRead(fam, op.Key, 0, false, sent)
	}
	if out.Fetched && out.FillErr == nil && err == nil {
		l.ledger.Wrote(op.Key, now, l.ttl[fam.Name])
		if ver, verr := workload.Verify(op.Key, val); verr == nil {
			l.nearKeep(in, fam, op.Key, ver, sent)
		}
	}
	if out.Fetched && fam.Tier == engine.TierPersistent && l.writes.Active() {
		fillSent := now.Add(-out.FillDur)
		l.observeFill(fam, op.Key, val, fillSent.Add(-out.FetchDur), fillSent, now, out.FillErr, false)
	}
	if out.FillErr != nil {
		rec.Err(pool.ErrorKind(out.FillErr))
	}
	if err != nil && (out.GetErr == nil || !errors.Is(err, out.GetErr)) {
		rec.Err(pool.ErrorKind(err))
	}
	return now
}

// get runs a plain read (OpGet, served from the near cache when held) or a
// session read; a miss creates the value.
func (l *Layer) get(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	fam := op.Family
	slot := engine.SlotGet
	if op.Kind == workload.OpSessionGet {
		slot = engine.OpSlot[workload.OpSessionGet]
	} else if l.nearRead(in, rec, fam, op.Key) {
		return due
	}
	sent, val, found, err := read(ctx, in, op)
	now := time.Now()
	rec.Sample(slot, ti, famIndex(op), now.Sub(due), now.Sub(sent))
	if err != nil {
		rec.LookupErr(ti, int16(fam.Index))
		rec.Err(pool.ErrorKind(err))
		return now
	}
	if found {
		if ver, ok := l.hit(rec, fam, ti, op.Key, val, sent); ok {
			l.nearKeep(in, fam, op.Key, ver, sent)
		}
		return now
	}
	rec.Lookup(ti, int16(fam.Index), false, l.classify(op.Key, sent))
	l.observeRead(fam, op.Key, 0, false, sent)
	// A plain read that misses creates the value, as the bot does for
	// a new session or a guild with no locale yet.
	return l.set(ctx, in, rec, op, tier, ti, now, engine.SlotSet)
}

// rateLimit asks the command's rate limiter; denied is true when it
// refused.
func (l *Layer) rateLimit(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, due time.Time) (time.Time, bool) {
	sent := time.Now()
	r, err := in.c.RateLimit(ctx, op.Key, op.Family.RateLimit, op.Family.TTL)
	now := time.Now()
	rec.Sample(engine.OpSlot[workload.OpRateLimit], engine.NoTier, famIndex(op), now.Sub(due), now.Sub(sent))
	if err != nil {
		// The limiter failing lets the command through: a bot that
		// refused every command while Redis was down would be down too.
		rec.Err(pool.ErrorKind(err))
		return now, false
	}
	if !r.Allowed {
		rec.RateDenied++
		return now, true
	}
	rec.RateAllowed++
	return now, false
}

// touch refreshes op's key's TTL.
func (l *Layer) touch(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	sent := time.Now()
	ok, err := in.c.Expire(ctx, op.Key, tier)
	now := time.Now()
	rec.Sample(engine.SlotExpire, ti, famIndex(op), now.Sub(due), now.Sub(sent))
	if err != nil {
		rec.Err(pool.ErrorKind(err))
	} else if ok {
		l.ledger.Touched(op.Key, now, l.ttl[op.Family.Name])
	}
	return now
}

// del deletes op's key, with the instance's local copy.
func (l *Layer) del(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, ti int8, due time.Time) time.Time {
	fam := op.Family
	sent := time.Now()
	_, err := in.c.Del(ctx, op.Key)
	now := time.Now()
	rec.Sample(engine.SlotDel, ti, famIndex(op), now.Sub(due), now.Sub(sent))
	if err != nil {
		rec.Err(pool.ErrorKind(err))
	} else {
		l.ledger.Deleted(op.Key)
		if in.near != nil {
			in.near.drop(op.Key)
		}
		// A deletion is a write no copy holds (version 0), as an
		// update's deleted keys are: another instance's copy loaded
		// before it is stale once it is acknowledged, and a plain
		// DEL tells no one.
		if l.isNear(fam) && l.wlog != nil {
			l.wlog.acked(op.Key, 0, int64(now.Sub(l.start)))
		}
	}
	if fam.Tier == engine.TierPersistent && l.writes.Active() {
		// Whatever its outcome, the delete may have landed: it excuses
		// a later miss of a write before it.
		l.writes.ObserveDelete(op.Key, sent, now)
	}
	return now
}

// readTyped reads a hash field (OpHGet) or a sorted set's top (OpZRange);
// a miss is loaded from the origin and filled.
func (l *Layer) readTyped(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	fi := int16(op.Family.Index)
	sent, val, found, err := read(ctx, in, op)
	now := time.Now()
	rec.Sample(engine.OpSlot[op.Kind], ti, famIndex(op), now.Sub(due), now.Sub(sent))
	switch {
	case err != nil:
		rec.LookupErr(ti, fi)
		rec.Err(pool.ErrorKind(err))
	case found && op.Kind == workload.OpHGet:
		l.hit(rec, op.Family, ti, op.Key, val, sent)
	case found:
		// A sorted set's members are names, not versioned values:
		// nothing to verify.
		rec.Lookup(ti, fi, true, 0)
	default:
		cause := l.classify(op.Key, sent)
		if op.Kind == workload.OpHGet {
			// A field never written misses cold, whatever its hash holds.
			cause = l.wiped(l.ledger.ClassifyField(op.Key, op.Field, sent), sent)
		}
		rec.Lookup(ti, fi, false, cause)
		return l.fetchFill(ctx, in, rec, op, tier, ti)
	}
	return now
}

// read sends op's lookup after noting its key as hot: the session read,
// a hash field (HGET), a sorted set's top (its members are not returned:
// nothing to verify) or a plain GET. sent is when it was sent.
func read(ctx context.Context, in *instance, op *workload.Op) (sent time.Time, val string, found bool, err error) {
	in.hot.note(op)
	sent = time.Now()
	switch op.Kind {
	case workload.OpSessionGet:
		val, found, err = in.c.SessionGet(ctx, op.Key)
	case workload.OpHGet:
		val, found, err = in.c.HGet(ctx, op.Key, op.Field)
	case workload.OpZRange:
		_, found, err = in.c.ZRange(ctx, op.Key, zrangeTop)
	default:
		val, found, err = in.c.Get(ctx, op.Key)
	}
	return sent, val, found, err
}

// classify says why a read of key sent at sent missed. The ledger learns
// of a wipe when a restarted node serves again (chaos's NodeEmptied notice), but
// the node serves before that notice: a bot instance whose pool dials on
// every command reaches it first, and commands sent before or during the
// restart are answered by the empty node too. A miss the ledger calls
// evicted while a restart overlapped the read is a key the restart wiped.
func (l *Layer) classify(key string, sent time.Time) workload.MissCause {
	return l.wiped(l.ledger.Classify(key, sent), sent)
}

// wiped turns an evicted miss into a wiped one when a restart overlapped
// the read (see classify).
func (l *Layer) wiped(c workload.MissCause, sent time.Time) workload.MissCause {
	if c == workload.MissEvicted && l.emptied != nil && l.emptied(sent.Sub(l.start), time.Since(l.start)) {
		return workload.MissWiped
	}
	return c
}

// writeTier is the tier the manager is told a write of fam belongs to. A
// family with its own TTL outside the tiers (Tier "": a scenario's ttl:)
// is written under the tier its figures are counted under (tierIndex: the
// first, api); the manager gives it its own TTL by key pattern
// (pool.Config.KeyTTL, from workload.Model.OwnTTLs), which takes
// precedence over the tier's.
func writeTier(fam *workload.Family) pool.Tier {
	if fam.Tier == "" {
		return pool.Tier(engine.TierNames[engine.TierIndex(fam.Tier)])
	}
	return pool.Tier(fam.Tier)
}

// zrangeTop is how many members a sorted-set read asks for: a leaderboard
// page.
const zrangeTop = 10

// hit verifies a value the cache returned. Only a value that verifies is a
// hit; one that fails its checksum is a lookup error of kind "integrity":
// serving it would hand the user corrupt data, so it must not lift the hit
// rate.
func (l *Layer) hit(rec *engine.Record, fam *workload.Family, ti int8, key, val string, sent time.Time) (uint32, bool) {
	rec.Checked++
	ver, err := workload.Verify(key, val)
	if err != nil {
		rec.Mismatches++
		rec.LookupErr(ti, int16(fam.Index))
		rec.Err(kindIntegrity)
		// A corrupt value destroyed whatever write was acknowledged.
		l.observeRead(fam, key, 0, false, sent)
		return 0, false
	}
	rec.Lookup(ti, int16(fam.Index), true, 0)
	l.observeRead(fam, key, ver, true, sent)
	return ver, true
}

// observeRead feeds a persistent-tier read that got an answer to the
// lost-write tracker while a fault window is open, so a write lost during a
// fault and later refilled is still seen lost (the read-back alone would
// find the refill). A read that errored says nothing about the key and is
// never observed.
func (l *Layer) observeRead(fam *workload.Family, key string, ver uint32, found bool, sent time.Time) {
	if fam.Tier == engine.TierPersistent && l.writes.Active() {
		l.writes.ObserveRead(key, ver, found, sent)
	}
}

// kindIntegrity is the error kind of a value that failed verification.
const kindIntegrity = "integrity"

// famIndex is the family an operation's latency is filed under
// (engine.NoFamily for an operation of none). An MGET spanning families is
// filed under its op's own family, as its tier is.
func famIndex(op *workload.Op) int16 {
	if op.Family == nil {
		return engine.NoFamily
	}
	return int16(op.Family.Index)
}
