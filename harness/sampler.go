package harness

import (
	"context"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/internal/redistext"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// infoSource reads INFO from every node of a deployment.
type infoSource interface {
	InfoAll(ctx context.Context, section string) (map[string]map[string]string, error)
}

// serverCounters accumulates Redis' cumulative counters across restarts: a
// restarted node starts again from zero, so a counter that went down is
// counted from zero rather than as a negative delta.
type serverCounters struct {
	last                   map[string]map[string]uint64 // node -> field -> last value
	evicted, expired       uint64
	keyspaceHits, kMisses  uint64
	rejected               uint64
	connsReceived          uint64 // total_connections_received, across restarts
	usedMemory, peak, maxm int64
	clients, keys          int64
	clientsMem             int64 // mem_clients_normal over the primaries
	policy, version        string
	ok                     bool
	// lastCPU is each primary's used_cpu_sys+used_cpu_user at the last
	// sample; dCPU and dCommands are the last observe's deltas (CPU seconds,
	// total_commands_processed) over the primaries, restarts handled as for
	// the counters: Redis's own cost, beside the tool's.
	lastCPU   map[string]float64
	dCPU      float64
	dCommands uint64
	dNetOut   uint64 // total_net_output_bytes over the primaries, last interval
}

var counterFields = []string{"evicted_keys", "expired_keys", "keyspace_hits", "keyspace_misses", "rejected_connections", "total_connections_received", "total_commands_processed", "total_net_output_bytes"}

// counters is where each of counterFields' deltas adds up.
func (c *serverCounters) counters() map[string]*uint64 {
	return map[string]*uint64{
		"evicted_keys": &c.evicted, "expired_keys": &c.expired, "keyspace_hits": &c.keyspaceHits, "keyspace_misses": &c.kMisses,
		"rejected_connections": &c.rejected, "total_connections_received": &c.connsReceived,
		"total_commands_processed": &c.dCommands, "total_net_output_bytes": &c.dNetOut,
	}
}

// observe folds one INFO snapshot in and returns the interval deltas of
// evicted and expired keys.
func (c *serverCounters) observe(all map[string]map[string]string) (dEvicted, dExpired uint64) {
	if c.last == nil {
		c.last = map[string]map[string]uint64{}
	}
	if c.lastCPU == nil {
		c.lastCPU = map[string]float64{}
	}
	c.dCPU, c.dCommands, c.dNetOut = 0, 0, 0
	var used, maxm, clients, keys, clientsMem int64
	nodes := make([]string, 0, len(all))
	for n := range all {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, node := range nodes {
		info := all[node]
		if info["redis_mode"] == "sentinel" || info["used_memory"] == "" {
			continue
		}
		if info["role"] != "" && info["role"] != "master" {
			// Replicas count expiries and hits of their own; the primaries
			// are the cache's view. They still matter for clients and memory
			// on failover, when the role changes and this picks them up.
			continue
		}
		c.ok = true
		de, dx := c.observeCounters(node, info)
		dEvicted += de
		dExpired += dx
		c.observeCPU(node, info)
		u, _ := strconv.ParseInt(info["used_memory"], 10, 64)
		used += u
		if p, _ := strconv.ParseInt(info["used_memory_peak"], 10, 64); p > c.peak {
			c.peak = p
		}
		m, _ := strconv.ParseInt(info["maxmemory"], 10, 64)
		maxm += m
		cl, _ := strconv.ParseInt(info["connected_clients"], 10, 64)
		clients += cl
		cm, _ := strconv.ParseInt(info["mem_clients_normal"], 10, 64)
		clientsMem += cm
		k, _ := redistext.Keyspace(info)
		keys += k
		if v := info["maxmemory_policy"]; v != "" {
			c.policy = v
		}
		if v := info["redis_version"]; v != "" {
			c.version = v
		}
	}
	c.usedMemory, c.maxm, c.clients, c.keys, c.clientsMem = used, maxm, clients, keys, clientsMem
	return dEvicted, dExpired
}

// observeCounters adds one primary's cumulative counters since its last
// INFO and returns its deltas of evicted and expired keys.
func (c *serverCounters) observeCounters(node string, info map[string]string) (dEvicted, dExpired uint64) {
	last := c.last[node]
	if last == nil {
		last = map[string]uint64{}
		c.last[node] = last
	}
	evicted0, expired0 := c.evicted, c.expired
	dst := c.counters()
	for _, f := range counterFields {
		v, _ := strconv.ParseUint(info[f], 10, 64)
		d := v
		if prev, seen := last[f]; seen && v >= prev {
			d = v - prev
		} else if !seen {
			d = v // the first sight counts from the node's start
		}
		last[f] = v
		*dst[f] += d
	}
	return c.evicted - evicted0, c.expired - expired0
}

// observeCPU adds one primary's CPU time since its last INFO.
func (c *serverCounters) observeCPU(node string, info map[string]string) {
	cpu, ok := redisCPU(info)
	if !ok {
		return
	}
	prev, seen := c.lastCPU[node]
	switch {
	case seen && cpu >= prev:
		c.dCPU += cpu - prev
	case seen:
		c.dCPU += cpu // restarted: its CPU counts from zero
	}
	c.lastCPU[node] = cpu
}

// redisCPU is a node's own CPU time in seconds (main thread and its
// background threads, user and system), from INFO cpu.
func redisCPU(info map[string]string) (float64, bool) {
	sys, err1 := strconv.ParseFloat(info["used_cpu_sys"], 64)
	user, err2 := strconv.ParseFloat(info["used_cpu_user"], 64)
	return sys + user, err1 == nil && err2 == nil
}

// Sample is what the harness reports once per sampling interval to
// progress displays and live metrics.
type Sample struct {
	Row      result.TimelineRow
	Interval *hdrhistogram.Histogram // latency of the interval from intended start (µs)
	Service  *hdrhistogram.Histogram // the interval's service time, send to reply (µs)
	// FamilyLatency is each key family's latency in the interval, by
	// name (families with no operation in it are absent).
	FamilyLatency map[string]*hdrhistogram.Histogram
	Elapsed       time.Duration
	Total         time.Duration
	Phase         string
	// Totals so far over recorded phases.
	Requests uint64
	HitRate  float64
	Errors   uint64
}

// familyLatency names an interval's per-family histograms.
func (s *sampler) familyLatency(iv engine.Interval) map[string]*hdrhistogram.Histogram {
	var out map[string]*hdrhistogram.Histogram
	for i, h := range iv.ByFamily {
		if h != nil && i < len(s.families) {
			if out == nil {
				out = map[string]*hdrhistogram.Histogram{}
			}
			out[s.families[i]] = h
		}
	}
	return out
}

// sampler builds one timeline row per interval.
type sampler struct {
	d    *engine.Driver
	mgr  interface{ Stats() pool.Stats }
	info infoSource
	// families names the key families by workload.Family.Index, for the
	// rows' hit rate per family.
	families []string
	server   serverCounters
	lastPool pool.PoolStats
	// faults names the faults active during an interval (from, to].
	faults func(from, to time.Duration) string
	rows   []result.TimelineRow
	// dials[i] is the manager's cumulative connection attempts when rows[i]
	// was taken, for counting reconnects per fault.
	dials []uint64
	// conns[i] is the servers' cumulative connections received at rows[i].
	conns []uint64
	lastT time.Duration
	// evictedBefore counts what Redis evicted before the run (during a
	// prefill), for the miss-cause cross-check only.
	evictedBefore uint64
	// recorded totals, updated each interval for progress displays
	reqs, hits, misses, lookupErrs, errs uint64
	// origin counts the simulated upstream's calls (nil: none);
	// lastOrigin is its total at the last row.
	origin     interface{ Calls() uint64 }
	lastOrigin uint64
	// cmp folds old rows of a long run (compact.go).
	cmp compactor
	// sweep bounds the miss ledger (workload.Ledger.Sweep), called at the
	// compaction's pace: once a minute.
	sweep func(now time.Time)
}

func (s *sampler) sample(ctx context.Context, now time.Time) (result.TimelineRow, engine.Interval) {
	iv := s.d.Recorder().TakeInterval()
	c, h := iv.Counts, iv.Latency
	elapsed := now.Sub(s.d.Start())
	ph := s.d.Phase()
	row := result.TimelineRow{
		T:             roundS(elapsed.Seconds()),
		Phase:         ph.Name,
		Ops:           c.Ops,
		ErrorsByKind:  c.Errors,
		Late:          c.Late,
		Dropped:       c.Dropped,
		Abandoned:     c.Abandoned,
		Active:        s.d.Active(),
		HitRateByTier: map[string]float64{},
		MissesByCause: map[string]uint64{},
	}
	sum := result.Summarize(h)
	row.P50, row.P99, row.P999, row.Max = sum.P50, sum.P99, sum.P999, sum.Max
	row.LatencyHist = result.NewWindowHist(h)
	s.lookups(&row, &c)

	st := s.mgr.Stats()
	ps := st.Pool
	row.PoolTotal, row.PoolIdle = uint64(ps.TotalConns), uint64(ps.IdleConns)
	row.PoolTimeouts = uint64(delta32(ps.Timeouts, s.lastPool.Timeouts))
	row.PoolWaitMs = float64(ps.WaitDurationNs-s.lastPool.WaitDurationNs) / 1e6
	if row.PoolWaitMs < 0 {
		row.PoolWaitMs = 0
	}
	s.lastPool = ps

	if s.info != nil {
		ictx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		all, err := s.info.InfoAll(ictx, "")
		cancel()
		if err == nil || len(all) > 0 {
			// INFO answers a little after the tick: its counters are as
			// of the reply, which a fault injected at the tick may already
			// have moved.
			row.InfoT = roundS(time.Since(s.d.Start()).Seconds())
			row.EvictedKeys, row.ExpiredKeys = s.server.observe(all)
			row.ServerCPUS, row.ServerCommands = roundUs(s.server.dCPU), s.server.dCommands
			row.ServerNetOutBytes = s.server.dNetOut
		}
		row.UsedMemory, row.MaxMemory, row.ConnectedClients = s.server.usedMemory, s.server.maxm, s.server.clients
		row.ClientsMemory = s.server.clientsMem
	}
	if s.faults != nil {
		row.Fault = s.faults(s.lastT, elapsed)
	}
	if s.origin != nil {
		calls := s.origin.Calls()
		row.OriginCalls = calls - min(s.lastOrigin, calls)
		s.lastOrigin = calls
	}
	s.lastT = elapsed
	if ph.Recorded {
		s.reqs += c.Ops
		s.hits += row.Hits
		s.misses += row.Misses
		s.lookupErrs += row.LookupErrors
		s.errs += row.Errors
	}
	s.rows = append(s.rows, row)
	s.dials = append(s.dials, st.Dials)
	s.conns = append(s.conns, s.server.connsReceived)
	if s.cmp.noteRow(&row) {
		s.compact()
		if s.sweep != nil {
			s.sweep(now)
		}
	}
	return row, iv
}

// lookups puts an interval's errors and lookups into its row: by tier,
// misses by cause, by family, and the hit rates.
func (s *sampler) lookups(row *result.TimelineRow, c *engine.Counts) {
	for _, n := range c.Errors {
		row.Errors += n
	}
	for t, name := range engine.TierNames {
		row.Hits += c.Hits[t]
		row.Misses += c.Misses[t]
		row.LookupErrors += c.LookupErrs[t]
		if c.Hits[t]+c.Misses[t]+c.LookupErrs[t] > 0 {
			row.HitRateByTier[name] = result.LookupHitRate(c.Hits[t], c.Misses[t], c.LookupErrs[t])
		}
		for k := range c.Causes[t] {
			if n := c.Causes[t][k]; n > 0 {
				row.MissesByCause[workload.MissCause(k).String()] += n
			}
		}
	}
	row.HitRate = result.LookupHitRate(row.Hits, row.Misses, row.LookupErrors)
	for i, f := range c.Fams {
		if f.Hits+f.Misses+f.LookupErrs > 0 && i < len(s.families) {
			if row.HitRateByFamily == nil {
				row.HitRateByFamily = map[string]float64{}
			}
			row.HitRateByFamily[s.families[i]] = result.LookupHitRate(f.Hits, f.Misses, f.LookupErrs)
		}
	}
}

func delta32(cur, prev uint32) uint32 {
	if cur >= prev {
		return cur - prev
	}
	return cur
}

// roundUs rounds seconds to the microsecond.
func roundUs(v float64) float64 { return math.Round(v*1e6) / 1e6 }

func roundS(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

// prime reads INFO once and forgets the counters it saw, so what happened
// before the run (a prefill's evictions) is not counted in it.
func (s *sampler) prime(ctx context.Context) {
	if s.info == nil {
		return
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if all, _ := s.info.InfoAll(ictx, ""); len(all) > 0 {
		s.server.observe(all)
		last, before := s.server.last, s.server.evicted
		s.server = serverCounters{last: last, peak: s.server.peak}
		s.evictedBefore = before
	}
}
