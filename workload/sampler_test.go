package workload

import (
	"math"
	"math/rand/v2"
	"testing"
)

// zipfShare is the exact share of the top k of n ranks under zipf(s).
func zipfShare(k, n int, s float64) float64 {
	top, all := 0.0, 0.0
	for i := 1; i <= n; i++ {
		w := math.Pow(float64(i), -s)
		all += w
		if i <= k {
			top += w
		}
	}
	return top / all
}

func TestZipfTopOnePercentShare(t *testing.T) {
	const n, draws = 100_000, 200_000
	for _, s := range []float64{0.99, 1.1, 1.5} {
		z, err := NewSampler(Popularity{Kind: PopZipf, Exponent: s}, n)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		top, first := 0, 0
		for range draws {
			k := z.Draw(r)
			if k < 0 || k >= n {
				t.Fatalf("draw %d out of range", k)
			}
			if k < n/100 {
				top++
			}
			if k == 0 {
				first++
			}
		}
		got, want := float64(top)/draws, zipfShare(n/100, n, s)
		if math.Abs(got-want) > 0.01 {
			t.Errorf("zipf %.2f: top 1%% share %.4f, want %.4f ± 0.01", s, got, want)
		}
		got1, want1 := float64(first)/draws, zipfShare(1, n, s)
		if math.Abs(got1-want1) > 0.1*want1 {
			t.Errorf("zipf %.2f: rank-1 share %.4f, want %.4f ± 10%%", s, got1, want1)
		}
	}
}

func TestHotspotAndUniformShares(t *testing.T) {
	const n, draws = 10_000, 200_000
	hot, _ := NewSampler(Popularity{Kind: PopHotspot, HotFraction: 0.2, HotShare: 0.8}, n)
	uni, _ := NewSampler(Popularity{Kind: PopUniform}, n)
	r := rand.New(rand.NewPCG(3, 4))
	hotIn, uniTop := 0, 0
	for range draws {
		if k := hot.Draw(r); k < n/5 {
			hotIn++
		} else if k >= n {
			t.Fatalf("hotspot draw %d out of range", k)
		}
		if k := uni.Draw(r); k < n/100 {
			uniTop++
		} else if k >= n {
			t.Fatalf("uniform draw %d out of range", k)
		}
	}
	if got := float64(hotIn) / draws; math.Abs(got-0.8) > 0.01 {
		t.Errorf("hotspot: hot set share %.4f, want 0.80", got)
	}
	if got := float64(uniTop) / draws; math.Abs(got-0.01) > 0.002 {
		t.Errorf("uniform: top 1%% share %.4f, want 0.01", got)
	}
}

func TestSamplerEdgeCases(t *testing.T) {
	if _, err := NewSampler(Popularity{Kind: PopZipf, Exponent: 1}, 0); err == nil {
		t.Error("sampler over 0 items accepted")
	}
	if _, err := NewSampler(Popularity{Kind: "x"}, 10); err == nil {
		t.Error("unknown kind accepted")
	}
	one, err := NewSampler(Popularity{Kind: PopZipf, Exponent: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100 {
		if one.Draw(r) != 0 {
			t.Fatal("single-item sampler drew nonzero")
		}
	}
	p := newPermutation(1000, 77)
	seen := make([]bool, 1000)
	for i := range 1000 {
		j := p.at(i)
		if seen[j] {
			t.Fatalf("permutation repeats %d", j)
		}
		seen[j] = true
	}
}
