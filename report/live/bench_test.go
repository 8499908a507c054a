package live

import (
	"context"
	"testing"

	"github.com/cacheproof/cacheproof/result"
)

// BenchmarkPublish is the once-per-second cost the sampler pays.
func BenchmarkPublish(b *testing.B) {
	s, err := NewWithOptions(Options{Addr: "127.0.0.1:0", Linger: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	h := result.NewHistogram()
	for v := int64(100); v < 100_000; v += 7 {
		h.RecordValue(v)
	}
	row := result.TimelineRow{T: 1, Ops: 10000, ErrorsByKind: map[string]uint64{"timeout": 1}}
	b.ResetTimer()
	for b.Loop() {
		s.Publish(row, Intervals{Latency: h})
	}
}
