package selfmeasure

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/engine"
)

func TestHistQuantile(t *testing.T) {
	inf := math.Inf(1)
	buckets := []float64{math.Inf(-1), 0.001, 0.002, 0.004, 0.008, inf}
	for _, c := range []struct {
		name   string
		counts []uint64
		q      float64
		want   float64
		ok     bool
	}{
		{"empty", []uint64{0, 0, 0, 0, 0}, 0.99, 0, false},
		{"all in one bucket: its upper edge", []uint64{0, 0, 10, 0, 0}, 0.99, 0.004, true},
		{"p99 of 100 in the 99th value's bucket", []uint64{0, 98, 1, 1, 0}, 0.99, 0.004, true},
		{"p50", []uint64{0, 50, 49, 1, 0}, 0.5, 0.002, true},
		{"just past p50", []uint64{0, 49, 50, 1, 0}, 0.5, 0.004, true},
		{"unbounded last bucket gives its lower edge", []uint64{0, 1, 0, 0, 99}, 0.99, 0.008, true},
		{"below the first edge is clamped to 0", []uint64{5, 0, 0, 0, 0}, 0.99, 0.001, true},
		{"mismatched lengths", []uint64{1, 2}, 0.5, 0, false},
	} {
		got, ok := histQuantile(c.counts, buckets, c.q)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestHistDelta(t *testing.T) {
	a := &metrics.Float64Histogram{Counts: []uint64{1, 5, 2}, Buckets: []float64{0, 1, 2, 3}}
	b := &metrics.Float64Histogram{Counts: []uint64{1, 9, 7}, Buckets: []float64{0, 1, 2, 3}}
	got := histDelta(a, b)
	if got[0] != 0 || got[1] != 4 || got[2] != 5 {
		t.Errorf("delta %v, want [0 4 5]", got)
	}
}

// The runtime's own pause histogram: collections between two snapshots show
// up in the delta and give a pause p99 above zero.
func TestClientCollectorSeesGCPauses(t *testing.T) {
	c := &Collector{}
	c.begin()
	for range 5 {
		runtime.GC()
	}
	c.Finish()
	r := c.Report(1000)
	if r.GCCycles < 5 {
		t.Errorf("gc_cycles %d after 5 forced collections", r.GCCycles)
	}
	if r.GCPauseP99Ms <= 0 {
		t.Errorf("gc_pause_p99_ms %v after 5 forced collections", r.GCPauseP99Ms)
	}
	if r.GCCPUFraction < 0 || r.GCCPUFraction > 1 {
		t.Errorf("gc_cpu_fraction %v", r.GCCPUFraction)
	}
	if r.PeakRSSBytes < 1<<20 {
		t.Errorf("peak RSS %d bytes", r.PeakRSSBytes)
	}
}

// The window opens when the first recorded phase starts and closes when the
// last recorded one ends, not at the load's start and end.
func TestClientCollectorWindowFollowsRecordedPhases(t *testing.T) {
	ms := time.Millisecond
	phases := []engine.Phase{
		{Name: "warmup", Start: 0, End: 150 * ms},
		{Name: "steady", Recorded: true, Start: 150 * ms, End: 300 * ms},
		{Name: "cooldown", Start: 300 * ms, End: 450 * ms},
	}
	start := time.Now()
	c := StartCollector(start, phases, nil)
	defer c.Close()
	defer c.Stop()
	// Keep a CPU busy through all three phases.
	for time.Since(start) < 450*ms {
		for i := 0; i < 1e5; i++ {
			_ = math.Sqrt(float64(i))
		}
	}
	r := c.Report(100)
	c.mu.Lock()
	opened, closed := c.start.at.Sub(start), c.end.at.Sub(start)
	c.mu.Unlock()
	if opened < 150*ms || closed < 300*ms || closed >= 450*ms {
		t.Errorf("window %s..%s after the load's start, want from 150ms to about 300ms", opened, closed)
	}
	if r.CPUSeconds <= 0 || r.WindowS <= 0 || r.CPUPerRequestUs <= 0 {
		t.Errorf("cpu_seconds %v over window_s %v (%v µs/request)", r.CPUSeconds, r.WindowS, r.CPUPerRequestUs)
	}
}

// A scenario whose first phase is recorded opens the window as the probe
// starts, before its first report: the window still gets the host timer
// figures (it used to say "reported nothing" for every such scenario).
func TestClientCollectorHostTimerWhenRecordingStartsAtOnce(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the host timer probe runs on Linux only")
	}
	phases := []engine.Phase{{Name: "steady", Recorded: true, Start: 0, End: 600 * time.Millisecond}}
	start := time.Now()
	c := StartCollector(start, phases, nil)
	defer c.Close()
	defer c.Stop()
	time.Sleep(600 * time.Millisecond)
	r := c.Report(1)
	if r.HostTimer == nil || r.HostTimer.Wakes == 0 {
		t.Fatalf("no host timer over a window opened at the load's start: %+v (note %q)", r.HostTimer, r.HostTimerNote)
	}
}

// Interrupted before any recorded phase: settings are reported, CPU and GC
// figures are zero, and the pending edges are cancelled.
func TestClientCollectorInterruptedBeforeRecording(t *testing.T) {
	phases := []engine.Phase{{Name: "warmup", End: time.Hour}, {Name: "steady", Recorded: true, Start: time.Hour, End: 2 * time.Hour}}
	c := StartCollector(time.Now(), phases, nil)
	defer c.Close()
	r := c.Report(0)
	if r.WindowS != 0 || r.CPUSeconds != 0 || r.GCCycles != 0 {
		t.Errorf("figures without a recorded window: %+v", r)
	}
	if r.GOMAXPROCS == 0 || r.GOGC == "" || r.PeakRSSBytes == 0 {
		t.Errorf("settings missing: %+v", r)
	}
	for _, tm := range c.timers {
		if tm.Stop() {
			t.Error("a window edge was still pending after report")
		}
	}
}

// GOGC and GOMEMLIMIT are read as in effect, with where they came from.
func TestClientSettingsSources(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevLimit)
	})
	none := func(string) string { return "" }

	r := clientSettings(none)
	if r.GOGC != "100" || r.GOGCSource != "default" || r.GOMEMLIMIT != "off" || r.GOMEMLIMITSource != "default" {
		t.Errorf("Go defaults: %+v", r)
	}
	if r.GOMAXPROCS != runtime.GOMAXPROCS(0) || r.NumCPU != runtime.NumCPU() || r.GOMAXPROCSSource != "default" {
		t.Errorf("gomaxprocs %d (%s) num_cpu %d", r.GOMAXPROCS, r.GOMAXPROCSSource, r.NumCPU)
	}
	if r := clientSettings(func(k string) string { return map[string]string{"GOMAXPROCS": "1"}[k] }); r.GOMAXPROCSSource != "env" {
		t.Errorf("GOMAXPROCS in the environment: source %q, want env", r.GOMAXPROCSSource)
	}
	prevProcs := runtime.GOMAXPROCS(startGOMAXPROCS + 1)
	if r := clientSettings(none); r.GOMAXPROCSSource != "tool" {
		t.Errorf("GOMAXPROCS set at run time: source %q, want tool", r.GOMAXPROCSSource)
	}
	runtime.GOMAXPROCS(prevProcs)

	// What a program that tunes its collector at run time looks like.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(4 << 30)
	r = clientSettings(none)
	if r.GOGC != "400" || r.GOGCSource != "tool" || r.GOMEMLIMIT != "4GiB" || r.GOMEMLIMITSource != "tool" {
		t.Errorf("set by the tool: %+v", r)
	}

	env := map[string]string{"GOGC": "400", "GOMEMLIMIT": "4GiB"}
	r = clientSettings(func(k string) string { return env[k] })
	if r.GOGCSource != "env" || r.GOMEMLIMITSource != "env" {
		t.Errorf("set in the environment: %+v", r)
	}

	debug.SetGCPercent(-1)
	if r = clientSettings(func(k string) string { return map[string]string{"GOGC": "off"}[k] }); r.GOGC != "off" || r.GOGCSource != "env" {
		t.Errorf("GOGC=off: %+v", r)
	}
}

func TestFormatMemLimit(t *testing.T) {
	for n, want := range map[int64]string{
		math.MaxInt64: "off", 4 << 30: "4GiB", 1536 << 20: "1536MiB", 2 << 40: "2TiB", 3 << 10: "3KiB", 1000: "1000B", 0: "0B",
	} {
		if got := formatMemLimit(n); got != want {
			t.Errorf("formatMemLimit(%d) = %q, want %q", n, got, want)
		}
	}
}
