package bots

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cacheproof/cacheproof/engine"
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
	c    Cache
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

// staleness judges a local copy read at now: stale when a write of a
// different version was acknowledged after the copy's load began and
// before the read began. A copy loaded after the write is never stale,
// even if a later refill gave it another version.
func (w *writeLog) staleness(key string, e nearEntry, now int64) uint8 {
	a, ok := w.latest(key)
	if !ok || a.ver == e.ver || a.ack <= e.load || a.ack > now {
		return engine.Fresh
	}
	if now-a.ack >= int64(staleGrace) {
		return engine.Stale
	}
	return engine.StaleInFlight
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

// isNear reports whether instances keep fam's keys locally.
func (l *Layer) isNear(fam *workload.Family) bool {
	return fam.Index < len(l.nearFam) && l.nearFam[fam.Index]
}

// nearRead serves a read of a near family from instance in's local copy
// when it has one, judging it against the writes acknowledged so far; it
// reports whether it did. A read it cannot serve is a near-cache miss and
// goes to Redis.
func (l *Layer) nearRead(in *instance, rec *engine.Record, fam *workload.Family, key string) bool {
	if in.near == nil || !l.isNear(fam) {
		return false
	}
	now := int64(time.Since(l.start))
	e, ok := in.near.get(key, now)
	if !ok {
		rec.Near(int16(fam.Index), false, engine.Fresh)
		return false
	}
	rec.Near(int16(fam.Index), true, l.wlog.staleness(key, e, now))
	return true
}

// nearKeep keeps a copy of a value read (or written) at load in instance
// in's near cache.
func (l *Layer) nearKeep(in *instance, fam *workload.Family, key string, ver uint32, load time.Time) {
	if in.near == nil || !l.isNear(fam) {
		return
	}
	in.near.put(key, ver, int64(load.Sub(l.start)), int64(time.Since(l.start)))
}

// acked records an acknowledged write of a near family's key: the
// reference other instances' copies are judged stale against, and the
// writer's own copy.
func (l *Layer) acked(in *instance, fam *workload.Family, key string, ver uint32, at time.Time) {
	if !l.isNear(fam) {
		return
	}
	if l.wlog != nil {
		l.wlog.acked(key, ver, int64(at.Sub(l.start)))
	}
	l.nearKeep(in, fam, key, ver, at)
}

// onInvalidate is instance i's pub/sub handler: its local copies of the
// keys are dropped and the delivery lag from the write's acknowledgement is
// recorded.
func (l *Layer) onInvalidate(in *instance) func([]string) {
	return func(keys []string) {
		l.stats.received.Add(1)
		// A message before the clock started (a manager subscribes as it
		// connects) drops local copies but has no lag to measure.
		st := l.startNs.Load()
		now := time.Now().UnixNano() - st
		for _, k := range keys {
			if in.near != nil {
				if strings.ContainsAny(k, "*?[") {
					in.near.dropPattern(k)
				} else if in.near.drop(k) {
					l.stats.dropped.Add(1)
				}
			}
			if l.wlog == nil {
				continue
			}
			if a, ok := l.wlog.latest(k); ok && st != 0 && a.pub > 0 && now >= a.pub {
				l.stats.mu.Lock()
				_ = l.stats.lag.RecordValue(max((now-a.pub)/1e3, 1))
				l.stats.mu.Unlock()
			}
		}
	}
}

// newLayerStats makes the cross-instance counters.
func newLayerStats() *layerStats { return &layerStats{lag: result.NewHistogram()} }
