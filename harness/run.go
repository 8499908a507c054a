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
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/bots"
	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/runplan"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/selfmeasure"
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
	// Version is written into the report's tool section.
	Version string
	// DrainTimeout bounds how long in-flight commands may finish after the
	// schedule ends or the run is interrupted (default 2s).
	DrainTimeout time.Duration
	// FaultSettle is how long after a readonly or failover fault the
	// acknowledged writes are read back (default 1s).
	FaultSettle time.Duration
}

// env is what the run's plan takes from the options (runplan).
func (o Options) env() runplan.Env {
	return runplan.Env{RedisServer: o.RedisServer, Image: o.Image, AllowDestructive: o.AllowDestructive,
		Shard: o.Shard, Shards: o.Shards, Logf: o.Logf}
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
// wired (a pool setting the profile rejects): exit 2. It is runplan's, where the configuration is resolved (also for
// `cacheproof size`), under the name the command has always matched.
type ConfigError = runplan.ConfigError

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
	defer limitMemory(peakUsers(r.plans))()
	defer r.abandon()
	defer r.bots.Close()
	if err = r.connectInstances(ctx); err != nil {
		return nil, err
	}
	r.armFaults()
	r.watchEvictions(ctx)
	defer r.stopWatchingEvictions()
	if err = r.prefill(ctx); err != nil {
		return nil, err
	}
	r.bots.WarmStart(ctx)
	r.begin()
	r.watchAborts()
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
	network  *chaos.Network  // nil unless a fault degrades the network
	protocol *chaos.Protocol // nil unless a fault acts on the protocol
	pcfg     pool.Config
	// replies times every command on the manager's connections (its
	// reply's arrival against the tool's read of it: client.reply_wait).
	replies *pool.ReplyTimer
	mgr     *pool.Manager // bot instance 0

	// buildWorkload
	model   *workload.Model
	plans   []workload.PhasePlan
	phases  []engine.Phase
	total   time.Duration   // of all phases
	src     engine.Source   // the schedule; after prefill, what is left of it
	watch   *chaos.KeyWatch // the cache failure modes' key watch; nil without faults
	ledger  *workload.Ledger
	ttl     map[string]time.Duration // by family: what the manager applies
	bots    *bots.Layer
	d       *engine.Driver
	smp     *sampler
	abandon context.CancelFunc // cancels commands still in flight after the drain bound
	// activity counts operations and errors at sub-second resolution for
	// fault recovery; writes follows persistent-tier writes through
	// readonly and failover faults. Both nil without faults.
	activity *chaos.Activity
	writes   *chaos.WriteTracker

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

	// watchAborts, drive: the targets' abort rules, the last row they saw,
	// and why the run stopped early (nil: it did not)
	aborts  *result.AbortWatch
	abortT  float64
	aborted *result.AbortReport

	// startLoad, drive, drain
	client      *selfmeasure.Collector
	stop        chan struct{} // closed to stop dispatching early
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

// startRedis starts (or reaches) the deployment the scenario's target names.
func (r *run) startRedis(ctx context.Context) error {
	s := r.s
	r.o.logf("starting %s %s redis (%s backend)", s.Target.Topology, describeMemory(s), s.Target.Backend)
	dep, err := topology.Start(ctx, runplan.TopologySpec(s, r.o.env()))
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
// will degrade the network, and through the protocol proxy when a fault
// acts on the protocol (startProtocolProxy).
func (r *run) connect(ctx context.Context) (err error) {
	ep := r.dep.Endpoints()
	defer func() {
		if err != nil {
			r.protocol.Close()
		}
	}()
	if chaos.NeedsProxy(r.faults) {
		if r.network, err = chaos.NewNetwork(ep.Addrs); err != nil {
			return &EnvError{Op: "start the network proxy", Err: err}
		}
		defer func() {
			if err != nil {
				r.network.Close()
			}
		}()
		if !chaos.NeedsProtocol(r.faults) {
			ep.Addrs = r.network.Addrs(ep.Addrs)
			r.o.logf("cache manager goes through an in-process proxy: %s", strings.Join(ep.Addrs, ", "))
		}
	}
	if r.pcfg, err = runplan.PoolConfig(r.s, ep, r.o.env()); err != nil {
		return &ConfigError{Err: err}
	}
	if err = r.startProtocolProxy(ep); err != nil {
		return err
	}
	if os.Getenv("CACHEPROOF_REPLY_TIMES") != "0" { // 0: off, for A/B measurements of its cost
		r.replies = &pool.ReplyTimer{}
		r.pcfg.WrapConn = r.replies.Wrap
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
		note := r.cleanupShard(sctx)
		if r.res != nil {
			r.res.Notes = append(r.res.Notes, note)
		}
		r.o.logf("%s", note)
	}
	_ = r.mgr.Shutdown(sctx)
	r.protocol.Close()
	if r.network != nil {
		r.network.Close()
	}
}

// buildWorkload builds the workload model and its schedule, the bot layer
// over the manager, the driver that will run the schedule through it and
// the sampler that will watch both; with faults, the activity and write
// tracking their measures need.
func (r *run) buildWorkload() error {
	s := r.s
	model, err := workload.New(s.Workload, runplan.WorkloadRun(s, r.o.env()))
	if err != nil {
		return &ConfigError{Err: err}
	}
	r.model = model
	r.plans = runplan.Phases(s, r.o.Shards)
	r.phases = enginePhases(r.plans)
	r.total = s.TotalDuration()
	sched := model.Schedule(r.plans)
	if err := sched.Perturb(chaos.Perturbations(r.faults, r.total)); err != nil {
		return &ConfigError{Err: err}
	}
	r.src = sched

	maxInflight := s.Driver.MaxInflight
	if maxInflight == 0 {
		maxInflight = peakUsers(r.plans)
	}
	if len(r.faults) > 0 {
		r.activity = chaos.NewActivity(r.total+r.o.DrainTimeout+5*time.Second, chaos.DefaultResolution)
		r.writes = chaos.NewWriteTracker()
		r.watch = chaos.NewKeyWatch()
	}
	r.ledger = workload.NewLedger()
	r.ttl = runplan.FamilyTTLs(r.pcfg, model.Families())
	r.bots = bots.New(bots.Options{Cache: r.mgr, Origin: model.Origin(), Ledger: r.ledger, TTL: r.ttl, Writes: r.writes, Watch: r.watch})
	runCtx, abandon := context.WithCancel(context.Background())
	r.abandon = abandon
	r.d = engine.New(engine.Options{
		Exec: r.bots, Phases: r.phases, Families: len(model.Families()),
		DropAfter: s.Driver.DropAfter.D(), OpTimeout: s.Driver.OpTimeout.D(), MaxInflight: maxInflight,
		Activity: r.activity, RunCtx: runCtx,
	})
	r.smp = &sampler{d: r.d, mgr: r.mgr, info: r.dep, origin: model.Origin(), sweep: func(now time.Time) { r.ledger.Sweep(now) }}
	for _, f := range model.Families() {
		r.smp.families = append(r.smp.families, f.Name)
	}
	return nil
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
	sched := r.model.Schedule(append([]workload.PhasePlan{history}, r.plans...))
	// The perturbations' windows are the run's: after the history.
	perts := chaos.Perturbations(r.faults, r.total)
	for i := range perts {
		perts[i].From += h
		perts[i].To += h
	}
	if err := sched.Perturb(perts); err != nil {
		return &ConfigError{Err: err}
	}
	src, pr, err := prefill(ctx, sched, h, r.mgr, r.ledger, r.ttl, r.bots.NextVersion)
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
		Scenario:      s.Info(),
	}
	res.Scenario.Resolved = redactedScenario(s)
	res.Notes = append(res.Notes, s.Notes...)
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

// connectInstances starts the bot instances after the first (connect made
// instance 0, which also serves the fault read-backs and the cleanup).
func (r *run) connectInstances(ctx context.Context) error {
	if i, err := r.bots.Connect(ctx, r.mgr, r.pcfg, r.model.Config().Instances, r.model.Families()); err != nil {
		return &EnvError{Op: fmt.Sprintf("connect bot instance %d", i), Err: err}
	}
	r.smp.mgr = r.bots.Managers()
	return nil
}

// managers are the run's bot instances' managers (instance 0 alone before
// connectInstances).
func (r *run) managers() bots.Fleet {
	if m := r.bots.Managers(); len(m) > 0 {
		return m
	}
	return bots.Fleet{r.mgr}
}

// finalize judges the targets and sets the verdict.
func (r *run) finalize() {
	if r.aborted != nil {
		r.res.Aborted = r.aborted
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("aborted at %.0fs of %s: target %s %s: %s",
			r.aborted.AtS, r.total, r.aborted.Target, r.aborted.Expr, r.aborted.Reason))
	}
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

// cleanupShard is cleanupExternal for this run: sharded, only the last
// shard to end deletes the run's keys (see lastShardToEnd).
func (r *run) cleanupShard(ctx context.Context) string {
	prefix := r.pcfg.KeyPrefix
	if r.o.Shards <= 1 || prefix == "" {
		return cleanupExternal(ctx, r.mgr, prefix)
	}
	last, n, err := lastShardToEnd(ctx, r.mgr.Client(), shardsDoneKey(prefix, r.s.Name, r.s.Seed), r.o.Shards, shardsDoneTTL(r.total))
	switch {
	case err != nil:
		return fmt.Sprintf("cleanup: the run's keys under %q were left in place: %v", prefix, err)
	case !last:
		return fmt.Sprintf("cleanup: shard %d/%d ended %d of %d; the last shard to end deletes the run's keys under %q", r.o.Shard, r.o.Shards, n, r.o.Shards, prefix)
	}
	return cleanupExternal(ctx, r.mgr, prefix) + fmt.Sprintf(" as the last of %d shards to end", r.o.Shards)
}

// redactedScenario is the resolved scenario for the report, with secrets out.
func redactedScenario(s *scenarios.Scenario) scenarios.Scenario {
	c := *s
	if c.Target.Password != "" {
		c.Target.Password = "***"
	}
	if c.Target.TLS != nil {
		t := *c.Target.TLS
		if t.KeyFile != "" {
			t.KeyFile = "***"
		}
		c.Target.TLS = &t
	}
	c.Target.Addrs = append([]string(nil), c.Target.Addrs...)
	for i, a := range c.Target.Addrs {
		if at := strings.LastIndex(a, "@"); at >= 0 {
			c.Target.Addrs[i] = "***@" + a[at+1:]
		}
	}
	return c
}

// enginePhases are the phase plans as the engine records them: each one's
// name, whether it is recorded, and when it starts and ends.
func enginePhases(plans []workload.PhasePlan) []engine.Phase {
	out := make([]engine.Phase, len(plans))
	var at time.Duration
	for i, p := range plans {
		out[i] = engine.Phase{Name: p.Name, Recorded: p.Record, Start: at, End: at + p.Duration}
		at += p.Duration
	}
	return out
}
