package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// pool is the one source of tier names; workload, which may not import it,
// files each family of its catalogue under a tier by name. This is where the
// two meet: every family's tier must be one of pool's, or its keys would get
// no TTL and its counters would land in the wrong slot.
func TestConfigCatalogueTiersArePoolTiers(t *testing.T) {
	for _, f := range workload.DefaultFamilies() {
		if !slices.Contains(pool.TierNames(), f.Tier) {
			t.Errorf("family %s: tier %q is not one of pool's %v", f.Name, f.Tier, pool.TierNames())
		}
	}
	for i, name := range TierNames {
		if TierIndex(name) != i || i >= pool.NumTiers {
			t.Errorf("tier %s: slot %d of %d", name, TierIndex(name), pool.NumTiers)
		}
	}
}

// BenchmarkApply is the recording cost of one typical bot command (three
// operations: two lookups and a write) on the hot path, with the samples
// filed under no key family and under families (each then also enters the
// family's total and per-second histograms): the ratio of the two in one
// run is what per-family latency costs the generator.
func BenchmarkApply(b *testing.B) {
	for _, c := range []struct {
		name string
		fam  int16
	}{{"no_family", NoFamily}, {"family", 3}} {
		b.Run(c.name, func(b *testing.B) {
			d := New(Options{Phases: []Phase{{Name: "steady", Recorded: true}}, Families: 8})
			cmd := workload.Command{}
			var r Record
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r.Init()
				lat := time.Duration(100+i%900) * time.Microsecond
				r.Sample(SlotGet, 0, c.fam, lat, lat/2)
				r.Lookup(0, 3, true, 0)
				r.Sample(SlotGet, 0, c.fam, lat, lat/2)
				r.Lookup(0, 3, false, workload.MissCold)
				r.Sample(SlotSet, 0, c.fam, lat, lat/2)
				d.apply(cmd, &r)
			}
		})
	}
}
