package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Uniform is the one thing a Sampler needs from a random source: a float in
// [0, 1). *math/rand/v2.Rand satisfies it.
type Uniform interface {
	Float64() float64
}

var _ Uniform = (*rand.Rand)(nil)

// Sampler draws indexes in [0, N) by a Popularity; index 0 is the most
// popular. It holds no random state, so one Sampler may be shared by many
// goroutines, each with its own Uniform.
//
// Zipf uses Hörmann and Derflinger's rejection-inversion method, which needs
// O(1) set-up and works for any exponent > 0 (math/rand's Zipf needs s > 1,
// which would exclude YCSB's 0.99).
type Sampler struct {
	n    int
	kind string
	// zipf
	s, hX1, hN, sq float64
	// hotspot
	hotN     int
	hotShare float64
}

// NewSampler returns a sampler of p over n items.
func NewSampler(p Popularity, n int) (*Sampler, error) {
	if n < 1 {
		return nil, fmt.Errorf("workload: sampler over %d items: need at least one", n)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("workload: sampler: %w", err)
	}
	z := &Sampler{n: n, kind: p.Kind}
	switch p.Kind {
	case PopZipf:
		z.s = p.Exponent
		z.hX1 = z.hIntegral(1.5) - 1
		z.hN = z.hIntegral(float64(n) + 0.5)
		z.sq = 2 - z.hIntegralInv(z.hIntegral(2.5)-z.h(2))
	case PopHotspot:
		z.hotN = max(1, int(math.Round(p.HotFraction*float64(n))))
		if z.hotN >= n {
			z.hotN = n
		}
		z.hotShare = p.HotShare
	}
	return z, nil
}

// N is the number of items drawn over.
func (z *Sampler) N() int { return z.n }

// Draw returns an index in [0, N).
func (z *Sampler) Draw(r Uniform) int {
	switch z.kind {
	case PopZipf:
		return z.zipf(r) - 1
	case PopHotspot:
		if z.hotN == z.n {
			return int(r.Float64() * float64(z.n))
		}
		if r.Float64() < z.hotShare {
			return int(r.Float64() * float64(z.hotN))
		}
		return z.hotN + int(r.Float64()*float64(z.n-z.hotN))
	default:
		return min(int(r.Float64()*float64(z.n)), z.n-1)
	}
}

// zipf returns a rank in [1, n] with P(k) proportional to k^-s.
func (z *Sampler) zipf(r Uniform) int {
	for {
		u := z.hN + r.Float64()*(z.hX1-z.hN)
		x := z.hIntegralInv(u)
		k := int(x + 0.5)
		if k < 1 {
			k = 1
		} else if k > z.n {
			k = z.n
		}
		fk := float64(k)
		if fk-x <= z.sq || u >= z.hIntegral(fk+0.5)-z.h(fk) {
			return k
		}
	}
}

func (z *Sampler) h(x float64) float64 { return math.Exp(-z.s * math.Log(x)) }

func (z *Sampler) hIntegral(x float64) float64 {
	lx := math.Log(x)
	return helper2((1-z.s)*lx) * lx
}

func (z *Sampler) hIntegralInv(x float64) float64 {
	t := x * (1 - z.s)
	if t < -1 {
		t = -1 // numerical safety
	}
	return math.Exp(helper1(t) * x)
}

// helper1 is log1p(x)/x, stable near 0.
func helper1(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Log1p(x) / x
	}
	return 1 - x*(0.5-x*(1.0/3-0.25*x))
}

// helper2 is expm1(x)/x, stable near 0.
func helper2(x float64) float64 {
	if math.Abs(x) > 1e-8 {
		return math.Expm1(x) / x
	}
	return 1 + x*0.5*(1+x/3*(1+0.25*x))
}

// splitmix64 is a fast, well-mixed 64-bit hash/step: it turns counters and
// ids into independent-looking random bits without any shared state.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps 64 random bits to a float in [0, 1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// mixRand is a tiny counter-based Uniform for draws that must be a pure
// function of an id (a user's guild, a key's value size).
type mixRand struct{ state uint64 }

func (m *mixRand) Float64() float64 {
	m.state += 0x9e3779b97f4a7c15
	return unit(splitmix64(m.state))
}

// permutation is a cheap bijection on [0, n): i -> (a*i + b) mod n with a
// coprime to n. It spreads popularity ranks over ids so that the most popular
// user is not user 0 and shards get a fair share of the head.
type permutation struct{ a, b, n uint64 }

func newPermutation(n int, seed uint64) permutation {
	un := uint64(n)
	if un <= 1 {
		return permutation{a: 1, b: 0, n: max(un, 1)}
	}
	a := splitmix64(seed)%un | 1
	for gcd(a, un) != 1 {
		a = (a + 2) % un
		if a == 0 {
			a = 1
		}
	}
	return permutation{a: a, b: splitmix64(seed^0x5bd1e995) % un, n: un}
}

func (p permutation) at(i int) int { return int((p.a*uint64(i) + p.b) % p.n) }

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
