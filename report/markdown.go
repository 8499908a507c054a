package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// WriteMarkdown writes a short summary for a CI step summary
// ($GITHUB_STEP_SUMMARY, a merge-request comment): verdict, targets table
// (with each target's confidence interval and, for a repeated run, each
// run's value), the runs of a repeated run, headline figures and one line
// per fault. Details stay in report.html.
func WriteMarkdown(w io.Writer, r *result.Result) error {
	ew := &errWriter{w: w}
	ew.printf("## %s cacheproof `%s`: %s%s\n\n", verdictIcon(r.Verdict), mdEscape(nameOr(r.Scenario.Name)), strings.ToUpper(r.Verdict),
		breakingText(r, func(s string) string { return "`" + mdEscape(s) + "`" }))
	if r.Scenario.Description != "" {
		ew.printf("%s\n\n", mdEscape(r.Scenario.Description))
	}
	ew.printf("%s run, %s requests", formatSeconds(r.DurationS), formatCount(r.Users.Requests))
	if r.Users.Active > 0 {
		ew.printf(", %s active users of %s", formatCount(uint64(r.Users.Active)), formatCount(uint64(r.Users.Population)))
	}
	if r.Shard != "" {
		ew.printf(", shard %s", r.Shard)
	}
	if r.MergedFrom > 0 {
		ew.printf(", merged from %d shards", r.MergedFrom)
	}
	ew.printf(".\n\n")
	if r.Interrupted {
		ew.printf("> **Interrupted**: partial results.\n\n")
	}
	if a := r.Aborted; a != nil {
		ew.printf("> **Aborted** at %.0fs: target `%s %s`: %s.\n\n", a.AtS, a.Target, a.Expr, a.Reason)
	}
	if r.Repeat != nil {
		ew.printf("**Repeated run**: %s.\n\n", mdEscape(repeatLine(r.Repeat)))
	}
	writeTargetsTable(ew, r.Targets)
	if r.Repeat != nil && len(r.Repeat.Runs) > 0 {
		ew.printf("| run | folder | verdict | host late share |\n|---:|---|---|---:|\n")
		for _, run := range r.Repeat.Runs {
			rep := ""
			if run.Index == r.Repeat.Representative {
				rep = " (shown)"
			}
			ew.printf("| %d%s | `%s` | %s %s | %s |\n", run.Index, rep, mdEscape(run.Dir), verdictIcon(run.Verdict), mdEscape(run.Verdict), hostLateText(run.HostLateFraction))
		}
		ew.printf("\n")
	}
	s := r.Latency.Overall
	ew.printf("| latency p50 | p99 | p99.9 | max | hit rate | throughput | errors | pool timeouts | evicted |\n")
	ew.printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	ew.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n\n", formatMs(s.P50), formatMs(s.P99), formatMs(s.P999), formatMs(s.Max),
		mdEscape(hitRateText(result.CacheCounts{Hits: r.Cache.Hits, Misses: r.Cache.Misses, LookupErrors: r.Cache.LookupErrors})), result.FormatValue(r.OpsPerSec(), result.UnitRate), formatCount(r.TotalErrors()),
		formatCount(r.Pool.Timeouts), formatCount(r.Server.EvictedKeys))
	writeFamiliesTable(ew, r)
	if len(r.Faults) > 0 {
		ew.printf("| fault | at | errors | recovered | p99 back | hit rate min | 90 %% back | re-warm | hits lost | lost writes |\n")
		ew.printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, f := range r.Faults {
			ew.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(f.Kind), formatSeconds(f.StartS), formatCount(f.Errors()),
				recoveryText(f), afterText(f.P99RecoveredAfterS, "never"), formatPercent(f.HitRateMin),
				afterText(f.Rewarm90S, "never"), afterText(f.RewarmS, "never"), formatCount(f.HitsLost), formatCount(f.LostWrites))
		}
		ew.printf("\n")
		writeWarmingTable(ew, r.Faults)
		writeCacheModeTable(ew, r.Faults)
	}
	if r.Prediction != nil {
		ew.printf("**Prediction** (`cacheproof size`): %s\n\n", PredictionText(r.Prediction))
	}
	if l := r.Layer; l != nil {
		// The parts the run used (result.LayerParts), a column each.
		nc, iv, u := l.NearCache, l.Invalidate, l.Parts(r.Latency.ByOp)
		head, cells := []string{"instances"}, []string{fmt.Sprint(l.Instances)}
		col := func(used bool, name, cell string) {
			if used {
				head, cells = append(head, name), append(cells, cell)
			}
		}
		col(u.RateLimit, "rate limit denied", formatCount(l.RateLimit.Denied)+" of "+formatCount(l.RateLimit.Denied+l.RateLimit.Allowed))
		col(u.CAS, "cas conflicts", formatCount(l.CAS.Conflicts))
		col(u.Invalidation, "invalidations delivered", formatCount(iv.Received)+" of "+formatCount(iv.Expected))
		col(u.NearCache, "near-cache hits", formatCount(nc.Hits))
		col(u.NearCache, "stale reads", formatCount(nc.StaleReads))
		ew.printf("| %s |\n|%s\n| %s |\n\n", strings.Join(head, " | "), strings.Repeat("---:|", len(head)), strings.Join(cells, " | "))
	}
	return ew.err
}

// verdictIcon marks a verdict: ✅ pass, ❌ fail, ⚠️ inconclusive (neither
// held nor broken with confidence; CI should not read it as a pass).
func verdictIcon(v string) string {
	switch v {
	case result.VerdictPass:
		return "✅"
	case result.VerdictInconclusive:
		return "⚠️"
	}
	return "❌"
}

// writeTargetsTable is one row per target: its verdict, the expression, the
// observed value with the detail and, for an inconclusive target, why it
// is undecided. The interval and per-run columns appear only when some
// target has them, so a report from before schema 1.2 reads as it did.
func writeTargetsTable(ew *errWriter, ts []result.TargetResult) {
	if len(ts) == 0 {
		return
	}
	hasIv, hasRuns, level := false, false, 0.0
	for _, t := range ts {
		if t.Interval != nil {
			hasIv, level = true, t.Interval.Confidence
		}
		hasRuns = hasRuns || len(t.Runs) > 0
	}
	head, rule := "| | target | observed |", "|---|---|---:|"
	if hasIv {
		head += " " + confidenceText(level) + " interval |"
		rule += "---:|"
	}
	if hasRuns {
		head += " runs |"
		rule += "---|"
	}
	ew.printf("%s\n%s\n", head, rule)
	for _, t := range ts {
		obs := mdEscape(t.ObservedText)
		if t.Detail != "" {
			obs += " <br><sub>" + mdEscape(t.Detail) + "</sub>"
		}
		if t.Evidence != "" {
			obs += " <br><sub>why: " + mdEscape(t.Evidence) + "</sub>"
		}
		ew.printf("| %s | `%s %s` | %s |", verdictIcon(t.Outcome()), t.Name, t.Expr, obs)
		if hasIv {
			ew.printf(" %s |", orDash(mdEscape(intervalRange(t))))
		}
		if hasRuns {
			ew.printf(" %s |", orDash(mdEscape(runsValues(t))))
		}
		ew.printf("\n")
	}
	ew.printf("\n")
}

// writeWarmingTable puts the restarts and failovers side by side, with and
// without re-warming: the dip, the re-warm and what warming cost.
func writeWarmingTable(ew *errWriter, faults []result.FaultReport) {
	if !anyFault(faults, func(f *result.FaultReport) bool { return f.Warming != nil }) {
		return
	}
	ew.printf("| fault | at | re-warmed | hit rate before → min | 90 %% back | re-warm | hits lost | keys warmed | origin loads |\n")
	ew.printf("|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range faults {
		if f.Warming == nil {
			continue
		}
		w := "no"
		if f.Warming.Warmed {
			w = "yes, in " + formatSeconds(f.Warming.TookS)
		}
		ew.printf("| %s | %s | %s | %s → %s | %s | %s | %s | %s | %s |\n", mdEscape(f.Kind), formatSeconds(f.StartS), w, formatPercent(f.HitRateBefore), formatPercent(f.HitRateMin),
			afterText(f.Rewarm90S, "never"), afterText(f.RewarmS, "never"), formatCount(f.HitsLost), formatCount(uint64(f.Warming.Keys)), formatCount(uint64(f.Warming.OriginLoads)))
	}
	ew.printf("\n")
}

// orDash shows an empty cell as a dash.
func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// mdEscape keeps table cells intact.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// writeFamiliesTable is the busiest key families' hit rate and latency
// (the latency columns only when the run recorded it per family).
func writeFamiliesTable(ew *errWriter, r *result.Result) {
	fams, more := topFamilies(r, familyTopN)
	if len(fams) == 0 {
		return
	}
	lat := len(r.Latency.ByFamily) > 0
	if lat {
		ew.printf("| key family | lookups | hit rate | p50 | p99 | operations |\n|---|---:|---:|---:|---:|---:|\n")
	} else {
		ew.printf("| key family | lookups | hit rate |\n|---|---:|---:|\n")
	}
	for _, f := range fams {
		ew.printf("| %s | %s | %s |", mdEscape(f.Name), formatCount(f.lookups()), mdEscape(hitRateText(f.C)))
		if lat {
			if f.Latency.Count > 0 {
				ew.printf(" %s | %s | %s |", formatMs(f.Latency.P50), formatMs(f.Latency.P99), formatCount(uint64(f.Latency.Count)))
			} else {
				ew.printf(" | | |")
			}
		}
		ew.printf("\n")
	}
	if more > 0 {
		ew.printf("\nAnd %d more key families in report.json.\n", more)
	}
	ew.printf("\n")
}
