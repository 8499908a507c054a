// Package bots is the simulated bot layer the engine drives: the bot
// instances (one cache manager, pool and pub/sub subscription each), what
// each does with an operation (get-or-fetch, reads and writes of every
// type, compare-and-set, rate limits, invalidation), the near cache each
// keeps of the families a bot reads on every command, the acknowledged
// writes a stale read is judged against, and the warming an instance runs
// at start and after Redis lost its data. It fills engine.Executor; the
// harness wires it to the run's Redis, origin and faults.
package bots

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// Cache is the part of pool.Manager a bot instance uses; a seam for tests
// of the layer's accounting, never a stand-in for Redis in behaviour tests.
type Cache interface {
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
	HSetAll(ctx context.Context, key string, fields, vals []string, tier pool.Tier, how pool.Replace) error
	ZAddAll(ctx context.Context, key string, tier pool.Tier, how pool.Replace, members ...pool.ZMember) error
	SetBatch(ctx context.Context, items []pool.Item, batch int) error
}

var (
	_ Cache            = (*pool.Manager)(nil)
	_ engine.Executor  = (*Layer)(nil)
	_ chaos.Subscriber = (*Layer)(nil)
)

// Options configure a Layer. Cache is instance 0 until Connect makes the
// fleet (and the only instance, without a near cache, if it never does).
type Options struct {
	Cache  Cache
	Origin *workload.Origin
	Ledger *workload.Ledger
	// TTL is, by family name, what the manager applies to its keys.
	TTL map[string]time.Duration
	// Writes follows persistent-tier writes through readonly and
	// failover faults; nil when no fault tracks them.
	Writes *chaos.WriteTracker
	// Watch follows the lookups of the keys a cache failure mode acts on
	// (hot key, big key, keys expired at once, absent keys); nil when the
	// run has no such fault.
	Watch *chaos.KeyWatch
}

// Layer is the run's bot instances and what they share: the origin they
// load from, the miss ledger and lost-write tracker their writes feed, the
// write log their local copies are judged against, and the cross-instance
// counters.
type Layer struct {
	cache  Cache
	origin *workload.Origin
	ledger *workload.Ledger
	ttl    map[string]time.Duration // by family: what the manager applies
	writes *chaos.WriteTracker
	watch  *chaos.KeyWatch
	// emptied reports whether a fault that empties the cache (a restart
	// without persistence) overlapped [from, to], offsets from start; nil
	// when the run has none.
	emptied func(from, to time.Duration) bool
	// insts are the simulated bot instances (Command.Instance picks one);
	// nearFam marks, by family index, the families they keep locally;
	// wlog the acknowledged writes of those families; stats the
	// cross-instance counters. All may be empty (then cache is the one
	// instance, without a near cache).
	insts   []instance
	nearFam []bool
	wlog    *writeLog
	stats   *layerStats

	start time.Time
	// startNs is start as Unix nanoseconds, set with it: pub/sub handlers
	// run on the managers' goroutines from the moment they subscribe,
	// before the clock starts, and read it instead of start.
	startNs atomic.Int64
	version atomic.Uint32 // value versions for writes

	// Connect: the instances' managers, the run's families, the near
	// cache's TTL.
	fleet   Fleet
	fams    []workload.Family
	nearTTL time.Duration
	warming warming
}

// warming is the state of the instances' re-warming after faults.
type warming struct {
	onStart bool // the pool's warm_on_start
	mu      sync.Mutex
	open    bool            // between WatchFaults and StopWarming: notices start warmings
	ctx     context.Context // cancelled when warmings in progress must end
	cancel  context.CancelFunc
	wg      sync.WaitGroup // warmings in progress
}

// New makes the layer with one instance over o.Cache. Versions of the
// values it writes live in the upper half of the uint32 space so they never
// equal an origin fill's version of the same key: the lost-write check
// tells writes apart by version.
func New(o Options) *Layer {
	l := &Layer{cache: o.Cache, origin: o.Origin, ledger: o.Ledger, ttl: o.TTL, writes: o.Writes, watch: o.Watch}
	l.version.Store(1 << 31)
	return l
}

// SetStart sets the time the run's offsets count from (the engine's start).
func (l *Layer) SetStart(t time.Time) {
	l.start = t
	l.startNs.Store(t.UnixNano())
}

// SetEmptied gives the layer what tells a miss a restart wiped from an
// eviction (see classify).
func (l *Layer) SetEmptied(f func(from, to time.Duration) bool) { l.emptied = f }

// NextVersion is the next value version a write of this run carries.
func (l *Layer) NextVersion() uint32 { return l.version.Add(1) }

// instance is the bot instance that handles a command. A layer without
// instances (the accounting tests) has one, over cache.
func (l *Layer) instance(i int) *instance {
	if n := len(l.insts); n > 0 {
		return &l.insts[i%n]
	}
	return &instance{c: l.cache}
}
