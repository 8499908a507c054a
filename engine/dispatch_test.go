package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/workload"
)

// overSleeper wakes a fixed time after every deadline: a scripted
// oversleeping clock.
type overSleeper struct {
	over time.Duration
	stop <-chan struct{}
}

func (s *overSleeper) sleepUntil(t time.Time) bool {
	select {
	case <-s.stop:
		return false
	case <-time.After(time.Until(t) + s.over):
		return true
	}
}

func (s *overSleeper) close() {}

// A dispatcher whose sleeps overshoot by 3 ms starts every command late, and
// the report must say so: each one counts as late and its latency, from the
// intended start, includes the 3 ms. Waking late is the tool's fault and
// is never hidden, however the dispatcher sleeps.
func TestDispatchOversleepCountsLate(t *testing.T) {
	defer func(f func(<-chan struct{}) sleeper) { newDispatchSleeper = f }(newDispatchSleeper)
	newDispatchSleeper = func(stop <-chan struct{}) sleeper { return &overSleeper{over: 3 * time.Millisecond, stop: stop} }
	d := newTestDriver(&getExec{}, 4, time.Minute, 5*time.Second)
	// 20 ms apart, the first at 10 ms: every command is slept for.
	c, h := drive(d, gets(20, 10*time.Millisecond, 20*time.Millisecond, sameKey))
	if c.Late != 20 {
		t.Errorf("late = %d, want 20: every command started 3 ms after its intended time", c.Late)
	}
	if m := h.ByOp[SlotGet].Min(); m < 3000 {
		t.Errorf("min GET latency = %d µs, want >= 3 ms: latency runs from the intended start", m)
	}
	if m := h.Service.Max(); m >= 3000 {
		t.Errorf("max service time = %d µs, want < 3 ms: the dispatcher's delay is not Redis's", m)
	}
}

// Closing stop ends a dispatcher asleep until a command an hour away.
func TestDispatchStopsWhileAsleep(t *testing.T) {
	d := newTestDriver(&getExec{}, 4, time.Minute, 5*time.Second)
	d.SetStart(time.Now())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		d.Run(stop, &Commands{List: gets(2, 0, time.Hour, sameKey)})
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	close(stop)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the dispatcher did not stop within 2 s of stop")
	}
	d.Wait()
	if c, _ := d.Recorder().Totals(); c.Commands != 1 {
		t.Errorf("commands = %d, want 1 (the one due at start)", c.Commands)
	}
}

// The dispatcher's sleeper wakes within a fraction of a millisecond of a
// short deadline. A time.Timer in an otherwise idle Go process does not: the
// runtime's epoll_wait timeout is whole milliseconds, so a 200 µs timer
// fires after about 1.05 ms, and the commands it waited for were counted
// late. Lenient bound (median under 0.9 ms) for a shared machine.
func TestDispatchSleeperWakesOnTime(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the precise sleeper is Linux's timerfd")
	}
	stop := make(chan struct{})
	defer close(stop)
	sl := newSleeper(stop)
	defer sl.close()
	if _, ok := sl.(*timerfdSleeper); !ok {
		t.Fatalf("newSleeper = %T, want the timerfd sleeper on Linux", sl)
	}
	over := make([]time.Duration, 0, 200)
	for range 200 {
		want := time.Now().Add(200 * time.Microsecond)
		if !sl.sleepUntil(want) {
			t.Fatal("sleepUntil returned false with stop open")
		}
		o := time.Since(want)
		if o < 0 {
			t.Fatalf("woke %v before the deadline", -o)
		}
		over = append(over, o)
	}
	slices.Sort(over)
	if p50 := over[len(over)/2]; p50 > 900*time.Microsecond {
		t.Errorf("median oversleep %v, want under 0.9 ms (p90 %v)", p50, over[len(over)*9/10])
	}
}

// BenchmarkDispatchLate runs the dispatcher alone (a cache that answers at
// once) through 2 s of Poisson arrivals at 2,000 commands a second, on the
// timerfd sleeper and on a time.Timer, and reports the share of commands
// started over 1 ms late and the median latency from the intended start:
// what the dispatcher's own wake-ups cost the measurement.
//
//	go test -run '^$' -bench DispatchLate ./engine/
func BenchmarkDispatchLate(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var cmds []workload.Command
	at := 5 * time.Millisecond
	for at < 2*time.Second {
		at += time.Duration(r.ExpFloat64() * float64(time.Second/2000))
		cmds = append(cmds, workload.Command{At: at, Ops: []workload.Op{{Kind: workload.OpGet, Family: getFamily, Key: "user:connected:1", Size: 100}}})
	}
	for _, s := range []struct {
		name string
		new  func(<-chan struct{}) sleeper
	}{
		{"timerfd", newSleeper},
		{"timer", func(stop <-chan struct{}) sleeper { return newTimerSleeper(stop) }},
	} {
		b.Run(s.name, func(b *testing.B) {
			defer func(f func(<-chan struct{}) sleeper) { newDispatchSleeper = f }(newDispatchSleeper)
			newDispatchSleeper = s.new
			var late, n, p50 float64
			for range b.N {
				d := newTestDriver(&getExec{}, 1000, time.Minute, 5*time.Second)
				c, h := drive(d, cmds)
				late += float64(c.Late)
				n += float64(c.Commands)
				p50 += float64(h.ByOp[SlotGet].ValueAtQuantile(50))
			}
			b.ReportMetric(100*late/n, "late%")
			b.ReportMetric(p50/float64(b.N), "p50-µs")
		})
	}
	// The machine's own floor beside them: selfmeasure's
	// BenchmarkHostProbeFloor.
}

// Every command is started exactly once or dropped, never both and never
// twice: 5,000 commands at 20,000 a second, each GET of its own
// key, with few in-flight slots so the dispatcher also waits and drops.
func TestDispatchEachCommandOnce(t *testing.T) {
	for _, slots := range []int{1000, 3} {
		var mu sync.Mutex
		seen := map[string]int{}
		e := &getExec{get: func(ctx context.Context, key string) error {
			mu.Lock()
			seen[key]++
			mu.Unlock()
			for range 50 {
				runtime.Gosched()
			}
			return nil
		}}
		dropAfter := time.Minute
		if slots < 10 {
			dropAfter = 2 * time.Millisecond
		}
		d := newTestDriver(e, slots, dropAfter, 5*time.Second)
		c, _ := drive(d, gets(5000, 0, time.Second/20000, func(i int) string { return fmt.Sprintf("user:connected:%d", i) }))
		if c.Commands+c.Dropped != 5000 {
			t.Errorf("slots %d: commands %d + dropped %d != 5000 scheduled", slots, c.Commands, c.Dropped)
		}
		if uint64(len(seen)) != c.Commands {
			t.Errorf("slots %d: %d distinct keys read, %d commands counted", slots, len(seen), c.Commands)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("slots %d: %s read %d times", slots, k, n)
				break
			}
		}
		if slots == 1000 && c.Dropped != 0 {
			t.Errorf("slots %d: dropped %d, want 0", slots, c.Dropped)
		}
	}
}

// A burst parks no more than maxIdleWorkers workers for the rest of the
// run: 200 commands held in flight at once need 200 workers, and once they
// finish, with dispatching still going (the next command is an hour
// away), all but the bound exit. Without it the burst's workers, each
// with the stack it grew, stayed until the run's end.
func TestDispatchCapsIdleWorkers(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	started := 0
	e := &getExec{get: func(ctx context.Context, key string) error {
		mu.Lock()
		started++
		mu.Unlock()
		<-gate
		return nil
	}}
	d := newTestDriver(e, 1000, time.Minute, 30*time.Second)
	d.maxIdle = 8
	d.SetStart(time.Now())
	cmds := append(gets(200, 0, 0, sameKey), gets(1, time.Hour, 0, sameKey)...)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		d.Run(stop, &Commands{List: cmds})
		close(done)
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("200 commands in flight", func() bool { mu.Lock(); defer mu.Unlock(); return started == 200 })
	if w := d.Workers(); w != 200 {
		t.Errorf("%d workers with 200 commands in flight, want 200", w)
	}
	close(gate)
	waitFor("the burst's workers to exit", func() bool { return d.Workers() <= 8 })
	if c, _ := d.Recorder().Totals(); c.Commands != 200 {
		t.Errorf("commands = %d, want 200", c.Commands)
	}
	time.Sleep(20 * time.Millisecond)
	if w := d.Workers(); w != 8 {
		t.Errorf("%d workers idle after the burst, want the bound, 8", w)
	}
	close(stop)
	<-done
	d.Wait()
	waitFor("every worker to end with dispatching", func() bool { return d.Workers() == 0 })
}
