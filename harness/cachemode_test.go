package harness

import (
	"strings"
	"testing"
)

// The cache failure modes, each in its window of one small run, report
// what a user judges them by: a mass expiry of the one meta key every
// matches command reads is a stampede that single-flight collapses (many
// lookups of the expired key, at most one origin fetch per bot instance);
// a hot key takes about its fraction of the family's lookups; a big key's
// reads move its value (Redis sends more bytes a second than before); a
// penetration's lookups all go to the origin, each its own key, counted in
// the timeline's origin calls, and the hit rate drops. Counts and ratios
// only: the machine is shared.
func TestCacheModesMeasured(t *testing.T) {
	// A prefilled cache: the faults act on a steady state, not on the
	// cold start's falling origin load.
	yaml := strings.Replace(steadyRun("cache-modes", 11, "14s", `faults:
  - {at: 3s, for: 2s, kind: mass-expiry, family: meta_heroes}
  - {at: 6s, for: 2s, kind: hot-key, family: stratz_profile, fraction: 0.5}
  - {at: 9s, for: 2s, kind: big-key, family: stratz_profile, fraction: 0.5, value_size: 2mb}
  - {at: 12s, for: 1500ms, kind: penetration, family: stratz_profile, fraction: 1}
`), "commands_per_user_per_minute: 60}", "commands_per_user_per_minute: 60, prefill: 5m}", 1)
	res := runChaos(t, yaml)
	for _, f := range res.Faults {
		if !f.Injected || f.CacheMode == nil {
			t.Fatalf("%s: injected %v, cache_mode %+v, notes %q", f.Kind, f.Injected, f.CacheMode, f.Notes)
		}
		c := f.CacheMode
		t.Logf("%s: keys %d lookups %d fetches %d keys fetched %d max/key %d instances %d held %v; origin %.1f/s before, peak %.0f/s, %d during; cpu %.3f -> %.3f; net %.0f -> %.0f B/s; affected p99 %.2f (%d) other p99 %.2f (%d); hit %.3f -> %.3f",
			f.Kind, c.Keys, c.AffectedLookups, c.AffectedFetches, c.AffectedKeysFetched, c.MaxFetchesPerKey, c.Instances, c.SingleFlightHeld,
			c.OriginCallsPerSBefore, c.OriginCallsPeakPerS, c.OriginCalls, c.RedisCPUBefore, c.RedisCPUDuring, c.NetOutBytesPerSBefore, c.NetOutBytesPerSDuring,
			c.Affected.P99Ms, c.Affected.Lookups, c.Other.P99Ms, c.Other.Lookups, f.HitRateBefore, c.HitRateDuring)
		if c.Other.Lookups == 0 {
			t.Errorf("%s: no other lookups watched", f.Kind)
		}
		if !strings.Contains(strings.Join(f.Notes, "\n"), "origin calls") {
			t.Errorf("%s: no summary note in %q", f.Kind, f.Notes)
		}
	}
	if c := faultOf(t, res, "mass-expiry").CacheMode; c.Keys != 1 || c.AffectedFetches == 0 || !c.SingleFlightHeld ||
		c.AffectedFetches > uint64(c.Instances) || c.AffectedLookups <= c.AffectedFetches {
		t.Errorf("mass-expiry of meta_heroes: %d keys expired, %d lookups, %d fetches (%d instances), held %v: want 1 key, more lookups than fetches, at most one fetch per instance",
			c.Keys, c.AffectedLookups, c.AffectedFetches, c.Instances, c.SingleFlightHeld)
	}
	hot := faultOf(t, res, "hot-key").CacheMode
	if hot.Key == "" || hot.AffectedLookups < 20 {
		t.Errorf("hot-key: key %q took %d lookups", hot.Key, hot.AffectedLookups)
	}
	big := faultOf(t, res, "big-key").CacheMode
	if big.ValueBytes != 2<<20 || big.AffectedLookups == 0 || big.NetOutBytesPerSDuring <= big.NetOutBytesPerSBefore {
		t.Errorf("big-key: %d bytes, %d reads, sent %.0f -> %.0f B/s", big.ValueBytes, big.AffectedLookups, big.NetOutBytesPerSBefore, big.NetOutBytesPerSDuring)
	}
	// Each penetration lookup is a miss and an origin call of its own key:
	// the timeline's origin calls hold them, and the hit rate drops (a
	// ratio; the origin's calls per second follow the machine's load).
	pf := faultOf(t, res, "penetration")
	pen := pf.CacheMode
	if pen.AffectedLookups < 20 || pen.AffectedFetches != pen.AffectedLookups || pen.AffectedKeysFetched != pen.AffectedFetches ||
		pen.OriginCalls < pen.AffectedFetches || pen.HitRateDuring >= pf.HitRateBefore {
		t.Errorf("penetration: %d lookups, %d fetches of %d keys, %d origin calls during; hit rate %.3f -> %.3f: want every lookup a fetch of its own key, counted in the origin's calls, and the hit rate down",
			pen.AffectedLookups, pen.AffectedFetches, pen.AffectedKeysFetched, pen.OriginCalls, pf.HitRateBefore, pen.HitRateDuring)
	}
}
