package report

import (
	"math"
	"testing"

	"github.com/cacheproof/cacheproof/result"
)

// The rank-sum permutation test, exactly enumerated: four runs entirely
// above four others is 2 of the 70 splits; identical sides are never
// significant; ties share their rank.
func TestPermutationP(t *testing.T) {
	p, minP := permutationP([]float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, seeded())
	if math.Abs(p-2.0/70) > 1e-12 || math.Abs(minP-2.0/70) > 1e-12 {
		t.Errorf("separated 4 vs 4: p %v min %v, want 2/70", p, minP)
	}
	if p, _ := permutationP([]float64{3, 3, 3, 3}, []float64{3, 3, 3, 3}, seeded()); p != 1 {
		t.Errorf("identical sides: p %v, want 1", p)
	}
	if p, _ := permutationP([]float64{1, 5, 2, 6}, []float64{5, 1, 6, 2}, seeded()); p != 1 {
		t.Errorf("the same values relabelled: p %v, want 1", p)
	}
	if r := midRanks([]float64{10, 20, 20, 5}); r[0] != 2 || r[1] != 3.5 || r[2] != 3.5 || r[3] != 1 {
		t.Errorf("mid-ranks %v", r)
	}
	// 10 against 10 (184,756 splits) is sampled, seeded: the same answer
	// twice, and under 1 % for separated sides.
	var lo, hi []float64
	for i := range 10 {
		lo, hi = append(lo, float64(i)), append(hi, float64(100+i))
	}
	p1, _ := permutationP(lo, hi, seeded())
	p2, _ := permutationP(lo, hi, seeded())
	if p1 != p2 || p1 > 0.01 {
		t.Errorf("sampled permutations: %v then %v", p1, p2)
	}
}

func TestNextCombinationVisitsEverySplit(t *testing.T) {
	idx := []int{0, 1, 2}
	n := 1
	for nextCombination(idx, 7) {
		n++
	}
	if float64(n) != binomial(7, 3) || n != 35 {
		t.Errorf("visited %d combinations of 3 in 7, want 35", n)
	}
}

// A block resample keeps each run's length and draws only from that run.
func TestBlockResample(t *testing.T) {
	runs := [][]window{make([]window, 30), make([]window, 7)}
	for i := range runs[1] {
		runs[1][i] = window{num: 1}
	}
	got := blockResample(nil, runs, seeded())
	if len(got) != 37 {
		t.Fatalf("resample of 30 + 7 seconds has %d", len(got))
	}
	for i, w := range got {
		if (i < 30) != (w.num == 0) {
			t.Fatalf("second %d drawn from the other run", i)
		}
	}
	if blockLen(30) != 6 || blockLen(120) != 11 || blockLen(1) != 1 {
		t.Errorf("block lengths %d %d %d", blockLen(30), blockLen(120), blockLen(1))
	}
}

// The host's reach on a percentile: the lateness seen in at least
// (1-q)/2 of the probe's wake-ups, twice.
func TestHostReach(t *testing.T) {
	h := &result.HostTimer{Wakes: 1000, Over: []result.HostTimerBound{{OverUs: 100, Wakes: 300}, {OverUs: 1000, Wakes: 20}, {OverUs: 10_000, Wakes: 4}}}
	for q, want := range map[float64]float64{0.5: 0.2, 0.9: 0.2, 0.99: 2, 0.999: 20} {
		if got := hostReachMs(h, q); math.Abs(got-want) > 1e-12 {
			t.Errorf("reach on p%v: %v ms, want %v", q*100, got, want)
		}
	}
	if hostReachMs(nil, 0.99) != 0 || hostReachMs(&result.HostTimer{}, 0.99) != 0 {
		t.Error("no probe reaches nothing")
	}
}

func TestWindowStat(t *testing.T) {
	ws := []window{{1, 10}, {3, 10}, {100, 10}}
	if m, _ := windowStat(statMedian, ws); m != 3 {
		t.Errorf("median %v", m)
	}
	if r, _ := windowStat(statRatio, ws); r != 104.0/30 {
		t.Errorf("ratio %v", r)
	}
	if _, ok := windowStat(statRatio, []window{{0, 0}}); ok {
		t.Error("a rate of nothing is no figure")
	}
}
