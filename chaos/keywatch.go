package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// KeyWatch follows the lookups of the keys a cache failure mode acts on
// (the keys a mass expiry expired, the hot or big key, a penetration's
// absent keys) beside every other lookup, while a fault of such a kind is
// on: the latency of each side, and the origin fetches and distinct keys
// fetched of the affected side, which say whether get-or-fetch's
// single-flight held. The bot layer calls Observe for every lookup; with
// no window open it costs one atomic load.
type KeyWatch struct {
	open atomic.Int32
	mu   sync.Mutex
	ws   []*watchWindow
}

// NewKeyWatch returns a watch with no window open.
func NewKeyWatch() *KeyWatch { return &KeyWatch{} }

// watchWindow is one occurrence's watch: which keys it follows and what
// their lookups and the others' did.
type watchWindow struct {
	affects func(key string) bool

	mu              sync.Mutex
	affected, other *hdrhistogram.Histogram // µs, from intended start
	lookups         uint64                  // of affected keys
	fetches         uint64                  // origin fetches of affected keys
	fetchedKeys     map[string]uint32       // affected key -> fetches
	dropped         uint64                  // keys past maxWatchedKeys, fetched but not told apart
}

// maxWatchedKeys bounds the distinct keys a window tells apart (a
// penetration looks up a new key every time).
const maxWatchedKeys = 1 << 18

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
}

// openWindow starts a window following the keys affects accepts.
func (w *KeyWatch) openWindow(affects func(string) bool) *watchWindow {
	ww := &watchWindow{affects: affects, affected: newHist(), other: newHist(), fetchedKeys: map[string]uint32{}}
	w.mu.Lock()
	w.ws = append(w.ws, ww)
	w.open.Store(int32(len(w.ws)))
	w.mu.Unlock()
	return ww
}

// closeWindow stops following ww.
func (w *KeyWatch) closeWindow(ww *watchWindow) {
	w.mu.Lock()
	for i, x := range w.ws {
		if x == ww {
			w.ws = append(w.ws[:i], w.ws[i+1:]...)
			break
		}
	}
	w.open.Store(int32(len(w.ws)))
	w.mu.Unlock()
}

// Observe is one lookup of key whose cache read took lat from its
// intended start (a near-cache hit 0; not the origin's time on a miss);
// fetched says this lookup went to the origin itself (the leader of its
// single-flight, not a joiner). Safe for concurrent use; nil does nothing.
func (w *KeyWatch) Observe(key string, lat time.Duration, fetched bool) {
	if w == nil || w.open.Load() == 0 {
		return
	}
	w.mu.Lock()
	ws := append([]*watchWindow(nil), w.ws...)
	w.mu.Unlock()
	us := max(int64(lat/time.Microsecond), 1)
	for _, ww := range ws {
		ww.observe(key, us, fetched)
	}
}

func (ww *watchWindow) observe(key string, us int64, fetched bool) {
	hit := ww.affects(key)
	ww.mu.Lock()
	defer ww.mu.Unlock()
	if !hit {
		_ = ww.other.RecordValue(min(us, ww.other.HighestTrackableValue()))
		return
	}
	_ = ww.affected.RecordValue(min(us, ww.affected.HighestTrackableValue()))
	ww.lookups++
	if !fetched {
		return
	}
	ww.fetches++
	if n, ok := ww.fetchedKeys[key]; ok || len(ww.fetchedKeys) < maxWatchedKeys {
		ww.fetchedKeys[key] = n + 1
	} else {
		ww.dropped++
	}
}

// figures are what the window saw, as the fault's report section holds
// them (the rest of the section is read off the timeline when the fault is
// measured).
func (ww *watchWindow) figures(mode *result.CacheModeReport) {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	mode.AffectedLookups = ww.lookups
	mode.AffectedFetches = ww.fetches
	mode.AffectedKeysFetched = uint64(len(ww.fetchedKeys))
	for _, n := range ww.fetchedKeys {
		mode.MaxFetchesPerKey = max(mode.MaxFetchesPerKey, uint64(n))
	}
	if mode.AffectedKeysFetched > 0 {
		mode.FetchesPerKey = float64(ww.fetches-ww.dropped) / float64(mode.AffectedKeysFetched)
	}
	mode.Affected = latencyOf(ww.affected)
	mode.Other = latencyOf(ww.other)
}

func latencyOf(h *hdrhistogram.Histogram) result.ModeLatency {
	if h.TotalCount() == 0 {
		return result.ModeLatency{}
	}
	ms := func(q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1000 }
	return result.ModeLatency{Lookups: uint64(h.TotalCount()), P50Ms: ms(50), P99Ms: ms(99), MaxMs: float64(h.Max()) / 1000}
}

// Perturber is a kind that changes what the users look up during its
// window (hot key, big key, penetration) rather than, or besides, acting
// on Redis: the run's schedule applies its Perturbation over every
// occurrence's window (Perturbations). Its kind has Traits.Workload.
type Perturber interface {
	Perturbation() workload.Perturbation
}

// Perturbations are the workload perturbations of faults' kinds that
// change what users look up, one per occurrence that starts before total,
// over [at, at+for).
func Perturbations(faults []Fault, total time.Duration) []workload.Perturbation {
	var out []workload.Perturbation
	for _, occ := range Plan(faults, total) {
		p, ok := occ.Fault.kind.(Perturber)
		if !ok {
			continue
		}
		x := p.Perturbation()
		x.From, x.To = occ.At, occ.At+occ.Fault.For
		out = append(out, x)
	}
	return out
}

// watchPerturbation opens the occurrence's key watch over the keys its
// perturbation sends lookups to, and notes what it does; the returned end
// closes the watch and puts its figures into the occurrence's report.
func watchPerturbation(t *Target, p workload.Perturbation, what string) (func(context.Context) error, error) {
	if t.Model == nil {
		return nil, fmt.Errorf("%s needs the run's workload model", what)
	}
	rp, err := t.Model.Resolve(p)
	if err != nil {
		return nil, err
	}
	mode := t.cacheMode()
	mode.Instances = t.Model.Instances()
	var ww *watchWindow
	if t.Watch != nil {
		ww = t.Watch.openWindow(rp.Affects)
	}
	switch rp.Mode {
	case workload.PerturbPenetration:
		t.Notef("%s: %.0f %% of %s's lookups go to keys that never exist, a new one each time", what, 100*rp.Share, rp.Family)
	default:
		mode.Key = rp.Key
		t.Notef("%s: %.0f %% of %s's lookups go to %s (%s)", what, 100*rp.Share, rp.Family, rp.Key, fmtBytes(int64(rp.Size)))
	}
	return func(context.Context) error {
		if ww != nil {
			t.Watch.closeWindow(ww)
			ww.figures(mode)
		}
		if rp.Mode == workload.PerturbPenetration {
			mode.Keys = mode.AffectedKeysFetched
		}
		return nil
	}, nil
}
