package result

import (
	"fmt"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry shared by every latency histogram in cacheproof. Values
// are recorded in microseconds so that sub-millisecond cache hits keep three
// significant digits while a 60 s stall still fits. All histograms must share
// this geometry so that merging shards is exact.
const (
	HistogramMinUS   = 1
	HistogramMaxUS   = 60_000_000
	HistogramSigFigs = 3
)

// NewHistogram returns an empty latency histogram (1 µs .. 60 s, 3 significant
// digits). Record values in microseconds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistogramMinUS, HistogramMaxUS, HistogramSigFigs)
}

// FamilySigFigs is the precision of the per-family latency histograms:
// two significant digits (1 %), a seventh of a full histogram's memory, as
// a run keeps one per key family in every recording shard.
const FamilySigFigs = 2

// NewFamilyHistogram returns an empty per-family latency histogram (1 µs ..
// 60 s, FamilySigFigs digits). Family histograms merge with each other
// exactly; their summaries are within 1 % of the value.
func NewFamilyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistogramMinUS, HistogramMaxUS, FamilySigFigs)
}

// Summary is a latency distribution reduced to the figures reports show.
// Latencies are milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// Summarize reduces a microsecond histogram to millisecond figures. A nil or
// empty histogram gives a zero Summary.
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	ps := h.ValueAtPercentiles([]float64{50, 90, 99, 99.9})
	return Summary{
		Count: h.TotalCount(),
		P50:   UsToMs(ps[50]),
		P90:   UsToMs(ps[90]),
		P99:   UsToMs(ps[99]),
		P999:  UsToMs(ps[99.9]),
		Max:   UsToMs(h.Max()),
		Mean:  roundMs(h.Mean() / 1000),
	}
}

// UsToMs converts an integer microsecond value (a histogram value) to
// milliseconds, rounded to the microsecond as summaries are.
func UsToMs(v int64) float64 { return roundMs(float64(v) / 1000) }

// roundMs keeps three decimals (one microsecond), which is all the precision a
// microsecond histogram holds and keeps JSON output stable.
func roundMs(v float64) float64 {
	return math.Round(v*1000) / 1000
}

// EncodeHDR encodes a histogram in the HdrHistogram V2 compressed base64
// form, readable by every HdrHistogram implementation, so reports can be
// merged and re-plotted exactly.
func EncodeHDR(h *hdrhistogram.Histogram) (string, error) {
	if h == nil {
		return "", fmt.Errorf("encode histogram: nil histogram")
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHDR reverses EncodeHDR.
func DecodeHDR(s string) (*hdrhistogram.Histogram, error) {
	if s == "" {
		return nil, fmt.Errorf("decode histogram: empty string")
	}
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}

// SetHDR encodes h and stores it under key (for example "overall", "op:get",
// "tier:api") in r.HDR, creating the map when needed.
func (r *Result) SetHDR(key string, h *hdrhistogram.Histogram) error {
	s, err := EncodeHDR(h)
	if err != nil {
		return fmt.Errorf("hdr %q: %w", key, err)
	}
	if r.HDR == nil {
		r.HDR = map[string]string{}
	}
	r.HDR[key] = s
	return nil
}

// Histogram decodes the histogram stored under key; ok is false when the key
// is absent.
func (r *Result) Histogram(key string) (h *hdrhistogram.Histogram, ok bool, err error) {
	s, found := r.HDR[key]
	if !found {
		return nil, false, nil
	}
	h, err = DecodeHDR(s)
	if err != nil {
		return nil, true, fmt.Errorf("hdr %q: %w", key, err)
	}
	return h, true, nil
}
