package profile

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// SizeFit is a value-size distribution fitted to a family's sizes: the
// kind the workload can draw (lognormal, fixed, uniform), its parameters,
// and the fit's error as the Kolmogorov-Smirnov distance between the
// sample and the fitted distribution (0: perfect; the largest gap between
// the two CDFs).
type SizeFit struct {
	Kind  string  `json:"kind"` // lognormal | fixed | uniform
	Mean  float64 `json:"mean"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Sigma float64 `json:"sigma,omitempty"` // lognormal's, of ln(size)
	KS    float64 `json:"ks"`
	// MeanCI95 is the half-width of the mean's 95 % interval (normal
	// approximation, 1.96 standard errors).
	MeanCI95 float64 `json:"mean_ci95"`
	N        int     `json:"n"`
}

// fitSizes fits the candidate distributions to xs and keeps the closest;
// fixed when the sizes are all within 1 % of their mean.
func fitSizes(xs []float64) SizeFit {
	if len(xs) == 0 {
		return SizeFit{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := float64(len(s))
	var sum, sumSq, lsum, lsq float64
	for _, x := range s {
		sum += x
		sumSq += x * x
		l := math.Log(max(x, 1))
		lsum += l
		lsq += l * l
	}
	mean := sum / n
	sd := math.Sqrt(max(sumSq/n-mean*mean, 0))
	f := SizeFit{Mean: mean, Min: s[0], Max: s[len(s)-1], N: len(s), MeanCI95: 1.96 * sd / math.Sqrt(n)}
	if mean == 0 || (f.Max-f.Min) <= 0.02*mean {
		f.Kind = "fixed"
		f.KS = ks(s, func(x float64) float64 {
			if x < mean {
				return 0
			}
			return 1
		})
		if f.Max-f.Min <= 0.02*mean {
			f.KS = 0
		}
		return f
	}
	mu := lsum / n
	sigma := math.Sqrt(max(lsq/n-mu*mu, 1e-12))
	logn := ks(s, func(x float64) float64 {
		return 0.5 * math.Erfc(-(math.Log(max(x, 1))-mu)/(sigma*math.Sqrt2))
	})
	lo, hi := f.Min, f.Max
	uni := ks(s, func(x float64) float64 { return math.Min(1, math.Max(0, (x-lo)/(hi-lo))) })
	if uni < logn {
		f.Kind, f.KS = "uniform", uni
	} else {
		f.Kind, f.KS, f.Sigma = "lognormal", logn, sigma
	}
	return f
}

// ks is the Kolmogorov-Smirnov distance between the sorted sample s and
// the CDF cdf.
func ks(s []float64, cdf func(float64) float64) float64 {
	n := float64(len(s))
	d := 0.0
	for i, x := range s {
		c := cdf(x)
		d = max(d, math.Abs(c-float64(i)/n), math.Abs(float64(i+1)/n-c))
	}
	return d
}

// ShareCI is the 95 % interval (Wilson's) of a proportion k/n.
func ShareCI(k, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.96
	p, nn := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nn
	c := (p + z*z/(2*nn)) / den
	h := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn)) / den
	return max(0, c-h), min(1, c+h)
}

// SampleSize is the sample the default --sample takes: enough for the
// share of the largest family (taken as half the keys, the worst case of
// p(1-p)) to be known within relRel of itself at 95 % confidence:
// n = z^2 (1-p) / (p rel^2). At 2 % that is 9,604 keys.
func SampleSize(rel float64) int {
	const z, p = 1.96, 0.5
	return int(math.Ceil(z * z * (1 - p) / (p * rel * rel)))
}

// TTLFit is a family's expiry as measured: the keys without one, and the
// TTL the others were written with, read as the largest remaining PTTL
// (a cache writes a key with its full TTL, which then counts down; the
// most recently written key of the sample shows nearly all of it).
type TTLFit struct {
	NoTTLShare float64 `json:"no_ttl_share"`
	// MaxMs is the largest PTTL seen; TTL the written TTL it is read as
	// (rounded up to the second, or to a tier's TTL when within 5 % below
	// it), 0 when no key expires.
	MaxMs int64         `json:"max_ms"`
	TTL   time.Duration `json:"ttl"`
	Tier  string        `json:"tier,omitempty"`
	// MinMs is the smallest PTTL seen among the keys that expire: TTL -
	// MinMs is the age of the oldest sampled key since it was last
	// written (see OldestAge), which tells whether the family's keys
	// have had time to expire at all.
	MinMs int64 `json:"min_ms"`
}

// OldestAge is how long ago the oldest sampled key of the family was
// written (its TTL less its PTTL); 0 when no key expires.
func (f TTLFit) OldestAge() time.Duration {
	if f.TTL <= 0 {
		return 0
	}
	return max(0, f.TTL-time.Duration(f.MinMs)*time.Millisecond)
}

// turnedOver reports whether the family's keys have lived long enough
// to expire: the oldest sampled key is within a tenth of the TTL of its
// expiry. In steady state keys of every remaining life are cached, and
// a sample of tens holds one near expiry; a family whose TTL is longer
// than the keys have existed (a 30-minute session tier read ten minutes
// after the cache started) has lost none yet, and the steady-state
// turnover model would read its cached keys as many more ids.
func (f TTLFit) turnedOver() bool {
	return f.TTL > 0 && f.OldestAge() >= f.TTL*9/10
}

// fitTTL reads a family's TTL from its keys' PTTLs; tiers maps a tier's
// name to its TTL (0: the tier without expiry).
func fitTTL(ttls []int64, tiers map[string]time.Duration) TTLFit {
	var f TTLFit
	none := 0
	f.MinMs = -1
	for _, t := range ttls {
		if t < 0 {
			none++
			continue
		}
		f.MaxMs = max(f.MaxMs, t)
		if f.MinMs < 0 || t < f.MinMs {
			f.MinMs = t
		}
	}
	f.MinMs = max(f.MinMs, 0)
	if len(ttls) > 0 {
		f.NoTTLShare = float64(none) / float64(len(ttls))
	}
	if 2*none > len(ttls) {
		// Most keys never expire: the family is written without a TTL
		// (the tier without one); the share that expires is reported.
		for name, d := range tiers {
			if d == 0 {
				f.Tier = name
			}
		}
		return f
	}
	maxTTL := time.Duration(f.MaxMs) * time.Millisecond
	for _, n := range slices.Sorted(maps.Keys(tiers)) {
		d := tiers[n]
		if d > 0 && maxTTL <= d && maxTTL >= d*95/100 {
			f.Tier, f.TTL = n, d
			return f
		}
	}
	f.TTL = roundTTL(maxTTL)
	return f
}

// roundTTL reads the TTL a key was written with from the largest
// remaining PTTL seen: TTLs are configured as round numbers, and the
// freshest sampled key has lost a little of its TTL, so the largest PTTL
// is rounded up to the coarsest round unit (1 s up to 1 h) that adds at
// most 1 % of it.
func roundTTL(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	best := (d + time.Second - 1).Truncate(time.Second)
	for _, u := range []time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour} {
		up := (d + u - 1).Truncate(u)
		if float64(up-d) <= 0.01*float64(d) {
			best = up
		}
	}
	return best
}

// ZipfFit is a popularity fitted to observed accesses.
type ZipfFit struct {
	Kind     string  `json:"kind"` // zipf | uniform | hotspot
	Exponent float64 `json:"exponent,omitempty"`
	// Reads is how many reads the fit saw, Distinct over how many keys.
	Reads    int    `json:"reads"`
	Distinct int    `json:"distinct"`
	Method   string `json:"method"`
	// Err is the fit's root-mean-square distance between observed and
	// simulated log counts by rank.
	Err float64 `json:"err"`
	// Keyspace is the key space the fit drew over (fitZipfJoint: the one
	// that fits best).
	Keyspace int `json:"keyspace,omitempty"`
	// HotFraction and HotShare are a hotspot's (kind hotspot): HotShare
	// of the reads go to the first HotFraction of the keys.
	HotFraction float64 `json:"hot_fraction,omitempty"`
	HotShare    float64 `json:"hot_share,omitempty"`
}

// fitHotspot tries a hotspot popularity (YCSB's: a share of the reads
// uniformly over a fraction of the keys, the rest uniformly over the
// others) on the same curve distance as the zipf fit, and returns it when
// it is clearly closer (a quarter less distance): a cache with a hot set
// of equally popular keys is not a zipf.
func fitHotspot(z ZipfFit, counts []int, n int) ZipfFit {
	obs := slices.Clone(counts)
	sort.Sort(sort.Reverse(sort.IntSlice(obs)))
	m := 0
	for _, c := range obs {
		m += c
	}
	if m < 50 || n < 10 {
		return z
	}
	best := z
	for _, h := range []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.3} {
		for _, q := range []float64{0.5, 0.6, 0.7, 0.8, 0.9, 0.95} {
			var d float64
			for rep := range 3 {
				d += curveDistance(obs, simulateHotspot(n, h, q, m, uint64(rep+1)))
			}
			d /= 3
			if d < 0.75*z.Err && d < best.Err {
				best = ZipfFit{Kind: "hotspot", HotFraction: h, HotShare: q, Reads: z.Reads, Distinct: z.Distinct, Keyspace: z.Keyspace,
					Method: "observed reads (MONITOR): simulated rank-frequency fit, a hotspot closer than any zipf", Err: d}
			}
		}
	}
	return best
}

// simulateHotspot draws m keys of n, a share q of them uniformly from the
// first h*n, and returns the counts sorted from the largest.
func simulateHotspot(n int, h, q float64, m int, seed uint64) []int {
	hot := max(1, int(math.Round(h*float64(n))))
	r := rand.New(rand.NewPCG(seed, 0x686f7473))
	counts := map[int]int{}
	for range m {
		if r.Float64() < q || hot >= n {
			counts[r.IntN(hot)]++
		} else {
			counts[hot+r.IntN(n-hot)]++
		}
	}
	out := make([]int, 0, len(counts))
	for _, c := range counts {
		out = append(out, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

// fitZipfJoint fits the exponent and the key space together: the reads
// of a family come from more ids than are cached when some expired, and a
// zipf fitted over too few ids is flattened (the spread of rarely read
// keys is what tells the two apart). Key spaces from the cached count to
// three times it are tried; above 500,000 cached keys only the cached
// count is (the simulation's cost grows with the key space).
func fitZipfJoint(counts []int, cached int) ZipfFit {
	factors := []float64{1, 1.1, 1.25, 1.5, 2, 3}
	if cached > 500_000 {
		factors = factors[:1]
	}
	var best ZipfFit
	for i, f := range factors {
		n := max(int(float64(cached)*f), len(counts))
		z := fitZipf(counts, n)
		z.Keyspace = n
		if i == 0 || z.Err < best.Err {
			best = z
		}
	}
	return best
}

// fitZipf fits a zipf exponent to the read counts of a family's keys,
// drawn over a key space of n keys. Few draws over many keys leave most
// keys unseen, which biases a regression on the rank-frequency curve; so
// the fit compares the observed counts by rank with the counts of the
// same number of draws simulated from zipf(n, s), and keeps the s whose
// simulated curve is closest (a simulated method of moments over the
// whole curve), first on a coarse grid and then refined.
func fitZipf(counts []int, n int) ZipfFit {
	obs := slices.Clone(counts)
	sort.Sort(sort.Reverse(sort.IntSlice(obs)))
	m := 0
	for _, c := range obs {
		m += c
	}
	f := ZipfFit{Kind: "zipf", Reads: m, Distinct: len(obs), Method: "observed reads (MONITOR): simulated rank-frequency fit"}
	if m < 50 || n < 2 {
		f.Kind, f.Method = "uniform", "too few reads observed to fit a zipf exponent"
		return f
	}
	n = max(n, len(obs))
	n = min(n, 2_000_000)
	dist := func(s float64) float64 {
		var tot float64
		const reps = 3
		for rep := range reps {
			sim := simulateCounts(n, s, m, uint64(rep+1))
			tot += curveDistance(obs, sim)
		}
		return tot / reps
	}
	best, bestD := 0.0, math.Inf(1)
	for s := 0.0; s <= 2.5+1e-9; s += 0.1 {
		if d := dist(s); d < bestD {
			best, bestD = s, d
		}
	}
	lo := max(0, best-0.1)
	for s := lo; s <= best+0.1+1e-9; s += 0.01 {
		if d := dist(s); d < bestD {
			best, bestD = s, d
		}
	}
	f.Exponent, f.Err = math.Round(best*100)/100, bestD
	if f.Exponent < 0.05 {
		f.Kind, f.Exponent = "uniform", 0
	}
	return f
}

// simulateCounts draws m keys from zipf(n, s) (rank k with weight k^-s)
// and returns the counts sorted from the largest.
func simulateCounts(n int, s float64, m int, seed uint64) []int {
	cdf := make([]float64, n)
	acc := 0.0
	for k := range n {
		acc += math.Pow(float64(k+1), -s)
		cdf[k] = acc
	}
	r := rand.New(rand.NewPCG(seed, 0x70726f66))
	counts := map[int]int{}
	for range m {
		u := r.Float64() * acc
		counts[sort.SearchFloat64s(cdf, u)]++
	}
	out := make([]int, 0, len(counts))
	for _, c := range counts {
		out = append(out, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}

// curveDistance is the root-mean-square difference of log(1+count) by
// rank between two sorted count lists (the shorter padded with zeros).
func curveDistance(a, b []int) float64 {
	l := max(len(a), len(b))
	var sum float64
	for i := range l {
		var x, y float64
		if i < len(a) {
			x = math.Log1p(float64(a[i]))
		}
		if i < len(b) {
			y = math.Log1p(float64(b[i]))
		}
		sum += (x - y) * (x - y)
	}
	return math.Sqrt(sum / float64(l))
}

// fitZipfIdle estimates a zipf exponent from the keys' idle times alone
// (no observed accesses): a key read at rate r was last read about 1/r
// ago, so log(1/(idle+0.5)) against log(rank by idle) has slope -s. It is
// rough (IDLETIME counts whole seconds, writes reset it too) and the
// report says so.
func fitZipfIdle(idle []int64, scale float64) ZipfFit {
	f := ZipfFit{Kind: "zipf", Method: "OBJECT IDLETIME of the sampled keys (rough; --observe measures it)", Distinct: len(idle)}
	if len(idle) < 20 {
		f.Kind, f.Method = "uniform", "too few sampled keys to estimate popularity"
		return f
	}
	s := slices.Clone(idle)
	slices.Sort(s)
	var xs, ys []float64
	for i, v := range s {
		// Rank in the whole family: the sample's rank times the scale.
		xs = append(xs, math.Log(float64(i)*scale+1))
		ys = append(ys, -math.Log(float64(v)+0.5))
	}
	slope := -regressionSlope(xs, ys)
	f.Exponent = math.Round(math.Max(0.3, math.Min(2, slope))*100) / 100
	return f
}

// fitZipfFreq does what fitZipfIdle does with LFU's logarithmic counters,
// turned back into access counts (Redis increments a counter c above its
// initial 5 with probability 1/((c-5)*lfu_log_factor+1)).
func fitZipfFreq(freq []int64, logFactor float64, scale float64) ZipfFit {
	f := ZipfFit{Kind: "zipf", Method: "OBJECT FREQ of the sampled keys (rough; --observe measures it)", Distinct: len(freq)}
	if len(freq) < 20 {
		f.Kind, f.Method = "uniform", "too few sampled keys to estimate popularity"
		return f
	}
	s := slices.Clone(freq)
	sort.Slice(s, func(i, j int) bool { return s[i] > s[j] })
	var xs, ys []float64
	for i, c := range s {
		d := math.Max(float64(c)-5, 0)
		hits := logFactor*d*d/2 + d + 1
		xs = append(xs, math.Log(float64(i)*scale+1))
		ys = append(ys, math.Log(hits))
	}
	slope := -regressionSlope(xs, ys)
	f.Exponent = math.Round(math.Max(0.3, math.Min(2, slope))*100) / 100
	return f
}

func regressionSlope(xs, ys []float64) float64 {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}
