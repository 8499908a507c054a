package workload

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/cespare/xxhash/v2"
)

// ErrOrigin marks a simulated upstream failure (the API answered 5xx or timed
// out on its side).
var ErrOrigin = errors.New("origin error")

// z99 is the standard normal 99th percentile: a lognormal with median m and
// 99th percentile p has sigma = ln(p/m)/z99.
const z99 = 2.3263478740408408

// maxOriginLatency caps one drawn latency, so a far tail draw cannot stall a
// test or a run for minutes.
const maxOriginLatency = 30 * time.Second

// Origin simulates the upstream APIs a miss falls through to. Each source has
// a lognormal latency and an error rate. Concurrent misses on one key are
// collapsed by the pool's get-or-fetch, so Fetch is exactly one upstream
// call. Safe for concurrent use; draws are a pure function of the seed, the
// source and the call's sequence number, so no lock is taken to draw.
type Origin struct {
	seed    uint64
	sources map[string]*originSource // read-only after construction
	names   []string
}

type originSource struct {
	name      string
	cfg       OriginConfig
	mu, sigma float64 // of ln(latency in ns)
	salt      uint64

	seq      atomic.Uint64
	calls    atomic.Uint64
	errs     atomic.Uint64
	canceled atomic.Uint64
	version  atomic.Uint32

	hmu  sync.Mutex
	hist *hdrhistogram.Histogram
}

// OriginStats is a snapshot of one source's calls.
type OriginStats struct {
	Calls, Errors uint64
	Canceled      uint64                  // calls whose context ended before the upstream answered
	Latency       *hdrhistogram.Histogram // microseconds, of calls that completed (ok or error)
}

// NewOrigin returns an origin with the given sources (DefaultOrigins fills
// the missing ones) and seed.
func NewOrigin(sources map[string]OriginConfig, seed int64) *Origin {
	all := DefaultOrigins()
	for k, v := range sources {
		all[k] = v
	}
	o := &Origin{seed: uint64(seed), sources: make(map[string]*originSource, len(all))}
	for name, cfg := range all {
		s := &originSource{name: name, cfg: cfg, salt: xxhash.Sum64String(name),
			hist: hdrhistogram.New(1, int64(maxOriginLatency/time.Microsecond), 3)}
		if cfg.Latency > 0 {
			s.mu = math.Log(float64(cfg.Latency))
			if cfg.P99 > cfg.Latency {
				s.sigma = math.Log(float64(cfg.P99)/float64(cfg.Latency)) / z99
			}
		}
		o.sources[name] = s
		o.names = append(o.names, name)
	}
	sort.Strings(o.names)
	return o
}

// draw returns the latency and failure of the n-th call to s.
func (o *Origin) draw(s *originSource, n uint64) (time.Duration, bool) {
	x := splitmix64(o.seed ^ s.salt ^ splitmix64(n))
	fail := unit(splitmix64(x^0x6a09e667f3bcc908)) < s.cfg.ErrorRate
	if s.cfg.Latency <= 0 {
		return 0, fail
	}
	if s.sigma == 0 {
		return s.cfg.Latency, fail
	}
	// Box-Muller from two hash-derived uniforms.
	u1 := unit(splitmix64(x^0xbb67ae8584caa73b)) + 1.0/(1<<54)
	u2 := unit(splitmix64(x ^ 0x3c6ef372fe94f82b))
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	d := time.Duration(math.Exp(s.mu + s.sigma*z))
	return min(d, maxOriginLatency), fail
}

// Fetch makes one simulated upstream call for key of family fam: it waits the
// drawn latency (returning early, wrapped ctx.Err(), if ctx ends), then either
// fails with ErrOrigin or returns a fresh value of size bytes whose version
// counts the source's successful fetches.
func (o *Origin) Fetch(ctx context.Context, fam *Family, key string, size int) (string, error) {
	s, ok := o.sources[fam.Source]
	if !ok {
		return "", fmt.Errorf("workload: fetch %q: family %s has unknown origin source %q", key, fam.Name, fam.Source)
	}
	lat, fail := o.draw(s, s.seq.Add(1))
	s.calls.Add(1)
	start := time.Now()
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			s.canceled.Add(1)
			return "", fmt.Errorf("workload: fetch %q from %s: %w", key, s.name, ctx.Err())
		}
	} else if err := ctx.Err(); err != nil {
		s.canceled.Add(1)
		return "", fmt.Errorf("workload: fetch %q from %s: %w", key, s.name, err)
	}
	us := max(int64(time.Since(start)/time.Microsecond), 1)
	s.hmu.Lock()
	_ = s.hist.RecordValue(min(us, s.hist.HighestTrackableValue()))
	s.hmu.Unlock()
	if fail {
		s.errs.Add(1)
		return "", fmt.Errorf("workload: fetch %q from %s: %w", key, s.name, ErrOrigin)
	}
	return Value(key, s.version.Add(1), size), nil
}

// Stats returns a snapshot per source; the histograms are copies.
func (o *Origin) Stats() map[string]OriginStats {
	out := make(map[string]OriginStats, len(o.sources))
	for _, name := range o.names {
		s := o.sources[name]
		s.hmu.Lock()
		h := hdrhistogram.Import(s.hist.Export())
		s.hmu.Unlock()
		out[name] = OriginStats{Calls: s.calls.Load(), Errors: s.errs.Load(), Canceled: s.canceled.Load(), Latency: h}
	}
	return out
}

// Calls is the calls made so far to every source (a cheap read, for the
// timeline's origin calls per interval).
func (o *Origin) Calls() uint64 {
	var n uint64
	for _, s := range o.sources {
		n += s.calls.Load()
	}
	return n
}

// Sources lists the source names in sorted order.
func (o *Origin) Sources() []string { return append([]string(nil), o.names...) }
