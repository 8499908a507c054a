package result

import "github.com/HdrHistogram/hdrhistogram-go"

// ClientReport is the load generator's own state during the run: the Go
// runtime settings it ran under, what its garbage collector cost, and its CPU
// and memory. A p99 target missed while the tool's GC paused for 4 ms or its
// CPU was saturated says more about the tool than about Redis; this section
// lets a reader tell the two apart.
//
// CPU and GC figures cover the recorded load (WindowS seconds: from the start
// of the first recorded phase to the end of the last, in-flight commands
// drained), the same window as the latencies the targets judge. Settings and
// PeakRSSBytes are as of the end of the run.
type ClientReport struct {
	// GOGC and GOMEMLIMIT as in effect ("off", "400"; "4GiB", "off"), with
	// where each came from: "env" (the variable was set), "tool" (the
	// program set it at run time: a run sets GOMEMLIMIT for its peak users
	// unless the environment does, harness/memlimit.go) or "default" (Go's
	// 100 and no limit).
	GOGC             string `json:"gogc"`
	GOGCSource       string `json:"gogc_source"`
	GOMEMLIMIT       string `json:"gomemlimit"`
	GOMEMLIMITSource string `json:"gomemlimit_source"`
	// GOMAXPROCS is how many threads ran Go code at once; NumCPU the CPUs
	// the process could use. CPUSeconds / WindowS near GOMAXPROCS means the
	// tool itself was saturated. GOMAXPROCSSource is where it came from, as
	// for GOGC: "env", "tool" or "default" (Go's: the CPUs, or the
	// container's CPU limit); cacheproof does not set it.
	GOMAXPROCS       int    `json:"gomaxprocs"`
	GOMAXPROCSSource string `json:"gomaxprocs_source,omitempty"`
	NumCPU           int    `json:"num_cpu"`
	// ConnReadBufferBytes and ConnWriteBufferBytes are each cache
	// connection's read and write buffers (go-redis's ReadBufferSize and
	// WriteBufferSize), ConnBufferSource where they came from: "tool"
	// (cacheproof's pool sets them: pool.ConnReadBufferBytes). Absent in
	// reports written before they were set.
	ConnReadBufferBytes  int    `json:"conn_read_buffer_bytes,omitempty"`
	ConnWriteBufferBytes int    `json:"conn_write_buffer_bytes,omitempty"`
	ConnBufferSource     string `json:"conn_buffer_source,omitempty"`
	// WindowS is the length of the measured window in seconds.
	WindowS float64 `json:"window_s"`
	// GCPauseP99Ms is the 99th percentile of the collector's stop-the-world
	// pauses in the window (runtime/metrics /sched/pauses/total/gc:seconds,
	// the upper edge of its bucket); 0 when no pause happened. GCCycles is
	// how many collections completed in the window.
	GCPauseP99Ms float64 `json:"gc_pause_p99_ms"`
	GCCycles     uint64  `json:"gc_cycles"`
	// Sched is the tool's own scheduling delay over the window: how long
	// its goroutines waited runnable before a thread ran them
	// (runtime/metrics /sched/latencies:seconds). Every latency the tool
	// records includes at least one such wait (the caller woken by its
	// reply), so a service-time p99 near Sched's p99 is the tool's, not
	// Redis's. Absent when the window is empty.
	Sched *SchedLatency `json:"sched_latency,omitempty"`
	// ReplyWait splits every command the cache manager sent in the window
	// at the moment the kernel received its reply (SO_TIMESTAMPNS on the
	// manager's connections, pool.ReplyTimer): Arrival, from the request's
	// write to then, is the network and Redis; Wait, from then to the read
	// that returned it, is the tool's own wait to run the goroutine the
	// reply woke. Sched is the runtime's sample over all goroutines; this
	// is per command and exact, so a latency p99 near WaitP99Ms is the
	// tool's. Absent where no connection kept arrival stamps (TLS, off
	// Linux).
	ReplyWait *ReplyWait `json:"reply_wait,omitempty"`
	// GCCPUFraction is the collector's share of the CPU available to Go
	// (GOMAXPROCS x wall time), as the runtime estimates it: assists, mark
	// workers and pauses. The runtime updates these estimates once per GC
	// cycle, so the window is from the last cycle before it opened to the
	// last before it closed.
	GCCPUFraction float64 `json:"gc_cpu_fraction"`
	// CPUSeconds is the tool's own user+system CPU over the window
	// (getrusage RUSAGE_SELF: children, such as a redis-server it started,
	// excluded); CPUPerRequestUs the same per recorded cache operation.
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUPerRequestUs float64 `json:"cpu_us_per_request"`
	// CPUPerRedisCommandUs is the tool's CPU per command Redis processed in
	// the same window, and CPUVsRedis the tool's CPU over Redis's
	// (server.cpu_seconds): above 1 the load generator cost more than the
	// system it measured. 0 when Redis's CPU could not be read.
	CPUPerRedisCommandUs float64 `json:"cpu_us_per_redis_command"`
	CPUVsRedis           float64 `json:"cpu_vs_redis"`
	// Bottleneck is set when the load generator, not Redis, limited the
	// run: commands started late or were dropped while the tool's CPU (or
	// the machine's, shared with a redis-server it started) was saturated.
	// Latency figures then describe the tool as much as Redis, and a missed
	// target must not be blamed on the cache.
	Bottleneck string `json:"bottleneck,omitempty"`
	// HostLoad1m is the machine's 1-minute load average at the end of the
	// run (/proc/loadavg; 0 when unknown). Above NumCPU, more threads
	// wanted the CPUs than there were (the tool's and a local Redis's
	// included, and any other process's), and the latencies describe the
	// host too.
	HostLoad1m float64 `json:"host_load_1m,omitempty"`
	// HostTimer is what a separate probe process saw of this machine's
	// timer wake-ups over the same window (harness/hostprobe.go): the
	// floor under users.late that no load generator on this machine can go
	// below. Absent when the probe could not run (HostTimerNote says why).
	HostTimer     *HostTimer `json:"host_timer,omitempty"`
	HostTimerNote string     `json:"host_timer_note,omitempty"`
	// PeakRSSBytes is the process's peak resident set since it started
	// (prefill included): what the tool needed at its worst.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// Shards are the shards' own client sections in a merged report, in
	// the order merged: each shard ran on its own machine, so which one
	// fell behind is read here (MergeClients); absent in a single run.
	Shards []ShardClient `json:"shards,omitempty"`
}

// ShardClient is one shard's client section in a merged report, with its
// share of the load beside it: the figures that tell whether this shard's
// machine, not Redis, set the pace (its CPU, its late starts, its host
// timer probe, its bottleneck verdict). Late is how many of its commands
// started late, LateFraction their share of its commands.
type ShardClient struct {
	Shard           string        `json:"shard"`
	Requests        uint64        `json:"requests"`
	Commands        uint64        `json:"commands"`
	Late            uint64        `json:"late"`
	LateFraction    float64       `json:"late_fraction"`
	Dropped         uint64        `json:"dropped"`
	GOMAXPROCS      int           `json:"gomaxprocs"`
	NumCPU          int           `json:"num_cpu"`
	WindowS         float64       `json:"window_s"`
	CPUSeconds      float64       `json:"cpu_seconds"`
	CPUPerRequestUs float64       `json:"cpu_us_per_request"`
	CPUVsRedis      float64       `json:"cpu_vs_redis"`
	GCPauseP99Ms    float64       `json:"gc_pause_p99_ms"`
	Sched           *SchedLatency `json:"sched_latency,omitempty"`
	ReplyWait       *ReplyWait    `json:"reply_wait,omitempty"`
	PeakRSSBytes    int64         `json:"peak_rss_bytes"`
	HostLoad1m      float64       `json:"host_load_1m,omitempty"`
	HostTimer       *HostTimer    `json:"host_timer,omitempty"`
	HostTimerNote   string        `json:"host_timer_note,omitempty"`
	Bottleneck      string        `json:"bottleneck,omitempty"`
}

// ReplyWait is the split of the window's commands at their replies'
// arrival, in milliseconds (ClientReport.ReplyWait). Count is round trips:
// a pipeline (MGET batches, prefill) is one write and one reply to read.
// WaitOver1msFraction is the share whose reply waited 1 ms or more to be
// read.
type ReplyWait struct {
	Count               uint64  `json:"count"`
	ArrivalP50Ms        float64 `json:"arrival_p50_ms"`
	ArrivalP99Ms        float64 `json:"arrival_p99_ms"`
	ArrivalP999Ms       float64 `json:"arrival_p999_ms"`
	WaitP50Ms           float64 `json:"wait_p50_ms"`
	WaitP99Ms           float64 `json:"wait_p99_ms"`
	WaitP999Ms          float64 `json:"wait_p999_ms"`
	WaitOver1msFraction float64 `json:"wait_over_1ms_fraction"`
}

// NewReplyWait summarizes arrival and wait histograms in microseconds (as
// pool.ReplyTimer records them); nil when either is missing or empty.
func NewReplyWait(arrival, wait *hdrhistogram.Histogram) *ReplyWait {
	if arrival == nil || wait == nil || wait.TotalCount() == 0 {
		return nil
	}
	ms := func(h *hdrhistogram.Histogram, q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e3 }
	n := wait.TotalCount()
	var over int64
	for _, b := range wait.Distribution() {
		if b.From >= 1000 {
			over += b.Count
		}
	}
	return &ReplyWait{Count: uint64(n),
		ArrivalP50Ms: ms(arrival, 50), ArrivalP99Ms: ms(arrival, 99), ArrivalP999Ms: ms(arrival, 99.9),
		WaitP50Ms: ms(wait, 50), WaitP99Ms: ms(wait, 99), WaitP999Ms: ms(wait, 99.9),
		WaitOver1msFraction: float64(over) / float64(n)}
}

// SchedLatency is the distribution of the tool's goroutine scheduling
// latencies in a window, in milliseconds (upper edges of the runtime's
// buckets, a few percent wide). Over1msFraction is the share of waits of
// 1 ms or more.
type SchedLatency struct {
	Count           uint64  `json:"count"`
	P50Ms           float64 `json:"p50_ms"`
	P99Ms           float64 `json:"p99_ms"`
	P999Ms          float64 `json:"p999_ms"`
	Over1msFraction float64 `json:"over_1ms_fraction"`
}

// ServerLatency is Redis's own per-command latency (INFO latencystats), in
// milliseconds, measured inside the server from the command's start to its
// reply being queued: the part of client latency that Redis itself spent.
// Network, the client's pool wait, retries and GC are not in it.
//
// Calls is INFO commandstats' count. With several primaries (cluster) Calls
// is their sum and each percentile the highest node's: an upper bound on the
// percentile of all calls together, which INFO's percentiles cannot give.
type ServerLatency struct {
	Calls uint64  `json:"calls"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
}

// HostTimer is the host timer probe's count over the measured window: a
// process with one thread that sleeps until random moments (about 200 a
// second) and counts the wake-ups that came late. LateFraction is the
// share over 1 ms, the threshold of users.late.
type HostTimer struct {
	Wakes        uint64           `json:"wakes"`
	Late         uint64           `json:"late"`
	LateFraction float64          `json:"late_fraction"`
	MaxMs        float64          `json:"max_ms"`
	Over         []HostTimerBound `json:"over"`
}

// HostTimerBound is how many of the probe's wake-ups came more than OverUs
// microseconds after the time asked for.
type HostTimerBound struct {
	OverUs int64  `json:"over_us"`
	Wakes  uint64 `json:"wakes"`
}
