package report

import (
	"fmt"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// cacheModeText is a cache failure mode's figures on one line: the origin
// stampede, single-flight, Redis's CPU and bytes sent, and the affected
// keys' latency against the other keys'.
func cacheModeText(kind string, c *result.CacheModeReport) string {
	parts := []string{fmt.Sprintf("origin %s/s before, peak %s/s at %s (%s calls during)",
		formatFloat1(c.OriginCallsPerSBefore), formatFloat1(c.OriginCallsPeakPerS), formatSeconds(c.OriginCallsPeakAtS), formatCount(c.OriginCalls))}
	if sf := singleFlightText(kind, c); sf != "" {
		parts = append(parts, sf)
	}
	parts = append(parts, fmt.Sprintf("Redis CPU %.2f → %.2f s/s, sent %s/s → %s/s", c.RedisCPUBefore, c.RedisCPUDuring,
		formatBytes(int64(c.NetOutBytesPerSBefore)), formatBytes(int64(c.NetOutBytesPerSDuring))))
	parts = append(parts, fmt.Sprintf("affected keys p99 %s (%s lookups), other keys p99 %s (%s)",
		formatMs(c.Affected.P99Ms), formatCount(c.Affected.Lookups), formatMs(c.Other.P99Ms), formatCount(c.Other.Lookups)))
	return strings.Join(parts, "; ")
}

// singleFlightText says whether get-or-fetch collapsed the affected keys'
// concurrent misses ("" where it does not apply: a penetration's keys are
// each looked up once, a big key written by the fault is never fetched).
func singleFlightText(kind string, c *result.CacheModeReport) string {
	held, ok := singleFlightHeld(kind, c)
	if !ok {
		return ""
	}
	return fmt.Sprintf("single-flight %s: %s origin fetches for %s keys, at most %s of one (%d bot instances)", held,
		formatCount(c.AffectedFetches), formatCount(c.AffectedKeysFetched), formatCount(c.MaxFetchesPerKey), c.Instances)
}

// singleFlightHeld is "held" or "did not hold"; ok is false where the
// question does not apply (no affected key fetched, or penetration).
func singleFlightHeld(kind string, c *result.CacheModeReport) (held string, ok bool) {
	if c.AffectedKeysFetched == 0 || kind == "penetration" {
		return "", false
	}
	if !c.SingleFlightHeld {
		return "did not hold", true
	}
	return "held", true
}

// anyFault reports whether a fault of the list has what has looks for: a
// table of faults is written only when one row would have data.
func anyFault(faults []result.FaultReport, has func(*result.FaultReport) bool) bool {
	for i := range faults {
		if has(&faults[i]) {
			return true
		}
	}
	return false
}

func formatFloat1(v float64) string { return fmt.Sprintf("%.1f", v) }

// writeCacheModeTable is the Markdown table of the cache failure modes.
func writeCacheModeTable(ew *errWriter, faults []result.FaultReport) {
	if !anyFault(faults, func(f *result.FaultReport) bool { return f.CacheMode != nil }) {
		return
	}
	ew.printf("| cache failure mode | at | keys | origin calls/s before → peak | single-flight | Redis CPU s/s | sent/s | affected p99 | other p99 | hit rate |\n")
	ew.printf("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, f := range faults {
		c := f.CacheMode
		if c == nil {
			continue
		}
		ew.printf("| %s | %s | %s | %s → %s | %s | %.2f → %.2f | %s → %s | %s | %s | %s → %s |\n", mdEscape(f.Kind), formatSeconds(f.StartS), formatCount(c.Keys),
			formatFloat1(c.OriginCallsPerSBefore), formatFloat1(c.OriginCallsPeakPerS), mdEscape(orDash(singleFlightCell(f.Kind, c))),
			c.RedisCPUBefore, c.RedisCPUDuring, formatBytes(int64(c.NetOutBytesPerSBefore)), formatBytes(int64(c.NetOutBytesPerSDuring)),
			formatMs(c.Affected.P99Ms), formatMs(c.Other.P99Ms), formatPercent(f.HitRateBefore), formatPercent(c.HitRateDuring))
	}
	ew.printf("\n")
}

// singleFlightCell is the table's short form: "held (1 fetch / key)".
func singleFlightCell(kind string, c *result.CacheModeReport) string {
	held, ok := singleFlightHeld(kind, c)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s (max %d fetches of one key, %d instances)", held, c.MaxFetchesPerKey, c.Instances)
}
