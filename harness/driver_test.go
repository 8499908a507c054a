package harness

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

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

var _ cache = (*fakeCache)(nil)

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

func (f *fakeCache) SetBatch(ctx context.Context, items []pool.Item, batch int) error {
	f.mu.Lock()
	f.sets += len(items)
	f.mu.Unlock()
	return ctx.Err()
}

// sliceSource yields a fixed list of commands.
type sliceSource struct {
	cmds []workload.Command
	i    int
}

func (s *sliceSource) Next() (workload.Command, bool) {
	if s.i >= len(s.cmds) {
		return workload.Command{}, false
	}
	s.i++
	return s.cmds[s.i-1], true
}

func (s *sliceSource) Active() int { return 1 }

var testFamily = &workload.Family{Name: "user_connected", Tier: tierPersistent, Source: "internal", MeanSize: 100}

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

// newTestDriver builds a driver over c with one recorded phase.
func newTestDriver(t *testing.T, c cache, inflight int, dropAfter, opTimeout time.Duration) *driver {
	t.Helper()
	return &driver{
		cache:    c,
		origin:   nil,
		ledger:   workload.NewLedger(),
		rec:      newRecorder(4, 1, 1),
		phases:   []phaseInfo{{name: "steady", recorded: true, end: time.Hour}},
		ttl:      map[string]time.Duration{},
		dropAft:  dropAfter,
		opTmo:    opTimeout,
		inflight: make(chan struct{}, inflight),
		runCtx:   context.Background(),
	}
}

// drive runs the commands to the end and returns the recorded totals.
func drive(d *driver, cmds []workload.Command) (counts, *hists) {
	d.start = time.Now()
	d.run(make(chan struct{}), &sliceSource{cmds: cmds})
	d.wg.Wait()
	return d.rec.totals()
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

	if c.dropped != 0 {
		t.Fatalf("dropped = %d, want 0 (drop_after is 10s)", c.dropped)
	}
	// Every command is a GET (miss) followed by a SET: two samples each.
	if got := h.overall.TotalCount(); got != 6000 {
		t.Fatalf("overall samples = %d, want 6000", got)
	}
	if p := h.overall.ValueAtQuantile(99.9); p < 900_000 {
		t.Errorf("intended-start p99.9 = %d µs, want >= 900 ms: the stall is hidden (coordinated omission)", p)
	}
	if p := h.service.ValueAtQuantile(99.9); p >= 100_000 {
		t.Errorf("service p99.9 = %d µs, want < 100 ms: only one call was slow once sent", p)
	}
	if c.late < 500 {
		t.Errorf("late = %d, want the ~1000 commands queued behind the stall", c.late)
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

	if c.dropped < 700 || c.dropped > 1000 {
		t.Fatalf("dropped = %d, want about 900 (a 1 s stall, 100 ms drop bound, 1000/s)", c.dropped)
	}
	if c.commands+c.dropped != 2000 {
		t.Errorf("commands %d + dropped %d != 2000 scheduled", c.commands, c.dropped)
	}
	// Executed commands: GET+SET = 2 samples each; dropped: 1 per op.
	wantOverall := int64(2*c.commands + c.dropped)
	if got := h.overall.TotalCount(); got != wantOverall {
		t.Errorf("overall samples = %d, want %d (executed ops plus one per dropped op)", got, wantOverall)
	}
	if got := h.service.TotalCount(); got != int64(2*c.commands) {
		t.Errorf("service samples = %d, want %d: a dropped command was never sent", got, 2*c.commands)
	}
	if p := h.overall.ValueAtQuantile(99); p < 100_000 {
		t.Errorf("intended-start p99 = %d µs, want >= drop_after (100 ms): drops are hidden from latency", p)
	}
	if got := h.command.TotalCount(); got != int64(c.commands+c.dropped) {
		t.Errorf("command samples = %d, want %d", got, c.commands+c.dropped)
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
	if got := c.errors[pool.KindConnectionRefused]; got != 120 {
		t.Errorf("errors[%s] = %d, want 120 (errors: %v)", pool.KindConnectionRefused, got, c.errors)
	}
	if got := c.lookupErrs[tierIndex(tierPersistent)]; got != 120 {
		t.Errorf("lookup errors = %d, want 120: a failed GET is a lookup that did not hit", got)
	}
	if got := c.fams[testFamily.Index].lookupErrs; got != 120 {
		t.Errorf("family lookup errors = %d, want 120", got)
	}
	if c.hits[tierIndex(tierPersistent)] != 0 || c.misses[tierIndex(tierPersistent)] != 0 {
		t.Errorf("hits/misses = %v/%v, want 0/0", c.hits, c.misses)
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
	ti := tierIndex(tierPersistent)
	if c.hits[ti] != 1 || c.lookupErrs[ti] != 1 {
		t.Errorf("hits = %d, lookup errors = %d; want 1 and 1", c.hits[ti], c.lookupErrs[ti])
	}
	if c.checked != 2 || c.mismatches != 1 || c.errors[kindIntegrity] != 1 {
		t.Errorf("checked %d, mismatches %d, integrity errors %d; want 2, 1, 1", c.checked, c.mismatches, c.errors[kindIntegrity])
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
	if c.misses[tierIndex(tierPersistent)] != 5 {
		t.Fatalf("misses = %v, want 5 in the persistent tier", c.misses)
	}
	if got := h.overall.TotalCount(); got != 15 { // get, fill, expire
		t.Fatalf("samples = %d, want 15", got)
	}
	if m := h.overall.Max(); m >= 40_000 {
		t.Errorf("max cache latency = %d µs, want well under the origin's 80 ms", m)
	}
	if m := h.command.Min(); m < 80_000 {
		t.Errorf("min command time = %d µs, want >= 80 ms: the command includes the origin", m)
	}
}

// A command started late by more than 1 ms counts as late.
func TestDriverCountsLateStarts(t *testing.T) {
	d := newTestDriver(t, &fakeCache{}, 4, time.Minute, 5*time.Second)
	cmds := constantRate(10, 1e6, getOp)
	d.start = time.Now().Add(-20 * time.Millisecond) // every intended start is 20 ms past
	d.run(make(chan struct{}), &sliceSource{cmds: cmds})
	d.wg.Wait()
	c, h := d.rec.totals()
	if c.late != 10 {
		t.Errorf("late = %d, want 10", c.late)
	}
	if m := h.byOp[opiGet].Min(); m < 20_000 {
		t.Errorf("min GET latency = %d µs, want >= 20 ms: latency runs from the intended start", m)
	}
}

// Operations after the command's deadline are never attempted: counted as
// abandoned, and against the verdict as the user met them: a latency sample
// each from the command's intended start (at least the 50 ms deadline), no
// service time (nothing was sent), not a request, and a read among them a
// lookup error (no answer: not a hit).
func TestDriverAbandonsOperationsPastTheDeadline(t *testing.T) {
	f := &fakeCache{get: func(ctx context.Context, key string) (string, bool, error) {
		<-ctx.Done()
		return "", false, ctx.Err()
	}}
	d := newTestDriver(t, f, 1, time.Second, 50*time.Millisecond)
	ops := make([]workload.Op, 5)
	for i := range ops {
		ops[i] = workload.Op{Kind: workload.OpGet, Family: testFamily, Key: "user:connected:1", Size: 100}
	}
	ops[3] = workload.Op{Kind: workload.OpSet, Family: testFamily, Key: "user:connected:1", Size: 100}
	ops[4] = workload.Op{Kind: workload.OpMGet, Family: testFamily, Keys: []string{"a", "b"}, Sizes: []int{100, 100}}
	c, h := drive(d, []workload.Command{{Ops: ops}})
	if c.abandoned != 4 {
		t.Errorf("abandoned = %d, want 4", c.abandoned)
	}
	if got := h.overall.TotalCount(); got != 5 {
		t.Errorf("samples = %d, want 5 (the GET that timed out and the 4 abandoned)", got)
	}
	if got := h.service.TotalCount(); got != 1 {
		t.Errorf("service samples = %d, want 1: an abandoned operation was never sent", got)
	}
	if m := h.overall.Min(); m < 50_000 {
		t.Errorf("min latency = %d µs, want >= 50 ms: an abandoned operation waited for the deadline", m)
	}
	if got := h.byOp[opiSet].TotalCount(); got != 1 {
		t.Errorf("set samples = %d, want the abandoned SET", got)
	}
	if c.ops != 1 {
		t.Errorf("requests = %d, want 1: abandoned operations were never requests", c.ops)
	}
	// The timed-out GET, two abandoned GETs and the MGET's two keys.
	ti := tierIndex(tierPersistent)
	if c.lookupErrs[ti] != 5 || c.hits[ti]+c.misses[ti] != 0 {
		t.Errorf("lookup errors %d, hits+misses %d; want 5 and 0", c.lookupErrs[ti], c.hits[ti]+c.misses[ti])
	}
	if got := c.errors[pool.KindTimeout]; got != 1 || len(c.errors) != 1 {
		t.Errorf("errors = %v, want one timeout", c.errors)
	}
}

// A miss of a key the ledger still remembers is an eviction, unless a
// restart that emptied the cache overlapped the read: the restarted node
// serves before the ledger learns of the wipe, and what it lacks the
// restart wiped.
func TestClassifyMissDuringRestartIsWiped(t *testing.T) {
	d := &driver{ledger: workload.NewLedger(), start: time.Now().Add(-10 * time.Second)}
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
		{"mget", workload.Op{Kind: workload.OpMGet, Family: testFamily, Keys: []string{"a", "b"}, Sizes: []int{100, 100}}, opiSet},
		{"hget", workload.Op{Kind: workload.OpHGet, Family: hash, Key: "product:1", Field: "f1", Size: 100}, opSlot[workload.OpHSet]},
		{"zrange", workload.Op{Kind: workload.OpZRange, Family: zset, Key: "board:1", Size: 100}, opSlot[workload.OpZAdd]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDriver(t, &fakeCache{}, 1, time.Second, 5*time.Second)
			d.origin = workload.NewOrigin(map[string]workload.OriginConfig{"internal": slow}, 1)
			c, h := drive(d, constantRate(3, 20, func(int) []workload.Op { return []workload.Op{tc.op} }))
			fills := int64(3)
			if tc.op.Kind == workload.OpMGet {
				fills = 6
			}
			if got := h.byOp[tc.slot].TotalCount(); got != fills {
				t.Fatalf("%s samples = %d, want %d (one per miss filled)", opNames[tc.slot], got, fills)
			}
			if tc.slot != opiSet {
				if got := h.byOp[opiSet].TotalCount(); got != 0 {
					t.Errorf("set samples = %d, want 0: the fill is %s", got, opNames[tc.slot])
				}
			}
			if m := h.byOp[tc.slot].Max(); m >= 40_000 {
				t.Errorf("max %s latency = %d µs, want well under the origin's 80 ms: the fill is timed from its send", opNames[tc.slot], m)
			}
			if m := h.command.Min(); m < 80_000 {
				t.Errorf("min command time = %d µs, want >= 80 ms: the command includes the origin", m)
			}
			if c.errors[pool.KindFetch] != 0 {
				t.Errorf("fetch errors = %d, want 0", c.errors[pool.KindFetch])
			}
		})
	}
}
