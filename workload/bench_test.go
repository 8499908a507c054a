package workload

import (
	"runtime"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/units"
)

// BenchmarkScheduleNext measures the cost of drawing one command (arrival,
// churn, user pick, op sequence) at the default population and 10k or 100k
// active users. ops/cmd is the cache operations per command, and
// B/active-user the heap the filled active set holds per user (slot,
// precomputed keys, session heap, active bitset).
//
// The default workload uses every feature of the seed's layer (rate-limit
// key built per command, MGETs); features_off is the schedule before them,
// for comparison.
func BenchmarkScheduleNext(b *testing.B) {
	for _, c := range []struct {
		name   string
		active int
		feat   FeatureSettings
	}{{"10k_users", 10_000, FeatureSettings{}}, {"100k_users", 100_000, FeatureSettings{}}, {"10k_users_features_off", 10_000, featuresOff()}} {
		active := c.active
		b.Run(c.name, func(b *testing.B) {
			m := mustNew(b, Settings{ActiveUsers: active, Features: c.feat}, Run{Seed: 1})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := m.Schedule(steady(10_000*time.Hour, active))
			s.Next() // fills the active set outside the timing
			runtime.GC()
			runtime.ReadMemStats(&after)
			perUser := float64(after.HeapAlloc-before.HeapAlloc) / float64(active)
			ops := 0
			timeDraws(b, s, func(c Command) { ops += len(c.Ops) })
			b.ReportMetric(float64(ops)/float64(b.N), "ops/cmd")
			b.ReportMetric(perUser, "B/active-user")
		})
	}
}

// BenchmarkProducerNext measures the cost of one command of a schedule
// whose load is mostly a producer's: 100,000 keys each rewritten every 4 s
// (25,000 writes a second, from the per-key heap) beside 1,000 users at
// one command a second, and a rate producer of the same 25,000/s drawn by
// zipf. producer-share is the producers' share of the commands.
func BenchmarkProducerNext(b *testing.B) {
	for _, c := range []struct {
		name string
		p    ProducerSettings
	}{{"every_4s_100k_keys", ProducerSettings{Every: units.Duration(4 * time.Second), Jitter: units.Duration(time.Second)}}, {"rate_25k", ProducerSettings{Rate: 25_000}}} {
		b.Run(c.name, func(b *testing.B) {
			p := c.p
			m := mustNew(b, Settings{Population: 100_000, ActiveUsers: 1000, CommandsPerUserPerMinute: 60, Catalogue: CatalogueNone, Features: featuresOff(),
				Families: []FamilySettings{{Name: "loc", Key: "driver:{id}:loc", Keys: 100_000, TTL: units.Duration(30 * time.Second), MeanSize: 64, Weight: new(1.0), Producer: &p}}}, Run{Seed: 1})
			s := m.Schedule(steady(10_000*time.Hour, 1000))
			s.Next()
			produced := 0
			timeDraws(b, s, func(c Command) {
				if c.Producer != "" {
					produced++
				}
			})
			b.ReportMetric(float64(produced)/float64(b.N), "producer-share")
		})
	}
}

// timeDraws times b.N commands drawn from s, handing each to seen.
func timeDraws(b *testing.B, s *Schedule, seen func(Command)) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c, ok := s.Next()
		if !ok {
			b.Fatal("schedule ended")
		}
		seen(c)
	}
}
