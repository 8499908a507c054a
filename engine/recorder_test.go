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

// BenchmarkApplyParallel is BenchmarkApply's family case from every
// GOMAXPROCS goroutine at once: what the shards' locks and the run's one
// set of histograms (recorder.go's totals) cost under contention. Run with
// -cpu 1,2,4,8 to see it scale.
func BenchmarkApplyParallel(b *testing.B) {
	d := New(Options{Phases: []Phase{{Name: "steady", Recorded: true}}, Families: 8})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cmd := workload.Command{}
		var r Record
		i := 0
		for pb.Next() {
			i++
			r.Init()
			lat := time.Duration(100+i%900) * time.Microsecond
			r.Sample(SlotGet, 0, 3, lat, lat/2)
			r.Lookup(0, 3, true, 0)
			r.Sample(SlotGet, 0, 3, lat, lat/2)
			r.Lookup(0, 3, false, workload.MissCold)
			r.Sample(SlotSet, 0, 3, lat, lat/2)
			d.apply(cmd, &r)
		}
	})
}

// TestRecorderHoldsOneSetOfRunHistograms: the run's latency histograms
// (overall, service, command, by op, by tier, by phase) are one set
// whatever the shard count, and every shard's samples reach it.
func TestRecorderHoldsOneSetOfRunHistograms(t *testing.T) {
	d := New(Options{Phases: []Phase{{Name: "warmup"}, {Name: "steady", Recorded: true}}, Families: 2, Shards: 16})
	for i := range 64 {
		var r Record
		r.Init()
		r.Sample(SlotGet, 0, 1, time.Duration(100+i)*time.Microsecond, 50*time.Microsecond)
		d.apply(workload.Command{Phase: i % 2}, &r)
	}
	c, h := d.rec.Totals()
	if c.Commands != 32 || h.Overall.TotalCount() != 32 || h.ByOp[SlotGet].TotalCount() != 32 || h.ByTier[0].TotalCount() != 32 || h.ByFamily[1].TotalCount() != 32 || h.Command.TotalCount() != 32 {
		t.Fatalf("totals: %d commands, %d overall samples, want 32 of each", c.Commands, h.Overall.TotalCount())
	}
	for p := range 2 {
		pc, ph := d.rec.PhaseTotals(p)
		if pc.Commands != 32 || ph.TotalCount() != 32 {
			t.Errorf("phase %d: %d commands, %d samples, want 32", p, pc.Commands, ph.TotalCount())
		}
	}
	iv := d.rec.TakeInterval()
	if iv.Latency.TotalCount() != 64 {
		t.Errorf("interval: %d samples, want 64", iv.Latency.TotalCount())
	}
}
