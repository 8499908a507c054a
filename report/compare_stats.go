package report

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/cacheproof/cacheproof/result"
)

// This file holds compare's statistics: how a metric's difference between
// the base and the new side gets an interval and a p-value. Two sources of
// variance, by what the sides hold:
//
//   - sets of runs (at least minSetRuns on each side): the runs are the
//     units. The estimate is the difference of the per-run medians; its
//     interval a bootstrap over runs (each side resampled on its own); its
//     p-value the Mann-Whitney rank-sum test by exact permutation (every
//     split of the pooled runs when there are at most permExact of them, a
//     seeded random sample of splits otherwise).
//   - single runs (or sides with fewer runs): the recorded seconds. The
//     estimate is the difference of a per-second statistic (the median
//     over seconds of a latency percentile; per-second sums for a rate);
//     its noise the spread between blocks of each run's seconds, taken as
//     the run-to-run variance (testWindows says why); Welch's t-test.
//
// Both are seeded: the same reports give the same table.

// minSetRuns is the fewest runs per side compared run against run. Below it
// a permutation test cannot reach 5 % (3 against 3 has 20 splits: the
// smallest two-sided p-value is 0.1), so fewer runs are compared by their
// seconds.
const minSetRuns = 4

// permExact is the most splits enumerated exactly (16 runs: 12,870 splits
// of 8 against 8); beyond it permSamples random splits are drawn.
const (
	permExact   = 20_000
	permSamples = 10_000
)

// window is one recorded second of a run as a metric sees it: a value (a
// latency percentile) or a numerator over a denominator (a rate).
type window struct{ num, den float64 }

// statKind is how a metric's per-second values make one figure.
type statKind int

const (
	// statMedian: the median of the seconds' values (a latency percentile:
	// the typical second, not one bad second's tail).
	statMedian statKind = iota
	// statRatio: the sum of numerators over the sum of denominators (a
	// rate: errors per request, operations per second).
	statRatio
)

func windowStat(kind statKind, ws []window) (float64, bool) {
	if len(ws) == 0 {
		return 0, false
	}
	if kind == statMedian {
		v := make([]float64, len(ws))
		for i, w := range ws {
			v[i] = w.num
		}
		return result.Median(v), true
	}
	var n, d float64
	for _, w := range ws {
		n += w.num
		d += w.den
	}
	if d == 0 {
		return 0, false
	}
	return n / d, true
}

// testResult is a difference (new - base) of one statistic with its
// interval and two-sided p-value. Tested is false when there was nothing to
// resample (a side without data).
type testResult struct {
	base, cur float64
	low, high float64 // interval of cur - base
	p         float64
	minP      float64 // the smallest p-value the design could give
	tested    bool
	method    string
}

// seeded returns the generator every test draws from: the same reports give
// the same intervals and p-values.
func seeded() *rand.Rand { return rand.New(rand.NewPCG(0x5eed, 0xc0ffee)) }

// testRuns compares per-run values: medians, a bootstrap interval of their
// difference, a permutation p-value.
func testRuns(base, cur []float64, confidence float64, resamples int) testResult {
	t := testResult{base: result.Median(base), cur: result.Median(cur), tested: len(base) > 0 && len(cur) > 0,
		method: "runs: difference of medians; bootstrap interval over runs, Mann-Whitney permutation test"}
	if !t.tested {
		return t
	}
	rng := seeded()
	diffs := make([]float64, resamples)
	bb, cb := make([]float64, len(base)), make([]float64, len(cur))
	for i := range diffs {
		for j := range bb {
			bb[j] = base[rng.IntN(len(base))]
		}
		for j := range cb {
			cb[j] = cur[rng.IntN(len(cur))]
		}
		diffs[i] = result.Median(cb) - result.Median(bb)
	}
	t.low, t.high = percentileInterval(diffs, confidence)
	t.p, t.minP = permutationP(base, cur, rng)
	return t
}

// permutationP is the two-sided p-value of the Mann-Whitney rank-sum
// statistic by permutation (exact over every split when there are at most
// permExact, else permSamples random ones): under the hypothesis that the
// labels base/new do not matter, how often a split puts a rank sum as far
// from its mean as the observed one. Ties get mid-ranks. minP is the
// smallest p-value these sizes allow.
func permutationP(base, cur []float64, rng *rand.Rand) (p, minP float64) {
	pooled := append(slices.Clone(base), cur...)
	n, k := len(pooled), len(base)
	ranks := midRanks(pooled)
	mean := float64(k) * float64(n+1) / 2
	var obsSum float64
	for i := range k {
		obsSum += ranks[i]
	}
	obs := math.Abs(obsSum - mean)
	splits := binomial(n, k)
	extreme, total := 0.0, 0.0
	score := func(members []int) {
		var sum float64
		for _, i := range members {
			sum += ranks[i]
		}
		if math.Abs(sum-mean) >= obs-1e-9 {
			extreme++
		}
		total++
	}
	if splits <= permExact {
		idx := make([]int, k)
		for i := range idx {
			idx[i] = i
		}
		for {
			score(idx)
			if !nextCombination(idx, n) {
				break
			}
		}
		return extreme / total, 2 / splits
	}
	perm := make([]int, n)
	for s := 0; s < permSamples; s++ {
		for i := range perm {
			perm[i] = i
		}
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		score(perm[:k])
	}
	// The observed split counts as one of the draws.
	return (extreme + 1) / (total + 1), 2 / splits
}

// midRanks are the 1-based ranks of v, ties sharing their mean rank.
func midRanks(v []float64) []float64 {
	order := make([]int, len(v))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return v[order[a]] < v[order[b]] })
	ranks := make([]float64, len(v))
	for i := 0; i < len(order); {
		j := i
		for j+1 < len(order) && v[order[j+1]] == v[order[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for m := i; m <= j; m++ {
			ranks[order[m]] = r
		}
		i = j + 1
	}
	return ranks
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// nextCombination steps idx (increasing indices below n) to the next
// combination in lexicographic order; false after the last.
func nextCombination(idx []int, n int) bool {
	k := len(idx)
	for i := k - 1; i >= 0; i-- {
		if idx[i] < n-k+i {
			idx[i]++
			for j := i + 1; j < k; j++ {
				idx[j] = idx[j-1] + 1
			}
			return true
		}
	}
	return false
}

// testWindows compares the recorded seconds of two sides (each a list of
// runs' windows). The estimate is the difference of the statistic over all
// of each side's seconds. Its noise is not the standard error of that
// statistic, which shrinks with every second recorded: two runs of the same
// binary differ by more than their seconds vary (the machine is not the
// same from one minute to the next), and a test that ignored it would call
// that difference significant. A run's seconds are cut into consecutive
// blocks of blockLen seconds, and the spread of the blocks' statistics
// stands for how far a run's level lies from another run's: a run's level
// is taken to vary from run to run as much as it wanders between blocks of
// its own seconds (on this machine, 8 runs of the baseline: the per-second
// p50's between-run standard deviation 0.0066 ms, its between-block ones
// 0.002–0.009 ms; docs/performance.md). The test is Welch's t-test of the
// difference with that variance (divided by the side's number of runs),
// its degrees of freedom from the blocks; the interval the matching t
// interval.
func testWindows(base, cur [][]window, kind statKind, confidence float64) testResult {
	t := testResult{method: "seconds: Welch t-test with the spread between blocks of each run's seconds as run-to-run variance"}
	var bok, cok bool
	t.base, bok = windowStat(kind, flatten(base))
	t.cur, cok = windowStat(kind, flatten(cur))
	if !bok || !cok {
		return t
	}
	vb, nb, okb := blockVariance(base, kind)
	vc, nc, okc := blockVariance(cur, kind)
	if !okb || !okc {
		return t
	}
	t.tested = true
	d := t.cur - t.base
	se := math.Sqrt(vb + vc)
	if se == 0 {
		// No spread at all (a constant, or nothing on either side): any
		// difference is beyond noise, none is none.
		t.low, t.high, t.p = d, d, 1
		if d != 0 {
			t.p = 0
		}
		return t
	}
	df := welchDF(vb, nb, vc, nc)
	tq := studentQuantile(1-(1-confidence)/2, df)
	t.low, t.high = d-tq*se, d+tq*se
	t.p = 2 * (1 - studentCDF(math.Abs(d)/se, df))
	return t
}

// blockVariance is the variance of a side's block statistics (robustly
// estimated) divided by its number of runs (the variance of the side's
// level), and the number of blocks it was estimated from; false with fewer
// than two blocks.
func blockVariance(runs [][]window, kind statKind) (v float64, blocks int, ok bool) {
	var stats []float64
	nruns := 0
	for _, ws := range runs {
		if len(ws) == 0 {
			continue
		}
		nruns++
		l := blockLen(len(ws))
		for i := 0; i+l <= len(ws); i += l {
			if x, ok := windowStat(kind, ws[i:i+l]); ok {
				stats = append(stats, x)
			}
		}
	}
	if len(stats) < 2 {
		return 0, len(stats), false
	}
	// A robust spread (1.4826 times the median absolute deviation, the
	// standard deviation for normal data): one block holding a fault or a
	// stall of the machine does not stand for every run's level, as the
	// median over seconds does not let it move the estimate.
	m := result.Median(stats)
	dev := make([]float64, len(stats))
	for i, x := range stats {
		dev[i] = math.Abs(x - m)
	}
	sd := 1.4826 * result.Median(dev)
	return sd * sd / float64(nruns), len(stats), true
}

// welchDF is the Welch–Satterthwaite degrees of freedom of two variances
// estimated from n1 and n2 blocks.
func welchDF(v1 float64, n1 int, v2 float64, n2 int) float64 {
	num := (v1 + v2) * (v1 + v2)
	den := v1*v1/float64(n1-1) + v2*v2/float64(n2-1)
	if den == 0 {
		return float64(n1 + n2 - 2)
	}
	return max(1, num/den)
}

// studentT is Student's t distribution with df degrees of freedom
// (gonum's: its CDF and quantile are the incomplete beta function and its
// inverse, which a statistics library keeps correct and we should not).
func studentT(df float64) distuv.StudentsT { return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df} }

// studentCDF is P(T <= x) for Student's t with df degrees of freedom.
func studentCDF(x, df float64) float64 { return studentT(df).CDF(x) }

// studentQuantile is the p-quantile of Student's t with df degrees of
// freedom.
func studentQuantile(p, df float64) float64 { return studentT(df).Quantile(p) }

func flatten(runs [][]window) []window {
	var all []window
	for _, r := range runs {
		all = append(all, r...)
	}
	return all
}

// blockLen is the block's length for n seconds: about sqrt(n), so a 30 s
// run is cut into 5 blocks of 6 s, a 2 min one into 10 of 11 s.
func blockLen(n int) int {
	return max(1, int(math.Ceil(math.Sqrt(float64(n)))))
}

// percentileInterval is the central confidence interval of draws.
func percentileInterval(draws []float64, confidence float64) (lo, hi float64) {
	s := slices.Clone(draws)
	sort.Float64s(s)
	a := (1 - confidence) / 2
	at := func(q float64) float64 {
		i := int(math.Round(q * float64(len(s)-1)))
		return s[min(max(i, 0), len(s)-1)]
	}
	return at(a), at(1 - a)
}

// recordedWindows are a run's timeline rows in its recorded phases (warm-up
// and other unrecorded phases are left out, as the run's totals leave them
// out), each with its length in seconds.
func recordedWindows(r *result.Result) []timedRow {
	recorded := map[string]bool{}
	any := false
	for _, p := range r.Phases {
		if p.Recorded {
			recorded[p.Name] = true
			any = true
		}
	}
	var out []timedRow
	prev := 0.0
	for _, row := range r.Timeline {
		dt := row.T - prev
		prev = row.T
		if any && !recorded[row.Phase] {
			continue
		}
		if dt <= 0 {
			dt = 1
		}
		out = append(out, timedRow{TimelineRow: row, dt: dt})
	}
	return out
}

type timedRow struct {
	result.TimelineRow
	dt float64
}

// hostReachMs is how far this machine could push a latency percentile q by
// itself: the largest lateness (ms) the host timer probe saw in at least
// (1-q)/result.HostWakesPerStart of its wake-ups, times result.HostWakesPerStart. 0 when
// the probe did not run or saw no such lateness.
func hostReachMs(h *result.HostTimer, q float64) float64 {
	if h == nil || h.Wakes == 0 {
		return 0
	}
	share := (1 - q) / result.HostWakesPerStart
	reach := 0.0
	for _, b := range h.Over {
		if float64(b.Wakes)/float64(h.Wakes) >= share {
			reach = math.Max(reach, float64(b.OverUs)/1000)
		}
	}
	return result.HostWakesPerStart * reach
}
