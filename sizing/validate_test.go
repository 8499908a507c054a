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
	}{
		// allkeys-lru, the seed's ten families: a quarter, a half and three
		// quarters of the working set.
		{"testdata/small.yaml", []float64{0.25, 0.5, 0.75}},
		// volatile-lfu (an LFU and a volatile policy at once) over a
		// hotspot, a zipf family and persistent keys, at half its working
		// set (the corpus's scenario; scripts/size-corpus.py runs all).
		{"testdata/corpus/volatile-lfu.yaml", []float64{0.5}},
	} {
		t.Run(c.file, func(t *testing.T) { predictionMatches(t, c.file, c.shares) })
	}
}

// familyBound is the per-family bound of one run, in points: a family
// with a tenth of the lookups has a few hundred to a few thousand of them
// in a 25 s run, and its rate moves by up to 1.5 points between runs of
// the same scenario (scripts/size-corpus.py's spreads); the 1-point goal
// is on the median of three runs there.
const familyBound = 2.0

func predictionMatches(t *testing.T, file string, shares []float64) {
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
		s := load()
		s.Target.Redis.MaxMemory = units.Size(m)
		res, err := harness.Run(ctx, harness.Options{Scenario: s})
		if err != nil {
			t.Fatalf("run at %d MB: %v", m>>20, err)
		}
		c := res.Cache
		pred := predicted[m]
		diff, ans := 100*(c.HitRate-pred.HitRate), 100*(c.AnsweredHitRate-pred.HitRate)
		lookups := c.Hits + c.Misses + c.LookupErrors
		errShare := float64(c.LookupErrors) / float64(max(lookups, 1))
		t.Logf("%-10s %-22s %9.2f%% %9.2f%% %9.2f%% %+9.2f %+9.2f %d of %d", fmt.Sprintf("%d MB", m>>20), "all", 100*pred.HitRate, 100*c.HitRate, 100*c.AnsweredHitRate, diff, ans, c.LookupErrors, lookups)
		if errShare > 0.02 {
			t.Errorf("at %d MB: %.1f%% of lookups failed (the machine starved the run): the comparison is not the model's", m>>20, 100*errShare)
		}
		if math.Abs(ans) > 1 {
			t.Errorf("at %d MB: predicted %.2f%%, Redis answered %.2f%% of lookups with a hit: %.2f points apart (bound 1)", m>>20, 100*pred.HitRate, 100*c.AnsweredHitRate, ans)
		}
		// Every family with a tenth of the lookups or more: the overall
		// rate hides them (80 % of the small scenario's lookups are at
		// 98-100 % whatever the memory).
		for _, name := range slices.Sorted(maps.Keys(c.ByFamily)) {
			f := c.ByFamily[name]
			n := f.Hits + f.Misses
			p, ok := pred.Families[name]
			if !ok || float64(n) < 0.1*float64(lookups) {
				continue
			}
			d := 100 * (f.AnsweredHitRate - p)
			t.Logf("%-10s %-22s %9.2f%% %9.2f%% %9.2f%% %+9.2f %+9.2f", "", fmt.Sprintf("%s (%.0f%%)", name, 100*float64(n)/float64(lookups)), 100*p, 100*f.HitRate, 100*f.AnsweredHitRate, 100*(f.HitRate-p), d)
			if math.Abs(d) > familyBound {
				t.Errorf("at %d MB, family %s: predicted %.2f%%, answered %.2f%%: %.2f points apart (bound %.0f for one run)", m>>20, name, 100*p, 100*f.AnsweredHitRate, d, familyBound)
			}
		}
	}
}
