package bots

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// warmItem is one key to warm and what it takes to load it: for a hash,
// the fields the instance read (each its own origin load, as the driver's
// fill after a missed HGET loads one field).
type warmItem struct {
	fam    *workload.Family
	size   int
	fields []string
}

// warmUnit is one origin load of a warming: a string or sorted-set key, or
// one field of a hash.
type warmUnit struct{ key, field string }

// warm loads instance i's meta keys and hot set from the origin and writes
// them in pipelined batches, each with its family's TTL: what a bot process
// does at start and after it saw Redis come back empty. Every type is
// written as the driver writes it, so later reads find what they expect: a
// string the origin's value, a hash the origin's value in each field the
// instance read, a sorted set its fill (ZSetFill, after one origin load, as
// a miss rebuilds it). keys and hot count Redis keys (a hash once, however
// many of its fields); loads, loadErrs and writeErrs count origin loads
// and their writes.
func (l *Layer) warm(ctx context.Context, i int, trigger string, fault int, meta []*workload.Family) warmRun {
	in := &l.insts[i]
	began := time.Now()
	run := warmRun{instance: i, trigger: trigger, fault: fault}
	if !l.start.IsZero() {
		run.at = began.Sub(l.start) // at start, before the clock: 0
	}
	want, units := warmSet(in.hot, meta, &run)
	l.writeWarm(ctx, in, want, l.loadWarm(ctx, want, units), &run)
	run.took = time.Since(began)
	l.stats.mu.Lock()
	l.stats.warms = append(l.stats.warms, run)
	l.stats.mu.Unlock()
	return run
}

// warmSet is what an instance warms: the meta families' keys and what its
// hot set holds, by key, and the number of origin loads that takes.
func warmSet(hot *hotSet, meta []*workload.Family, run *warmRun) (want map[string]warmItem, units int) {
	want = map[string]warmItem{}
	for _, f := range meta {
		want[f.KeyPattern] = warmItem{fam: f, size: f.MeanSize}
		run.metaKeys++
		units++
	}
	// add takes key of fam (and, for a hash, the field read) into the
	// warming.
	add := func(fam *workload.Family, key, field string, size int) {
		it, ok := want[key]
		if !ok {
			it = warmItem{fam: fam, size: size}
			run.hot++
			if !isHash(fam) {
				units++
			}
		}
		if isHash(it.fam) && field != "" && !slices.Contains(it.fields, field) {
			it.fields = append(it.fields, field)
			units++
		}
		want[key] = it
	}
	if hot == nil {
		return want, units
	}
	for s := range hot.ring {
		op := hot.ring[s].Load()
		if op == nil {
			continue
		}
		switch {
		case op.Kind == workload.OpMGet:
			for j, k := range op.Keys {
				if f := engine.KeyFamily(op, j); isString(f) {
					add(f, k, "", op.Sizes[j])
				}
			}
		case isString(op.Family), isZSet(op.Family):
			add(op.Family, op.Key, "", op.Size)
		case isHash(op.Family) && op.Field != "":
			add(op.Family, op.Key, op.Field, op.Size)
		}
	}
	return want, units
}

// warmLoaded is one origin load of a warming, ready to write.
type warmLoaded struct {
	it      pool.Item
	fam     *workload.Family
	fetched time.Time // when the origin fetch began
	err     error
}

// loadWarm loads want from the origin, warmConcurrency loads at once, and
// hands each result on; the channel closes when all are done (or ctx
// ended).
func (l *Layer) loadWarm(ctx context.Context, want map[string]warmItem, units int) <-chan warmLoaded {
	work := make(chan warmUnit)
	out := make(chan warmLoaded, warmConcurrency)
	var wg sync.WaitGroup
	for range min(warmConcurrency, max(units, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				w := want[u.key]
				fetched := time.Now()
				v, err := l.origin.Fetch(ctx, w.fam, u.key, w.size)
				it := pool.Item{Key: u.key, Val: v, TTL: l.ttl[w.fam.Name]}
				switch {
				case err != nil:
				case isHash(w.fam):
					it.Field = u.field
				case isZSet(w.fam):
					it.Val, it.Members = "", ZSetFill(w.fam)
				}
				out <- warmLoaded{it: it, fam: w.fam, fetched: fetched, err: err}
			}
		}()
	}
	go feedWarm(ctx, want, work)
	go func() { wg.Wait(); close(out) }()
	return out
}

// feedWarm sends every origin load of want to work, then closes it.
func feedWarm(ctx context.Context, want map[string]warmItem, work chan<- warmUnit) {
	defer close(work)
	send := func(u warmUnit) bool {
		select {
		case work <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for k, it := range want {
		if !isHash(it.fam) {
			if !send(warmUnit{key: k}) {
				return
			}
			continue
		}
		for _, f := range it.fields {
			if !send(warmUnit{key: k, field: f}) {
				return
			}
		}
	}
}

// writeWarm writes what the origin loads returned through instance in, in
// pipelined batches of warmBatch, and counts them into run.
func (l *Layer) writeWarm(ctx context.Context, in *instance, want map[string]warmItem, out <-chan warmLoaded, run *warmRun) {
	items := make([]pool.Item, 0, warmBatch)
	// The persistent-tier items' origin fetches, for the lost-write
	// tracker: a warm writes the origin's copy over whatever the key holds.
	var fills []warmFill
	written := make(map[string]bool, len(want))
	flush := func() {
		if len(items) == 0 {
			return
		}
		// Observed before they are sent: a warm can outlast a fault's
		// read-back (which closes the window), and a value the check finds
		// must be known by then. Done is the send: the value lands after
		// it, so a write sent before it is overwritten.
		sent := time.Now()
		for _, f := range fills {
			l.observeFill(f.fam, f.key, f.val, f.fetched, sent, sent, nil, true)
		}
		fills = fills[:0]
		err := in.c.SetBatch(ctx, items, warmBatch)
		now := time.Now()
		if err != nil {
			run.writeErrs += len(items)
		} else {
			for _, it := range items {
				if it.Field != "" {
					l.ledger.WroteField(it.Key, it.Field, now, it.TTL)
				} else {
					l.ledger.Wrote(it.Key, now, it.TTL)
				}
				if !written[it.Key] {
					written[it.Key] = true
					run.keys++
				}
			}
		}
		items = items[:0]
	}
	for ld := range out {
		run.loads++
		if ld.err != nil {
			run.loadErrs++
			continue
		}
		items = append(items, ld.it)
		if ld.fam.Tier == engine.TierPersistent && ld.it.Field == "" && l.writes.Active() {
			fills = append(fills, warmFill{fam: ld.fam, key: ld.it.Key, val: ld.it.Val, fetched: ld.fetched})
		}
		if len(items) == warmBatch {
			flush()
		}
	}
	flush()
}

// warmFill is one persistent-tier value a warm writes, for the lost-write
// tracker.
type warmFill struct {
	fam      *workload.Family
	key, val string
	fetched  time.Time
}

// isString reports whether a family's keys hold plain string values.
func isString(f *workload.Family) bool {
	return f != nil && (f.Type == "" || f.Type == workload.TypeString)
}

// isHash and isZSet report whether a family's keys are hashes or sorted
// sets.
func isHash(f *workload.Family) bool { return f != nil && f.Type == workload.TypeHash }
func isZSet(f *workload.Family) bool { return f != nil && f.Type == workload.TypeZSet }

// metaFamilies are the families the bot warms whatever it served: the
// meta tier's single keys (hero and item data, the current patch), as the
// seed's warming loads meta:* at start.
func metaFamilies(fams []workload.Family) []*workload.Family {
	var out []*workload.Family
	for i := range fams {
		f := &fams[i]
		if f.Tier == string(pool.TierMeta) && !strings.Contains(f.KeyPattern, "{") && isString(f) {
			out = append(out, f)
		}
	}
	return out
}
