package bots

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// These tests drive the driver through its cache seam with a scripted fake:
// they check the driver's own accounting (what it measures from where, what
// it counts), which no Redis could make deterministic. Behaviour against
// Redis is tested on a real redis-server in run_test.go and chaos_test.go.

// fakeCache answers from scripted functions; nil ones answer at once.
type fakeCache struct {
	get func(ctx context.Context, key string) (string, bool, error)
	gof func(ctx context.Context, key string, fetch func(context.Context) (string, error)) (string, pool.Outcome, error)
	// cas and rateLimit script the compare-and-swap and the rate limiter;
	// nil ones answer "swapped" and "allowed".
	cas        func(ctx context.Context, key, old string, found bool) (bool, error)
	rateLimit  func(ctx context.Context, key string) (pool.RateResult, error)
	mu         sync.Mutex
	sets       int
	broadcasts int
}

var _ Cache = (*fakeCache)(nil)

func (f *fakeCache) Get(ctx context.Context, key string) (string, bool, error) {
	if f.get != nil {
		return f.get(ctx, key)
	}
	return "", false, nil
}

func (f *fakeCache) Set(ctx context.Context, key, val string, tier pool.Tier) error {
	f.mu.Lock()
	f.sets++
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeCache) Expire(ctx context.Context, key string, tier pool.Tier) (bool, error) {
	return true, ctx.Err()
}

func (f *fakeCache) Del(ctx context.Context, keys ...string) (int64, error) { return 1, ctx.Err() }

func (f *fakeCache) GetOrFetchRaw(ctx context.Context, key string, tier pool.Tier, fetch func(context.Context) (string, error)) (string, pool.Outcome, error) {
	return f.gof(ctx, key, fetch)
}

func (f *fakeCache) SessionGet(ctx context.Context, key string) (string, bool, error) {
	return f.Get(ctx, key)
}

func (f *fakeCache) MGet(ctx context.Context, keys ...string) ([]string, []bool, error) {
	vals, found := make([]string, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		v, ok, err := f.Get(ctx, k)
		if err != nil {
			return nil, nil, err
		}
		vals[i], found[i] = v, ok
	}
	return vals, found, nil
}

func (f *fakeCache) CompareAndSwap(ctx context.Context, key, old string, found bool, val string, tier pool.Tier) (bool, error) {
	if f.cas != nil {
		return f.cas(ctx, key, old, found)
	}
	return true, ctx.Err()
}

func (f *fakeCache) RateLimit(ctx context.Context, key string, limit int64, window time.Duration) (pool.RateResult, error) {
	if f.rateLimit != nil {
		return f.rateLimit(ctx, key)
	}
	return pool.RateResult{Allowed: true}, ctx.Err()
}

func (f *fakeCache) Broadcast(ctx context.Context, keys ...string) error {
	f.mu.Lock()
	f.broadcasts++
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeCache) Invalidate(ctx context.Context, keys ...string) (int64, error) {
	f.mu.Lock()
	f.broadcasts++
	f.mu.Unlock()
	return int64(len(keys)), ctx.Err()
}

func (f *fakeCache) HGet(ctx context.Context, key, field string) (string, bool, error) {
	return f.Get(ctx, key)
}

func (f *fakeCache) HSet(ctx context.Context, key, field, val string, tier pool.Tier) error {
	return f.Set(ctx, key, val, tier)
}

func (f *fakeCache) ZRange(ctx context.Context, key string, n int) ([]string, bool, error) {
	_, ok, err := f.Get(ctx, key)
	return nil, ok, err
}

func (f *fakeCache) ZAdd(ctx context.Context, key string, tier pool.Tier, members ...pool.ZMember) error {
	return f.Set(ctx, key, "", tier)
}

func (f *fakeCache) HSetAll(ctx context.Context, key string, fields, vals []string, tier pool.Tier, how pool.Replace) error {
	return f.Set(ctx, key, "", tier)
}

func (f *fakeCache) ZAddAll(ctx context.Context, key string, tier pool.Tier, how pool.Replace, members ...pool.ZMember) error {
	return f.Set(ctx, key, "", tier)
}

func (f *fakeCache) SetBatch(ctx context.Context, items []pool.Item, batch int) error {
	f.mu.Lock()
	f.sets += len(items)
	f.mu.Unlock()
	return ctx.Err()
}

var testFamily = &workload.Family{Name: "user_connected", Tier: engine.TierPersistent, Source: "internal", MeanSize: 100}

// constantRate returns n one-operation commands (ops made by mk) evenly
// spaced at rate per second.
func constantRate(n int, rate float64, mk func(i int) []workload.Op) []workload.Command {
	cmds := make([]workload.Command, n)
	for i := range cmds {
		cmds[i] = workload.Command{At: time.Duration(float64(i) / rate * float64(time.Second)), Ops: mk(i)}
	}
	return cmds
}

func getOp(int) []workload.Op {
	return []workload.Op{{Kind: workload.OpGet, Family: testFamily, Key: "user:connected:1", Size: 100}}
}

// rig is an engine driver over a bot layer of one instance.
type rig struct {
	d     *engine.Driver
	l     *Layer
	start time.Time
}

// newTestDriver builds a driver over a layer whose one instance is c,
// with one recorded phase.
func newTestDriver(t *testing.T, c Cache, inflight int, dropAfter, opTimeout time.Duration) *rig {
	t.Helper()
	l := New(Options{Cache: c, Ledger: workload.NewLedger(), TTL: map[string]time.Duration{}})
	d := engine.New(engine.Options{
		Exec: l, Phases: []engine.Phase{{Name: "steady", Recorded: true, End: time.Hour}}, Families: 1, Shards: 4,
		DropAfter: dropAfter, OpTimeout: opTimeout, MaxInflight: inflight,
	})
	return &rig{d: d, l: l}
}

// drive runs the commands to the end and returns the recorded totals.
func drive(r *rig, cmds []workload.Command) (engine.Counts, *engine.Hists) {
	r.start = time.Now()
	r.d.SetStart(r.start)
	r.l.SetStart(r.start)
	r.d.Run(make(chan struct{}), &engine.Commands{List: cmds})
	r.d.Wait()
	return r.d.Recorder().Totals()
}

// stallingGet answers at once, except that the first call made after
// stallAt (since start) blocks for stall.
func stallingGet(start *time.Time, stallAt, stall time.Duration) func(context.Context, string) (string, bool, error) {
	var once sync.Once
	return func(ctx context.Context, key string) (string, bool, error) {
		if time.Since(*start) >= stallAt {
			once.Do(func() { time.Sleep(stall) })
		}
		return "", false, nil
	}
}

// A 1 s stall of a one-connection cache at a constant 1,000 commands/s: the
// commands queued behind the stall were late by up to a second, and the
// intended-start latency must show it, while service time (from the send)
// has just the one slow call.
func TestDriverStallShowsInIntendedStartNotServiceTime(t *testing.T) {
	f := &fakeCache{}
	d := newTestDriver(t, f, 1, 10*time.Second, 5*time.Second)
	f.get = stallingGet(&d.start, 500*time.Millisecond, time.Second)
	c, h := drive(d, constantRate(3000, 1000, getOp))

	if c.Dropped != 0 {
		t.Fatalf("dropped = %d, want 0 (drop_after is 10s)", c.Dropped)
	}
	// Every command is a GET (miss) followed by a SET: two samples each.
	if got := h.Overall.TotalCount(); got != 6000 {
		t.Fatalf("overall samples = %d, want 6000", got)
	}
	if p := h.Overall.ValueAtQuantile(99.9); p < 900_000 {
		t.Errorf("intended-start p99.9 = %d µs, want >= 900 ms: the stall is hidden (coordinated omission)", p)
	}
	if p := h.Service.ValueAtQuantile(99.9); p >= 100_000 {
		t.Errorf("service p99.9 = %d µs, want < 100 ms: only one call was slow once sent", p)
	}
	if c.Late < 500 {
		t.Errorf("late = %d, want the ~1000 commands queued behind the stall", c.Late)
	}
}

// With drop_after 100 ms, the commands that could not start within 100 ms
// of their intended time are dropped and counted, and their delay (at least
// drop_after) still enters the intended-start latency, never service time.
func TestDriverDropsEnterLatencyView(t *testing.T) {
	f := &fakeCache{}
	d := newTestDriver(t, f, 1, 100*time.Millisecond, 5*time.Second)
	f.get = stallingGet(&d.start, 300*time.Millisecond, time.Second)
	c, h := drive(d, constantRate(2000, 1000, getOp))

	if c.Dropped < 700 || c.Dropped > 1000 {
		t.Fatalf("dropped = %d, want about 900 (a 1 s stall, 100 ms drop bound, 1000/s)", c.Dropped)
	}
	if c.Commands+c.Dropped != 2000 {
		t.Errorf("commands %d + dropped %d != 2000 scheduled", c.Commands, c.Dropped)
	}
	// Executed commands: GET+SET = 2 samples each; dropped: 1 per op.
	wantOverall := int64(2*c.Commands + c.Dropped)
	if got := h.Overall.TotalCount(); got != wantOverall {
		t.Errorf("overall samples = %d, want %d (executed ops plus one per dropped op)", got, wantOverall)
	}
	if got := h.Service.TotalCount(); got != int64(2*c.Commands) {
		t.Errorf("service samples = %d, want %d: a dropped command was never sent", got, 2*c.Commands)
	}
	if p := h.Overall.ValueAtQuantile(99); p < 100_000 {
		t.Errorf("intended-start p99 = %d µs, want >= drop_after (100 ms): drops are hidden from latency", p)
	}
	if got := h.Command.TotalCount(); got != int64(c.Commands+c.Dropped) {
		t.Errorf("command samples = %d, want %d", got, c.Commands+c.Dropped)
	}
}

// Every error of every operation is counted, whatever their number: a
// 120-operation command whose reads all fail reports 120 errors and 120
// lookup errors (it once kept 8 error slots a command).
func TestDriverCountsEveryError(t *testing.T) {
	refused := &wrappedErr{err: syscall.ECONNREFUSED}
	f := &fakeCache{get: func(context.Context, string) (string, bool, error) { return "", false, refused }}
	d := newTestDriver(t, f, 4, time.Second, 5*time.Second)
	ops := make([]workload.Op, 120)
	for i := range ops {
		ops[i] = workload.Op{Kind: workload.OpGet, Family: testFamily, Key: "user:connected:1", Size: 100}
	}
	c, _ := drive(d, []workload.Command{{Ops: ops}})
	if got := c.Errors[pool.KindConnectionRefused]; got != 120 {
		t.Errorf("errors[%s] = %d, want 120 (errors: %v)", pool.KindConnectionRefused, got, c.Errors)
	}
	if got := c.LookupErrs[engine.TierIndex(engine.TierPersistent)]; got != 120 {
		t.Errorf("lookup errors = %d, want 120: a failed GET is a lookup that did not hit", got)
	}
	if got := c.Fams[testFamily.Index].LookupErrs; got != 120 {
		t.Errorf("family lookup errors = %d, want 120", got)
	}
	if c.Hits[engine.TierIndex(engine.TierPersistent)] != 0 || c.Misses[engine.TierIndex(engine.TierPersistent)] != 0 {
		t.Errorf("hits/misses = %v/%v, want 0/0", c.Hits, c.Misses)
	}
}

// wrappedErr wraps a syscall error as the network stack does, so
// pool.ErrorKind classifies it.
type wrappedErr struct{ err error }

func (e *wrappedErr) Error() string { return "dial tcp 127.0.0.1:1: " + e.err.Error() }
func (e *wrappedErr) Unwrap() error { return e.err }

// A value that fails verification is not a hit: it is a lookup error of
// kind integrity, and a mismatch.
func TestDriverCorruptValueIsNotAHit(t *testing.T) {
	good := workload.Value("user:connected:1", 7, 100)
	bad := good[:len(good)-1] + "x"
	var n int
	f := &fakeCache{get: func(context.Context, string) (string, bool, error) {
		n++
		if n == 1 {
			return good, true, nil
		}
		return bad, true, nil
	}}
	d := newTestDriver(t, f, 1, time.Second, 5*time.Second)
	c, _ := drive(d, constantRate(2, 1000, getOp))
	ti := engine.TierIndex(engine.TierPersistent)
	if c.Hits[ti] != 1 || c.LookupErrs[ti] != 1 {
		t.Errorf("hits = %d, lookup errors = %d; want 1 and 1", c.Hits[ti], c.LookupErrs[ti])
	}
	if c.Checked != 2 || c.Mismatches != 1 || c.Errors[kindIntegrity] != 1 {
		t.Errorf("checked %d, mismatches %d, integrity errors %d; want 2, 1, 1", c.Checked, c.Mismatches, c.Errors[kindIntegrity])
	}
}

// The origin's time is not cache latency: a get-or-fetch whose fetch took
// 80 ms records its GET and its fill, and the next operation is measured
// from the end of the fetch, not from the command's start.
func TestDriverExcludesOriginTime(t *testing.T) {
	f := &fakeCache{gof: func(ctx context.Context, key string, fetch func(context.Context) (string, error)) (string, pool.Outcome, error) {
		time.Sleep(80 * time.Millisecond) // the origin
		v := workload.Value(key, 1, 100)
		return v, pool.Outcome{Fetched: true, GetDur: 200 * time.Microsecond, FetchDur: 80 * time.Millisecond, FillDur: 300 * time.Microsecond}, nil
	}}
	d := newTestDriver(t, f, 1, time.Second, 5*time.Second)
	ops := func(int) []workload.Op {
		return []workload.Op{
			{Kind: workload.OpGetOrFetch, Family: testFamily, Key: "user:connected:2", Size: 100},
			{Kind: workload.OpTouch, Family: testFamily, Key: "user:connected:2"},
		}
	}
	c, h := drive(d, constantRate(5, 5, ops))
	if c.Misses[engine.TierIndex(engine.TierPersistent)] != 5 {
		t.Fatalf("misses = %v, want 5 in the persistent tier", c.Misses)
	}
	if got := h.Overall.TotalCount(); got != 15 { // get, fill, expire
		t.Fatalf("samples = %d, want 15", got)
	}
	if m := h.Overall.Max(); m >= 40_000 {
		t.Errorf("max cache latency = %d µs, want well under the origin's 80 ms", m)
	}
	if m := h.Command.Min(); m < 80_000 {
		t.Errorf("min command time = %d µs, want >= 80 ms: the command includes the origin", m)
	}
}

// A miss of a key the ledger still remembers is an eviction, unless a
// restart that emptied the cache overlapped the read: the restarted node
// serves before the ledger learns of the wipe, and what it lacks the
// restart wiped.
func TestClassifyMissDuringRestartIsWiped(t *testing.T) {
	d := New(Options{Ledger: workload.NewLedger()})
	d.SetStart(time.Now().Add(-10 * time.Second))
	d.ledger.Wrote("k", d.start.Add(time.Second), 0)
	sent := d.start.Add(5 * time.Second)
	if c := d.classify("k", sent); c != workload.MissEvicted {
		t.Fatalf("no restart: %v, want evicted", c)
	}
	var asked [2]time.Duration
	d.emptied = func(from, to time.Duration) bool { asked = [2]time.Duration{from, to}; return true }
	if c := d.classify("k", sent); c != workload.MissWiped {
		t.Errorf("restart overlapping the read: %v, want wiped", c)
	}
	if asked[0] != 5*time.Second || asked[1] < asked[0] {
		t.Errorf("asked about %v, want from the read's send to now", asked)
	}
	d.emptied = func(from, to time.Duration) bool { return false }
	if c := d.classify("k", sent); c != workload.MissEvicted {
		t.Errorf("restart elsewhere in the run: %v, want evicted", c)
	}
}

// The fills after an MGET, hash or sorted-set miss are cache writes timed
// from their send, as get-or-fetch's fill is: the origin's 80 ms is the
// upstream's, never the cache's. A hash fill is recorded as hset and a
// sorted set's as zadd (the commands Redis saw), not as set.
func TestDriverFillsExcludeOriginTime(t *testing.T) {
	slow := workload.OriginConfig{Latency: 80 * time.Millisecond, P99: 80 * time.Millisecond}
	hash := &workload.Family{Name: "product", Tier: "api", Source: "internal", MeanSize: 100, Type: "hash", Fields: 4}
	zset := &workload.Family{Name: "board", Tier: "api", Source: "internal", MeanSize: 100, Type: "zset", Members: 10}
	for _, tc := range []struct {
		name string
		op   workload.Op
		slot int8
	}{
		{"mget", workload.Op{Kind: workload.OpMGet, Family: testFamily, Keys: []string{"a", "b"}, Sizes: []int{100, 100}}, engine.SlotSet},
		{"hget", workload.Op{Kind: workload.OpHGet, Family: hash, Key: "product:1", Field: "f1", Size: 100}, engine.OpSlot[workload.OpHSet]},
		{"zrange", workload.Op{Kind: workload.OpZRange, Family: zset, Key: "board:1", Size: 100}, engine.OpSlot[workload.OpZAdd]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDriver(t, &fakeCache{}, 1, time.Second, 5*time.Second)
			d.l.origin = workload.NewOrigin(map[string]workload.OriginConfig{"internal": slow}, 1)
			c, h := drive(d, constantRate(3, 20, func(int) []workload.Op { return []workload.Op{tc.op} }))
			fills := int64(3)
			if tc.op.Kind == workload.OpMGet {
				fills = 6
			}
			if got := h.ByOp[tc.slot].TotalCount(); got != fills {
				t.Fatalf("%s samples = %d, want %d (one per miss filled)", engine.OpNames[tc.slot], got, fills)
			}
			if tc.slot != engine.SlotSet {
				if got := h.ByOp[engine.SlotSet].TotalCount(); got != 0 {
					t.Errorf("set samples = %d, want 0: the fill is %s", got, engine.OpNames[tc.slot])
				}
			}
			if m := h.ByOp[tc.slot].Max(); m >= 40_000 {
				t.Errorf("max %s latency = %d µs, want well under the origin's 80 ms: the fill is timed from its send", engine.OpNames[tc.slot], m)
			}
			if m := h.Command.Min(); m < 80_000 {
				t.Errorf("min command time = %d µs, want >= 80 ms: the command includes the origin", m)
			}
			if c.Errors[pool.KindFetch] != 0 {
				t.Errorf("fetch errors = %d, want 0", c.Errors[pool.KindFetch])
			}
		})
	}
}
