package sizing

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

// TestPredictionMatchesRealRuns is point 3 of issue 15 and point 7 of
// issue 24 in miniature: the hit rate `size` predicts is within one point
// of what real runs measure against a real redis-server, overall, and
// within familyBound for every family with a tenth of the lookups: a
// small baseline (sizing/testdata/small.yaml: 400 users, 25 s recorded,
// allkeys-lru) at three sizes, and the corpus's volatile-lfu cache at one.
// scripts/size-validate.sh does the same at the baseline's scale, and
// scripts/size-corpus.py over the whole corpus (medians of three runs).
//
// The sizes are a quarter, a half and three quarters of the working set
// (the used_memory of an unbounded cache, about 33 MB), rounded to whole
// MB: the cache then holds a real share of what the workload touches, the
// sizes span the knee and the flat top of the curve, and Redis's memory
// before any key (startup and 41 connections, about 1.7 MB) is a small
// part of each. At a few MB that base was half of maxmemory, and 0.2 MB
// of error in it (the connections' buffers vary with the load) moved the
// hit rate by points.
//
// The bound is on the answered hit rate, hits / (hits + misses): a lookup
// that failed (a pool timeout when this 2-core machine is starved of CPU)
// never reached Redis, so it tells nothing about what Redis holds, and no
// model of Redis's memory predicts it. The measured hit rate (failed
// lookups as misses) is shown beside it, and a run that failed more than 2
// % of its lookups fails the test: its comparison is not the model's.
func TestPredictionMatchesRealRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("four real 30 s runs against redis-server: skipped with -short")
	}
	for _, c := range []struct {
		file   string
		shares []float64
		runs   int
		// bound and famBound are the overall and per-family bounds in
		// points for this case.
		bound, famBound float64
	}{
		// allkeys-lru, the seed's ten families: a quarter, a half and three
		// quarters of the working set, the median of three runs: one run's
		// api tier at 8 MB read 65.85 % and, the same prediction (67.50,
		// 67.53 %), 64.04 % at load average 17 another hour.
		{"testdata/small.yaml", []float64{0.25, 0.5, 0.75}, 3, 1, familyBound},
		// volatile-lfu (an LFU and a volatile policy at once) over a
		// hotspot, a zipf family and persistent keys, at half its working
		// set (the corpus's scenario; scripts/size-corpus.py runs all),
		// the median of three runs: one run of its article family moves
		// by up to 2.4 points (37.91-40.28 % at 8 MiB in four runs at
		// 13:50, load average under 1). Its bounds are 2 overall and 3
		// per family, not 1 and 2: before the model priced only the pool
		// connections in use (Clients), it sat 1.8 points under Redis
		// overall and 3.15 on article in a CI run, and since, +0.82 and
		// +1.33 (14:02) — inside one run's spread, but the family beyond
		// the 1-point goal of issue 24 (docs/sizing.md's corpus table).
		{"testdata/corpus/volatile-lfu.yaml", []float64{0.5}, 3, 2, 3},
	} {
		t.Run(c.file, func(t *testing.T) { predictionMatches(t, c.file, c.shares, c.runs, c.bound, c.famBound) })
	}
}

// familyBound is the per-family (and per-tier) bound, in points: a
// family with a tenth of the lookups has a few hundred to a few thousand
// of them in a 25 s run, and its rate moves by up to 1.5 points between
// runs of the same scenario (scripts/size-corpus.py's spreads); the
// corpus's table holds the 1-point goal.
const familyBound = 2.0

func predictionMatches(t *testing.T, file string, shares []float64, runs int, bound, famBound float64) {
	load := func() *scenarios.Scenario {
		s, err := scenarios.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	none := map[string]time.Duration{}
	policy := load().Target.Redis.MaxMemoryPolicy
	z, st, err := Compute(ctx, load(), Options{Policies: []string{policy}, Points: 8, WhatIfs: none})
	if err != nil {
		t.Fatal(err)
	}
	ws := z.WorkingSetBytes
	var sizes []int64
	for _, share := range shares {
		sizes = append(sizes, int64(math.Round(share*float64(ws)/(1<<20)))<<20)
	}
	if sizes[0] < 3*int64(st.Base) {
		t.Fatalf("working set %.1f MB: %.0f %% of it (%d MB) is under 3 times Redis's base (%.1f MB); the fixture no longer sizes a cache", float64(ws)/(1<<20), 100*shares[0], sizes[0]>>20, st.Base/(1<<20))
	}
	z, _, err = Compute(ctx, load(), Options{Policies: []string{policy}, At: sizes, Points: 2, WhatIfs: none, Calibration: st.Cal})
	if err != nil {
		t.Fatal(err)
	}
	predicted := map[int64]result.SizingPoint{}
	for _, pol := range z.Policies {
		if pol.Policy != policy {
			continue
		}
		for _, p := range pol.Curve {
			predicted[p.MaxMemoryBytes] = p
		}
	}
	t.Logf("%s: working set %.1f MB, base %.2f MB (%d connections: %.0f B in use, %.0f B idle)", policy, float64(ws)/(1<<20), st.Base/(1<<20), st.Clients.Total(), st.Cal.PerClient, st.Cal.PerIdleClient)
	t.Logf("%-10s %-22s %10s %10s %10s %9s %9s %s", "maxmemory", "family", "predicted", "measured", "answered", "diff", "ans.diff", "lookup errors")
	for _, m := range sizes {
		var caches []result.CacheReport
		for range runs {
			s := load()
			s.Target.Redis.MaxMemory = units.Size(m)
			res, err := harness.Run(ctx, harness.Options{Scenario: s})
			if err != nil {
				t.Fatalf("run at %d MB: %v", m>>20, err)
			}
			caches = append(caches, res.Cache)
		}
		// The median of the runs, overall and per family and tier.
		med := func(of func(result.CacheReport) (result.CacheCounts, bool)) (answered, measured float64, n uint64, ok bool) {
			var a, h []float64
			for _, c := range caches {
				if cc, found := of(c); found {
					a, h = append(a, cc.AnsweredHitRate), append(h, cc.HitRate)
					n += cc.Hits + cc.Misses
				}
			}
			if len(a) == 0 {
				return 0, 0, 0, false
			}
			return result.Median(a), result.Median(h), n, true
		}
		var lookups, errs uint64
		for _, c := range caches {
			lookups += c.Hits + c.Misses + c.LookupErrors
			errs += c.LookupErrors
		}
		pred := predicted[m]
		ansRate, rate, _, _ := med(func(c result.CacheReport) (result.CacheCounts, bool) {
			return result.CacheCounts{Hits: c.Hits, Misses: c.Misses, HitRate: c.HitRate, AnsweredHitRate: c.AnsweredHitRate}, true
		})
		diff, ans := 100*(rate-pred.HitRate), 100*(ansRate-pred.HitRate)
		errShare := float64(errs) / float64(max(lookups, 1))
		t.Logf("%-10s %-22s %9.2f%% %9.2f%% %9.2f%% %+9.2f %+9.2f %d of %d (median of %d)", fmt.Sprintf("%d MB", m>>20), "all", 100*pred.HitRate, 100*rate, 100*ansRate, diff, ans, errs, lookups, runs)
		if errShare > 0.02 {
			t.Errorf("at %d MB: %.1f%% of lookups failed (the machine starved the run): the comparison is not the model's", m>>20, 100*errShare)
		}
		if math.Abs(ans) > bound {
			t.Errorf("at %d MB: predicted %.2f%%, Redis answered %.2f%% of lookups with a hit: %.2f points apart (bound %.0f)", m>>20, 100*pred.HitRate, 100*ansRate, ans, bound)
		}
		// Every family, and every tier, with a tenth of the lookups or
		// more: the overall rate hides them (80 % of the small scenario's
		// lookups are at 98-100 % whatever the memory; its five api
		// families, each under a tenth, are a fifth of them as a tier).
		for _, part := range []struct {
			what  string
			names []string
			of    func(result.CacheReport, string) (result.CacheCounts, bool)
			pred  map[string]float64
		}{
			{"family", slices.Sorted(maps.Keys(caches[0].ByFamily)), func(c result.CacheReport, n string) (result.CacheCounts, bool) {
				cc, ok := c.ByFamily[n]
				return cc, ok
			}, pred.Families},
			{"tier", slices.Sorted(maps.Keys(caches[0].ByTier)), func(c result.CacheReport, n string) (result.CacheCounts, bool) { cc, ok := c.ByTier[n]; return cc, ok }, pred.Tiers},
		} {
			for _, name := range part.names {
				a, h, n, ok := med(func(c result.CacheReport) (result.CacheCounts, bool) { return part.of(c, name) })
				p, okp := part.pred[name]
				if !ok || !okp || float64(n) < 0.1*float64(lookups) {
					continue
				}
				d := 100 * (a - p)
				t.Logf("%-10s %-22s %9.2f%% %9.2f%% %9.2f%% %+9.2f %+9.2f", "", fmt.Sprintf("%s %s (%.0f%%)", part.what, name, 100*float64(n)/float64(lookups)), 100*p, 100*h, 100*a, 100*(h-p), d)
				if math.Abs(d) > famBound {
					t.Errorf("at %d MB, %s %s: predicted %.2f%%, answered %.2f%%: %.2f points apart (bound %.0f)", m>>20, part.what, name, 100*p, 100*a, d, famBound)
				}
			}
		}
	}
}
