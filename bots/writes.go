package bots

import (
	"context"
	"strconv"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// set writes a new version of op's key (OpSet, the fill after a plain
// read's miss, OpUpdate) and records it under slot; an update then
// broadcasts the change to the other instances. It returns when the call
// ended, the next operation's intended start.
func (l *Layer) set(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time, slot int8) time.Time {
	ver := l.version.Add(1)
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
		if l.wlog != nil {
			pub := int64(time.Since(l.start))
			if len(op.Keys) == 0 {
				l.wlog.publishing(op.Key, pub)
			}
			for _, k := range op.Keys {
				l.wlog.publishing(k, pub)
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
			l.ledger.Deleted(k)
		}
		if perr != nil {
			rec.Err(pool.ErrorKind(perr))
		} else {
			rec.Published++
			for j, k := range op.Keys {
				f := engine.KeyFamily(op, j)
				if in.near != nil {
					in.near.drop(k)
				}
				// A deletion is a write no copy holds (version 0): every
				// copy loaded before it is stale once it is acknowledged.
				if l.isNear(f) && l.wlog != nil {
					l.wlog.acked(k, 0, int64(now.Sub(l.start)))
				}
			}
		}
	}
	rec.Sample(slot, ti, famIndex(op), now.Sub(due), now.Sub(sent))
	if err != nil {
		rec.Err(pool.ErrorKind(err))
	} else {
		l.ledger.Wrote(op.Key, acked, l.ttl[op.Family.Name])
		l.acked(in, op.Family, op.Key, ver, acked)
	}
	if op.Family.Tier == engine.TierPersistent && l.writes.Active() {
		l.writes.Observe(chaos.Write{Key: op.Key, Version: ver, Sent: sent, Done: acked, Outcome: outcomeOf(err), TTL: l.ttl[op.Family.Name]})
	}
	return now
}

// mget reads op's keys in one round trip; each key is a lookup of the
// family, and each miss is fetched from the origin and filled, as the bot's
// get-or-fetch would. Keys the instance holds locally are served from its
// near cache and not asked of Redis.
func (l *Layer) mget(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	keys, sizes, fams := op.Keys, op.Sizes, op.Families
	if in.near != nil {
		keys, sizes, fams = nil, nil, nil
		for j, k := range op.Keys {
			if f := engine.KeyFamily(op, j); !l.nearRead(in, rec, f, k) {
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
	rec.Sample(engine.OpSlot[workload.OpMGet], ti, famIndex(op), now.Sub(due), now.Sub(sent))
	mgetLat := now.Sub(due)
	due = now
	if err != nil {
		for j := range keys {
			f := famAt(fams, j, op.Family)
			rec.LookupErr(int8(engine.TierIndex(f.Tier)), int16(f.Index))
		}
		rec.Err(pool.ErrorKind(err))
		return due
	}
	for j, k := range keys {
		fam := famAt(fams, j, op.Family)
		fi, ti, tier := int16(fam.Index), int8(engine.TierIndex(fam.Tier)), writeTier(fam)
		if found[j] {
			if ver, ok := l.hit(rec, fam, ti, k, vals[j], sent); ok {
				l.nearKeep(in, fam, k, ver, sent)
			}
			l.watched(k, mgetLat, false)
			continue
		}
		rec.Lookup(ti, fi, false, l.classify(k, sent))
		l.observeRead(fam, k, 0, false, sent)
		fetchStart := time.Now()
		// An MGET's misses go to the origin one by one, without the
		// manager's single-flight: the key watch counts each.
		v, ferr := l.origin.Fetch(ctx, fam, k, sizes[j])
		l.watched(k, mgetLat, true)
		if ferr != nil {
			rec.Err(pool.KindFetch)
			due = time.Now()
			continue
		}
		// The fill is timed from its send, as get-or-fetch's is
		// (Outcome.FillDur): the origin's time is the upstream's, reported
		// under origin, never the cache's latency.
		fillSent := time.Now()
		serr := in.c.Set(ctx, k, v, tier)
		now := time.Now()
		rec.Sample(engine.SlotSet, ti, fi, now.Sub(fillSent), now.Sub(fillSent))
		due = now
		if fam.Tier == engine.TierPersistent && l.writes.Active() {
			l.observeFill(fam, k, v, fetchStart, fillSent, now, serr, false)
		}
		if serr != nil {
			rec.Err(pool.ErrorKind(serr))
			continue
		}
		l.ledger.Wrote(k, now, l.ttl[fam.Name])
		if ver, verr := workload.Verify(k, v); verr == nil {
			l.nearKeep(in, fam, k, ver, fillSent)
		}
	}
	return due
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
func (l *Layer) cas(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	fam := op.Family
	fi := int16(fam.Index)
	slot := engine.OpSlot[workload.OpCAS]
	for attempt := 1; ; attempt++ {
		sent := time.Now()
		cur, found, err := in.c.Get(ctx, op.Key)
		now := time.Now()
		rec.Sample(slot, ti, famIndex(op), now.Sub(due), now.Sub(sent))
		due = now
		if err != nil {
			if attempt == 1 {
				rec.LookupErr(ti, fi)
			}
			rec.Err(pool.ErrorKind(err))
			return due
		}
		if attempt == 1 {
			if found {
				l.hit(rec, fam, ti, op.Key, cur, sent)
			} else {
				rec.Lookup(ti, fi, false, l.classify(op.Key, sent))
				l.observeRead(fam, op.Key, 0, false, sent)
			}
		}
		ver := l.version.Add(1)
		val := workload.Value(op.Key, ver, op.Size)
		sent = time.Now()
		ok, err := in.c.CompareAndSwap(ctx, op.Key, cur, found, val, tier)
		acked := time.Now()
		if ok && l.isNear(fam) && l.wlog != nil {
			l.wlog.publishing(op.Key, int64(acked.Sub(l.start)))
		}
		if err == nil && ok {
			l.ledger.Wrote(op.Key, acked, l.ttl[fam.Name])
			l.acked(in, fam, op.Key, ver, acked)
			if l.isNear(fam) {
				if perr := in.c.Broadcast(ctx, op.Key); perr != nil {
					rec.Err(pool.ErrorKind(perr))
				} else {
					rec.Published++
				}
			}
		}
		now = time.Now()
		rec.Sample(slot, ti, famIndex(op), now.Sub(due), now.Sub(sent))
		due = now
		if fam.Tier == engine.TierPersistent && l.writes.Active() && (ok || err != nil) {
			l.writes.Observe(chaos.Write{Key: op.Key, Version: ver, Sent: sent, Done: acked, Outcome: outcomeOf(err), TTL: l.ttl[fam.Name]})
		}
		if err != nil {
			rec.Err(pool.ErrorKind(err))
			return due
		}
		if ok {
			return due
		}
		rec.CASConflicts++
		if attempt >= casAttempts {
			rec.CASGaveUp++
			return due
		}
	}
}

// fetchFill loads a hash field or a sorted set the cache did not have from
// the origin and writes it back (the typed form of get-or-fetch's fill).
// The fill is recorded under the command Redis saw (hset, zadd) and timed
// from its send, as get-or-fetch's fill is: the origin's time is the
// upstream's (reported under origin), and counting it here put the
// simulated upstream's latency into the cache's p99.
func (l *Layer) fetchFill(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8) time.Time {
	v, err := l.origin.Fetch(ctx, op.Family, op.Key, op.Size)
	if err != nil {
		rec.Err(pool.KindFetch)
		return time.Now()
	}
	sent := time.Now()
	slot := engine.OpSlot[workload.OpHSet]
	if op.Kind == workload.OpHGet {
		err = in.c.HSet(ctx, op.Key, op.Field, v, tier)
	} else {
		slot = engine.OpSlot[workload.OpZAdd]
		err = in.c.ZAdd(ctx, op.Key, tier, ZSetFill(op.Family)...)
	}
	now := time.Now()
	rec.Sample(slot, ti, famIndex(op), now.Sub(sent), now.Sub(sent))
	switch {
	case err != nil:
		rec.Err(pool.ErrorKind(err))
	case op.Kind == workload.OpHGet:
		l.ledger.WroteField(op.Key, op.Field, now, l.ttl[op.Family.Name])
	default:
		l.ledger.Wrote(op.Key, now, l.ttl[op.Family.Name])
	}
	return now
}

// ZSetFill is the set a sorted-set family's miss rebuilds: its members
// (at most 100), scored by rank.
func ZSetFill(f *workload.Family) []pool.ZMember {
	n := min(max(f.Members, 1), 100)
	out := make([]pool.ZMember, n)
	for i := range out {
		out[i] = pool.ZMember{Member: "m" + strconv.Itoa(i), Score: float64(n - i)}
	}
	return out
}

// writeTyped runs OpHSet (a versioned value in the field) or OpZAdd (the
// member rescored with a fresh version, so later writes rank higher).
func (l *Layer) writeTyped(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time, kind workload.OpKind) time.Time {
	ver := l.version.Add(1)
	sent := time.Now()
	var err error
	if kind == workload.OpHSet {
		err = in.c.HSet(ctx, op.Key, op.Field, workload.Value(op.Key, ver, op.Size), tier)
	} else {
		err = in.c.ZAdd(ctx, op.Key, tier, pool.ZMember{Member: op.Field, Score: float64(ver)})
	}
	now := time.Now()
	rec.Sample(engine.OpSlot[kind], ti, famIndex(op), now.Sub(due), now.Sub(sent))
	switch {
	case err != nil:
		rec.Err(pool.ErrorKind(err))
	case kind == workload.OpHSet:
		l.ledger.WroteField(op.Key, op.Field, now, l.ttl[op.Family.Name])
	default:
		l.ledger.Wrote(op.Key, now, l.ttl[op.Family.Name])
	}
	return now
}

// replaceModes maps a family's whole-value write mode to the manager's.
var replaceModes = map[string]pool.Replace{
	workload.WriteWhole:           pool.Overwrite,
	workload.WriteReplaceMulti:    pool.ReplaceMulti,
	workload.WriteReplacePipeline: pool.ReplacePipeline,
}

// writeWhole runs OpHSetAll (every field of the hash, each a versioned
// value of op.Size bytes) or OpZAddAll (every member, scored by a fresh
// version so the set's order moves), replacing the old value as the
// family's write mode says: one sample of one round trip, the DEL and
// MULTI/EXEC of a replace included.
func (l *Layer) writeWhole(ctx context.Context, in *instance, rec *engine.Record, op *workload.Op, tier pool.Tier, ti int8, due time.Time) time.Time {
	ver := l.version.Add(1)
	how := replaceModes[op.Family.Write]
	names := op.Family.Names
	sent := time.Now()
	var err error
	if op.Kind == workload.OpHSetAll {
		val := workload.Value(op.Key, ver, op.Size)
		vals := make([]string, len(names))
		for i := range vals {
			vals[i] = val
		}
		err = in.c.HSetAll(ctx, op.Key, names, vals, tier, how)
	} else {
		ms := make([]pool.ZMember, len(names))
		for i, n := range names {
			ms[i] = pool.ZMember{Member: n, Score: float64(ver) + float64(len(names)-i)/float64(len(names)+1)}
		}
		err = in.c.ZAddAll(ctx, op.Key, tier, how, ms...)
	}
	now := time.Now()
	rec.Sample(engine.OpSlot[op.Kind], ti, famIndex(op), now.Sub(due), now.Sub(sent))
	switch {
	case err != nil:
		rec.Err(pool.ErrorKind(err))
	case op.Kind == workload.OpHSetAll:
		// Every field is written: a later miss of any of them is not cold.
		for _, n := range names {
			l.ledger.WroteField(op.Key, n, now, l.ttl[op.Family.Name])
		}
	default:
		l.ledger.Wrote(op.Key, now, l.ttl[op.Family.Name])
	}
	return now
}

// observeFill tracks a cache-aside fill (get-or-fetch's, an MGET miss's,
// or a warm's) of the persistent tier: the origin's value fetched at
// fetched, written from sent to done. The lost-write check tells a write
// the application overwrote with such a value from one Redis lost.
func (l *Layer) observeFill(fam *workload.Family, key, val string, fetched, sent, done time.Time, err error, warm bool) {
	v, verr := workload.Verify(key, val)
	if verr != nil {
		return
	}
	l.writes.Observe(chaos.Write{Key: key, Version: v, Sent: sent, Done: done, Outcome: outcomeOf(err),
		Fill: true, Fetched: fetched, Warm: warm, TTL: l.ttl[fam.Name]})
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
