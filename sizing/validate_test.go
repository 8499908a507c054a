package sizing

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/scenarios"
)

// TestPredictionMatchesRealRuns is point 3 of issue 15 in miniature: the
// hit rate `size` predicts at three maxmemory sizes is within one point of
// what real runs measure against a real redis-server (a small baseline,
// sizing/testdata/small.yaml: 400 users, 25 s recorded, 4, 8 and 16 MB
// with allkeys-lru). scripts/size-validate.sh does the same at the
// baseline's scale.
func TestPredictionMatchesRealRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("three real 30 s runs against redis-server: skipped with -short")
	}
	sizes := []int64{4 << 20, 8 << 20, 16 << 20}
	load := func() *scenarios.Scenario {
		s, err := scenarios.Load("testdata/small.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	z, _, err := Compute(ctx, load(), Options{Policies: []string{AllKeysLRU}, At: sizes, Points: 4, WhatIfs: map[string]time.Duration{}})
	if err != nil {
		t.Fatal(err)
	}
	predicted := map[int64]float64{}
	for _, p := range z.Policies[0].Curve {
		predicted[p.MaxMemoryBytes] = p.HitRate
	}
	t.Logf("%-10s %10s %10s %10s %8s", "maxmemory", "predicted", "measured", "answered", "diff")
	for _, m := range sizes {
		s := load()
		s.Target.Redis.MaxMemory = units.Size(m)
		res, err := harness.Run(ctx, harness.Options{Scenario: s})
		if err != nil {
			t.Fatalf("run at %d MB: %v", m>>20, err)
		}
		c := res.Cache
		pred := predicted[m]
		diff := 100 * (c.HitRate - pred)
		t.Logf("%-10s %9.2f%% %9.2f%% %9.2f%% %+7.2f (lookup errors %d)", fmt.Sprintf("%d MB", m>>20), 100*pred, 100*c.HitRate, 100*c.AnsweredHitRate, diff, c.LookupErrors)
		if math.Abs(diff) > 1 {
			t.Errorf("at %d MB: predicted %.2f%%, measured %.2f%%: %.2f points apart (bound 1)", m>>20, 100*pred, 100*c.HitRate, diff)
		}
	}
}
