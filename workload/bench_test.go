package workload

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkScheduleNext measures the cost of drawing one command (arrival,
// churn, user pick, op sequence) at the default population and 10k or 100k
// active users. ops/cmd is the cache operations per command, and
// B/active-user the heap the filled active set holds per user (slot,
// precomputed keys, session heap, active bitset).
func BenchmarkScheduleNext(b *testing.B) {
	for _, active := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(active/1000)+"k_users", func(b *testing.B) {
			m := mustModel(b, Config{ActiveUsers: active, Seed: 1})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := m.Schedule(steady(10_000*time.Hour, active))
			s.Next() // fills the active set outside the timing
			runtime.GC()
			runtime.ReadMemStats(&after)
			perUser := float64(after.HeapAlloc-before.HeapAlloc) / float64(active)
			ops := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, ok := s.Next()
				if !ok {
					b.Fatal("schedule ended")
				}
				ops += len(c.Ops)
			}
			b.ReportMetric(float64(ops)/float64(b.N), "ops/cmd")
			b.ReportMetric(perUser, "B/active-user")
		})
	}
}
