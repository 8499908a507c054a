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
	"slices"
	"strings"
	"sync"
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
//
// A run passes through named stages, each a method of run below, in the
// order the data flows:
//
//	planFaults     the scenario's faults, this shard's share of them
//	startRedis     topology: start (or reach) the deployment
//	connect        the cache manager under test, through a proxy if a fault needs one
//	buildWorkload  the workload model, its phase plans and schedule, the driver and sampler
//	armFaults      the chaos runner on the deployment, the proxy and the manager
//	prefill        replay history so the load starts from a steady-state cache
//	begin          the result's header; per-command statistics reset
//	drive          the open-loop load and the fault timeline, sampled every interval
//	drain          in-flight commands finish (bounded), faults end, the last sample
//	collect        the recorder's totals and every other source into the result
//	finalize       targets judged, verdict
//
// What a stage sets up is torn down by the deferred call beside it, last
// first.
func Run(ctx context.Context, o Options) (res *result.Result, err error) {
	r, err := newRun(o)
	if err != nil {
		return nil, err
	}
	if err = r.planFaults(); err != nil {
		return nil, err
	}
	if err = r.startRedis(ctx); err != nil {
		return nil, err
	}
	defer func() { r.stopRedis(err) }()
	if err = r.connect(ctx); err != nil {
		return nil, err
	}
	defer r.disconnect()
	if err = r.buildWorkload(); err != nil {
		return nil, err
	}
	defer r.abandon()
	defer r.disconnectInstances()
	if err = r.connectInstances(ctx); err != nil {
		return nil, err
	}
	r.armFaults()
	r.watchEvictions(ctx)
	defer r.stopWatchingEvictions()
	if err = r.prefill(ctx); err != nil {
		return nil, err
	}
	r.warmStart(ctx)
	r.begin()
	r.startLoad()
	defer r.stopLoad() // drain stops them in order; this covers a panic
	r.drive(ctx)
	r.drain()
	r.collect()
	r.finalize()
	return r.res, nil
}

// run is one run's state as it passes through Run's stages: each stage sets
// the fields under its name, and later stages read them.
type run struct {
	o Options
	s *scenarios.Scenario

	// planFaults
	faults   []chaos.Fault // what this shard runs
	byShard0 []chaos.Fault // what shard 0 runs for every shard

	// startRedis
	dep topology.Deployment

	// connect
	network *chaos.Network // nil unless a fault degrades the network
	pcfg    pool.Config
	mgr     *pool.Manager // bot instance 0

	// connectInstances: every bot instance's manager, mgr first
	mgrs fleet

	// buildWorkload
	model   *workload.Model
	plans   []workload.PhasePlan
	phases  []phaseInfo
	total   time.Duration // of all phases
	src     source        // the schedule; after prefill, what is left of it
	d       *driver
	smp     *sampler
	abandon context.CancelFunc // cancels commands still in flight after the drain bound

	// armFaults
	runner *chaos.Runner // nil without faults
	// watchEvictions: nil when no fault tracks writes or the watch could
	// not start (evictionsNote says why)
	evictions     *chaos.EvictionWatch
	evictionsNote string

	// prefill
	prefillNote string

	// begin (the result grows through the stages after it)
	res *result.Result

	// startLoad, drive, drain
	client      *clientCollector
	stop        chan struct{} // closed to stop dispatching early
	warmStop    chan struct{} // closed at drain: no more re-warming after faults
	warmCtx     context.Context
	warmCancel  context.CancelFunc
	warmers     sync.WaitGroup
	dispatched  chan struct{} // closed when the dispatcher returns
	interrupted bool
	end         time.Time
}

// newRun checks the options and fills their defaults.
func newRun(o Options) (*run, error) {
	if o.Scenario == nil {
		return nil, errors.New("harness: no scenario")
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 2 * time.Second
	}
	return &run{o: o, s: o.Scenario}, nil
}

// planFaults turns the scenario's faults into this shard's. Sharded, a fault
// that acts on Redis is run by shard 0 alone (n shards share one Redis); the
// others note it (see chaos.ForShard). On a Redis the tool does not own, a
// fault that acts on Redis (every kind but network) needs AllowDestructive.
func (r *run) planFaults() error {
	faults, err := newFaults(r.s)
	if err != nil {
		return &ConfigError{Err: err}
	}
	r.faults, r.byShard0 = chaos.ForShard(faults, r.o.Shard, r.o.Shards)
	if !r.s.Target.OwnsNodes() && !r.o.AllowDestructive {
		for _, f := range r.faults {
			if f.ActsOnRedis() {
				return &ConfigError{Err: fmt.Errorf("fault %s would change a Redis this tool does not own: %w", f, topology.ErrDestructive)}
			}
		}
	}
	return nil
}

// startRedis starts (or reaches) the deployment the scenario's target names.
func (r *run) startRedis(ctx context.Context) error {
	s := r.s
	r.o.logf("starting %s %s redis (%s backend)", s.Target.Topology, describeMemory(s), s.Target.Backend)
	dep, err := topology.Start(ctx, topologySpec(s, r.o))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while starting redis: %w", ctx.Err())
		}
		return &EnvError{Op: "start redis", Err: err}
	}
	r.dep = dep
	return nil
}

// stopRedis closes the deployment, keeping its logs first when the run
// failed.
func (r *run) stopRedis(runErr error) {
	if runErr != nil && r.o.LogDir != "" {
		_ = r.dep.KeepLogs(r.o.LogDir)
	}
	cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if cerr := r.dep.Close(cctx); cerr != nil {
		r.o.logf("stopping redis: %v", cerr)
	}
}

// connect builds the cache manager under test on the deployment's
// endpoints, through an in-process proxy for the whole run when a fault
// will degrade the network.
func (r *run) connect(ctx context.Context) (err error) {
	ep := r.dep.Endpoints()
	if chaos.NeedsProxy(r.faults) {
		if r.network, err = chaos.NewNetwork(ep.Addrs); err != nil {
			return &EnvError{Op: "start the network proxy", Err: err}
		}
		defer func() {
			if err != nil {
				r.network.Close()
			}
		}()
		ep.Addrs = r.network.Addrs(ep.Addrs)
		r.o.logf("cache manager goes through an in-process proxy: %s", strings.Join(ep.Addrs, ", "))
	}
	if r.pcfg, err = poolConfig(r.s, ep, r.o); err != nil {
		return &ConfigError{Err: err}
	}
	if r.mgr, err = pool.New(ctx, r.pcfg); err != nil {
		return &EnvError{Op: "connect the cache manager", Err: err}
	}
	return nil
}

// disconnect shuts the manager down (on an external Redis, after deleting
// what the run wrote) and closes the proxy.
func (r *run) disconnect() {
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !r.s.Target.OwnsNodes() {
		note := cleanupExternal(sctx, r.mgr, r.pcfg.KeyPrefix)
		if r.res != nil {
			r.res.Notes = append(r.res.Notes, note)
		}
		r.o.logf("%s", note)
	}
	_ = r.mgr.Shutdown(sctx)
	if r.network != nil {
		r.network.Close()
	}
}

// buildWorkload builds the workload model and its schedule, the driver that
// will run it through the manager and the sampler that will watch both.
func (r *run) buildWorkload() error {
	s := r.s
	model, err := workload.New(workloadConfig(s, r.o))
	if err != nil {
		return &ConfigError{Err: err}
	}
	r.model = model
	r.plans, r.phases = phasePlans(s, r.o.Shards)
	r.src = model.Schedule(r.plans)
	r.total = s.TotalDuration()

	maxInflight := s.Driver.MaxInflight
	if maxInflight == 0 {
		maxInflight = peakUsers(r.plans)
	}
	runCtx, abandon := context.WithCancel(context.Background())
	r.abandon = abandon
	r.d = &driver{
		cache:    r.mgr,
		origin:   model.Origin(),
		ledger:   workload.NewLedger(),
		rec:      newRecorder(4*runtime.GOMAXPROCS(0), len(r.phases), len(model.Families())),
		phases:   r.phases,
		ttl:      familyTTLs(r.pcfg, model.Families()),
		dropAft:  s.Driver.DropAfter.D(),
		opTmo:    s.Driver.OpTimeout.D(),
		inflight: make(chan struct{}, max(maxInflight, 1)),
		runCtx:   runCtx,
	}
	// Driver versions live in the upper half of the uint32 space so they
	// never equal an origin fill's version of the same key: the lost-write
	// check tells writes apart by version.
	r.d.version.Store(1 << 31)
	r.smp = &sampler{d: r.d, mgr: r.mgr, info: r.dep}
	for _, f := range model.Families() {
		r.smp.families = append(r.smp.families, f.Name)
	}
	return nil
}

// armFaults builds the chaos runner: the fault timeline on the deployment's
// controls and the proxy, with the driver's activity and write tracking for
// measuring recovery and lost writes. Without faults it does nothing.
func (r *run) armFaults() {
	if len(r.faults) == 0 {
		return
	}
	d := r.d
	d.activity = chaos.NewActivity(r.total+r.o.DrainTimeout+5*time.Second, chaos.DefaultResolution)
	d.writes = chaos.NewWriteTracker()
	r.runner = chaos.NewRunner(r.faults, chaos.Options{
		Deployment: r.dep, Network: r.network, Tracker: d.writes, Reader: r.mgr,
		Settle: r.o.FaultSettle, Total: r.total, Logf: r.o.Logf,
		// A node restarted without persistence comes back empty: what
		// the ledger remembers writing before it went down is gone, and
		// a miss of it is wiped (written, then emptied by the fault),
		// neither cold (never written) nor an eviction.
		OnRestart: func(node string) {
			d.ledger.Wiped(d.start.Add(restartBegan(r.runner, node, time.Since(d.start))))
		},
	})
	r.smp.faults = r.runner.Active
	if !r.dep.Spec().Persistence && slices.ContainsFunc(r.faults, func(f chaos.Fault) bool { return f.Traits().EmptiesNode }) {
		d.emptied = restartOverlaps(r.runner)
	}
}

// watchEvictions gives the lost-write check key-level eviction evidence
// when a fault tracks writes: keyspace notifications of evicted keys on
// every data node (chaos.WatchEvictions). It needs CONFIG SET, so only on a
// Redis this run started; elsewhere, or when it fails, a note says an
// eviction cannot be told from a loss by key.
func (r *run) watchEvictions(ctx context.Context) {
	if r.runner == nil || !slices.ContainsFunc(r.faults, chaos.Fault.TracksWrites) {
		return
	}
	if !r.s.Target.OwnsNodes() {
		r.evictionsNote = "lost writes: evictions are not watched on an external Redis (no CONFIG SET of notify-keyspace-events): a tracked key evicted and then missed counts as lost by replication"
		return
	}
	w, err := chaos.WatchEvictions(ctx, r.dep, r.dep.Endpoints(), r.d.writes)
	if err != nil {
		r.evictionsNote = fmt.Sprintf("lost writes: evictions not watched, a tracked key evicted and then missed counts as lost by replication: %v", err)
		r.o.logf("%s", r.evictionsNote)
		return
	}
	r.evictions = w
}

func (r *run) stopWatchingEvictions() {
	if err := r.evictions.Close(); err != nil {
		r.o.logf("lost writes: stopping the eviction watch: %v", err)
	}
}

// restartBegan is when the latest restart (a fault whose kind empties the
// node, chaos.Traits.EmptiesNode) of node that began by now
// (offsets from the run's start) was entered, just before the node went
// down: everything written before it was lost with the node, and nothing
// could be written to the node until it served again. now when the runner
// has no such event.
func restartBegan(rn *chaos.Runner, node string, now time.Duration) time.Duration {
	at, found := now, false
	if rn == nil {
		return at
	}
	for _, ev := range rn.Events() {
		if ev.Fault.Traits().EmptiesNode && ev.Node == node && !ev.NotStarted && ev.Start <= now && (!found || ev.Start > at) {
			at, found = ev.Start, true
		}
	}
	return at
}

// restartOverlaps reports whether a restart started at or before to and
// had not ended before from (offsets from the run's start). The runner
// enters an occurrence before it acts, so a restart is seen from before the
// node goes down until after the ledger was reset.
func restartOverlaps(rn *chaos.Runner) func(from, to time.Duration) bool {
	return func(from, to time.Duration) bool {
		for _, ev := range rn.Events() {
			if ev.Fault.Traits().EmptiesNode && !ev.NotStarted && ev.Start <= to && (!ev.Ended || ev.End >= from) {
				return true
			}
		}
		return false
	}
}

// prefill replays the workload's history in simulation and writes what the
// cache would hold at its end, so the run starts from a steady-state cache.
func (r *run) prefill(ctx context.Context) error {
	h := r.s.Workload.Prefill.D()
	if h <= 0 || len(r.plans) == 0 {
		return nil
	}
	r.o.logf("prefill: replaying %s of history to reach a steady-state cache", h)
	history := workload.PhasePlan{Name: "history", Duration: h, UsersStart: r.plans[0].UsersStart, UsersEnd: r.plans[0].UsersStart}
	src, pr, err := prefill(ctx, r.model.Schedule(append([]workload.PhasePlan{history}, r.plans...)), h, r.mgr, r.d.ledger, r.d.ttl,
		func() uint32 { return r.d.version.Add(1) })
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during prefill: %w", ctx.Err())
		}
		return &EnvError{Op: "prefill the cache", Err: err}
	}
	r.src = src
	r.prefillNote = fmt.Sprintf("prefill: replayed %s of history (%d commands) and wrote the %d keys alive at its end in %.1fs; server counters start after it", h, pr.commands, pr.keys, pr.took.Seconds())
	r.o.logf("%s", r.prefillNote)
	r.smp.prime(ctx)
	return nil
}

// begin starts the result: the tool, the scenario, the shard and the notes
// known before the load; and resets Redis's and the manager's per-command
// statistics so they cover the load.
func (r *run) begin() {
	s, o := r.s, r.o
	res := &result.Result{
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
	if len(r.byShard0) > 0 {
		res.Notes = append(res.Notes, chaos.ShardNote(r.byShard0, o.Shard, o.Shards))
	}
	if r.evictionsNote != "" {
		res.Notes = append(res.Notes, r.evictionsNote)
	}
	if r.prefillNote != "" {
		res.Notes = append(res.Notes, r.prefillNote)
	}
	if note := r.smp.resetServerStats(context.Background(), r.dep, s.Target.OwnsNodes()); note != "" {
		res.Notes = append(res.Notes, note)
	}
	// The client's per-command figures cover the load too, as Redis's do.
	for _, m := range r.managers() {
		m.ResetCommandLatencies()
	}
	r.res = res
}

// startLoad starts the clock, the tool's self-measurement, the fault
// timeline and the dispatcher.
func (r *run) startLoad() {
	d := r.d
	r.o.logf("driving %d users (population %d) for %s", peakUsers(r.plans), r.s.Workload.Population, r.total)
	d.start = time.Now()
	d.startNs.Store(d.start.UnixNano())
	r.res.StartedAt = d.start.UTC()
	r.client = startClientCollector(d.start, r.phases)
	if r.runner != nil {
		r.runner.Start(d.start)
	}
	r.stop = make(chan struct{})
	r.warmStop = make(chan struct{})
	r.warmCtx, r.warmCancel = context.WithCancel(context.Background())
	r.watchFaults(r.warmStop)
	r.dispatched = make(chan struct{})
	go func() {
		defer close(r.dispatched)
		d.run(r.stop, r.src)
	}()
}

// stopLoad ends the fault timeline and the self-measurement (both may have
// been stopped already).
func (r *run) stopLoad() {
	if r.runner != nil {
		r.runner.Stop()
	}
	r.client.stop()
	r.client.close()
}

// drive samples every interval until the schedule is dispatched or ctx is
// cancelled (then dispatching stops and the run is marked interrupted).
func (r *run) drive(ctx context.Context) {
	ticker := time.NewTicker(r.o.SampleInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			r.interrupted = true
			close(r.stop)
			return
		case <-r.dispatched:
			return
		case now := <-ticker.C:
			r.emit(now)
		}
	}
}

// emit takes one timeline row and reports it.
func (r *run) emit(now time.Time) {
	smp := r.smp
	// INFO must be read even after an interrupt, so not under ctx.
	row, h := smp.sample(context.Background(), now)
	if r.o.OnSample != nil {
		r.o.OnSample(Sample{Row: row, Interval: h, Elapsed: now.Sub(r.d.start), Total: r.total, Phase: row.Phase,
			Requests: smp.reqs, HitRate: result.LookupHitRate(smp.hits, smp.misses, smp.lookupErrs), Errors: smp.errs})
	}
}

// drain lets in-flight commands finish within DrainTimeout, then abandons
// them; ends the faults still in effect and finishes their read-backs while
// the deployment and the manager are still up; and takes the last sample.
func (r *run) drain() {
	<-r.dispatched
	drained := make(chan struct{})
	go func() { r.d.wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(r.o.DrainTimeout):
		r.abandon()
		<-drained
	}
	if r.runner != nil {
		r.runner.Stop()
	}
	r.stopWarming()
	r.client.finish()
	r.end = time.Now()
	r.emit(r.end)
}

// finalize judges the targets and sets the verdict.
func (r *run) finalize() {
	r.res.Finalize(r.s.TargetSpecs())
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
