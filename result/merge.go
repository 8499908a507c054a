package result

import (
	"fmt"
	"math"
	"slices"
)

// How shard reports combine, beside the types they combine: report.Merge
// aligns the shards (clock, phases, faults) and calls these, then
// recomputes what is derived (rates, summaries from the merged histograms)
// through Finalize. Each counter is summed (each shard counted its own
// share), taken at its largest (one Redis behind every shard: each read the
// same counter) or recomputed; the metric table's Combine says which for
// every metric, and TestMergeReachesEveryCounter fails when a counter field
// is reached by no rule here.

// MergeCounters adds shard o's counters to r: cache, errors, pool, server,
// users, integrity, layer and origin. Histograms, timelines, phases and
// faults are merged by the caller, which aligns them on the shards' clocks.
func (r *Result) MergeCounters(o *Result) {
	r.Cache.Merge(o.Cache)
	if len(o.Errors) > 0 && r.Errors == nil {
		r.Errors = map[string]uint64{}
	}
	addCounts(r.Errors, o.Errors)
	r.Pool.Merge(o.Pool)
	r.Server.Merge(o.Server)
	r.Users.Merge(o.Users)
	r.Integrity.Merge(o.Integrity)
	if o.Layer != nil {
		if r.Layer == nil {
			r.Layer = &LayerReport{NearCache: NearCacheReport{ByFamily: map[string]NearCounts{}}}
		}
		r.Layer.Merge(o.Layer)
	}
	for k, x := range o.Origin {
		if r.Origin == nil {
			r.Origin = map[string]OriginReport{}
		}
		m := r.Origin[k]
		_, hist := o.HDR["origin:"+k]
		m.Merge(x, hist)
		r.Origin[k] = m
	}
}

// Merge adds o's lookups (sum); the rates are recomputed by Finalize.
func (c *CacheCounts) Merge(o CacheCounts) {
	c.Hits += o.Hits
	c.Misses += o.Misses
	c.LookupErrors += o.LookupErrors
	c.MissesByCause = addCountsNew(c.MissesByCause, o.MissesByCause)
}

// Merge adds o's lookups, overall, per tier and per family.
func (c *CacheReport) Merge(o CacheReport) {
	c.CacheCounts.Merge(o.CacheCounts)
	c.ByTier = mergeCounts(c.ByTier, o.ByTier)
	c.ByFamily = mergeCounts(c.ByFamily, o.ByFamily)
}

func mergeCounts(dst, src map[string]CacheCounts) map[string]CacheCounts {
	if len(src) > 0 && dst == nil {
		dst = map[string]CacheCounts{}
	}
	for k, c := range src {
		d := dst[k]
		d.Merge(c)
		dst[k] = d
	}
	return dst
}

// Merge adds o's pool counters: each shard ran its own pools. Config is
// the caller's (the first shard's); command latency comes from the merged histograms.
func (p *PoolReport) Merge(o PoolReport) {
	p.Timeouts += o.Timeouts
	p.Hits += o.Hits
	p.Misses += o.Misses
	p.TotalConns += o.TotalConns
	p.IdleConns += o.IdleConns
	p.StaleConns += o.StaleConns
	p.WaitCount += o.WaitCount
	p.WaitMs += o.WaitMs
}

// Merge takes the largest of each figure: one Redis behind all shards, so
// its counters are shared, not additive.
func (s *ServerReport) Merge(o ServerReport) {
	s.EvictedKeys = max(s.EvictedKeys, o.EvictedKeys)
	s.ExpiredKeys = max(s.ExpiredKeys, o.ExpiredKeys)
	s.UsedMemory = max(s.UsedMemory, o.UsedMemory)
	s.UsedMemoryPeak = max(s.UsedMemoryPeak, o.UsedMemoryPeak)
	s.MaxMemory = max(s.MaxMemory, o.MaxMemory)
	if s.MaxMemoryPolicy == "" {
		s.MaxMemoryPolicy = o.MaxMemoryPolicy
	}
	s.RejectedConnections = max(s.RejectedConnections, o.RejectedConnections)
	s.KeyspaceHits = max(s.KeyspaceHits, o.KeyspaceHits)
	s.KeyspaceMisses = max(s.KeyspaceMisses, o.KeyspaceMisses)
	s.ConnectedClients = max(s.ConnectedClients, o.ConnectedClients)
	if s.RedisVersion == "" {
		s.RedisVersion = o.RedisVersion
	}
	s.Keys = max(s.Keys, o.Keys)
	for cmd, l := range o.LatencyStats {
		// Every shard read the same server's statistics; the one with the
		// most calls saw the longest stretch of the load.
		if s.LatencyStats == nil {
			s.LatencyStats = map[string]ServerLatency{}
		}
		if have, ok := s.LatencyStats[cmd]; !ok || l.Calls > have.Calls {
			s.LatencyStats[cmd] = l
		}
	}
	if o.Commands > s.Commands {
		// Redis's CPU per command: the shard that saw the most of it.
		s.CPUSeconds, s.Commands, s.CPUPerCommandUs = o.CPUSeconds, o.Commands, o.CPUPerCommandUs
	}
}

// Merge adds o's share of the load; the population is every shard's whole
// one (checked equal by the caller), ops/s is recomputed by Finalize.
func (u *UsersReport) Merge(o UsersReport) {
	u.Population = o.Population
	u.Active += o.Active
	u.Requests += o.Requests
	u.Commands += o.Commands
	u.Late += o.Late
	u.LateWaitingForSlot += o.LateWaitingForSlot
	u.Dropped += o.Dropped
	u.Abandoned += o.Abandoned
	u.UserRequests += o.UserRequests
	for name, p := range o.Producers {
		if u.Producers == nil {
			u.Producers = map[string]ProducerReport{}
		}
		have := u.Producers[name]
		have.Schedule, have.Write = p.Schedule, p.Write
		have.Writes += p.Writes
		have.Errors += p.Errors
		have.Late += p.Late
		have.Dropped += p.Dropped
		have.WritesPerSec += p.WritesPerSec // shards run at once: their rates add
		u.Producers[name] = have
	}
}

// Merge adds o's checks: each shard checked its own writes and values.
func (in *IntegrityReport) Merge(o IntegrityReport) {
	in.Checked += o.Checked
	in.Mismatches += o.Mismatches
	in.LostWrites += o.LostWrites
	in.UnknownWrites += o.UnknownWrites
	in.WritesTracked += o.WritesTracked
	if len(o.MissingByCause) > 0 {
		if in.MissingByCause == nil {
			in.MissingByCause = map[string]uint64{}
		}
		addCounts(in.MissingByCause, o.MissingByCause)
	}
}

// Merge adds one shard's layer section: each shard ran its own bot
// instances (listed after the others'), so counts add up; the invalidation
// lag keeps the slowest shard's distribution (no histogram is stored for
// it), and warming runs are all kept.
func (ml *LayerReport) Merge(l *LayerReport) {
	base := ml.Instances
	ml.Instances += l.Instances
	for _, in := range l.ByInstance {
		in.Instance += base
		ml.ByInstance = append(ml.ByInstance, in)
	}
	ml.RateLimit.Allowed += l.RateLimit.Allowed
	ml.RateLimit.Denied += l.RateLimit.Denied
	ml.RateLimit.SkippedOps += l.RateLimit.SkippedOps
	ml.CAS.Conflicts += l.CAS.Conflicts
	ml.CAS.GaveUp += l.CAS.GaveUp
	iv := &ml.Invalidate
	iv.Published += l.Invalidate.Published
	iv.Expected += l.Invalidate.Expected
	iv.Received += l.Invalidate.Received
	iv.CopiesDropped += l.Invalidate.CopiesDropped
	if l.Invalidate.LagMs.P99 > iv.LagMs.P99 {
		iv.LagMs = l.Invalidate.LagMs
	}
	nc := &ml.NearCache
	nc.TTLS, nc.GraceMs = l.NearCache.TTLS, l.NearCache.GraceMs
	for _, f := range l.NearCache.Families {
		if !containsStr(nc.Families, f) {
			nc.Families = append(nc.Families, f)
		}
	}
	nc.Hits += l.NearCache.Hits
	nc.Misses += l.NearCache.Misses
	nc.StaleReads += l.NearCache.StaleReads
	nc.StaleInFlight += l.NearCache.StaleInFlight
	if len(l.NearCache.ByFamily) > 0 && nc.ByFamily == nil {
		nc.ByFamily = map[string]NearCounts{}
	}
	for k, c := range l.NearCache.ByFamily {
		mc := nc.ByFamily[k]
		mc.Hits += c.Hits
		mc.Misses += c.Misses
		mc.StaleReads += c.StaleReads
		mc.StaleInFlight += c.StaleInFlight
		nc.ByFamily[k] = mc
	}
	for _, w := range l.Warming {
		w.Instance += base
		ml.Warming = append(ml.Warming, w)
	}
}

// Merge adds o's calls of one upstream; without a stored histogram
// (hist false) the latency is the worst shard's, else it is read from the
// merged histogram afterwards.
func (m *OriginReport) Merge(o OriginReport, hist bool) {
	m.Calls += o.Calls
	m.Errors += o.Errors
	if !hist && o.Latency.P99 > m.Latency.P99 {
		m.Latency = o.Latency
	}
}

// Merge combines the same second of two shards: counters add up, server
// figures (one Redis) take the largest, per-second percentiles the worst
// shard (an upper bound: per-second histograms are not stored, only the
// coarse WindowHist, which adds up). HitRateByTier and HitRateByFamily are
// summed; the caller divides by the shards that had each tier or family,
// and recomputes HitRate.
func (d *TimelineRow) Merge(row TimelineRow) {
	d.Ops += row.Ops
	d.Errors += row.Errors
	d.ErrorsByKind = addCountsNew(d.ErrorsByKind, row.ErrorsByKind)
	d.P50 = math.Max(d.P50, row.P50)
	d.P99 = math.Max(d.P99, row.P99)
	d.P999 = math.Max(d.P999, row.P999)
	d.Max = math.Max(d.Max, row.Max)
	d.LatencyHist = d.LatencyHist.Add(row.LatencyHist)
	d.Hits += row.Hits
	d.Misses += row.Misses
	d.LookupErrors += row.LookupErrors
	for k, v := range row.HitRateByTier {
		if d.HitRateByTier == nil {
			d.HitRateByTier = map[string]float64{}
		}
		d.HitRateByTier[k] += v
	}
	for k, v := range row.HitRateByFamily {
		if d.HitRateByFamily == nil {
			d.HitRateByFamily = map[string]float64{}
		}
		d.HitRateByFamily[k] += v
	}
	d.MissesByCause = addCountsNew(d.MissesByCause, row.MissesByCause)
	d.EvictedKeys = max(d.EvictedKeys, row.EvictedKeys)
	d.ExpiredKeys = max(d.ExpiredKeys, row.ExpiredKeys)
	d.UsedMemory = max(d.UsedMemory, row.UsedMemory)
	d.MaxMemory = max(d.MaxMemory, row.MaxMemory)
	d.ConnectedClients = max(d.ConnectedClients, row.ConnectedClients)
	d.ClientsMemory = max(d.ClientsMemory, row.ClientsMemory)
	d.ServerCPUS = math.Max(d.ServerCPUS, row.ServerCPUS)
	d.ServerCommands = max(d.ServerCommands, row.ServerCommands)
	d.ServerNetOutBytes = max(d.ServerNetOutBytes, row.ServerNetOutBytes) // one Redis: the same counter
	d.OriginCalls += row.OriginCalls                                      // each shard's own origin
	d.InfoT = math.Max(d.InfoT, row.InfoT)
	d.SpanS = math.Max(d.SpanS, row.SpanS)
	d.PoolTotal += row.PoolTotal
	d.PoolIdle += row.PoolIdle
	d.PoolTimeouts += row.PoolTimeouts
	d.PoolWaitMs += row.PoolWaitMs
	d.Active += row.Active
	d.Late += row.Late
	d.Dropped += row.Dropped
	d.Abandoned += row.Abandoned
}

// Merge combines one phase of two shards (already on one clock): its span
// covers both, counts add up, the latency is the worst shard's until the
// caller reads it from the merged phase histogram.
func (d *PhaseReport) Merge(p PhaseReport) {
	d.StartS = math.Min(d.StartS, p.StartS)
	d.EndS = math.Max(d.EndS, p.EndS)
	d.Requests += p.Requests
	d.Hits += p.Hits
	d.Misses += p.Misses
	d.LookupErrors += p.LookupErrors
	d.Errors += p.Errors
	d.Recorded = d.Recorded || p.Recorded
	if p.Latency.P99 > d.Latency.P99 {
		d.Latency = p.Latency
	}
}

// Merge combines what two shards saw of one fault (same kind and node,
// start within 2 s on one clock): errors and writes add up, recovery
// takes the slowest shard, the hit rate the lowest, server-side evictions
// the largest; it counts as injected when any shard injected it.
func (d *FaultReport) Merge(f FaultReport) {
	d.Injected = d.Injected || f.Injected
	d.Planned = max(d.Planned, f.Planned)
	d.StartS = math.Min(d.StartS, f.StartS)
	d.EndS = math.Max(d.EndS, f.EndS)
	d.ErrorsByKind = addCountsNew(d.ErrorsByKind, f.ErrorsByKind)
	d.FirstErrorAfterS = earliest(d.FirstErrorAfterS, f.FirstErrorAfterS)
	d.WorstP99Ms = math.Max(d.WorstP99Ms, f.WorstP99Ms)
	d.WorstMaxMs = math.Max(d.WorstMaxMs, f.WorstMaxMs)
	d.RecoveredAfterS = slowest(d.RecoveredAfterS, f.RecoveredAfterS)
	d.P99RecoveredAfterS = slowest(d.P99RecoveredAfterS, f.P99RecoveredAfterS)
	d.RewarmS = slowest(d.RewarmS, f.RewarmS)
	d.Rewarm90S = slowest(d.Rewarm90S, f.Rewarm90S)
	d.HitsLost += f.HitsLost // each shard's own lookups
	d.HitRateBefore = math.Min(d.HitRateBefore, f.HitRateBefore)
	d.HitRateMin = math.Min(d.HitRateMin, f.HitRateMin)
	d.Evictions = max(d.Evictions, f.Evictions) // server-side: shared
	d.OOMErrors += f.OOMErrors
	d.Reconnects += f.Reconnects
	d.LostWrites += f.LostWrites
	d.UnknownWrites += f.UnknownWrites
	d.AckedAfterStart += f.AckedAfterStart
	if f.CacheMode != nil {
		// A copy: d may share its section with the shard report it came from.
		c := CacheModeReport{HitRateDuring: 1}
		if d.CacheMode != nil {
			c = *d.CacheMode
		}
		c.Merge(*f.CacheMode)
		d.CacheMode = &c
	}
	for _, n := range f.Notes {
		if !containsStr(d.Notes, n) {
			d.Notes = append(d.Notes, n)
		}
	}
}

// Merge combines two shards' figures of one cache failure mode: each
// shard's users, bot instances and origin are its own (lookups, fetches,
// origin calls and instances add up; the peak second is the sum of the
// shards' peaks, an upper bound as the seconds may differ), Redis is
// shared (its CPU and bytes sent: the largest reading), latency is the
// slowest shard's, single-flight held only if it held on every shard.
func (d *CacheModeReport) Merge(o CacheModeReport) {
	if d.Key == "" {
		d.Key = o.Key
	}
	d.Keys = max(d.Keys, o.Keys)
	d.ValueBytes = max(d.ValueBytes, o.ValueBytes)
	if d.ExpireAtS == 0 || (o.ExpireAtS != 0 && o.ExpireAtS < d.ExpireAtS) {
		d.ExpireAtS = o.ExpireAtS
	}
	d.OriginCallsPerSBefore += o.OriginCallsPerSBefore
	d.OriginCallsPeakPerS += o.OriginCallsPeakPerS
	d.OriginCallsPeakAtS = math.Max(d.OriginCallsPeakAtS, o.OriginCallsPeakAtS)
	d.OriginCalls += o.OriginCalls
	first := d.AffectedLookups == 0 && d.Instances == 0
	d.AffectedLookups += o.AffectedLookups
	d.AffectedFetches += o.AffectedFetches
	d.AffectedKeysFetched += o.AffectedKeysFetched
	d.MaxFetchesPerKey = max(d.MaxFetchesPerKey, o.MaxFetchesPerKey)
	d.Instances += o.Instances
	if d.AffectedKeysFetched > 0 {
		d.FetchesPerKey = float64(d.AffectedFetches) / float64(d.AffectedKeysFetched)
	}
	d.SingleFlightHeld = o.SingleFlightHeld && (first || d.SingleFlightHeld)
	d.Affected.merge(o.Affected)
	d.Other.merge(o.Other)
	d.RedisCPUBefore = math.Max(d.RedisCPUBefore, o.RedisCPUBefore)
	d.RedisCPUDuring = math.Max(d.RedisCPUDuring, o.RedisCPUDuring)
	d.NetOutBytesPerSBefore = math.Max(d.NetOutBytesPerSBefore, o.NetOutBytesPerSBefore)
	d.NetOutBytesPerSDuring = math.Max(d.NetOutBytesPerSDuring, o.NetOutBytesPerSDuring)
	d.HitRateDuring = math.Min(d.HitRateDuring, o.HitRateDuring)
}

// merge adds one shard's lookups of a side and keeps the slower figures.
func (d *ModeLatency) merge(o ModeLatency) {
	d.Lookups += o.Lookups
	d.P50Ms = math.Max(d.P50Ms, o.P50Ms)
	d.P99Ms = math.Max(d.P99Ms, o.P99Ms)
	d.MaxMs = math.Max(d.MaxMs, o.MaxMs)
}

// MergeClients is a merged report's client section: every shard's own
// (Shards, with its share of the load) and, at the top, the shards as one
// load generator: CPU, GC cycles and CPUs summed, the worst GC pause, GC
// share, peak RSS and host load, the host timer probes pooled (their
// wake-ups added, as the shards' late starts are), the settings of the
// first shard. A shard the tool or its machine limited names itself in
// Bottleneck, so the merged verdict shows which one. m is the merged
// report, its counters and server already merged.
func MergeClients(m *Result, rs []*Result) ClientReport {
	var c ClientReport
	for i, r := range rs {
		o := r.Client
		name := r.Shard
		if name == "" {
			name = fmt.Sprintf("report %d", i+1)
		}
		sc := ShardClient{Shard: name, Requests: r.Users.Requests, Commands: r.Users.Commands, Late: r.Users.Late,
			Dropped: r.Users.Dropped, GOMAXPROCS: o.GOMAXPROCS, NumCPU: o.NumCPU, WindowS: o.WindowS, CPUSeconds: o.CPUSeconds,
			CPUPerRequestUs: o.CPUPerRequestUs, CPUVsRedis: o.CPUVsRedis, GCPauseP99Ms: o.GCPauseP99Ms, Sched: o.Sched, ReplyWait: o.ReplyWait, PeakRSSBytes: o.PeakRSSBytes,
			HostLoad1m: o.HostLoad1m, HostTimer: o.HostTimer, HostTimerNote: o.HostTimerNote, Bottleneck: o.Bottleneck}
		if r.Users.Commands > 0 {
			sc.LateFraction = float64(r.Users.Late) / float64(r.Users.Commands)
		}
		c.Shards = append(c.Shards, sc)
		if i == 0 {
			c.GOGC, c.GOGCSource, c.GOMEMLIMIT, c.GOMEMLIMITSource = o.GOGC, o.GOGCSource, o.GOMEMLIMIT, o.GOMEMLIMITSource
			c.GOMAXPROCSSource = o.GOMAXPROCSSource
		}
		c.GOMAXPROCS += o.GOMAXPROCS
		c.NumCPU += o.NumCPU
		c.WindowS = math.Max(c.WindowS, o.WindowS)
		c.GCPauseP99Ms = math.Max(c.GCPauseP99Ms, o.GCPauseP99Ms)
		c.GCCycles += o.GCCycles
		c.Sched = worseSched(c.Sched, o.Sched)
		if o.ReplyWait != nil && (c.ReplyWait == nil || o.ReplyWait.WaitP99Ms > c.ReplyWait.WaitP99Ms) {
			// As for Sched: the worst shard's, whose tool waited longest.
			c.ReplyWait = o.ReplyWait
		}
		c.GCCPUFraction = math.Max(c.GCCPUFraction, o.GCCPUFraction)
		c.CPUSeconds += o.CPUSeconds
		c.HostLoad1m = math.Max(c.HostLoad1m, o.HostLoad1m)
		c.PeakRSSBytes = max(c.PeakRSSBytes, o.PeakRSSBytes)
		c.HostTimer = poolHostTimers(c.HostTimer, o.HostTimer)
		if o.HostTimer == nil && o.HostTimerNote != "" && c.HostTimerNote == "" {
			c.HostTimerNote = name + ": " + o.HostTimerNote
		}
		if o.Bottleneck != "" {
			if c.Bottleneck != "" {
				c.Bottleneck += "; "
			}
			c.Bottleneck += "shard " + name + ": " + o.Bottleneck
		}
	}
	if m.Users.Requests > 0 {
		c.CPUPerRequestUs = c.CPUSeconds * 1e6 / float64(m.Users.Requests)
	}
	if m.Server.Commands > 0 && m.Server.CPUSeconds > 0 {
		c.CPUPerRedisCommandUs = c.CPUSeconds * 1e6 / float64(m.Server.Commands)
		c.CPUVsRedis = c.CPUSeconds / m.Server.CPUSeconds
	}
	return c
}

// worseSched is the shard whose scheduling delay was worse at p99: the
// runtime's histograms are not kept, so shards cannot be pooled, and the
// merged verdict must see the worst machine's tool.
func worseSched(a, b *SchedLatency) *SchedLatency {
	if a == nil || (b != nil && b.P99Ms > a.P99Ms) {
		return b
	}
	return a
}

// poolHostTimers adds probe b's wake-ups to a's: the share of late
// wake-ups over every shard's machine, as the shards' late starts add up.
func poolHostTimers(a, b *HostTimer) *HostTimer {
	if b == nil {
		return a
	}
	if a == nil {
		a = &HostTimer{}
	}
	a.Wakes += b.Wakes
	a.Late += b.Late
	a.MaxMs = math.Max(a.MaxMs, b.MaxMs)
	for _, o := range b.Over {
		i := slices.IndexFunc(a.Over, func(x HostTimerBound) bool { return x.OverUs == o.OverUs })
		if i < 0 {
			a.Over = append(a.Over, o)
			continue
		}
		a.Over[i].Wakes += o.Wakes
	}
	if a.Wakes > 0 {
		a.LateFraction = float64(a.Late) / float64(a.Wakes)
	}
	return a
}

// slowest keeps the later recovery; nil (never recovered) wins.
func slowest(a, b *float64) *float64 {
	if a == nil || b == nil {
		return nil
	}
	return Seconds(math.Max(*a, *b))
}

// earliest keeps the earlier time; nil (never happened) loses.
func earliest(a, b *float64) *float64 {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return Seconds(math.Min(*a, *b))
}

func addCounts(dst, src map[string]uint64) {
	for k, v := range src {
		dst[k] += v
	}
}

// addCountsNew adds src to dst, making dst when src has counts.
func addCountsNew(dst, src map[string]uint64) map[string]uint64 {
	if len(src) > 0 && dst == nil {
		dst = map[string]uint64{}
	}
	addCounts(dst, src)
	return dst
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
