package harness

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// The parts of the seed's layer that live in each bot process rather than
// in Redis: the instances themselves (one cache manager, pool and pub/sub
// subscription each), the near cache each keeps of the families a bot reads
// on every command, the acknowledged writes a stale read is judged against,
// and the hot set an instance re-warms after Redis lost its data.

// instance is one simulated bot instance.
type instance struct {
	c    cache
	near *nearCache // nil: this instance keeps nothing locally
	hot  *hotSet    // nil: warming is off, nothing is tracked
}

// staleGrace is how long after a write was acknowledged an instance may
// still serve its old local copy without the read counting as stale: the
// time pub/sub needs to deliver the invalidation on a healthy loopback or
// LAN (well under a millisecond to a few ms; 100 ms leaves room for a
// loaded host). Reads of an older copy within it are counted apart
// (stale_in_flight), and the delivery lag itself is reported as a
// distribution, so neither hides in the other.
const staleGrace = 100 * time.Millisecond

// Near-cache defaults: the seed's bot reads the user's and the guild's
// settings on every command and a player's profile on most, and a bot
// process keeps those in memory; 60 s bounds how long a copy whose
// invalidation was lost can be served.
var defaultNearFamilies = []string{"user_connected", "guild_locale", "stratz_profile", "opendota_profile"}

const (
	defaultNearTTL  = 60 * time.Second
	warmConcurrency = 32  // origin loads a warming instance runs at once
	warmBatch       = 256 // keys per pipelined bulk write while warming
)

// nearEntry is one locally held copy: the version of the value read from
// Redis, when that read began and when the copy expires (nanoseconds since
// the run started).
type nearEntry struct {
	ver       uint32
	load, exp int64
}

// nearCache is an instance's in-process copy of near families' keys: what
// pub/sub invalidation exists to clear. It holds versions, not values (the
// value is Redis's to verify).
type nearCache struct {
	ttl    int64
	shards [NearShards]nearShard
}

type nearShard struct {
	mu sync.Mutex
	m  map[string]nearEntry
	_  [40]byte // keep shards on separate cache lines
}

func newNearCache(ttl time.Duration) *nearCache {
	n := &nearCache{ttl: int64(ttl)}
	for i := range n.shards {
		n.shards[i].m = make(map[string]nearEntry, 256)
	}
	return n
}

// The near cache's shape: keys spread over NearShards shards by
// NearShardOf, and a shard emptied when it reaches NearShardLimit entries
// (a bounded cache; emptying a full shard is the cheapest policy).
// Exported so that sizing's replay of the near cache (sizing/trace.go) is
// this cache, not a copy of its rules.
const (
	NearShards     = 16
	NearShardLimit = 1 << 14
)

// NearShardOf is FNV-1a of key, folded onto the near cache's shards (no
// allocation).
func NearShardOf(key string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return h % NearShards
}

func (n *nearCache) get(key string, now int64) (nearEntry, bool) {
	s := &n.shards[NearShardOf(key)]
	s.mu.Lock()
	e, ok := s.m[key]
	if ok && now >= e.exp {
		delete(s.m, key)
		ok = false
	}
	s.mu.Unlock()
	return e, ok
}

func (n *nearCache) put(key string, ver uint32, load, now int64) {
	s := &n.shards[NearShardOf(key)]
	s.mu.Lock()
	if len(s.m) >= NearShardLimit {
		clear(s.m) // a bounded cache; emptying a full shard is the cheapest policy
	}
	s.m[key] = nearEntry{ver: ver, load: load, exp: now + n.ttl}
	s.mu.Unlock()
}

// drop removes key's copy; it reports whether there was one.
func (n *nearCache) drop(key string) bool {
	s := &n.shards[NearShardOf(key)]
	s.mu.Lock()
	_, ok := s.m[key]
	delete(s.m, key)
	s.mu.Unlock()
	return ok
}

// dropPattern removes every copy matching a Redis glob of the simple
// "prefix*" form (anything else drops every copy: a copy kept against an
// invalidation it might match would be served stale).
func (n *nearCache) dropPattern(p string) {
	prefix, simple := strings.CutSuffix(p, "*")
	simple = simple && !strings.ContainsAny(prefix, "*?[")
	for i := range n.shards {
		s := &n.shards[i]
		s.mu.Lock()
		for k := range s.m {
			if !simple || strings.HasPrefix(k, prefix) {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

// ackedWrite is the latest acknowledged write of a near family's key.
type ackedWrite struct {
	ver uint32
	ack int64 // nanoseconds since the run started
	pub int64 // when its invalidation was sent (0: none yet)
}

// writeLog remembers, for every near family's key written during the run,
// its latest acknowledged write: the reference a local copy is judged
// stale against.
type writeLog struct {
	shards [NearShards]struct {
		mu sync.Mutex
		m  map[string]ackedWrite
		_  [40]byte
	}
}

func newWriteLog() *writeLog {
	w := &writeLog{}
	for i := range w.shards {
		w.shards[i].m = make(map[string]ackedWrite, 256)
	}
	return w
}

func (w *writeLog) acked(key string, ver uint32, ack int64) {
	s := &w.shards[NearShardOf(key)]
	s.mu.Lock()
	if cur, ok := s.m[key]; !ok || ack >= cur.ack {
		s.m[key] = ackedWrite{ver: ver, ack: ack, pub: cur.pub}
	}
	s.mu.Unlock()
}

// publishing notes that key's invalidation is being sent at t: the start
// of the delivery lag the receivers measure.
func (w *writeLog) publishing(key string, t int64) {
	s := &w.shards[NearShardOf(key)]
	s.mu.Lock()
	a := s.m[key]
	a.pub = t
	s.m[key] = a
	s.mu.Unlock()
}

func (w *writeLog) latest(key string) (ackedWrite, bool) {
	s := &w.shards[NearShardOf(key)]
	s.mu.Lock()
	a, ok := s.m[key]
	s.mu.Unlock()
	return a, ok
}

// Staleness of a read served from a local copy.
const (
	fresh         uint8 = iota
	staleInFlight       // older than a write acknowledged less than staleGrace before the read
	stale               // older than a write acknowledged at least staleGrace before the read
)

// staleness judges a local copy read at now: stale when a write of a
// different version was acknowledged after the copy's load began and
// before the read began. A copy loaded after the write is never stale,
// even if a later refill gave it another version.
func (w *writeLog) staleness(key string, e nearEntry, now int64) uint8 {
	a, ok := w.latest(key)
	if !ok || a.ver == e.ver || a.ack <= e.load || a.ack > now {
		return fresh
	}
	if now-a.ack >= int64(staleGrace) {
		return stale
	}
	return staleInFlight
}

// hotSet is the ring of an instance's most recent reads, what it re-warms:
// the bot knows what it has been serving, not what the model will draw
// next. A slot holds a pointer to the operation (its key, family and size),
// so noting a read costs an atomic add and store, no allocation.
type hotSet struct {
	ring []atomic.Pointer[workload.Op]
	n    atomic.Uint64
}

func newHotSet(n int) *hotSet {
	if n <= 0 {
		return nil
	}
	return &hotSet{ring: make([]atomic.Pointer[workload.Op], n)}
}

func (h *hotSet) note(op *workload.Op) {
	if h == nil {
		return
	}
	i := h.n.Add(1)
	h.ring[i%uint64(len(h.ring))].Store(op)
}

// layerStats are the cross-instance figures the subscriber goroutines and
// the warmers add to (the commands' own counts go through the recorder).
type layerStats struct {
	received atomic.Uint64 // invalidation messages delivered to an instance
	dropped  atomic.Uint64 // local copies they removed
	mu       sync.Mutex
	lag      *hdrhistogram.Histogram // write acknowledged -> invalidation delivered, µs
	warms    []warmRun
}

// warmRun is one warming of one instance.
type warmRun struct {
	instance      int
	trigger       string // "start" or the fault ("restart #1")
	fault         int    // index into the run's fault events; -1 at start
	at, took      time.Duration
	keys, loads   int
	loadErrs      int
	writeErrs     int
	metaKeys, hot int
}

// onInvalidate is instance i's pub/sub handler: its local copies of the
// keys are dropped and the delivery lag from the write's acknowledgement is
// recorded.
func (d *driver) onInvalidate(in *instance) func([]string) {
	return func(keys []string) {
		d.layer.received.Add(1)
		// A message before the clock started (a manager subscribes as it
		// connects) drops local copies but has no lag to measure.
		st := d.startNs.Load()
		now := time.Now().UnixNano() - st
		for _, k := range keys {
			if in.near != nil {
				if strings.ContainsAny(k, "*?[") {
					in.near.dropPattern(k)
				} else if in.near.drop(k) {
					d.layer.dropped.Add(1)
				}
			}
			if d.wlog == nil {
				continue
			}
			if a, ok := d.wlog.latest(k); ok && st != 0 && a.pub > 0 && now >= a.pub {
				d.layer.mu.Lock()
				_ = d.layer.lag.RecordValue(max((now-a.pub)/1e3, 1))
				d.layer.mu.Unlock()
			}
		}
	}
}

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
// instance read, a sorted set its fill (zsetFill, after one origin load, as
// a miss rebuilds it). keys and hot count Redis keys (a hash once, however
// many of its fields); loads, loadErrs and writeErrs count origin loads
// and their writes.
func (d *driver) warm(ctx context.Context, i int, trigger string, fault int, meta []*workload.Family) warmRun {
	in := &d.insts[i]
	began := time.Now()
	run := warmRun{instance: i, trigger: trigger, fault: fault}
	if !d.start.IsZero() {
		run.at = began.Sub(d.start) // at start, before the clock: 0
	}
	want := map[string]warmItem{}
	units := 0
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
	if h := in.hot; h != nil {
		for s := range h.ring {
			op := h.ring[s].Load()
			if op == nil {
				continue
			}
			switch {
			case op.Kind == workload.OpMGet:
				for j, k := range op.Keys {
					if f := keyFamily(op, j); isString(f) {
						add(f, k, "", op.Sizes[j])
					}
				}
			case isString(op.Family), isZSet(op.Family):
				add(op.Family, op.Key, "", op.Size)
			case isHash(op.Family) && op.Field != "":
				add(op.Family, op.Key, op.Field, op.Size)
			}
		}
	}
	type loaded struct {
		it      pool.Item
		fam     *workload.Family
		fetched time.Time // when the origin fetch began
		err     error
	}
	work := make(chan warmUnit)
	out := make(chan loaded, warmConcurrency)
	var wg sync.WaitGroup
	for range min(warmConcurrency, max(units, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				w := want[u.key]
				fetched := time.Now()
				v, err := d.origin.Fetch(ctx, w.fam, u.key, w.size)
				it := pool.Item{Key: u.key, Val: v, TTL: d.ttl[w.fam.Name]}
				switch {
				case err != nil:
				case isHash(w.fam):
					it.Field = u.field
				case isZSet(w.fam):
					it.Val, it.Members = "", zsetFill(w.fam)
				}
				out <- loaded{it: it, fam: w.fam, fetched: fetched, err: err}
			}
		}()
	}
	go func() {
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
	}()
	go func() { wg.Wait(); close(out) }()
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
			d.observeFill(f.fam, f.key, f.val, f.fetched, sent, sent, nil, true)
		}
		fills = fills[:0]
		err := in.c.SetBatch(ctx, items, warmBatch)
		now := time.Now()
		if err != nil {
			run.writeErrs += len(items)
		} else {
			for _, it := range items {
				d.ledger.Wrote(it.Key, now, it.TTL)
				if !written[it.Key] {
					written[it.Key] = true
					run.keys++
				}
			}
		}
		items = items[:0]
	}
	for l := range out {
		run.loads++
		if l.err != nil {
			run.loadErrs++
			continue
		}
		items = append(items, l.it)
		if l.fam.Tier == tierPersistent && l.it.Field == "" && d.writes.Active() {
			fills = append(fills, warmFill{fam: l.fam, key: l.it.Key, val: l.it.Val, fetched: l.fetched})
		}
		if len(items) == warmBatch {
			flush()
		}
	}
	flush()
	run.took = time.Since(began)
	d.layer.mu.Lock()
	d.layer.warms = append(d.layer.warms, run)
	d.layer.mu.Unlock()
	return run
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

// newLayerStats makes the cross-instance counters.
func newLayerStats() *layerStats { return &layerStats{lag: result.NewHistogram()} }
