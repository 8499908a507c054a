// Package harness wires one cacheproof run: it starts (or reaches) the Redis
// deployment, builds the pooled cache manager under test, drives the
// workload open-loop through it, runs the fault timeline, samples a timeline
// every second and returns a result.Result. It does not parse flags or write
// files; cmd/cacheproof does both.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// Options configure one run. Only Scenario is required.
type Options struct {
	Scenario *scenarios.Scenario
	// RedisServer is the redis-server binary for the process backend ("" =
	// $CACHEPROOF_REDIS_SERVER, then PATH).
	RedisServer string
	// Image overrides the container backend's image.
	Image string
	// AllowDestructive permits faults and server configuration on an
	// external deployment.
	AllowDestructive bool
	// Shard and Shards select the Shard-th of Shards disjoint slices of the
	// population (0 and 0 or 1: everything).
	Shard, Shards int
	// SampleInterval is the timeline resolution (default 1s).
	SampleInterval time.Duration
	// OnSample is called from the sampler goroutine after every interval.
	OnSample func(Sample)
	// LogDir receives every node's log when the run fails.
	LogDir string
	// Logf reports progress ("starting redis-server ..."); nil is silent.
	Logf func(format string, args ...any)
	// Getenv reads the seed's REDIS_* variables (default os.Getenv).
	Getenv func(string) string
	// Version is written into the report's tool section.
	Version string
	// DrainTimeout bounds how long in-flight commands may finish after the
	// schedule ends or the run is interrupted (default 2s).
	DrainTimeout time.Duration
	// FaultSettle is how long after a readonly or failover fault the
	// acknowledged writes are read back (default 1s).
	FaultSettle time.Duration
}

func (o Options) getenv() func(string) string {
	if o.Getenv != nil {
		return o.Getenv
	}
	return os.Getenv
}

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// EnvError marks a failure of the environment rather than of the cache under
// test or the scenario: Redis could not start, Docker is absent, the manager
// could not connect. The command maps it to exit code 3.
type EnvError struct {
	Op  string
	Err error
}

func (e *EnvError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

// ConfigError marks a configuration problem found only when the run is
// wired (a bad REDIS_* variable, a pool setting the profile rejects): exit 2.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "configuration: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run executes the scenario and returns its result. Cancelling ctx stops the
// run early: the result is then marked Interrupted and still complete up to
// that point. An error is returned only when no meaningful result exists
// (Redis never started, bad configuration).
func Run(ctx context.Context, o Options) (res *result.Result, err error) {
	s := o.Scenario
	if s == nil {
		return nil, errors.New("harness: no scenario")
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 2 * time.Second
	}

	// Sharded, a fault that acts on Redis is run by shard 0 alone (n shards
	// share one Redis); the others note it. See chaos.ForShard.
	faults, byShard0 := chaos.ForShard(chaos.FromScenario(s.Faults), o.Shard, o.Shards)
	if s.Target.Backend == "external" && !o.AllowDestructive {
		for _, f := range faults {
			if f.Kind != chaos.KindNetwork {
				return nil, &ConfigError{Err: fmt.Errorf("fault %s would change a Redis this tool does not own: %w", f, topology.ErrDestructive)}
			}
		}
	}

	// Redis.
	spec := topologySpec(s, o)
	o.logf("starting %s %s redis (%s backend)", s.Target.Topology, describeMemory(s), s.Target.Backend)
	dep, err := topology.Start(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted while starting redis: %w", ctx.Err())
		}
		return nil, &EnvError{Op: "start redis", Err: err}
	}
	defer func() {
		if err != nil && o.LogDir != "" {
			_ = dep.KeepLogs(o.LogDir)
		}
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if cerr := dep.Close(cctx); cerr != nil {
			o.logf("stopping redis: %v", cerr)
		}
	}()

	// The cache manager under test, through an in-process proxy for the
	// whole run when a fault will degrade the network.
	ep := dep.Endpoints()
	var network *chaos.Network
	if chaos.NeedsProxy(faults) {
		if network, err = chaos.NewNetwork(ep.Addrs); err != nil {
			return nil, &EnvError{Op: "start the network proxy", Err: err}
		}
		defer network.Close()
		ep.Addrs = network.Addrs(ep.Addrs)
		o.logf("cache manager goes through an in-process proxy: %s", strings.Join(ep.Addrs, ", "))
	}
	pcfg, err := poolConfig(s, ep, o)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	mgr, err := pool.New(ctx, pcfg)
	if err != nil {
		return nil, &EnvError{Op: "connect the cache manager", Err: err}
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if s.Target.Backend == "external" {
			note := cleanupExternal(sctx, mgr, pcfg.KeyPrefix)
			if res != nil {
				res.Notes = append(res.Notes, note)
			}
			o.logf("%s", note)
		}
		_ = mgr.Shutdown(sctx)
	}()

	// The workload.
	wcfg := workloadConfig(s, o)
	model, err := workload.New(wcfg)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	plans, phases := phasePlans(s, o.Shards)
	sched := model.Schedule(plans)

	maxInflight := s.Driver.MaxInflight
	if maxInflight == 0 {
		maxInflight = peakUsers(plans)
	}
	runCtx, abandon := context.WithCancel(context.Background())
	defer abandon()
	d := &driver{
		cache:    mgr,
		origin:   model.Origin(),
		ledger:   workload.NewLedger(),
		rec:      newRecorder(4*runtime.GOMAXPROCS(0), len(phases), len(model.Families())),
		phases:   phases,
		ttl:      familyTTLs(pcfg, model.Families()),
		dropAft:  s.Driver.DropAfter.D(),
		opTmo:    s.Driver.OpTimeout.D(),
		inflight: make(chan struct{}, max(maxInflight, 1)),
		runCtx:   runCtx,
	}
	// Driver versions live in the upper half of the uint32 space so they
	// never equal an origin fill's version of the same key: the lost-write
	// check tells writes apart by version.
	d.version.Store(1 << 31)
	total := s.TotalDuration()
	var runner *chaos.Runner
	if len(faults) > 0 {
		d.activity = chaos.NewActivity(total+o.DrainTimeout+5*time.Second, chaos.DefaultResolution)
		d.writes = chaos.NewWriteTracker()
		runner = chaos.NewRunner(faults, chaos.Options{
			Deployment: dep, Network: network, Tracker: d.writes, Reader: mgr,
			Settle: o.FaultSettle, Total: total, Logf: o.Logf,
			// A node restarted without persistence comes back empty: what
			// the ledger remembers writing is gone, and misses after it are
			// cold (never written since), not evictions.
			OnRestart: func(string) { d.ledger.Reset() },
		})
	}
	smp := &sampler{d: d, mgr: mgr, info: dep}

	// Prefill: replay history so the run starts from a steady-state cache.
	var src source = sched
	var prefillNote string
	if h := s.Workload.Prefill.D(); h > 0 && len(plans) > 0 {
		o.logf("prefill: replaying %s of history to reach a steady-state cache", h)
		history := workload.PhasePlan{Name: "history", Duration: h, UsersStart: plans[0].UsersStart, UsersEnd: plans[0].UsersStart}
		var pr prefillResult
		src, pr, err = prefill(ctx, model.Schedule(append([]workload.PhasePlan{history}, plans...)), h, mgr, d.ledger, d.ttl,
			func() uint32 { return d.version.Add(1) })
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("interrupted during prefill: %w", ctx.Err())
			}
			return nil, &EnvError{Op: "prefill the cache", Err: err}
		}
		prefillNote = fmt.Sprintf("prefill: replayed %s of history (%d commands) and wrote the %d keys alive at its end in %.1fs; server counters start after it", h, pr.commands, pr.keys, pr.took.Seconds())
		o.logf("%s", prefillNote)
		smp.prime(ctx)
	}
	if runner != nil {
		smp.faults = runner.Active
	}

	res = &result.Result{
		SchemaVersion: result.SchemaVersion,
		Tool:          result.ToolInfo{Name: "cacheproof", Version: o.Version, GoVersion: runtime.Version()},
		Scenario: result.ScenarioInfo{
			Name: s.Name, Description: s.Description, File: s.File, Seed: s.Seed,
			Resolved: redactedScenario(s),
		},
	}
	if o.Shards > 1 {
		res.Shard = fmt.Sprintf("%d/%d", o.Shard, o.Shards)
	}
	if len(byShard0) > 0 {
		res.Notes = append(res.Notes, chaos.ShardNote(byShard0, o.Shard, o.Shards))
	}
	if prefillNote != "" {
		res.Notes = append(res.Notes, prefillNote)
	}
	if note := smp.resetServerStats(context.Background(), dep, s.Target.Backend != "external"); note != "" {
		res.Notes = append(res.Notes, note)
	}

	// Go.
	o.logf("driving %d users (population %d) for %s", peakUsers(plans), s.Workload.Population, total)
	d.start = time.Now()
	res.StartedAt = d.start.UTC()
	client := startClientCollector(d.start, phases)
	defer client.stop()
	if runner != nil {
		runner.Start(d.start)
		// Stopped after draining below; this covers an early return.
		defer runner.Stop()
	}
	stop := make(chan struct{})
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		d.run(stop, src)
	}()

	ticker := time.NewTicker(o.SampleInterval)
	interrupted := false
	emit := func(now time.Time) {
		// INFO must be read even after an interrupt, so not under ctx.
		row, h := smp.sample(context.Background(), now)
		if o.OnSample != nil {
			o.OnSample(Sample{Row: row, Interval: h, Elapsed: now.Sub(d.start), Total: total, Phase: row.Phase,
				Requests: smp.reqs, HitRate: result.LookupHitRate(smp.hits, smp.misses, smp.lookupErrs), Errors: smp.errs})
		}
	}
loop:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			close(stop)
			break loop
		case <-dispatched:
			break loop
		case now := <-ticker.C:
			emit(now)
		}
	}
	ticker.Stop()
	<-dispatched
	// Let in-flight commands finish, within a bound; then abandon them.
	drained := make(chan struct{})
	go func() { d.wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(o.DrainTimeout):
		abandon()
		<-drained
	}
	if runner != nil {
		// End faults still in effect and finish their read-backs while the
		// deployment and the manager are still up.
		runner.Stop()
	}
	client.finish()
	end := time.Now()
	emit(end)

	res.DurationS = roundS(end.Sub(d.start).Seconds())
	res.Interrupted = interrupted
	res.Timeline = smp.rows
	fill(res, s, d, smp, mgr, model, pcfg, phases)
	fillRunEnvironment(res, dep, client)
	if runner != nil {
		fillFaults(res, s, d, smp, runner.Events(), end.Sub(d.start))
	}
	if interrupted {
		res.Notes = append(res.Notes, fmt.Sprintf("interrupted after %.1fs of %s: figures cover only what ran", res.DurationS, total))
	}
	res.Finalize(s.TargetSpecs())
	return res, nil
}

func describeMemory(s *scenarios.Scenario) string {
	if s.Target.Redis.MaxMemory == 0 {
		return "unbounded"
	}
	return s.Target.Redis.MaxMemory.String() + " " + s.Target.Redis.MaxMemoryPolicy
}

func peakUsers(plans []workload.PhasePlan) int {
	n := 0
	for _, p := range plans {
		n = max(n, p.UsersStart, p.UsersEnd)
	}
	return n
}

// fill copies the recorder's totals and the other sources into the result.
func fill(res *result.Result, s *scenarios.Scenario, d *driver, smp *sampler, mgr *pool.Manager, model *workload.Model, pcfg pool.Config, phases []phaseInfo) {
	c, h := d.rec.totals()
	res.HDR = map[string]string{}
	res.Latency = result.LatencyReport{
		Overall: result.Summarize(h.overall),
		Service: result.Summarize(h.service),
		ByOp:    map[string]result.Summary{},
		ByTier:  map[string]result.Summary{},
		ByPhase: map[string]result.Summary{},
	}
	_ = res.SetHDR("overall", h.overall)
	_ = res.SetHDR("service", h.service)
	_ = res.SetHDR("command", h.command)
	for i, name := range opNames {
		if h.byOp[i].TotalCount() > 0 {
			res.Latency.ByOp[name] = result.Summarize(h.byOp[i])
			_ = res.SetHDR("op:"+name, h.byOp[i])
		}
	}
	for i, name := range tierNames {
		if h.byTier[i].TotalCount() > 0 {
			res.Latency.ByTier[name] = result.Summarize(h.byTier[i])
			_ = res.SetHDR("tier:"+name, h.byTier[i])
		}
	}
	if h.command.TotalCount() > 0 {
		res.Latency.ByOp["command"] = result.Summarize(h.command)
	}

	// Cache.
	cache := result.CacheReport{MissesByCause: map[string]uint64{}, ByTier: map[string]result.CacheCounts{}, ByFamily: map[string]result.CacheCounts{}}
	for t, name := range tierNames {
		cc := result.CacheCounts{Hits: c.hits[t], Misses: c.misses[t], LookupErrors: c.lookupErrs[t], MissesByCause: map[string]uint64{}}
		for k, n := range c.causes[t] {
			cause := workload.MissCause(k).String()
			cc.MissesByCause[cause] = n
			cache.MissesByCause[cause] += n
		}
		setHitRates(&cc)
		cache.Hits += cc.Hits
		cache.Misses += cc.Misses
		cache.LookupErrors += cc.LookupErrors
		if cc.Hits+cc.Misses+cc.LookupErrors > 0 {
			cache.ByTier[name] = cc
		}
	}
	cache.HitRate = result.LookupHitRate(cache.Hits, cache.Misses, cache.LookupErrors)
	cache.AnsweredHitRate = result.HitRate(cache.Hits, cache.Misses)
	for i, f := range model.Families() {
		fc := &c.fams[i]
		if fc.hits+fc.misses+fc.lookupErrs == 0 {
			continue
		}
		cc := result.CacheCounts{Hits: fc.hits, Misses: fc.misses, LookupErrors: fc.lookupErrs, MissesByCause: map[string]uint64{}}
		for k, n := range fc.causes {
			cc.MissesByCause[workload.MissCause(k).String()] = n
		}
		setHitRates(&cc)
		cache.ByFamily[f.Name] = cc
	}
	res.Cache = cache

	// Pool.
	st := mgr.Stats()
	res.Pool = result.PoolReport{
		Timeouts:   uint64(st.Pool.Timeouts),
		Hits:       uint64(st.Pool.Hits),
		Misses:     uint64(st.Pool.Misses),
		TotalConns: uint64(st.Pool.TotalConns),
		IdleConns:  uint64(st.Pool.IdleConns),
		StaleConns: uint64(st.Pool.StaleConns),
		WaitCount:  uint64(st.Pool.WaitCount),
		WaitMs:     float64(st.Pool.WaitDurationNs) / 1e6,
		Config:     pcfg.Redacted(),
	}

	// Server.
	sv := &smp.server
	res.Server = result.ServerReport{
		EvictedKeys: sv.evicted, ExpiredKeys: sv.expired, UsedMemory: sv.usedMemory, UsedMemoryPeak: sv.peak,
		MaxMemory: sv.maxm, MaxMemoryPolicy: sv.policy, RejectedConnections: sv.rejected,
		KeyspaceHits: sv.keyspaceHits, KeyspaceMisses: sv.kMisses, HitRate: result.HitRate(sv.keyspaceHits, sv.kMisses),
		ConnectedClients: sv.clients, RedisVersion: sv.version, Keys: sv.keys,
	}
	if !sv.ok {
		res.Notes = append(res.Notes, "redis INFO could not be read: server figures are missing")
	} else {
		res.Notes = append(res.Notes, crossCheck(res.Cache.MissesByCause, sv.evicted+smp.evictedBefore, sv.expired)...)
	}

	// Users.
	var recordedS float64
	for _, p := range phases {
		if p.recorded {
			recordedS += p.end.Seconds() - p.start.Seconds()
		}
	}
	res.Users = result.UsersReport{
		Population: int64(s.Workload.Population),
		Active:     int(d.active.Load()),
		Requests:   c.ops,
		Commands:   c.commands,
		Late:       c.late,
		Dropped:    c.dropped,
		Abandoned:  c.abandoned,
	}
	if recordedS > 0 {
		res.Users.OpsPerSec = float64(int64(float64(c.ops)/recordedS*10)) / 10
	}
	res.Errors = c.errors
	res.Integrity = result.IntegrityReport{Checked: c.checked, Mismatches: c.mismatches}

	// Origin.
	res.Origin = map[string]result.OriginReport{}
	for src, os := range model.Origin().Stats() {
		or := result.OriginReport{Calls: os.Calls, Errors: os.Errors}
		if os.Latency != nil {
			or.Latency = result.Summarize(os.Latency)
		}
		res.Origin[src] = or
	}

	// Phases.
	for i, p := range phases {
		pc, ph := d.rec.phaseTotals(i)
		var hits, misses, lookupErrs, errs uint64
		for t := range tierNames {
			hits += pc.hits[t]
			misses += pc.misses[t]
			lookupErrs += pc.lookupErrs[t]
		}
		for _, n := range pc.errors {
			errs += n
		}
		pr := result.PhaseReport{
			Name: p.name, StartS: p.start.Seconds(), EndS: p.end.Seconds(), Recorded: p.recorded,
			Requests: pc.ops, Hits: hits, Misses: misses, LookupErrors: lookupErrs, HitRate: result.LookupHitRate(hits, misses, lookupErrs),
			Latency: result.Summarize(ph), Errors: errs,
		}
		res.Phases = append(res.Phases, pr)
		if ph.TotalCount() > 0 {
			res.Latency.ByPhase[p.name] = pr.Latency
			_ = res.SetHDR("phase:"+p.name, ph)
		}
	}
	sort.SliceStable(res.Phases, func(i, j int) bool { return res.Phases[i].StartS < res.Phases[j].StartS })
}

// setHitRates sets a slice's judged hit rate (failed lookups count as not
// hit) and the rate among lookups Redis answered.
func setHitRates(cc *result.CacheCounts) {
	cc.HitRate = result.LookupHitRate(cc.Hits, cc.Misses, cc.LookupErrors)
	cc.AnsweredHitRate = result.HitRate(cc.Hits, cc.Misses)
}

// fillFaults measures every fault occurrence against the timeline and adds
// the lost-write checks to the integrity section.
func fillFaults(res *result.Result, s *scenarios.Scenario, d *driver, smp *sampler, evs []chaos.Event, runEnd time.Duration) {
	m := chaos.Measurement{Rows: smp.rows, Activity: d.activity, Dials: smp.dials, ServerConns: smp.conns, RunEnd: runEnd}
	m.Targets(s.TargetSpecs())
	res.Faults = m.Reports(evs)
	lost, unknown, tracked := chaos.Integrity(evs)
	res.Integrity.LostWrites += lost
	res.Integrity.UnknownWrites += unknown
	res.Integrity.WritesTracked += tracked
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

// cleanupExternal deletes what the run wrote to a Redis it does not own:
// every key under the run's prefix, found with SCAN (never KEYS) on every
// primary. Without a prefix it deletes nothing: on a shared server "every
// key" is not ours to remove.
func cleanupExternal(ctx context.Context, mgr *pool.Manager, prefix string) string {
	if prefix == "" {
		return "external target without a key prefix: the run's keys were left in place"
	}
	n, err := mgr.Invalidate(ctx, "*")
	if err != nil {
		return fmt.Sprintf("cleanup: deleted %d keys under %q, then failed: %v", n, prefix, err)
	}
	return fmt.Sprintf("cleanup: deleted the run's %d keys under %q (SCAN)", n, prefix)
}

// crossCheck compares the ledger's miss causes with Redis's own counters.
// A miss the ledger calls evicted when Redis evicted nothing means the
// ledger and the server disagree (a flush or restart the harness did not
// cause, another client deleting keys); that is worth a line in the report.
// The reverse is normal: not every evicted or expired key is read again.
func crossCheck(causes map[string]uint64, evicted, expired uint64) []string {
	var out []string
	if n := causes["evicted"]; n > 0 && evicted == 0 {
		out = append(out, fmt.Sprintf("cross-check: %d misses look evicted (written, TTL not passed, gone) but Redis evicted no key: something else removed them (another client, a flush or restart)", n))
	}
	if n := causes["expired"]; n > 0 && expired == 0 {
		out = append(out, fmt.Sprintf("cross-check: %d misses look expired but Redis expired no key", n))
	}
	return out
}
