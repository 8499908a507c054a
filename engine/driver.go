// Package engine runs a workload schedule open-loop and records what it
// measured: the dispatcher that starts every command at its intended time
// (sleeping on a timerfd), the workers that run a command's operations
// through an Executor (the bot layer, in a run), and the recorder's
// sharded counts and latency histograms that the timeline and the result
// are read from. It knows neither Redis nor the bot layer: what an
// operation does is the Executor's.
package engine

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/workload"
)

// lateThreshold is how far past its intended start an operation may begin
// before it counts as late (users.late).
const lateThreshold = time.Millisecond

// Executor runs one operation as the system under test's clients do (the
// bot layer, bots.Layer, in a run; a scripted one in the engine's tests),
// recording what it measured into rec. due is the operation's intended
// start (the command's for the first, then the end of the one before), and
// Exec advances it to the operation's end. It reports whether the command's
// rate limit refused it: the rest of the command is then not run.
type Executor interface {
	Exec(ctx context.Context, inst int, rec *Record, op *workload.Op, due *time.Time) (denied bool)
}

// Phase is one phase of the schedule as the driver records it: its name,
// whether targets judge it, and when it starts and ends (offsets from the
// load's start).
type Phase struct {
	Name     string
	Recorded bool
	Start    time.Duration
	End      time.Duration
}

// Options configure a Driver. Exec and Phases are required.
type Options struct {
	Exec   Executor
	Phases []Phase
	// Families is the number of key families (workload.Family.Index), for
	// the per-family counts.
	Families int
	// Shards is the recorder's lock count (0: four per GOMAXPROCS).
	Shards int
	// DropAfter bounds how late a command may start before it is dropped;
	// OpTimeout how long a command may take before its remaining
	// operations are abandoned.
	DropAfter, OpTimeout time.Duration
	// MaxInflight bounds the commands in flight (at least 1).
	MaxInflight int
	// Activity counts operations and errors at sub-second resolution for
	// fault recovery; nil without faults.
	Activity *chaos.Activity
	// RunCtx is cancelled only when in-flight commands must be abandoned
	// (the drain bound passed), not when dispatching stops (nil:
	// context.Background()).
	RunCtx context.Context
}

// Driver executes a workload schedule open-loop: every command starts at its
// intended time whether or not earlier ones have finished, and latency is
// measured from that intended time (coordinated-omission corrected, as wrk2
// does), so a stalled Redis shows up as latency instead of as fewer requests.
type Driver struct {
	exec     Executor
	rec      *Recorder
	phases   []Phase
	dropAft  time.Duration
	opTmo    time.Duration
	inflight chan struct{}
	activity *chaos.Activity

	start  time.Time
	next   atomic.Uint64  // round-robin shard picker
	active atomic.Int64   // users active at the dispatcher's position
	phase  atomic.Int32   // phase index at the dispatcher's position
	wg     sync.WaitGroup // commands in flight
	// workers are the worker goroutines alive, idle those waiting for a
	// command (bounded by maxIdleWorkers).
	workers, idle atomic.Int64
	maxIdle       int64 // maxIdleWorkers; tests lower it
	runCtx        context.Context
}

// New makes a driver; SetStart starts its clock and Run dispatches.
func New(o Options) *Driver {
	shards := o.Shards
	if shards <= 0 {
		shards = 4 * runtime.GOMAXPROCS(0)
	}
	runCtx := o.RunCtx
	if runCtx == nil {
		runCtx = context.Background()
	}
	return &Driver{
		exec:     o.Exec,
		rec:      NewRecorder(shards, len(o.Phases), o.Families),
		phases:   o.Phases,
		dropAft:  o.DropAfter,
		opTmo:    o.OpTimeout,
		inflight: make(chan struct{}, max(o.MaxInflight, 1)),
		activity: o.Activity,
		runCtx:   runCtx,
		maxIdle:  maxIdleWorkers,
	}
}

// SetStart sets the time the schedule's offsets count from; before Run.
func (d *Driver) SetStart(t time.Time) { d.start = t }

// Start is the time the schedule's offsets count from.
func (d *Driver) Start() time.Time { return d.start }

// Recorder is where the driver records: the timeline takes its intervals,
// the result its totals.
func (d *Driver) Recorder() *Recorder { return d.rec }

// Phase is the phase at the dispatcher's position.
func (d *Driver) Phase() Phase { return d.phases[d.phase.Load()] }

// Active is the number of users active at the dispatcher's position.
func (d *Driver) Active() int { return int(d.active.Load()) }

// Wait returns when every command dispatched so far has finished.
func (d *Driver) Wait() { d.wg.Wait() }

// maxIdleWorkers bounds the workers waiting for a command (issue 28 item
// 5). Workers live for the run so that a command pays neither a goroutine
// start nor a fresh stack's growth through go-redis, but without a bound
// their number only ratchets up to the most commands ever in flight at
// once: a 10-minute baseline at 10,000 users went from 91 workers to 268
// (a GC pause or a neighbour's burst is enough), and a fault that stalls
// Redis for a second parks thousands, each with its grown stack, for the
// rest of the run. A worker that finishes a command while this many others
// wait exits instead.
const maxIdleWorkers = 256

// worker runs its first command, then whatever the dispatcher hands it on
// jobs, until dispatching ends or maxIdleWorkers others are already idle.
func (d *Driver) worker(jobs <-chan job, j job) {
	d.workers.Add(1)
	defer d.workers.Add(-1)
	for {
		d.execute(j)
		if d.idle.Add(1) > d.maxIdle {
			d.idle.Add(-1)
			return
		}
		var ok bool
		j, ok = <-jobs
		d.idle.Add(-1)
		if !ok {
			return
		}
	}
}

// Workers is the number of worker goroutines alive now.
func (d *Driver) Workers() int { return int(d.workers.Load()) }

// execute runs one command's operations through the executor and records it.
func (d *Driver) execute(j job) {
	cmd, intended := j.cmd, j.intended
	defer d.wg.Done()
	defer func() { <-d.inflight }()
	ctx, cancel := context.WithTimeout(d.runCtx, d.opTmo)
	defer cancel()

	var rec Record
	rec.Init()
	startedAt := time.Now()
	rec.late = startedAt.Sub(intended) > lateThreshold
	rec.waited = j.waited
	// due is the intended start of the next operation: the command's start
	// for the first one, then the end of the one before.
	due := intended
	for i := range cmd.Ops {
		if ctx.Err() != nil {
			// The command's deadline passed (or the run abandoned it): the
			// rest was never attempted.
			d.abandon(&rec, cmd.Ops[i:], intended)
			break
		}
		errsBefore := rec.ncache
		denied := d.exec.Exec(ctx, cmd.Instance, &rec, &cmd.Ops[i], &due)
		d.activity.Record(time.Since(d.start), rec.ncache > errsBefore)
		if denied {
			// The bot answers "slow down" and does nothing else: the
			// command's other operations never reach the cache.
			rec.RateSkipped += uint64(len(cmd.Ops) - i - 1)
			break
		}
	}
	rec.commandUs = time.Since(intended).Microseconds()
	d.apply(cmd, &rec)
}

// abandon records the operations of a command that were never attempted
// because its deadline passed. They count against the verdict as the user
// met them: each is a latency sample from the command's intended start
// until it was given up (at least op_timeout: the user waited that long for
// an answer that never came), in the overall, per-op and per-tier views but
// not in service time (nothing was sent); and an abandoned read is a lookup
// error (no usable answer: hit_rate counts it as not hit). Left out, as
// they once were, a stall long enough to abandon commands made the latency
// and the hit rate look better than with a shorter one, as drop does for
// commands never started. A read's keys each count (an MGET's every key).
func (d *Driver) abandon(rec *Record, ops []workload.Op, intended time.Time) {
	lat := max(time.Since(intended).Microseconds(), 1)
	rec.abandoned += uint64(len(ops))
	for i := range ops {
		op := &ops[i]
		ti := int8(TierIndex(op.Family.Tier))
		if op.Kind == workload.OpRateLimit {
			ti = NoTier
		}
		rec.samples = append(rec.samples, opSample{op: OpSlot[op.Kind], tier: ti, lat: lat})
		switch op.Kind {
		case workload.OpGetOrFetch, workload.OpGet, workload.OpSessionGet, workload.OpHGet, workload.OpZRange, workload.OpCAS:
			rec.LookupErr(ti, int16(op.Family.Index))
		case workload.OpMGet:
			for j := range op.Keys {
				f := KeyFamily(op, j)
				rec.LookupErr(int8(TierIndex(f.Tier)), int16(f.Index))
			}
		}
	}
}

// execOp runs one operation of a command on instance in; due is the
// intended start of the next operation (the command's start for the first,
// then the end of the one before) and is advanced here. It reports whether
// the command's rate limit refused it (the rest of the command is then not

// KeyFamily is the family of op's j-th key (Op.Families when the keys are
// of several families).
func KeyFamily(op *workload.Op, j int) *workload.Family {
	if j < len(op.Families) && op.Families[j] != nil {
		return op.Families[j]
	}
	return op.Family
}
