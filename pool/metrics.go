package pool

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"
)

// Command names with their own latency histogram; everything else is "other".
var cmdNames = [...]string{
	"get", "set", "mget", "del", "unlink", "expire", "pexpire", "persist", "exists",
	"evalsha", "eval", "scan", "publish", "info", "ping", "role",
	"hget", "hset", "zadd", "zrange", "pexpireat", "other",
}

// cmdIndex maps a lower-case command name to its histogram slot with a
// switch, so the hook does no map lookup and no allocation.
func cmdIndex(name string) int {
	switch name {
	case "get":
		return 0
	case "set":
		return 1
	case "mget":
		return 2
	case "del":
		return 3
	case "unlink":
		return 4
	case "expire":
		return 5
	case "pexpire":
		return 6
	case "persist":
		return 7
	case "exists":
		return 8
	case "evalsha":
		return 9
	case "eval":
		return 10
	case "scan":
		return 11
	case "publish":
		return 12
	case "info":
		return 13
	case "ping":
		return 14
	case "role":
		return 15
	case "hget":
		return 16
	case "hset":
		return 17
	case "zadd":
		return 18
	case "zrange":
		return 19
	case "pexpireat":
		return 20
	}
	return len(cmdNames) - 1
}

// metrics are the manager's counters: plain atomics, written on the hot path
// without locks and read by Stats once a second.
type metrics struct {
	hits, misses, sets, errors           atomic.Uint64
	fetches, fetchErrors, sharedFetches  atomic.Uint64
	fillErrors, invalSent, invalReceived atomic.Uint64
	dials, dialErrors, primarySwitches   atomic.Uint64
	tierHits, tierMisses, tierFetches    [NumTiers]atomic.Uint64
	cmdErrors                            [len(kindList)]atomic.Uint64
	latency                              [len(cmdNames)]latencyHist
	cmdCount                             [len(cmdNames)]atomic.Uint64
	_                                    [0]func() // not comparable, not copyable by accident
}

// metricsHook feeds metrics from go-redis: every command's latency and error
// kind, every dial, and READONLY/refused errors to the primary follower.
type metricsHook struct {
	met      *metrics
	onSwitch func(err error) // suspects a primary change; nil unless following
}

var _ redis.Hook = (*metricsHook)(nil)

func (h *metricsHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		h.met.dials.Add(1)
		if err != nil {
			h.met.dialErrors.Add(1)
		}
		return c, err
	}
}

func (h *metricsHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(cmd.Name(), time.Since(start), err)
		return err
	}
}

func (h *metricsHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		d := time.Since(start)
		for _, c := range cmds {
			h.observe(c.Name(), d, c.Err())
		}
		return err
	}
}

func (h *metricsHook) observe(name string, d time.Duration, err error) {
	i := cmdIndex(name)
	h.met.cmdCount[i].Add(1)
	h.met.latency[i].record(d)
	if err == nil || err == redis.Nil {
		return
	}
	kind := ErrorKind(err)
	if kind == "" {
		return
	}
	h.met.cmdErrors[kindIndex(kind)].Add(1)
	if h.onSwitch != nil && (kind == KindReadOnly || kind == KindConnectionRefused || kind == KindConnectionReset) {
		h.onSwitch(err)
	}
}

// TierStats are the cache outcomes of tier-aware calls (GetOrFetch*,
// SessionGet): Get and MGet do not know a key's tier and count only in the
// totals.
type TierStats struct {
	Hits, Misses, Fetches uint64
}

// HitRate is hits/(hits+misses), 0 when there were none.
func (t TierStats) HitRate() float64 { return hitRate(t.Hits, t.Misses) }

// PoolStats are go-redis's connection-pool statistics, summed over cluster
// nodes and over the main and pipeline pools, cumulative since New (also
// across primary switches).
type PoolStats struct {
	Hits, Misses, Timeouts, TotalConns, IdleConns, StaleConns uint32
	WaitCount                                                 uint32
	WaitDurationNs                                            int64
}

// Stats are cumulative since New; cheap to call every second.
type Stats struct {
	// Hits and Misses count cache reads (Get, MGet per key, GetOrFetch*,
	// SessionGet); HitRate is Hits/(Hits+Misses). Errors counts failed
	// Redis operations of the manager's API (a failed fill counts here and
	// in FillErrors).
	Hits, Misses, Sets, Errors uint64
	// Fetches counts origin calls made by get-or-fetch, FetchErrors the
	// failed ones, SharedFetches the callers that joined another's fetch.
	Fetches, FetchErrors, SharedFetches, FillErrors uint64
	// InvalidationsReceived counts broadcasts from other managers;
	// InvalidationsSent the broadcasts this one published.
	InvalidationsReceived, InvalidationsSent uint64
	// Dials counts connection attempts (the first ones and every reconnect),
	// DialErrors the failed ones; PrimarySwitches the times the manager moved
	// to a new primary (replica shape).
	Dials, DialErrors, PrimarySwitches uint64
	// CommandErrors counts errors per kind as go-redis saw them, per command
	// (after go-redis's retries), including commands issued through Client().
	CommandErrors map[string]uint64
	Tiers         map[Tier]TierStats
	Pool          PoolStats
}

// HitRate is Hits/(Hits+Misses), 0 when there were none (not the seed's
// hits/total_commands).
func (s Stats) HitRate() float64 { return hitRate(s.Hits, s.Misses) }

func hitRate(h, m uint64) float64 {
	if h+m == 0 {
		return 0
	}
	return float64(h) / float64(h+m)
}

// snapshot copies the counters into a Stats (pool stats added by the caller).
func (mt *metrics) snapshot() Stats {
	s := Stats{
		Hits: mt.hits.Load(), Misses: mt.misses.Load(), Sets: mt.sets.Load(), Errors: mt.errors.Load(),
		Fetches: mt.fetches.Load(), FetchErrors: mt.fetchErrors.Load(), SharedFetches: mt.sharedFetches.Load(),
		FillErrors: mt.fillErrors.Load(), InvalidationsReceived: mt.invalReceived.Load(),
		InvalidationsSent: mt.invalSent.Load(), Dials: mt.dials.Load(), DialErrors: mt.dialErrors.Load(),
		PrimarySwitches: mt.primarySwitches.Load(),
		CommandErrors:   make(map[string]uint64),
		Tiers:           make(map[Tier]TierStats, NumTiers),
	}
	for i, k := range Kinds {
		if n := mt.cmdErrors[i].Load(); n > 0 {
			s.CommandErrors[k] = n
		}
	}
	for _, t := range Tiers {
		i := t.index()
		s.Tiers[t] = TierStats{Hits: mt.tierHits[i].Load(), Misses: mt.tierMisses[i].Load(), Fetches: mt.tierFetches[i].Load()}
	}
	return s
}

// CommandLatency is one command's latency distribution as seen by the
// go-redis hook (including go-redis's own retries and pool waits).
type CommandLatency struct {
	Command string
	Count   uint64
	// Hist holds microseconds, 2 significant figures.
	Hist *hdrhistogram.Histogram
}

// CommandLatencies returns an HDR histogram per command that ran at least
// once since New. It allocates the histograms; call it for reports, not per
// operation.
func (m *Manager) CommandLatencies() []CommandLatency {
	var out []CommandLatency
	for i, name := range cmdNames {
		n := m.met.cmdCount[i].Load()
		if n == 0 {
			continue
		}
		if h := m.met.latency[i].snapshot(); h != nil {
			out = append(out, CommandLatency{Command: name, Count: n, Hist: h})
		}
	}
	return out
}

// ResetCommandLatencies forgets the per-command latencies recorded so far,
// so that CommandLatencies covers what follows (a run's load, not the bulk
// writes that prefilled the cache), as CONFIG RESETSTAT does for Redis's own
// figures. A command recorded while it runs may land on either side.
func (m *Manager) ResetCommandLatencies() {
	for i := range m.met.latency {
		m.met.cmdCount[i].Store(0)
		for j := range m.met.latency[i].counts {
			m.met.latency[i].counts[j].Store(0)
		}
	}
}

// Add adds q's counts to p: the pools one manager has used (its current
// client's, its pipeline pool's, retired clients'), or the pools of
// several managers (the bot instances', one per process).
func (p *PoolStats) Add(q PoolStats) {
	p.Hits += q.Hits
	p.Misses += q.Misses
	p.Timeouts += q.Timeouts
	p.TotalConns += q.TotalConns
	p.IdleConns += q.IdleConns
	p.StaleConns += q.StaleConns
	p.WaitCount += q.WaitCount
	p.WaitDurationNs += q.WaitDurationNs
}

// addPool folds one go-redis pool's stats into p, with those of its
// dedicated pipeline pool when it has one (the same type, one level down).
func (p *PoolStats) addPool(s *redis.PoolStats) {
	if s == nil {
		return
	}
	p.Add(PoolStats{Hits: s.Hits, Misses: s.Misses, Timeouts: s.Timeouts, TotalConns: s.TotalConns, IdleConns: s.IdleConns,
		StaleConns: s.StaleConns, WaitCount: s.WaitCount, WaitDurationNs: s.WaitDurationNs})
	p.addPool((*redis.PoolStats)(s.PipelineStats))
}
