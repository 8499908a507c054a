package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// WriteMarkdown writes a short summary for a CI step summary
// ($GITHUB_STEP_SUMMARY, a merge-request comment): verdict, targets table,
// headline figures and one line per fault. Details stay in report.html.
func WriteMarkdown(w io.Writer, r *result.Result) error {
	if r == nil {
		return fmt.Errorf("write markdown report: nil result")
	}
	ew := &errWriter{w: w}
	icon := "✅"
	if r.Verdict != result.VerdictPass {
		icon = "❌"
	}
	ew.printf("## %s cacheproof `%s`: %s\n\n", icon, mdEscape(nameOr(r.Scenario.Name)), strings.ToUpper(r.Verdict))
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
	if len(r.Targets) > 0 {
		ew.printf("| | target | observed |\n|---|---|---:|\n")
		for _, t := range r.Targets {
			mark := "✅"
			if !t.Pass {
				mark = "❌"
			}
			obs := mdEscape(t.ObservedText)
			if t.Detail != "" {
				obs += " <br><sub>" + mdEscape(t.Detail) + "</sub>"
			}
			ew.printf("| %s | `%s %s` | %s |\n", mark, t.Name, t.Expr, obs)
		}
		ew.printf("\n")
	}
	s := r.Latency.Overall
	ew.printf("| latency p50 | p99 | p99.9 | max | hit rate | throughput | errors | pool timeouts | evicted |\n")
	ew.printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	ew.printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n\n", formatMs(s.P50), formatMs(s.P99), formatMs(s.P999), formatMs(s.Max),
		mdEscape(hitRateText(result.CacheCounts{Hits: r.Cache.Hits, Misses: r.Cache.Misses, LookupErrors: r.Cache.LookupErrors})), result.FormatValue(r.OpsPerSec(), result.UnitRate), formatCount(r.TotalErrors()),
		formatCount(r.Pool.Timeouts), formatCount(r.Server.EvictedKeys))
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
	}
	if r.Prediction != nil {
		ew.printf("**Prediction** (`cacheproof size`): %s\n\n", PredictionText(r.Prediction))
	}
	if l := r.Layer; l != nil {
		nc, iv := l.NearCache, l.Invalidate
		ew.printf("| instances | rate limit denied | cas conflicts | invalidations delivered | near-cache hits | stale reads |\n")
		ew.printf("|---:|---:|---:|---:|---:|---:|\n")
		ew.printf("| %d | %s of %s | %s | %s of %s | %s | %s |\n\n", l.Instances, formatCount(l.RateLimit.Denied), formatCount(l.RateLimit.Denied+l.RateLimit.Allowed),
			formatCount(l.CAS.Conflicts), formatCount(iv.Received), formatCount(iv.Expected), formatCount(nc.Hits), formatCount(nc.StaleReads))
	}
	return ew.err
}

// writeWarmingTable puts the restarts and failovers side by side, with and
// without re-warming: the dip, the re-warm and what warming cost.
func writeWarmingTable(ew *errWriter, faults []result.FaultReport) {
	has := false
	for _, f := range faults {
		has = has || f.Warming != nil
	}
	if !has {
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

// mdEscape keeps table cells intact.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
