package report_test

import (
	"io"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

// BenchmarkWriteHTMLOneHour renders a one-hour (3,600-row) report.
func BenchmarkWriteHTMLOneHour(b *testing.B) {
	r := reporttest.Sample(reporttest.Options{Seconds: 3600})
	b.ResetTimer()
	for b.Loop() {
		if err := report.WriteHTML(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMergeFourShards merges four ten-minute shard reports.
func BenchmarkMergeFourShards(b *testing.B) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	var rs []*result.Result
	for i := range 4 {
		rs = append(rs, reporttest.Sample(reporttest.Options{Seconds: 600, Seed: uint64(i), Shard: string(rune('0'+i)) + "/4", StartedAt: t0}))
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := report.Merge(rs...); err != nil {
			b.Fatal(err)
		}
	}
}
