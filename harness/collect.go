package harness

import (
	"fmt"
	"sort"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// collect puts the run into its result, one section at a time: the
// recorder's totals (latency, cache, users, phases), the manager's pool, the
// sampler's server counters, the origin simulator, the run's environment
// (the tool itself, Redis's own latency) and the faults' measures.
func (r *run) collect() {
	res := r.res
	res.DurationS = roundS(r.end.Sub(r.d.Start()).Seconds())
	res.Interrupted = r.interrupted
	res.Timeline = r.smp.rows
	if note := r.smp.cmp.compactNote(); note != "" {
		res.Notes = append(res.Notes, note)
	}
	c, h := r.d.Recorder().Totals()
	r.collectLatency(h)
	r.collectCache(c)
	r.collectPool()
	r.collectServer()
	r.collectUsers(c)
	r.collectOrigin()
	r.collectPhases()
	fillRunEnvironment(res, r.dep, r.client)
	r.collectFaults()
	r.bots.Report(res, c)
	if r.interrupted {
		res.Notes = append(res.Notes, fmt.Sprintf("interrupted after %.1fs of %s: figures cover only what ran", res.DurationS, r.total))
	}
}

// collectLatency summarises the recorded latency histograms (overall,
// service, per operation, tier and key family, whole bot commands) and stores them
// encoded, so reports can be merged.
func (r *run) collectLatency(h *engine.Hists) {
	res := r.res
	res.HDR = map[string]string{}
	res.Latency = result.LatencyReport{
		Overall: result.Summarize(h.Overall),
		Service: result.Summarize(h.Service),
		ByOp:    map[string]result.Summary{},
		ByTier:  map[string]result.Summary{},
		ByPhase: map[string]result.Summary{},
	}
	_ = res.SetHDR("overall", h.Overall)
	_ = res.SetHDR("service", h.Service)
	_ = res.SetHDR("command", h.Command)
	for i, name := range engine.OpNames {
		if h.ByOp[i].TotalCount() > 0 {
			res.Latency.ByOp[name] = result.Summarize(h.ByOp[i])
			_ = res.SetHDR("op:"+name, h.ByOp[i])
		}
	}
	for i, name := range engine.TierNames {
		if h.ByTier[i].TotalCount() > 0 {
			res.Latency.ByTier[name] = result.Summarize(h.ByTier[i])
			_ = res.SetHDR("tier:"+name, h.ByTier[i])
		}
	}
	if h.Command.TotalCount() > 0 {
		res.Latency.ByOp["command"] = result.Summarize(h.Command)
	}
	for i, f := range r.model.Families() {
		if i < len(h.ByFamily) && h.ByFamily[i] != nil && h.ByFamily[i].TotalCount() > 0 {
			if res.Latency.ByFamily == nil {
				res.Latency.ByFamily = map[string]result.Summary{}
			}
			res.Latency.ByFamily[f.Name] = result.Summarize(h.ByFamily[i])
			_ = res.SetHDR("family:"+f.Name, h.ByFamily[i])
		}
	}
}

// collectCache counts hits, misses and failed lookups, misses by cause, per
// tier and per key family.
func (r *run) collectCache(c engine.Counts) {
	cache := result.CacheReport{CacheCounts: result.CacheCounts{MissesByCause: map[string]uint64{}},
		ByTier: map[string]result.CacheCounts{}, ByFamily: map[string]result.CacheCounts{}}
	for t, name := range engine.TierNames {
		cc := result.CacheCounts{Hits: c.Hits[t], Misses: c.Misses[t], LookupErrors: c.LookupErrs[t], MissesByCause: map[string]uint64{}}
		for k, n := range c.Causes[t] {
			cc.MissesByCause[workload.MissCause(k).String()] = n
		}
		cc.SetRates()
		cache.CacheCounts.Merge(cc) // the whole is the tiers' sum
		if cc.Hits+cc.Misses+cc.LookupErrors > 0 {
			cache.ByTier[name] = cc
		}
	}
	cache.SetRates()
	for i, f := range r.model.Families() {
		fc := &c.Fams[i]
		if fc.Hits+fc.Misses+fc.LookupErrs == 0 {
			continue
		}
		cc := result.CacheCounts{Hits: fc.Hits, Misses: fc.Misses, LookupErrors: fc.LookupErrs, MissesByCause: map[string]uint64{}}
		for k, n := range fc.Causes {
			cc.MissesByCause[workload.MissCause(k).String()] = n
		}
		cc.SetRates()
		cache.ByFamily[f.Name] = cc
	}
	r.res.Cache = cache
}

// collectPool reads the manager's go-redis pool statistics, its resolved
// (redacted) configuration and its hook's latency per Redis command.
func (r *run) collectPool() {
	st := r.managers().Stats()
	r.res.Pool = result.PoolReport{
		Timeouts:   uint64(st.Pool.Timeouts),
		Hits:       uint64(st.Pool.Hits),
		Misses:     uint64(st.Pool.Misses),
		TotalConns: uint64(st.Pool.TotalConns),
		IdleConns:  uint64(st.Pool.IdleConns),
		StaleConns: uint64(st.Pool.StaleConns),
		WaitCount:  uint64(st.Pool.WaitCount),
		WaitMs:     float64(st.Pool.WaitDurationNs) / 1e6,
		Config:     r.pcfg.Redacted(),
	}
	// Every instance's commands, merged by command (the reports' range,
	// so shards merge).
	byCmd := map[string]*hdrhistogram.Histogram{}
	var cmds []string
	for _, m := range r.managers() {
		for _, cl := range m.CommandLatencies() {
			h := byCmd[cl.Command]
			if h == nil {
				h = result.NewHistogram()
				byCmd[cl.Command] = h
				cmds = append(cmds, cl.Command)
			}
			h.Merge(cl.Hist)
		}
	}
	for _, cmd := range cmds {
		h := byCmd[cmd]
		if h.TotalCount() == 0 {
			continue
		}
		if r.res.Pool.CommandLatency == nil {
			r.res.Pool.CommandLatency = map[string]result.Summary{}
		}
		r.res.Pool.CommandLatency[cmd] = result.Summarize(h)
		_ = r.res.SetHDR("pool_command:"+cmd, h)
	}
}

// collectServer copies the sampler's INFO counters (summed across
// restarts) and cross-checks the ledger's miss causes against them.
func (r *run) collectServer() {
	res := r.res
	sv := &r.smp.server
	res.Server = result.ServerReport{
		EvictedKeys: sv.evicted, ExpiredKeys: sv.expired, UsedMemory: sv.usedMemory, UsedMemoryPeak: sv.peak,
		MaxMemory: sv.maxm, MaxMemoryPolicy: sv.policy, RejectedConnections: sv.rejected,
		KeyspaceHits: sv.keyspaceHits, KeyspaceMisses: sv.kMisses, HitRate: result.HitRate(sv.keyspaceHits, sv.kMisses),
		ConnectedClients: sv.clients, RedisVersion: sv.version, Keys: sv.keys,
	}
	if !sv.ok {
		res.Notes = append(res.Notes, "redis INFO could not be read: server figures are missing")
	} else {
		res.Notes = append(res.Notes, crossCheck(res.Cache.MissesByCause, sv.evicted+r.smp.evictedBefore, sv.expired)...)
	}
}

// collectUsers counts the load: users, requests and commands, late,
// dropped and abandoned ones, errors and value checks.
func (r *run) collectUsers(c engine.Counts) {
	res := r.res
	var recordedS float64
	for _, p := range r.phases {
		if p.Recorded {
			recordedS += p.End.Seconds() - p.Start.Seconds()
		}
	}
	res.Users = result.UsersReport{
		Population:         int64(r.s.Workload.Population),
		Active:             peakRecordedUsers(r.plans),
		Requests:           c.Ops,
		Commands:           c.Commands,
		Late:               c.Late,
		LateWaitingForSlot: c.LateSlot,
		Dropped:            c.Dropped,
		Abandoned:          c.Abandoned,
	}
	if recordedS > 0 {
		res.Users.OpsPerSec = float64(int64(float64(c.Ops)/recordedS*10)) / 10
	}
	r.collectProducers(c, recordedS)
	res.Errors = c.Errors
	res.Integrity = result.IntegrityReport{Checked: c.Checked, Mismatches: c.Mismatches}
}

// collectProducers says which of the load was the families' producers'
// (writers that are not users) and which the users': each producer's
// schedule, operation and writes, and the users' share of the requests;
// a note carries the same in words for the console and the other formats,
// and one per family written whole says how (the scenario's write mode).
func (r *run) collectProducers(c engine.Counts, recordedS float64) {
	u := &r.res.Users
	inval := r.model.Features().Invalidation
	produced := uint64(0)
	var words []string
	for _, f := range r.model.Families() {
		if w := f.WholeWrite(); w != "" {
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("family %s writes its whole value (write: %s): %s", f.Name, f.Write, w))
		}
		if f.Producer == nil {
			continue
		}
		fc := c.Fams[f.Index]
		p := result.ProducerReport{Schedule: f.Producer.String(), Write: f.WriteOp(inval), Writes: fc.Produced,
			Errors: fc.ProducedErrs, Late: fc.ProducedLate, Dropped: fc.ProducedDropped}
		if recordedS > 0 {
			p.WritesPerSec = float64(int64(float64(fc.Produced)/recordedS*10)) / 10
		}
		if u.Producers == nil {
			u.Producers = map[string]result.ProducerReport{}
		}
		u.Producers[f.Name] = p
		produced += fc.Produced
		words = append(words, fmt.Sprintf("%s %s (%s): %d writes, %.1f/s", f.Name, p.Schedule, p.Write, p.Writes, p.WritesPerSec))
	}
	if u.Producers == nil {
		return
	}
	u.UserRequests = u.Requests - min(produced, u.Requests)
	r.res.Notes = append(r.res.Notes, fmt.Sprintf("producers (writers that are not users) sent %d of the %d requests, the users %d: %s",
		produced, u.Requests, u.UserRequests, strings.Join(words, "; ")))
}

// peakRecordedUsers is the most users planned to be active at once in the
// recorded phases (this shard's share): the load a report is judged at. The
// timeline's active is the per-second figure.
func peakRecordedUsers(plans []workload.PhasePlan) int {
	n := 0
	for _, p := range plans {
		if p.Record {
			n = max(n, p.UsersStart, p.UsersEnd)
		}
	}
	return n
}

// collectOrigin reports the simulated upstreams: calls, errors, latency.
func (r *run) collectOrigin() {
	r.res.Origin = map[string]result.OriginReport{}
	for src, os := range r.model.Origin().Stats() {
		or := result.OriginReport{Calls: os.Calls, Errors: os.Errors}
		if os.Latency != nil {
			or.Latency = result.Summarize(os.Latency)
		}
		r.res.Origin[src] = or
	}
}

// collectPhases reports each phase's requests, hit rate, errors and
// latency, in the order they ran.
func (r *run) collectPhases() {
	res := r.res
	for i, p := range r.phases {
		pc, ph := r.d.Recorder().PhaseTotals(i)
		var hits, misses, lookupErrs, errs uint64
		for t := range engine.TierNames {
			hits += pc.Hits[t]
			misses += pc.Misses[t]
			lookupErrs += pc.LookupErrs[t]
		}
		for _, n := range pc.Errors {
			errs += n
		}
		pr := result.PhaseReport{
			Name: p.Name, StartS: p.Start.Seconds(), EndS: p.End.Seconds(), Recorded: p.Recorded,
			Requests: pc.Ops, Hits: hits, Misses: misses, LookupErrors: lookupErrs, HitRate: result.LookupHitRate(hits, misses, lookupErrs),
			Latency: result.Summarize(ph), Errors: errs,
		}
		res.Phases = append(res.Phases, pr)
		if ph.TotalCount() > 0 {
			res.Latency.ByPhase[p.Name] = pr.Latency
			_ = res.SetHDR("phase:"+p.Name, ph)
		}
	}
	sort.SliceStable(res.Phases, func(i, j int) bool { return res.Phases[i].StartS < res.Phases[j].StartS })
}

// collectFaults measures every fault occurrence against the timeline and
// adds the lost-write checks to the integrity section. Without faults it
// does nothing.
func (r *run) collectFaults() {
	if r.runner == nil {
		return
	}
	res, smp := r.res, r.smp
	evs := r.runner.Events()
	m := chaos.Measurement{Rows: smp.rows, Activity: r.activity, Dials: smp.dials, ServerConns: smp.conns, RunEnd: r.end.Sub(r.d.Start())}
	m.LatencyP99Ms, m.HitRateTarget = faultTargets(r.s.TargetSpecs())
	res.Faults = m.Reports(evs)
	lost, unknown, tracked := chaos.Integrity(evs)
	res.Integrity.LostWrites += lost
	res.Integrity.UnknownWrites += unknown
	res.Integrity.WritesTracked += tracked
	if by := chaos.MissingByCause(evs); by != nil {
		res.Integrity.MissingByCause = map[string]uint64{}
		for c, n := range by {
			res.Integrity.MissingByCause[string(c)] = n
		}
	}
	// Every planned occurrence is an event, started or not; the ones that
	// never started are in res.Faults with injected: false.
	started := 0
	for _, ev := range evs {
		if !ev.NotStarted {
			started++
		}
	}
	if started < len(evs) {
		res.Notes = append(res.Notes, fmt.Sprintf("%d of %d planned fault occurrences started before the run ended; the others are listed with injected: false", started, len(evs)))
	}
}

// crossCheck compares the ledger's miss causes with Redis's own counters.
// A miss the ledger calls evicted when Redis evicted nothing means the
// ledger and the server disagree (a flush or restart the harness did not
// cause, another client deleting keys); that is worth a line in the report.
// The reverse is normal: not every evicted or expired key is read again.
func crossCheck(causes map[string]uint64, evicted, expired uint64) []string {
	var out []string
	if n := causes["evicted"]; n > 0 && evicted == 0 {
		out = append(out, fmt.Sprintf("cross-check: %d misses look evicted (written, TTL not passed, gone) but Redis evicted no key: something else removed them (another client, a flush, a restart, or a demoted primary's resync discarding its writes after a split brain)", n))
	}
	if n := causes["expired"]; n > 0 && expired == 0 {
		out = append(out, fmt.Sprintf("cross-check: %d misses look expired but Redis expired no key", n))
	}
	return out
}
