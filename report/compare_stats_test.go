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

// Student's t: Cauchy at one degree of freedom, the textbook 97.5 %
// quantiles at 10 and at many.
func TestStudentT(t *testing.T) {
	if got := studentCDF(1, 1); math.Abs(got-0.75) > 1e-9 {
		t.Errorf("CDF(1; 1) = %v, want 0.75", got)
	}
	if got := studentCDF(-1, 1); math.Abs(got-0.25) > 1e-9 {
		t.Errorf("CDF(-1; 1) = %v, want 0.25", got)
	}
	for df, want := range map[float64]float64{10: 2.2281, 4: 2.7764, 1000: 1.9623} {
		if got := studentQuantile(0.975, df); math.Abs(got-want) > 1e-3 {
			t.Errorf("97.5%% quantile at %v df = %v, want %v", df, got, want)
		}
	}
}

// The block variance: 31 seconds are 5 blocks of 6; a side of several
// runs has its variance divided by their number; one block cannot show a
// spread.
func TestBlockVariance(t *testing.T) {
	run := make([]window, 31)
	for i := range run {
		run[i] = window{num: float64(i / 6)} // blocks 0,1,2,3,4 (and one second of 5, left out)
	}
	// Block medians 0..4: median 2, absolute deviations 2 1 0 1 2, MAD 1.
	v, n, ok := blockVariance([][]window{run}, statMedian)
	if want := 1.4826 * 1.4826; !ok || n != 5 || math.Abs(v-want) > 1e-12 {
		t.Errorf("one run: variance %v of %d blocks (%v), want %v of 5", v, n, ok, want)
	}
	if v2, n2, _ := blockVariance([][]window{run, run}, statMedian); n2 != 10 || math.Abs(v2-v/2) > 1e-12 {
		t.Errorf("two runs: variance %v of %d blocks, want %v of 10", v2, n2, v/2)
	}
	// One block holding a fault does not widen the spread.
	spiked := append([]window(nil), run...)
	for i := 12; i < 18; i++ {
		spiked[i].num = 1000
	}
	if vs, _, _ := blockVariance([][]window{spiked}, statMedian); vs > 5*v {
		t.Errorf("one outlying block: variance %v (without it %v)", vs, v)
	}
	if _, _, ok := blockVariance([][]window{run[:3]}, statMedian); ok {
		t.Error("three seconds are one block of 2: no spread")
	}
	if blockLen(30) != 6 || blockLen(120) != 11 || blockLen(1) != 1 {
		t.Errorf("block lengths %d %d %d", blockLen(30), blockLen(120), blockLen(1))
	}
}

// Single runs whose seconds are level but whose levels differ by less than
// their blocks wander are not significantly different; a shift far beyond
// it is.
func TestTestWindows(t *testing.T) {
	wobble := func(level float64) [][]window {
		ws := make([]window, 30)
		for i := range ws {
			ws[i] = window{num: level + 0.01*float64((i/6)%3), den: 1}
		}
		return [][]window{ws}
	}
	near := testWindows(wobble(0.10), wobble(0.11), statMedian, 0.95)
	if !near.tested || near.p < 0.05 {
		t.Errorf("a shift as large as the blocks' wander: p %v", near.p)
	}
	far := testWindows(wobble(0.10), wobble(1.10), statMedian, 0.95)
	if !far.tested || far.p > 0.001 || far.low <= 0.9 || far.high >= 1.1 {
		t.Errorf("a 1 ms shift: p %v, interval [%v, %v]", far.p, far.low, far.high)
	}
	flat := [][]window{{{1, 1}, {1, 1}, {1, 1}, {1, 1}}}
	if r := testWindows(flat, flat, statMedian, 0.95); !r.tested || r.p != 1 || r.low != 0 {
		t.Errorf("identical constant sides: %+v", r)
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
