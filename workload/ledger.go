package workload

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/cespare/xxhash/v2"
)

// MissCause is why a read missed, judged from what the harness wrote.
type MissCause uint8

const (
	MissCold    MissCause = iota // never written (or deleted by the harness)
	MissExpired                  // its TTL had passed
	MissEvicted                  // written, not expired, gone: Redis removed it
	// MissWiped: written, not expired, gone because a fault emptied its
	// node (a restart without persistence, a flush). It is neither cold
	// (it was written) nor evicted (maxmemory did not remove it).
	MissWiped
	// NumMissCauses is the number of causes, for arrays indexed by cause.
	NumMissCauses = iota
)

// String returns "cold", "expired", "evicted" or "wiped".
func (c MissCause) String() string {
	switch c {
	case MissCold:
		return "cold"
	case MissExpired:
		return "expired"
	case MissEvicted:
		return "evicted"
	case MissWiped:
		return "wiped"
	}
	return "unknown"
}

// DefaultExpirySlack is how close to its expiry a key may be and still count
// as expired when it misses: it absorbs the gap between the time the harness
// recorded a write and the time Redis started the key's TTL.
const DefaultExpirySlack = time.Second

const ledgerShards = 64

// Ledger remembers, per key, that the harness wrote it and when its TTL ends,
// so that a miss can be classified. Keys are kept as 64-bit hashes and expiry
// as a 32-bit millisecond offset, about 16-30 bytes a key with map overhead,
// so ten million keys fit in a few hundred MB. It is sharded by key hash: no
// global lock, safe for concurrent use.
type Ledger struct {
	slack time.Duration
	// base is the Unix millisecond that expiry offsets count from, set on the
	// first write (to 2^31 ms, ~24.8 days, before it) so that offsets fit a
	// uint32 for runs up to ~24 days after the first write.
	base   atomic.Int64
	baseMu sync.Mutex
	// wipes are the moments (ms from base, ascending) a fault emptied the
	// cache; a key written before one and missed after it was wiped.
	// Copied on write: a run has a handful, read on every miss.
	wipes  atomic.Pointer[[]uint32]
	wipeMu sync.Mutex
	shards [ledgerShards]ledgerShard
	// gone holds the keys swept out of the map after their TTL passed
	// (Sweep): a later miss on one is expired, not cold. A Bloom filter of
	// fixed size (sweptBits), so a day-long soak that touches every key of
	// a million-user population keeps the ledger to the keys alive now
	// plus 8 MiB; its false positives (a never-written key read as
	// expired) stay under 0.2 % up to five million swept keys.
	goneMu sync.RWMutex
	gone   *bloom.BloomFilter
	swept  atomic.Int64
	// idle holds the entries with no TTL (keys and hash fields) swept out
	// of the map an hour after their last write (Sweep): without it a
	// day-long soak kept every persistent key and every hash field it ever
	// wrote. A miss on one is what it would be from the map, evicted (or
	// wiped, when a fault emptied the cache after idleCut), except that
	// its write time is forgotten: a read racing its write an hour later
	// cannot happen. Under goneMu, with idleCut, the newest sweep's cutoff
	// (ms from base): every key in the filter was written before it.
	idle      *bloom.BloomFilter
	idleCut   atomic.Int64
	idleSwept atomic.Int64
}

// Sweep's bounds: a key whose TTL passed more than sweepAfter ago leaves
// the map for the filter of sweptBits bits and sweptHashes hash functions.
const (
	sweepAfter  = time.Minute
	sweptBits   = 1 << 26
	sweptHashes = 7
	// An entry with no TTL (a persistent key, a hash field) leaves the
	// map idleAfter after its last write for a filter of idleBits bits
	// (2 MiB: under 0.1 % false positives up to a million entries).
	idleAfter = time.Hour
	idleBits  = 1 << 24
)

type ledgerEntry struct{ written, expiry uint32 }

type ledgerShard struct {
	mu sync.Mutex
	// m maps a key hash to when the harness last wrote it and when that
	// write expires, both in ms from base (expiry 0 = no TTL).
	m map[uint64]ledgerEntry
	// peak is the most entries m held at a sweep since it was last made:
	// a Go map keeps the memory of its largest size after deletes, so
	// Sweep remakes it when it holds under a quarter of that.
	peak int
	_    [40]byte // keep shards on separate cache lines
}

// LedgerOptions tunes a Ledger.
type LedgerOptions struct {
	// ExpirySlack: a miss at or after expiry-ExpirySlack counts as expired.
	// Zero means DefaultExpirySlack; negative means none.
	ExpirySlack time.Duration
}

// NewLedger returns an empty ledger with the default expiry slack.
func NewLedger() *Ledger { return NewLedgerWithOptions(LedgerOptions{}) }

// NewLedgerWithOptions returns an empty ledger tuned by o.
func NewLedgerWithOptions(o LedgerOptions) *Ledger {
	l := &Ledger{slack: o.ExpirySlack}
	if l.slack == 0 {
		l.slack = DefaultExpirySlack
	} else if l.slack < 0 {
		l.slack = 0
	}
	for i := range l.shards {
		l.shards[i].m = make(map[uint64]ledgerEntry)
	}
	return l
}

func (l *Ledger) shard(h uint64) *ledgerShard { return &l.shards[h>>58] }

// baseFor returns the ms base, fixing it on first use.
func (l *Ledger) baseFor(at time.Time) int64 {
	if b := l.base.Load(); b != 0 {
		return b
	}
	l.baseMu.Lock()
	defer l.baseMu.Unlock()
	if b := l.base.Load(); b != 0 {
		return b
	}
	b := at.UnixMilli() - (1 << 31)
	if b == 0 {
		b = -1
	}
	l.base.Store(b)
	return b
}

// expiryOffset encodes at+ttl as ms after base, clamped to [1, MaxUint32];
// 0 is reserved for "no TTL".
func (l *Ledger) expiryOffset(at time.Time, ttl time.Duration) uint32 {
	if ttl <= 0 {
		return 0
	}
	return max(1, clampOffset(at.Add(ttl).UnixMilli()-l.baseFor(at)))
}

// Wrote records that key was written at time at with the given TTL (0 = no
// expiry). A later write replaces the earlier one, as SET does.
func (l *Ledger) Wrote(key string, at time.Time, ttl time.Duration) {
	h := xxhash.Sum64String(key)
	e := ledgerEntry{written: l.offset(at), expiry: l.expiryOffset(at, ttl)}
	s := l.shard(h)
	s.mu.Lock()
	s.m[h] = e
	s.mu.Unlock()
}

// ExpiredAt records that key, if the harness wrote it, was made to expire
// at at by a fault (mass-expiry's PEXPIREAT), before its TTL: a miss of it
// after at is expired, as Redis saw it, not evicted.
func (l *Ledger) ExpiredAt(key string, at time.Time) {
	h := xxhash.Sum64String(key)
	s := l.shard(h)
	s.mu.Lock()
	if e, ok := s.m[h]; ok {
		e.expiry = max(l.offset(at), 1)
		s.m[h] = e
	}
	s.mu.Unlock()
}

// offset is at in ms from base, clamped to uint32.
func (l *Ledger) offset(at time.Time) uint32 {
	return clampOffset(at.UnixMilli() - l.baseFor(at))
}

// clampOffset is ms after base clamped to what an entry stores, [0, MaxUint32].
func clampOffset(off int64) uint32 {
	return uint32(min(max(off, 0), 1<<32-1))
}

// Deleted records that the harness deleted key: a later miss on it is cold.
func (l *Ledger) Deleted(key string) {
	h := xxhash.Sum64String(key)
	s := l.shard(h)
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
}

// Touched records that key's TTL was refreshed to ttl at time at (EXPIRE). A
// key the ledger never saw written is left alone, as EXPIRE leaves a missing
// key alone.
func (l *Ledger) Touched(key string, at time.Time, ttl time.Duration) {
	h := xxhash.Sum64String(key)
	exp := l.expiryOffset(at, ttl)
	s := l.shard(h)
	s.mu.Lock()
	if e, ok := s.m[h]; ok {
		e.expiry = exp
		s.m[h] = e
	}
	s.mu.Unlock()
}

// Classify says why a read of key sent at time at missed: cold if the
// harness never wrote it, or wrote it only after the read was sent (a
// concurrent fill: the key did not exist yet when the read ran); expired if
// its TTL had passed (within the slack); wiped if a fault emptied the cache
// after the write and before the read (Wiped); evicted otherwise.
func (l *Ledger) Classify(key string, at time.Time) MissCause {
	h := xxhash.Sum64String(key)
	s := l.shard(h)
	s.mu.Lock()
	e, ok := s.m[h]
	s.mu.Unlock()
	atOff := at.UnixMilli() - l.base.Load()
	if !ok && l.wasSwept(h) {
		return MissExpired
	}
	if !ok && l.wasIdle(h) {
		// Written before idleCut, with no TTL, and not since.
		e, ok = ledgerEntry{written: uint32(max(l.idleCut.Load()-1, 0))}, true
	}
	if !ok || int64(e.written) >= atOff {
		return MissCold
	}
	if exp := e.expiry; exp != 0 && at.Add(l.slack).UnixMilli() >= l.base.Load()+int64(exp) {
		return MissExpired
	}
	if ws := l.wipes.Load(); ws != nil {
		for _, w := range *ws {
			if w > e.written && int64(w) <= atOff {
				return MissWiped
			}
		}
	}
	return MissEvicted
}

// fieldHash is a hash field's entry: its own hash, apart from the key's.
func fieldHash(key, field string) uint64 {
	return xxhash.Sum64String(key) ^ (xxhash.Sum64String(field)*0x9e3779b97f4a7c15 + 1)
}

// WroteField records that field of the hash at key was written at time at,
// and with it the key (HSET and its EXPIRE set the whole key's TTL).
func (l *Ledger) WroteField(key, field string, at time.Time, ttl time.Duration) {
	l.Wrote(key, at, ttl)
	h := fieldHash(key, field)
	s := l.shard(h)
	s.mu.Lock()
	s.m[h] = ledgerEntry{written: l.offset(at)}
	s.mu.Unlock()
}

// ClassifyField says why a read of field of the hash at key missed: cold
// if the harness never wrote that field before the read (whether or not
// it wrote others: a hash that holds some fields has never held this
// one), else as the key's miss (Classify): the key expired, was evicted
// or wiped with the field in it.
func (l *Ledger) ClassifyField(key, field string, at time.Time) MissCause {
	h := fieldHash(key, field)
	s := l.shard(h)
	s.mu.Lock()
	e, ok := s.m[h]
	s.mu.Unlock()
	if !ok && l.wasIdle(h) {
		return l.Classify(key, at) // written over an hour ago and swept
	}
	if !ok || int64(e.written) >= at.UnixMilli()-l.base.Load() {
		return MissCold
	}
	return l.Classify(key, at)
}

// Wiped records that a fault emptied the cache at time at (a node restarted
// without persistence serves again, empty): a key written before it and
// missed after it is wiped, not cold (it was written) nor evicted.
func (l *Ledger) Wiped(at time.Time) {
	off := l.offset(at)
	l.wipeMu.Lock()
	defer l.wipeMu.Unlock()
	var ws []uint32
	if cur := l.wipes.Load(); cur != nil {
		ws = append(ws, *cur...)
	}
	ws = append(ws, off)
	slices.Sort(ws)
	l.wipes.Store(&ws)
}

// Sweep moves the keys whose TTL passed more than a minute before now out
// of the map into the filter of expired keys, and the entries with no TTL
// last written over an hour before now into the filter of idle ones, and
// returns how many: the ledger then holds what may still be alive and was
// written in the last hour, however long the run. The
// harness calls it once a minute; a key written again after its sweep is
// back in the map and classified from there.
func (l *Ledger) Sweep(now time.Time) int {
	base := l.base.Load()
	if base == 0 {
		return 0
	}
	cut := now.Add(-sweepAfter).UnixMilli() - base
	if cut <= 0 {
		return 0
	}
	idleCut := now.Add(-idleAfter).UnixMilli() - base
	var moved, idle []uint64
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		s.peak = max(s.peak, len(s.m))
		for h, e := range s.m {
			switch {
			case e.expiry != 0 && int64(e.expiry) < cut:
				moved = append(moved, h)
				delete(s.m, h)
			case e.expiry == 0 && int64(e.written) < idleCut:
				idle = append(idle, h)
				delete(s.m, h)
			}
		}
		if len(s.m) < s.peak/4 {
			m := make(map[uint64]ledgerEntry, len(s.m)) // not maps.Clone: it copies the table's size
			for h, e := range s.m {
				m[h] = e
			}
			s.m, s.peak = m, len(m)
		}
		s.mu.Unlock()
	}
	if len(moved)+len(idle) == 0 {
		return 0
	}
	var b [8]byte
	l.goneMu.Lock()
	if len(moved) > 0 && l.gone == nil {
		l.gone = bloom.New(sweptBits, sweptHashes)
	}
	for _, h := range moved {
		l.gone.Add(hashBytes(&b, h))
	}
	if len(idle) > 0 {
		if l.idle == nil {
			l.idle = bloom.New(idleBits, sweptHashes)
		}
		for _, h := range idle {
			l.idle.Add(hashBytes(&b, h))
		}
		l.idleCut.Store(idleCut)
	}
	l.goneMu.Unlock()
	l.swept.Add(int64(len(moved)))
	l.idleSwept.Add(int64(len(idle)))
	return len(moved) + len(idle)
}

// wasIdle reports whether hash h (a key's or a field's) was swept with no
// TTL an hour after its last write (or, rarely, collides with one that was).
func (l *Ledger) wasIdle(h uint64) bool {
	if l.idleSwept.Load() == 0 {
		return false
	}
	var b [8]byte
	l.goneMu.RLock()
	defer l.goneMu.RUnlock()
	return l.idle.Test(hashBytes(&b, h))
}

// Swept is how many keys Sweep has moved out of the map after their TTL
// passed so far; SweptIdle how many entries with no TTL it moved an hour
// after their last write.
func (l *Ledger) Swept() int64 { return l.swept.Load() }

// SweptIdle is how many entries with no TTL Sweep has moved so far.
func (l *Ledger) SweptIdle() int64 { return l.idleSwept.Load() }

// wasSwept reports whether key hash h was swept after its TTL passed (or,
// rarely, collides with one that was).
func (l *Ledger) wasSwept(h uint64) bool {
	if l.swept.Load() == 0 {
		return false
	}
	var b [8]byte
	l.goneMu.RLock()
	defer l.goneMu.RUnlock()
	return l.gone.Test(hashBytes(&b, h))
}

// hashBytes is h's eight bytes, the filter's input.
func hashBytes(b *[8]byte, h uint64) []byte {
	for i := range b {
		b[i] = byte(h >> (8 * i))
	}
	return b[:]
}

// Len is the number of keys the ledger holds.
func (l *Ledger) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
