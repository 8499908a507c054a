package selfmeasure

import (
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/topology"

	"github.com/cacheproof/cacheproof/result"
)

// The runtime/metrics the client collector reads. Pauses are every
// stop-the-world pause of the garbage collector (a histogram in seconds);
// the CPU classes are the runtime's estimates of CPU time, GOMAXPROCS
// integrated over wall time for the total.
const (
	metricGCPauses  = "/sched/pauses/total/gc:seconds"
	metricSchedLat  = "/sched/latencies:seconds"
	metricGCCPU     = "/cpu/classes/gc/total:cpu-seconds"
	metricTotalCPU  = "/cpu/classes/total:cpu-seconds"
	metricGCCycles  = "/gc/cycles/total:gc-cycles"
	metricGOGC      = "/gc/gogc:percent"
	metricMemLimit  = "/gc/gomemlimit:bytes"
	defaultGOGC     = 100
	defaultMemLimit = math.MaxInt64
)

// clientSnapshot is the tool's own cumulative counters at one moment.
type clientSnapshot struct {
	at     time.Time
	cpu    time.Duration // getrusage(RUSAGE_SELF): user+system, children excluded
	pauses *metrics.Float64Histogram
	// sched is how long goroutines waited runnable before they ran: the
	// tool's own scheduling delay, added to every latency it records.
	sched    *metrics.Float64Histogram
	gcCPU    float64
	totalCPU float64
	cycles   uint64
	// host is the host timer probe's count (hostOK false before its first
	// report or without a probe).
	host   hostTimerCounts
	hostOK bool
}

func takeClientSnapshot() clientSnapshot {
	s := []metrics.Sample{{Name: metricGCPauses}, {Name: metricGCCPU}, {Name: metricTotalCPU}, {Name: metricGCCycles}, {Name: metricSchedLat}}
	metrics.Read(s)
	snap := clientSnapshot{at: time.Now(), cpu: CPUTime()}
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		snap.pauses = s[0].Value.Float64Histogram()
	}
	if s[4].Value.Kind() == metrics.KindFloat64Histogram {
		snap.sched = s[4].Value.Float64Histogram()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		snap.gcCPU = s[1].Value.Float64()
	}
	if s[2].Value.Kind() == metrics.KindFloat64 {
		snap.totalCPU = s[2].Value.Float64()
	}
	if s[3].Value.Kind() == metrics.KindUint64 {
		snap.cycles = s[3].Value.Uint64()
	}
	return snap
}

// Collector measures the load generator itself over the recorded
// load, so the report can say what the tool ran under and what it cost
// while the latencies that targets judge were being recorded. The window
// opens when the first recorded phase starts (warm-up excluded) and closes
// when the last recorded phase ends, or at the end of the run (in-flight
// commands drained) when it is the last phase. A run interrupted before
// recording began has an empty window: its CPU and GC figures are zero.
type Collector struct {
	mu         sync.Mutex
	start, end *clientSnapshot
	timers     []*time.Timer
	// probe measures the machine's own timer wake-ups over the window
	// (hostprobe.go); nil when nothing is recorded.
	probe *hostProbe
	// replies times the cache manager's commands (nil: not timed); what
	// it recorded before the window is dropped when the window opens.
	replies   *pool.ReplyTimer
	replyWait *result.ReplyWait
}

// StartCollector schedules the window's edges relative to the load's
// start. A phase boundary passes on a timer rather than on the sampler's
// tick, so the window does not lag the phase by up to a sampling interval.
// replies, when not nil, is the timer on the cache manager's connections
// whose window becomes the client section's reply_wait.
func StartCollector(loadStart time.Time, phases []engine.Phase, replies *pool.ReplyTimer) *Collector {
	c := &Collector{replies: replies}
	first, last := -1, -1
	for i, p := range phases {
		if p.Recorded {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return c // nothing recorded: the window stays empty
	}
	c.probe = startHostProbe()
	at := func(d time.Duration, f func()) {
		if wait := time.Until(loadStart.Add(d)); wait > 0 {
			c.timers = append(c.timers, time.AfterFunc(wait, f))
		} else {
			f()
		}
	}
	at(phases[first].Start, c.begin)
	if last < len(phases)-1 {
		at(phases[last].End, c.Finish)
	}
	return c
}

func (c *Collector) begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start == nil {
		s := takeClientSnapshot()
		s.host, s.hostOK = c.probe.snapshot(true)
		c.start = &s
		if c.replies != nil {
			c.replies.Take() // prefill and warm-up are not the window's
		}
	}
}

// Finish closes the window if it is open and not yet closed.
func (c *Collector) Finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start != nil && c.end == nil {
		s := takeClientSnapshot()
		s.host, s.hostOK = c.probe.snapshot(false)
		c.end = &s
		if c.replies != nil {
			rt := c.replies.Take()
			c.replyWait = result.NewReplyWait(rt.Arrival, rt.Wait)
		}
	}
}

// Stop cancels the edges that have not passed (an interrupted run).
func (c *Collector) Stop() {
	for _, t := range c.timers {
		t.Stop()
	}
}

// Close ends the host timer probe; after report, or when the run fails.
func (c *Collector) Close() {
	if c != nil {
		c.probe.close()
	}
}

// Report closes the window (if still open) and returns the client section;
// requests are the recorded cache operations, for CPU per request.
func (c *Collector) Report(requests uint64) result.ClientReport {
	c.Stop()
	c.Finish()
	cr := clientSettings(os.Getenv)
	cr.PeakRSSBytes = peakRSS()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start == nil || c.end == nil {
		return cr
	}
	a, b := c.start, c.end
	cr.WindowS = roundS(b.at.Sub(a.at).Seconds())
	cr.CPUSeconds = roundS((b.cpu - a.cpu).Seconds())
	if requests > 0 {
		cr.CPUPerRequestUs = math.Round(float64((b.cpu-a.cpu).Nanoseconds())/1e3/float64(requests)*100) / 100
	}
	cr.GCCycles = b.cycles - a.cycles
	if a.pauses != nil && b.pauses != nil {
		counts := histDelta(a.pauses, b.pauses)
		if p, ok := histQuantile(counts, b.pauses.Buckets, 0.99); ok {
			cr.GCPauseP99Ms = math.Round(p*1e3*1e4) / 1e4
		}
	}
	if a.sched != nil && b.sched != nil {
		cr.Sched = schedReport(histDelta(a.sched, b.sched), b.sched.Buckets)
	}
	cr.ReplyWait = c.replyWait
	if total := b.totalCPU - a.totalCPU; total > 0 {
		cr.GCCPUFraction = math.Round((b.gcCPU-a.gcCPU)/total*1e5) / 1e5
	}
	switch {
	case c.probe != nil && c.probe.why != "":
		cr.HostTimerNote = c.probe.why
	case a.hostOK && b.hostOK:
		cr.HostTimer = hostTimerReport(a.host, b.host)
	}
	if cr.HostTimer == nil && cr.HostTimerNote == "" {
		cr.HostTimerNote = "the host timer probe reported nothing over the window"
	}
	return cr
}

// clientSettings reads the Go runtime settings in effect: GOGC and
// GOMEMLIMIT as the runtime applies them now (read through runtime/metrics,
// which has no side effect, unlike SetGCPercent's read-and-restore), each
// with where it came from: "env" when the variable is set (the runtime
// parsed it at start), "tool" when the program changed it at run time (a
// run sets a soft GOMEMLIMIT for its peak users, harness/memlimit.go; GOGC
// stays Go's since the load generator's garbage shrank:
// docs/performance.md), "default" when neither did (Go's 100 and no limit).
func clientSettings(getenv func(string) string) result.ClientReport {
	s := []metrics.Sample{{Name: metricGOGC}, {Name: metricMemLimit}}
	metrics.Read(s)
	gogc, limit := int64(defaultGOGC), int64(defaultMemLimit)
	if s[0].Value.Kind() == metrics.KindUint64 {
		gogc = int64(s[0].Value.Uint64()) // off (-1) comes back as the uint64 of -1
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		limit = int64(min(s[1].Value.Uint64(), math.MaxInt64))
	}
	cr := result.ClientReport{GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()}
	cr.GOGC = "off"
	if gogc >= 0 {
		cr.GOGC = strconv.FormatInt(gogc, 10)
	}
	cr.GOMEMLIMIT = formatMemLimit(limit)
	cr.GOGCSource = settingSource(getenv("GOGC"), gogc == defaultGOGC)
	cr.GOMEMLIMITSource = settingSource(getenv("GOMEMLIMIT"), limit == defaultMemLimit)
	cr.GOMAXPROCSSource = settingSource(getenv("GOMAXPROCS"), cr.GOMAXPROCS == startGOMAXPROCS)
	return cr
}

// startGOMAXPROCS is GOMAXPROCS as the runtime chose it at start (from the
// environment or Go's default). cacheproof runs at Go's default: measured
// on the 2-core machine sharing a local redis-server, GOMAXPROCS=1 cost
// about 14 % less CPU per Redis command at 10,000 users but started more
// commands late, and at 20,000 users one thread could not keep the schedule
// (docs/performance.md); GOMAXPROCS=1 in the environment still applies.
var startGOMAXPROCS = runtime.GOMAXPROCS(0)

func settingSource(env string, isDefault bool) string {
	switch {
	case env != "":
		return "env"
	case isDefault:
		return "default"
	default:
		return "tool"
	}
}

// formatMemLimit writes a memory limit as GOMEMLIMIT accepts it ("4GiB"),
// in the largest unit that divides it exactly; "off" for no limit.
func formatMemLimit(n int64) string {
	if n == math.MaxInt64 {
		return "off"
	}
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// histDelta returns the counts b minus a bucket by bucket: what the
// histogram gained between two reads. The runtime's buckets are fixed for
// the process's life; if they ever differ, b's counts stand alone.
func histDelta(a, b *metrics.Float64Histogram) []uint64 {
	out := make([]uint64, len(b.Counts))
	same := len(a.Counts) == len(b.Counts)
	for i, n := range b.Counts {
		if same && n >= a.Counts[i] {
			n -= a.Counts[i]
		}
		out[i] = n
	}
	return out
}

// histQuantile returns the q-quantile of a runtime/metrics histogram
// (counts[i] in [buckets[i], buckets[i+1])) as the upper edge of the bucket
// that holds it: an upper bound, off by at most the bucket's width (the
// runtime's time buckets are a few percent wide). An unbounded last bucket
// gives its lower edge. ok is false when the histogram is empty.
func histQuantile(counts []uint64, buckets []float64, q float64) (v float64, ok bool) {
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 || len(buckets) != len(counts)+1 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = max(rank, 1)
	var seen uint64
	for i, n := range counts {
		seen += n
		if seen >= rank {
			if hi := buckets[i+1]; !math.IsInf(hi, 1) {
				return hi, true
			}
			return math.Max(buckets[i], 0), true
		}
	}
	return 0, false
}

// schedReport summarises the window's goroutine scheduling latencies (the
// time from runnable to running, every goroutine of the tool; the runtime
// times one transition in eight, so Count is that sample): a command's
// reply reaches its caller only after the netpoller makes the caller
// runnable and a P runs it, so this delay sits inside every service time
// and every latency the tool records. nil when nothing was scheduled.
func schedReport(counts []uint64, buckets []float64) *result.SchedLatency {
	var total, over uint64
	for i, n := range counts {
		total += n
		if buckets[i] >= 1e-3 {
			over += n
		}
	}
	if total == 0 {
		return nil
	}
	ms := func(q float64) float64 {
		v, _ := histQuantile(counts, buckets, q)
		return math.Round(v*1e3*1e4) / 1e4
	}
	return &result.SchedLatency{
		Count: total, P50Ms: ms(0.5), P99Ms: ms(0.99), P999Ms: ms(0.999),
		Over1msFraction: math.Round(float64(over)/float64(total)*1e6) / 1e6,
	}
}

// peakRSS is the process's peak resident set since it started (getrusage
// ru_maxrss, KiB on Linux): the memory the tool needed at its worst,
// prefill included; children (a redis-server it started) are excluded.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}

// FillCost sets Redis's own CPU over the recorded phases (from the
// timeline's per-second INFO deltas, so a restart does not break it), the
// tool's CPU per Redis command and against Redis's, and the bottleneck
// verdict. local is true when every Redis node is on this machine, so the
// two compete for its CPUs.
func FillCost(res *result.Result, local bool) {
	recorded := map[string]bool{}
	for _, p := range res.Phases {
		if p.Recorded {
			recorded[p.Name] = true
		}
	}
	var cpu float64
	var cmds uint64
	for _, row := range res.Timeline {
		if recorded[row.Phase] {
			cpu += row.ServerCPUS
			cmds += row.ServerCommands
		}
	}
	sv := &res.Server
	sv.CPUSeconds, sv.Commands = roundUs(cpu), cmds
	c := &res.Client
	if cmds > 0 {
		sv.CPUPerCommandUs = math.Round(cpu/float64(cmds)*1e6*100) / 100
		c.CPUPerRedisCommandUs = math.Round(c.CPUSeconds/float64(cmds)*1e6*100) / 100
	}
	if cpu > 0 {
		c.CPUVsRedis = math.Round(c.CPUSeconds/cpu*100) / 100
	}
	c.HostLoad1m = hostLoadNow()
	c.Bottleneck = bottleneck(res.Users, res.Pool, res.Latency, *c, cpu, local)
}

// hostLoadNow reads the machine's load; a variable so tests of the verdict
// do not depend on how busy the machine running them is.
var hostLoadNow = hostLoad

// hostLoad is the 1-minute load average, or 0 when it cannot be read.
func hostLoad() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0
	}
	return v
}

// bottleneck says why the load generator limited the run, or "" when it
// did not. Lateness is the system under test's doing, not the tool's, when
// every in-flight slot was taken (its users were all waiting on it) or when
// its connection pool timed out: then tens of thousands of commands queue
// for connections, and a new command waits behind them for the scheduler.
// A saturated CPU is the tool's whatever else happened. Late starts count
// only when they moved the tail: a timer that oversleeps by a millisecond
// (common on virtual machines) makes many starts "late" without changing
// what the latency targets judge, and a banner on every run would be noise.
func bottleneck(u result.UsersReport, p result.PoolReport, lat result.LatencyReport, c result.ClientReport, redisCPU float64, local bool) string {
	var why []string
	started := u.Commands
	tailMoved := lat.Overall.P99 > 0 && lat.Overall.P99-lat.Service.P99 > result.LateTailShare*lat.Overall.P99
	if tool := u.Late - min(u.LateWaitingForSlot, u.Late); tailMoved && p.Timeouts == 0 && started > 0 && float64(tool) > result.ToolLateShare*float64(started) {
		share := float64(tool) / float64(started)
		if h := c.HostTimer; hostExplainsLate(h, share) {
			// The probe's thread competes for the same CPUs as the tool's
			// (and a local Redis's): say how busy they kept them, so a
			// reader can tell a noisy host from a machine this load filled.
			busy := ""
			if c.WindowS > 0 && c.NumCPU > 0 {
				used := c.CPUSeconds / c.WindowS
				if local {
					used += redisCPU / c.WindowS
					busy = fmt.Sprintf(", while the tool and Redis used %.2f of its %d CPUs", used, c.NumCPU)
				} else {
					busy = fmt.Sprintf(", while the tool used %.2f of its %d CPUs", used, c.NumCPU)
				}
			}
			why = append(why, fmt.Sprintf("%.1f%% of commands started over 1 ms late, and this machine woke a separate probe process's timed sleeps as late (%.2f%% over 1 ms, worst %.1f ms%s): threads here waited for a CPU whatever their code, so the late starts are the machine's, not the tool's schedule",
				100*share, 100*h.LateFraction, h.MaxMs, busy))
		} else {
			why = append(why, fmt.Sprintf("%.1f%% of commands started over 1 ms late with in-flight slots free (the tool could not keep its schedule)", 100*share))
		}
	}
	if s := c.Sched; s != nil && lat.Overall.P99 > 0 && s.P99Ms >= result.SchedFloorMs && s.P99Ms >= result.SchedTailShare*lat.Overall.P99 {
		why = append(why, fmt.Sprintf("the tool's own goroutines waited %.2f ms (p99) for a thread to run them, against a p99 latency of %.2f ms: that much of the tail is the tool's scheduling, not Redis", s.P99Ms, lat.Overall.P99))
	}
	if w := c.ReplyWait; w != nil && lat.Overall.P99 > 0 && w.WaitP99Ms >= result.SchedFloorMs && w.WaitP99Ms >= result.SchedTailShare*lat.Overall.P99 {
		why = append(why, fmt.Sprintf("replies that had arrived waited %.2f ms (p99) for the tool to read them (kernel arrival stamps; network and Redis took %.2f ms at p99), against a p99 latency of %.2f ms: that part of the tail is the tool's", w.WaitP99Ms, w.ArrivalP99Ms, lat.Overall.P99))
	}
	if c.WindowS > 0 {
		cores := c.CPUSeconds / c.WindowS
		limit := float64(min(c.GOMAXPROCS, c.NumCPU))
		if limit > 0 && cores >= result.ToolBusyShare*limit {
			why = append(why, fmt.Sprintf("the tool used %.2f of the %.0f CPUs it may use", cores, limit))
		} else if both := cores + redisCPU/c.WindowS; local && c.NumCPU > 0 && both >= result.ToolBusyShare*float64(c.NumCPU) {
			why = append(why, fmt.Sprintf("the tool (%.2f) and Redis (%.2f) together used %.2f of this machine's %d CPUs",
				cores, redisCPU/c.WindowS, both, c.NumCPU))
		}
	}
	if c.NumCPU > 0 && c.HostLoad1m > float64(c.NumCPU) {
		why = append(why, fmt.Sprintf("this machine was oversubscribed (load average %.2f on %d CPUs): more threads wanted the CPUs than there were, the tool's and Redis's own included", c.HostLoad1m, c.NumCPU))
	}
	return strings.Join(why, "; ")
}

// hostExplainsLate reports whether the host timer probe saw enough late
// wake-ups to account for a late share of command starts.
func hostExplainsLate(h *result.HostTimer, share float64) bool {
	return h != nil && h.Wakes > 0 && h.Late > 0 && share <= result.HostWakesPerStart*h.LateFraction
}

// LoopbackOnly reports whether every node listens on a loopback address:
// Redis then shares this machine's CPUs with the tool.
func LoopbackOnly(nodes []topology.Node) bool {
	if len(nodes) == 0 {
		return false
	}
	for _, n := range nodes {
		host, _, err := net.SplitHostPort(n.Addr)
		if err != nil {
			return false
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}

// CPUTime is this process's user+system CPU time so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// roundS rounds seconds to the millisecond, as the report's other
// durations are.
func roundS(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

// roundUs rounds seconds to the microsecond.
func roundUs(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// SchedWindow opens a window on the tool's goroutine scheduling delay
// (runtime/metrics /sched/latencies:seconds); the returned function closes
// it and summarises the waits in between (nil when none). Raw mode reads
// it per test, beside its latencies.
func SchedWindow() func() *result.SchedLatency {
	read := func() *metrics.Float64Histogram {
		s := []metrics.Sample{{Name: metricSchedLat}}
		metrics.Read(s)
		if s[0].Value.Kind() != metrics.KindFloat64Histogram {
			return nil
		}
		return s[0].Value.Float64Histogram()
	}
	a := read()
	return func() *result.SchedLatency {
		b := read()
		if a == nil || b == nil {
			return nil
		}
		return schedReport(histDelta(a, b), b.Buckets)
	}
}

// GCWindow starts a window over the garbage collector's work: the
// returned function gives the collections completed and the CPU seconds the
// runtime estimates the collector took (marking, assists, pauses) since.
// On one P that CPU is taken from the goroutines waiting to run, which is
// how a collection shows in the scheduling delay beside it.
func GCWindow() func() (cycles uint64, cpuS float64) {
	read := func() (uint64, float64) {
		s := []metrics.Sample{{Name: metricGCCycles}, {Name: metricGCCPU}}
		metrics.Read(s)
		var n uint64
		var c float64
		if s[0].Value.Kind() == metrics.KindUint64 {
			n = s[0].Value.Uint64()
		}
		if s[1].Value.Kind() == metrics.KindFloat64 {
			c = s[1].Value.Float64()
		}
		return n, c
	}
	n0, c0 := read()
	return func() (uint64, float64) {
		n1, c1 := read()
		return n1 - n0, roundS(c1 - c0)
	}
}

// LeaveCPUForRedis is raw mode's GOMAXPROCS: with Redis on this machine
// and no GOMAXPROCS in the environment, the closed loop runs Go code on one
// CPU fewer than the machine has, so Redis keeps a CPU of its own. Measured
// on the 2-core machine (docs/performance.md, issue 28): at Go's default
// the tool's two threads kept redis-server waiting on the run queue for
// 1.5-2.1 s of a 4 s test (against redis-benchmark's 0.05-0.08 s) and raw
// mode's p99 was 5.2-5.4 ms; at one thread Redis waited 0.07 s, the p99
// fell to 1.8-1.9 ms and the throughput stayed the same (the tool is
// CPU-bound on one core either way). The returned function restores the
// setting; source says where the value in effect came from ("env",
// "default", or "tool" when this changed it).
func LeaveCPUForRedis(local bool) (restore func(), procs int, source string) {
	cur := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}, cur, "env"
	}
	if !local || runtime.NumCPU() < 2 || cur < 2 {
		return func() {}, cur, "default"
	}
	runtime.GOMAXPROCS(cur - 1)
	return func() { runtime.GOMAXPROCS(cur) }, cur - 1, "tool"
}
