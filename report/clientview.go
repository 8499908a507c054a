package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// The writers' rendering of the client section and of Redis's own latency,
// kept apart from each writer so text and HTML say the same thing.

// hasClient reports whether the result carries a client section (reports
// written before it existed, and merged reports, have none).
func hasClient(c result.ClientReport) bool { return c.GOMAXPROCS > 0 }

// settingText is "400 (tool)": a GC setting with where it came from.
func settingText(v, source string) string {
	if source == "" {
		return v
	}
	return v + " (" + source + ")"
}

// clientLine is the client section in one line for the console.
func clientLine(c result.ClientReport) string {
	parts := []string{fmt.Sprintf("GOGC %s, GOMEMLIMIT %s, GOMAXPROCS %s of %d CPUs",
		settingText(c.GOGC, c.GOGCSource), settingText(c.GOMEMLIMIT, c.GOMEMLIMITSource), settingText(strconv.Itoa(c.GOMAXPROCS), c.GOMAXPROCSSource), c.NumCPU)}
	parts = append(parts, "CPU "+cpuText(c))
	parts = append(parts, "GC "+gcText(c))
	if c.ReplyWait != nil {
		parts = append(parts, "replies "+replyWaitText(c.ReplyWait))
	}
	if c.Sched != nil {
		parts = append(parts, "scheduling delay "+schedText(c.Sched))
	}
	parts = append(parts, "peak RSS "+formatBytes(c.PeakRSSBytes))
	return strings.Join(parts, "; ")
}

// connBufferText is "16 KiB / 16 KiB (tool)": each cache connection's
// read and write buffers; "not recorded" for reports from before.
func connBufferText(c result.ClientReport) string {
	if c.ConnReadBufferBytes == 0 && c.ConnWriteBufferBytes == 0 {
		return "not recorded"
	}
	return settingText(formatBytes(int64(c.ConnReadBufferBytes))+" / "+formatBytes(int64(c.ConnWriteBufferBytes)), c.ConnBufferSource)
}

// cpuText is "2.55s in 3.3s (0.77 cores, 208µs/request)". CPU keeps two
// decimals below 10 s: a short or light run uses well under a second.
func cpuText(c result.ClientReport) string {
	cpu := formatSeconds(c.CPUSeconds)
	if c.CPUSeconds < 10 {
		cpu = formatNum(round(c.CPUSeconds, 2)) + "s"
	}
	s := fmt.Sprintf("%s in %s", cpu, formatSeconds(c.WindowS))
	var extra []string
	if c.WindowS > 0 {
		extra = append(extra, formatNum(round(c.CPUSeconds/c.WindowS, 2))+" cores")
	}
	if c.CPUPerRequestUs > 0 {
		extra = append(extra, formatNum(round(c.CPUPerRequestUs, 1))+"µs/request")
	}
	if c.CPUVsRedis > 0 {
		extra = append(extra, formatNum(round(c.CPUPerRedisCommandUs, 1))+"µs/Redis command, "+formatNum(round(c.CPUVsRedis, 2))+"× Redis's CPU")
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

// gcText is "4 cycles, pause p99 0.524ms, 0.18% of CPU", or says that no
// collection ran (a pause p99 of 0ms would read as a measurement).
func gcText(c result.ClientReport) string {
	if c.GCCycles == 0 && c.GCPauseP99Ms == 0 {
		return "no collection in the window"
	}
	return fmt.Sprintf("%s cycles, pause p99 %s, %s of CPU", formatCount(c.GCCycles), formatMs(c.GCPauseP99Ms), formatPercent(c.GCCPUFraction))
}

// serverLatencyLine is Redis's own latency of one command for the console.
func serverLatencyLine(l result.ServerLatency) string {
	return fmt.Sprintf("p50 %s  p99 %s  p99.9 %s  (calls %s)", formatMs(l.P50), formatMs(l.P99), formatMs(l.P999), formatCount(l.Calls))
}

// textServerCommands are the commands the console shows Redis's latency
// for: the cache's reads and writes (the HTML report shows every command).
var textServerCommands = []string{"get", "set"}

// serverLatencyRow puts Redis's latency of a command beside the client's
// latency of the operation of the same name.
type serverLatencyRow struct {
	Command   string
	Server    result.ServerLatency
	Client    result.Summary
	HasClient bool
}

// serverLatencyRows lists every command Redis reported, GET and SET first,
// each with the client's figures for that operation when it has them.
func serverLatencyRows(r *result.Result) []serverLatencyRow {
	names := sortedKeys(r.Server.LatencyStats)
	rank := func(s string) int {
		switch s {
		case "get":
			return 0
		case "set":
			return 1
		}
		return 2
	}
	sort.SliceStable(names, func(i, j int) bool { return rank(names[i]) < rank(names[j]) })
	out := make([]serverLatencyRow, 0, len(names))
	for _, n := range names {
		row := serverLatencyRow{Command: n, Server: r.Server.LatencyStats[n]}
		row.Client, row.HasClient = r.Latency.ByOp[n]
		out = append(out, row)
	}
	return out
}

// clientFacts are the client section's rows for the HTML report.
func clientFacts(c result.ClientReport) [][2]string {
	return [][2]string{
		{"GOGC", settingText(c.GOGC, c.GOGCSource)},
		{"GOMEMLIMIT", settingText(c.GOMEMLIMIT, c.GOMEMLIMITSource)},
		{"GOMAXPROCS", fmt.Sprintf("%s of %d CPUs", settingText(strconv.Itoa(c.GOMAXPROCS), c.GOMAXPROCSSource), c.NumCPU)},
		{"connection buffers (read / write)", connBufferText(c)},
		{"CPU (this process, Redis excluded)", cpuText(c)},
		{"GC", gcText(c)},
		{"scheduling delay (runnable to running)", schedText(c.Sched)},
		{"replies: arrived, then read (kernel stamps)", replyWaitText(c.ReplyWait)},
		{"peak RSS", formatBytes(c.PeakRSSBytes)},
		{"measured over", formatSeconds(c.WindowS) + " of recorded load"},
		{"host load (1 min)", fmt.Sprintf("%.2f on %d CPUs", c.HostLoad1m, c.NumCPU)},
		{"host timer (probe)", hostTimerText(c)},
	}
}

// schedText is the tool's own goroutine scheduling delay: "p50 0.01ms, p99
// 0.42ms, p99.9 1.9ms, 0.3% over 1 ms".
func schedText(s *result.SchedLatency) string {
	if s == nil {
		return "not measured"
	}
	return fmt.Sprintf("p50 %s, p99 %s, p99.9 %s, %s%% over 1 ms", formatMs(s.P50Ms), formatMs(s.P99Ms), formatMs(s.P999Ms), formatNum(round(100*s.Over1msFraction, 2)))
}

// replyWaitText is the split of the commands at their replies' arrival:
// "arrived after p99 0.31ms (network and Redis), read after p99 0.08ms more
// (the tool), 0.01% over 1 ms".
func replyWaitText(w *result.ReplyWait) string {
	if w == nil {
		return "not measured (no arrival stamps: TLS, or not Linux)"
	}
	return fmt.Sprintf("arrived after p50 %s, p99 %s, p99.9 %s (network and Redis); read after p50 %s, p99 %s, p99.9 %s more (the tool), %s%% of %d over 1 ms",
		formatMs(w.ArrivalP50Ms), formatMs(w.ArrivalP99Ms), formatMs(w.ArrivalP999Ms),
		formatMs(w.WaitP50Ms), formatMs(w.WaitP99Ms), formatMs(w.WaitP999Ms), formatNum(round(100*w.WaitOver1msFraction, 2)), w.Count)
}

// hostTimerText is the host timer probe's line: how often this machine woke
// a sleeping thread over 1 ms late, the floor under the tool's late starts.
func hostTimerText(c result.ClientReport) string {
	h := c.HostTimer
	if h == nil {
		if c.HostTimerNote != "" {
			return "not measured: " + c.HostTimerNote
		}
		return "not measured"
	}
	return fmt.Sprintf("%s of %s wake-ups over 1 ms late (%s%%), worst %s ms", formatCount(h.Late), formatCount(h.Wakes), formatNum(round(100*h.LateFraction, 2)), formatNum(round(h.MaxMs, 2)))
}

// serverCPUText is Redis's own CPU over the recorded load, per command.
func serverCPUText(s result.ServerReport) string {
	if s.Commands == 0 {
		return ""
	}
	return fmt.Sprintf("CPU %ss for %s commands (%sµs/command)", formatNum(round(s.CPUSeconds, 2)), formatCount(s.Commands), formatNum(round(s.CPUPerCommandUs, 1)))
}
