package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cacheproof/cacheproof/result"
)

// WriteText writes the console summary: the verdict, one line per target
// (PASS, FAIL or INCONCLUSIVE, expression, observed value with its
// confidence interval; beneath it each run's value of a repeated run and
// why an inconclusive target is undecided), then the headline figures. It is
// what an SRE reads in a terminal or a CI log, so it stays under a screen.
func WriteText(w io.Writer, r *result.Result) error {
	ew := &errWriter{w: w}
	verdict := strings.ToUpper(r.Verdict)
	if verdict == "" {
		verdict = "NO VERDICT"
	}
	ew.printf("cacheproof %s: %s%s (%s, %s requests", nameOr(r.Scenario.Name), verdict, breakingText(r, func(s string) string { return s }),
		formatSeconds(r.DurationS), formatCount(r.Users.Requests))
	if r.Users.Active > 0 {
		ew.printf(", %s users active of %s", formatCount(uint64(r.Users.Active)), formatCount(uint64(r.Users.Population)))
	}
	ew.printf(")\n")
	if r.Interrupted {
		ew.printf("  interrupted: partial results\n")
	}
	if a := r.Aborted; a != nil {
		ew.printf("  aborted at %.0fs: target %s %s: %s\n", a.AtS, a.Target, a.Expr, a.Reason)
	}
	if r.Shard != "" {
		ew.printf("  shard %s of the population\n", r.Shard)
	}
	if r.MergedFrom > 0 {
		ew.printf("  merged from %d shard reports\n", r.MergedFrom)
	}
	for _, o := range r.Scenario.Overrides {
		ew.printf("  set %s\n", o)
	}

	if r.Repeat != nil {
		ew.printf("  repeated: %s\n", repeatLine(r.Repeat))
	}

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		line := fmt.Sprintf("  %s\t%s\t%s\tobserved %s", strings.ToUpper(t.Outcome()), t.Name, t.Expr, t.ObservedText)
		if iv := intervalText(t); iv != "" {
			line += " " + iv
		}
		if t.Detail != "" {
			line += " (" + t.Detail + ")"
		}
		fmt.Fprintln(tw, line)
		// Continuation lines sit under the observed value: each run's
		// value, and why an undecided target is not decided.
		if v := runsValues(t); v != "" {
			fmt.Fprintf(tw, "\t\t\truns: %s\n", v)
		}
		if t.Evidence != "" {
			fmt.Fprintf(tw, "\t\t\twhy: %s\n", t.Evidence)
		}
	}
	if len(r.Targets) == 0 {
		fmt.Fprintln(tw, "  no targets")
	}
	_ = tw.Flush()
	ew.printf("\n")

	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{label}, args...)...)
	}
	row("latency", "%s", summaryLine(r.Latency.Overall))
	if r.Latency.Service.Count > 0 {
		// Service time is the client's call: pool wait, retries and the
		// tool's GC are in it, not only Redis.
		row("service (client call)", "%s", summaryLine(r.Latency.Service))
	}
	for _, c := range textServerCommands {
		if l, ok := r.Server.LatencyStats[c]; ok {
			row("redis "+c+" (in server)", "%s", serverLatencyLine(l))
		}
	}
	row("throughput", "%s; late %s, dropped %s, abandoned %s", result.FormatValue(r.OpsPerSec(), result.UnitRate), formatCount(r.Users.Late),
		formatCount(r.Users.Dropped), formatCount(r.Users.Abandoned))
	all := result.CacheCounts{Hits: r.Cache.Hits, Misses: r.Cache.Misses, LookupErrors: r.Cache.LookupErrors}
	lookupErrs := ""
	if all.LookupErrors > 0 {
		lookupErrs = fmt.Sprintf(", lookup errors %s; answered %s", formatCount(all.LookupErrors), formatPercent(result.HitRate(all.Hits, all.Misses)))
	}
	row("cache", "hit rate %s (hits %s, misses %s%s%s)", formatPercent(result.LookupHitRate(all.Hits, all.Misses, all.LookupErrors)), formatCount(r.Cache.Hits),
		formatCount(r.Cache.Misses), lookupErrs, causesSuffix(r.Cache.MissesByCause))
	if len(r.Cache.ByTier) > 0 {
		var parts []string
		for _, t := range sortedKeys(r.Cache.ByTier) {
			parts = append(parts, fmt.Sprintf("%s %s", t, hitRateText(r.Cache.ByTier[t])))
		}
		row("  by tier", "%s", strings.Join(parts, ", "))
	}
	fams, more := topFamilies(r, familyTopN)
	for _, f := range fams {
		row("  family "+f.Name, "%s", familyText(f))
	}
	if more > 0 {
		row("  families", "%s", moreText(more))
	}
	row("errors", "%s%s", formatCount(r.TotalErrors()), kindsSuffix(r.Errors))
	row("pool", "timeouts %s, conns %s (idle %s), waits %s (%s)", formatCount(r.Pool.Timeouts),
		formatCount(r.Pool.TotalConns), formatCount(r.Pool.IdleConns), formatCount(r.Pool.WaitCount), formatMs(r.Pool.WaitMs))
	mem := formatBytes(r.Server.UsedMemory)
	if r.Server.MaxMemory > 0 {
		mem += " / " + formatBytes(r.Server.MaxMemory)
	}
	row("redis", "evicted %s, expired %s, memory %s (peak %s), clients %d",
		formatCount(r.Server.EvictedKeys), formatCount(r.Server.ExpiredKeys), mem, formatBytes(r.Server.UsedMemoryPeak), r.Server.ConnectedClients)
	if t := serverCPUText(r.Server); t != "" {
		row("redis cpu", "%s", t)
	}
	if hasClient(r.Client) {
		row("client (this tool)", "%s", clientLine(r.Client))
		row("host timer", "%s", hostTimerText(r.Client))
		for _, s := range r.Client.Shards {
			row("  shard "+s.Shard, "cpu %.1f s (%.1f µs/request), late %s of %s commands (%.2f%%), host timer late %s%s",
				s.CPUSeconds, s.CPUPerRequestUs, formatCount(s.Late), formatCount(s.Commands), 100*s.LateFraction,
				shardHostLate(s.HostTimer), when(s.Bottleneck != "", ", TOOL-LIMITED"))
		}
		if r.Client.Bottleneck != "" {
			row("WARNING", "%s", r.Client.Bottleneck)
		}
	}
	row("integrity", "checked %s, mismatches %s, lost writes %s, unknown %s", formatCount(r.Integrity.Checked),
		formatCount(r.Integrity.Mismatches), formatCount(r.Integrity.LostWrites), formatCount(r.Integrity.UnknownWrites))
	if r.Layer != nil {
		layerRows(r.Layer, r.Layer.Parts(r.Latency.ByOp), row)
	}
	if r.Prediction != nil {
		row("prediction", "%s", PredictionText(r.Prediction))
	}
	for _, f := range r.Faults {
		row(fmt.Sprintf("fault %s @%s", f.Kind, formatSeconds(f.StartS)), "%s", faultLine(f))
		if f.WriteCheck != nil {
			row("  writes not found", "%s", writeCheckLine(f.WriteCheck, f.Control))
			for _, c := range f.WriteCheck.Causes {
				if len(c.Examples) > 0 {
					row("    e.g. "+strings.ReplaceAll(c.Cause, "_", " "), "%s", c.Examples[0])
				}
			}
		}
	}
	_ = tw.Flush()
	for _, n := range r.Notes {
		ew.printf("note: %s\n", n)
	}
	return ew.err
}

// hitRateText is the judged hit rate (failed lookups count as lookups that
// did not hit) and, when lookups failed, the rate among the lookups Redis
// answered and how many failed beside it: "91.2% (answered 97.0%, 1,204
// lookup errors)". Showing both keeps a reader from mistaking an outage for
// a cold cache, or the reverse.
func hitRateText(c result.CacheCounts) string {
	judged := formatPercent(result.LookupHitRate(c.Hits, c.Misses, c.LookupErrors))
	if c.LookupErrors == 0 {
		return judged
	}
	return fmt.Sprintf("%s (answered %s, %s lookup errors)", judged, formatPercent(result.HitRate(c.Hits, c.Misses)), formatCount(c.LookupErrors))
}

func summaryLine(s result.Summary) string {
	if s.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%s)", formatMs(s.P50), formatMs(s.P90),
		formatMs(s.P99), formatMs(s.P999), formatMs(s.Max), formatCount(uint64(s.Count)))
}

// faultLine is the one-line recovery story of a fault.
func faultLine(f result.FaultReport) string {
	parts := []string{fmt.Sprintf("lasted %s", formatSeconds(f.EndS-f.StartS))}
	if f.NoneFailed() {
		parts = append(parts, "no command failed: "+worstText(f))
	} else {
		parts = append(parts, "first error "+afterText(f.FirstErrorAfterS, "none"))
		parts = append(parts, "recovered "+afterText(f.RecoveredAfterS, "never"))
	}
	parts = append(parts, "p99 back "+afterText(f.P99RecoveredAfterS, "never"))
	parts = append(parts, fmt.Sprintf("hit rate %s → min %s, 90%% back %s, re-warm %s, hits lost %s", formatPercent(f.HitRateBefore),
		formatPercent(f.HitRateMin), afterText(f.Rewarm90S, "never"), afterText(f.RewarmS, "never"), formatCount(f.HitsLost)))
	parts = append(parts, fmt.Sprintf("errors %s%s", formatCount(f.Errors()), kindsSuffix(f.ErrorsByKind)))
	if f.LostWrites > 0 || f.UnknownWrites > 0 {
		parts = append(parts, fmt.Sprintf("lost writes %s, unknown %s", formatCount(f.LostWrites), formatCount(f.UnknownWrites)))
	}
	if f.Warming != nil {
		parts = append(parts, warmingText(f.Warming))
	}
	return strings.Join(parts, "; ")
}

// writeCheckLine is a fault's lost-write check by cause beside its control
// window's: "replication 0 (control 0), evicted 3 (control 2), … of 1,234
// acknowledged in 7.2s (control 1,100 in 6s); only replication counts".
func writeCheckLine(w, ctl *result.WriteCheck) string {
	parts := make([]string, 0, len(w.Causes))
	for _, c := range w.Causes {
		p := strings.ReplaceAll(c.Cause, "_", " ") + " " + formatCount(c.Count)
		if ctl != nil {
			p += " (control " + formatCount(ctl.Cause(c.Cause).Count) + ")"
		}
		parts = append(parts, p)
	}
	s := strings.Join(parts, ", ") + " of " + formatCount(w.Acked) + " acknowledged in " + formatSeconds(w.WindowS)
	if ctl != nil {
		s += " (control, no fault: " + formatCount(ctl.Acked) + " in " + formatSeconds(ctl.WindowS) + ")"
	} else {
		s += " (no control window)"
	}
	s += "; only replication counts as lost"
	if !w.EvictionsWatched {
		s += "; evictions not watched"
	}
	return s
}

// warmingText says whether and how the bot re-warmed after a fault.
func warmingText(w *result.FaultWarming) string {
	if !w.Warmed {
		return "no re-warm"
	}
	return fmt.Sprintf("re-warmed %s keys (%s origin loads) in %s", formatCount(uint64(w.Keys)), formatCount(uint64(w.OriginLoads)), formatSeconds(w.TookS))
}

// layerRows are the text report's lines for the seed's layer beyond GET
// and SET: instances, then the parts the run used of rate limit, CAS,
// invalidation, near cache and warming (result.LayerParts).
func layerRows(l *result.LayerReport, u result.LayerParts, row func(name, format string, args ...any)) {
	row("bot instances", "%d, each its own pool and subscription", l.Instances)
	if u.RateLimit {
		row("rate limit", "allowed %s, denied %s (%s operations skipped)", formatCount(l.RateLimit.Allowed), formatCount(l.RateLimit.Denied), formatCount(l.RateLimit.SkippedOps))
	}
	if u.CAS {
		row("cas", "conflicts %s, gave up %s", formatCount(l.CAS.Conflicts), formatCount(l.CAS.GaveUp))
	}
	if iv := l.Invalidate; u.Invalidation {
		row("invalidation", "published %s, delivered %s of %s expected; lag %s", formatCount(iv.Published), formatCount(iv.Received), formatCount(iv.Expected), summaryLine(iv.LagMs))
	}
	if nc := l.NearCache; u.NearCache {
		row("near cache", "hits %s, misses %s, stale reads %s (+%s within %s grace)", formatCount(nc.Hits), formatCount(nc.Misses),
			formatCount(nc.StaleReads), formatCount(nc.StaleInFlight), formatMs(nc.GraceMs))
	}
	for _, w := range u.Warming {
		row(fmt.Sprintf("warming %s", w.Trigger), "instance %d: %s keys (%d meta, %d hot) from %s origin loads in %s", w.Instance,
			formatCount(uint64(w.Keys)), w.MetaKeys, w.HotKeys, formatCount(uint64(w.OriginLoads)), formatSeconds(w.TookS))
	}
}

// recoveryText is when operations succeeded again after a fault or, when
// no command failed during it, the worst latency it caused: "recovered
// +0s" would say nothing about a fault that slowed every command.
func recoveryText(f result.FaultReport) string {
	if f.NoneFailed() {
		return "no errors; " + worstText(f)
	}
	return afterText(f.RecoveredAfterS, "never")
}

// worstText is a fault's worst interval p99 and slowest operation.
func worstText(f result.FaultReport) string {
	return fmt.Sprintf("worst p99 %s (max %s)", formatMs(f.WorstP99Ms), formatMs(f.WorstMaxMs))
}

func afterText(p *float64, never string) string {
	if p == nil {
		return never
	}
	if *p > 0 && *p < 1 {
		return "+" + formatMs(*p*1000)
	}
	return "+" + formatSeconds(*p)
}

func causesSuffix(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	return "; " + countsList(m)
}

func kindsSuffix(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	return " (" + countsList(m) + ")"
}

// countsList renders "a 3, b 2" largest first, ties by name, so output is
// stable for golden tests.
func countsList(m map[string]uint64) string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + formatCount(m[k])
	}
	return strings.Join(parts, ", ")
}

// sortedKeys lists m's keys in order, so that every writer prints maps the
// same way on every run.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func nameOr(s string) string {
	if s == "" {
		return "(unnamed scenario)"
	}
	return s
}

// errWriter keeps the first write error so writers can report it once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// shardHostLate is a shard's host timer probe in a few characters: its late
// wake-ups' share, or "n/a" without a probe.
func shardHostLate(h *result.HostTimer) string {
	if h == nil || h.Wakes == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100*h.LateFraction)
}

// when is s if cond holds, else "".
func when(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}
