package workload

import (
	"context"
	"errors"
	"math"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/units"
)

func TestOriginLatencyAndErrorDistribution(t *testing.T) {
	o := NewOrigin(nil, 1)
	for name, cfg := range DefaultOrigins() {
		s := o.sources[name]
		const n = 100_000
		lat := make([]float64, n)
		fails := 0
		for i := range n {
			d, fail := o.draw(s, uint64(i+1))
			lat[i] = float64(d)
			fails += b2i(fail)
		}
		sort.Float64s(lat)
		median, p99 := lat[n/2], lat[n*99/100]
		if rel := math.Abs(median-float64(cfg.Latency)) / float64(cfg.Latency); rel > 0.03 {
			t.Errorf("%s: median %v, want %v ± 3%%", name, time.Duration(median), cfg.Latency)
		}
		if rel := math.Abs(p99-float64(cfg.P99)) / float64(cfg.P99); rel > 0.06 {
			t.Errorf("%s: p99 %v, want %v ± 6%%", name, time.Duration(p99), cfg.P99)
		}
		rate := float64(fails) / n
		if sd := math.Sqrt(cfg.ErrorRate * (1 - cfg.ErrorRate) / n); math.Abs(rate-cfg.ErrorRate) > 4*sd+1e-9 {
			t.Errorf("%s: error rate %.4f, want %.4f", name, rate, cfg.ErrorRate)
		}
	}
	// Draws are a pure function of seed and sequence number.
	a, b := NewOrigin(nil, 5), NewOrigin(nil, 5)
	for i := range uint64(100) {
		da, fa := a.draw(a.sources["stratz"], i)
		db, fb := b.draw(b.sources["stratz"], i)
		if da != db || fa != fb {
			t.Fatal("origin draws not deterministic")
		}
	}
}

func TestOriginFetchSleepsFailsAndCounts(t *testing.T) {
	o := NewOrigin(map[string]OriginConfig{
		"stratz":   {Latency: 2 * time.Millisecond, P99: 6 * time.Millisecond, ErrorRate: 0.2},
		"internal": {Latency: 0, ErrorRate: 0},
	}, 3)
	fam := DefaultFamilies()[famStratzProfile]
	const calls = 300
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs, ok := 0, 0
	start := time.Now()
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "stratz:profile:" + strconv.Itoa(76561198000000000+i)
			v, err := o.Fetch(context.Background(), &fam, key, 2048)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !errors.Is(err, ErrOrigin) {
					t.Errorf("fetch error %v is not ErrOrigin", err)
				}
				errs++
				return
			}
			if _, verr := Verify(key, v); verr != nil || len(v) != 2048 {
				t.Errorf("fetched value (%d bytes) does not verify: %v", len(v), verr)
			}
			ok++
		}()
	}
	wg.Wait()
	if time.Since(start) < 2*time.Millisecond {
		t.Error("fetches did not wait for the upstream latency")
	}
	st := o.Stats()["stratz"]
	if st.Calls != calls || int(st.Errors) != errs || errs+ok != calls {
		t.Errorf("stats %+v, counted %d errors %d ok", st, errs, ok)
	}
	if errs < calls/10 || errs > calls*3/10 {
		t.Errorf("%d errors of %d at 20 %%", errs, calls)
	}
	if st.Latency.TotalCount() != calls {
		t.Errorf("latency histogram has %d values", st.Latency.TotalCount())
	}
	if med := st.Latency.ValueAtQuantile(50); med < 1500 {
		t.Errorf("median fetch %d µs, want at least the 2000 µs drawn median", med)
	}
	// The snapshot is a copy.
	st.Latency.Reset()
	if o.Stats()["stratz"].Latency.TotalCount() != calls {
		t.Error("Stats returned the live histogram")
	}
	meta := DefaultFamilies()[famMetaHeroes]
	v, err := o.Fetch(context.Background(), &meta, "meta:heroes", 50*1024)
	if err != nil || len(v) != 50*1024 {
		t.Errorf("instant internal fetch: %d bytes, %v", len(v), err)
	}
	if got := o.Sources(); len(got) != 4 || got[0] != "internal" {
		t.Errorf("Sources = %v", got)
	}
}

func TestOriginFetchHonoursContext(t *testing.T) {
	o := NewOrigin(map[string]OriginConfig{"opendota": {Latency: 10 * time.Second}}, 1)
	fam := DefaultFamilies()[famOpenDotaProfile]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := o.Fetch(ctx, &fam, "opendota:profile:1", 100)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("Fetch did not return when the context ended")
	}
	if st := o.Stats()["opendota"]; st.Calls != 1 || st.Canceled != 1 || st.Errors != 0 {
		t.Errorf("stats after cancel %+v", st)
	}
	bad := fam
	bad.Source = "nowhere"
	if _, err := o.Fetch(context.Background(), &bad, "x", 1); err == nil {
		t.Error("unknown source fetched")
	}
}

func TestModelOriginUsesConfig(t *testing.T) {
	m := mustNew(t, Settings{Population: 1000, Origins: map[string]OriginSettings{"steam": {Latency: units.Duration(time.Millisecond), ErrorRate: 1,
		Wrote: field.Keys{"latency": true, "p99": true, "error_rate": true}}}}, Run{})
	fam := m.Family("steam_avatar")
	_, err := m.Origin().Fetch(context.Background(), fam, "steam:avatar:1", 1024)
	if !errors.Is(err, ErrOrigin) {
		t.Errorf("error rate 1 gave %v", err)
	}
	if m.Origin().Stats()["stratz"].Calls != 0 {
		t.Error("calls counted on the wrong source")
	}
}
