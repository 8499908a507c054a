package engine

import (
	"context"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// getExec is a scripted executor: every operation is one GET, answered by
// get (nil: at once) and recorded as the bot layer records a read, so the
// engine's own accounting (when a command starts, how late, what it waited
// for) is tested without a bot layer. Behaviour against Redis is tested on
// a real redis-server in bots and harness.
type getExec struct {
	get func(ctx context.Context, key string) error
}

func (e *getExec) Exec(ctx context.Context, inst int, rec *Record, op *workload.Op, due *time.Time) bool {
	ti, fi := int8(TierIndex(op.Family.Tier)), int16(op.Family.Index)
	sent := time.Now()
	var err error
	if e.get != nil {
		err = e.get(ctx, op.Key)
	}
	now := time.Now()
	rec.Sample(SlotGet, ti, fi, now.Sub(*due), now.Sub(sent))
	*due = now
	if err != nil {
		rec.LookupErr(ti, fi)
		rec.Err(pool.ErrorKind(err))
		return false
	}
	rec.Lookup(ti, fi, true, 0)
	return false
}

var getFamily = &workload.Family{Name: "user_connected", Tier: TierPersistent, Source: "internal", MeanSize: 100}

// gets is n one-GET commands, the i-th of key(i), every apart from first.
func gets(n int, first, every time.Duration, key func(i int) string) []workload.Command {
	out := make([]workload.Command, 0, n)
	for i := range n {
		op := workload.Op{Kind: workload.OpGet, Family: getFamily, Key: key(i), Size: 100}
		out = append(out, workload.Command{At: first + time.Duration(i)*every, Ops: []workload.Op{op}})
	}
	return out
}

func sameKey(int) string { return "user:connected:1" }

// newTestDriver builds a driver over e with one recorded phase.
func newTestDriver(e Executor, inflight int, dropAfter, opTimeout time.Duration) *Driver {
	return New(Options{
		Exec: e, Phases: []Phase{{Name: "steady", Recorded: true, End: time.Hour}}, Families: 1, Shards: 4,
		DropAfter: dropAfter, OpTimeout: opTimeout, MaxInflight: inflight,
	})
}

// drive runs the commands to the end and returns the recorded totals.
func drive(d *Driver, cmds []workload.Command) (Counts, *Hists) {
	d.SetStart(time.Now())
	d.Run(make(chan struct{}), &Commands{List: cmds})
	d.Wait()
	return d.Recorder().Totals()
}

// A command started late by more than 1 ms counts as late, and its
// latency runs from its intended start.
func TestDriverCountsLateStarts(t *testing.T) {
	d := newTestDriver(&getExec{}, 4, time.Minute, 5*time.Second)
	d.SetStart(time.Now().Add(-20 * time.Millisecond)) // every intended start is 20 ms past
	d.Run(make(chan struct{}), &Commands{List: gets(10, 0, time.Microsecond, sameKey)})
	d.Wait()
	c, h := d.Recorder().Totals()
	if c.Late != 10 {
		t.Errorf("late = %d, want 10", c.Late)
	}
	if m := h.ByOp[SlotGet].Min(); m < 20_000 {
		t.Errorf("min GET latency = %d µs, want >= 20 ms: latency runs from the intended start", m)
	}
}

// Operations after the command's deadline are never attempted: counted as
// abandoned, and against the verdict as the user met them: a latency sample
// each from the command's intended start (at least the 50 ms deadline), no
// service time (nothing was sent), not a request, and a read among them a
// lookup error (no answer: not a hit).
func TestDriverAbandonsOperationsPastTheDeadline(t *testing.T) {
	e := &getExec{get: func(ctx context.Context, key string) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	d := newTestDriver(e, 1, time.Second, 50*time.Millisecond)
	ops := make([]workload.Op, 5)
	for i := range ops {
		ops[i] = workload.Op{Kind: workload.OpGet, Family: getFamily, Key: "user:connected:1", Size: 100}
	}
	ops[3] = workload.Op{Kind: workload.OpSet, Family: getFamily, Key: "user:connected:1", Size: 100}
	ops[4] = workload.Op{Kind: workload.OpMGet, Family: getFamily, Keys: []string{"a", "b"}, Sizes: []int{100, 100}}
	c, h := drive(d, []workload.Command{{Ops: ops}})
	if c.Abandoned != 4 {
		t.Errorf("abandoned = %d, want 4", c.Abandoned)
	}
	if got := h.Overall.TotalCount(); got != 5 {
		t.Errorf("samples = %d, want 5 (the GET that timed out and the 4 abandoned)", got)
	}
	if got := h.Service.TotalCount(); got != 1 {
		t.Errorf("service samples = %d, want 1: an abandoned operation was never sent", got)
	}
	if m := h.Overall.Min(); m < 50_000 {
		t.Errorf("min latency = %d µs, want >= 50 ms: an abandoned operation waited for the deadline", m)
	}
	if got := h.ByOp[SlotSet].TotalCount(); got != 1 {
		t.Errorf("set samples = %d, want the abandoned SET", got)
	}
	if c.Ops != 1 {
		t.Errorf("requests = %d, want 1: abandoned operations were never requests", c.Ops)
	}
	// The timed-out GET, two abandoned GETs and the MGET's two keys.
	ti := TierIndex(TierPersistent)
	if c.LookupErrs[ti] != 5 || c.Hits[ti]+c.Misses[ti] != 0 {
		t.Errorf("lookup errors %d, hits+misses %d; want 5 and 0", c.LookupErrs[ti], c.Hits[ti]+c.Misses[ti])
	}
	if got := c.Errors[pool.KindTimeout]; got != 1 || len(c.Errors) != 1 {
		t.Errorf("errors = %v, want one timeout", c.Errors)
	}
}
