package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/workload"
)

// Outcome is what the writer learned about one write.
type Outcome int8

// Outcomes of a write. A Redis error reply (READONLY, OOM) is Failed: the
// server said no, so the write did not happen. A timeout or a broken
// connection is Unknown: the write may or may not have been applied.
const (
	Acked Outcome = iota
	Failed
	Unknown
)

// Write is one write to the persistent tier as the driver saw it.
type Write struct {
	Key     string
	Version uint32
	Sent    time.Time // when the command was sent
	Done    time.Time // when the reply (or the error) came back
	Outcome Outcome
}

// maxTracked bounds one window's memory: past it, writes are counted but no
// longer checked (and a note says so).
const maxTracked = 1 << 20

// WriteTracker follows writes to the persistent tier while at least one
// window is open. Windows open at a fault's start (minus a margin) and close
// when that fault's read-back check is done, so every write acknowledged
// while a fault could lose it is checked. Observe is cheap when no window is
// open (one atomic load).
type WriteTracker struct {
	mu      sync.Mutex
	windows map[*window]struct{}
	open    bool
}

type window struct {
	opened  time.Time
	writes  []Write
	dropped uint64
}

// NewWriteTracker returns a tracker with no window open.
func NewWriteTracker() *WriteTracker { return &WriteTracker{windows: map[*window]struct{}{}} }

// Observe records one write in every open window. Safe for concurrent use.
func (t *WriteTracker) Observe(w Write) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.open {
		return
	}
	for win := range t.windows {
		if len(win.writes) >= maxTracked {
			win.dropped++
			continue
		}
		win.writes = append(win.writes, w)
	}
}

// Active reports whether any window is open, so a caller can skip building
// a Write nobody will look at.
func (t *WriteTracker) Active() bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

func (t *WriteTracker) openWindow(at time.Time) *window {
	w := &window{opened: at}
	t.mu.Lock()
	t.windows[w] = struct{}{}
	t.open = true
	t.mu.Unlock()
	return w
}

func (t *WriteTracker) closeWindow(w *window) []Write {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.windows, w)
	t.open = len(t.windows) > 0
	return w.writes
}

// Reader reads a key back through the cache manager under test, which
// follows the current primary. pool.Manager satisfies it.
type Reader interface {
	Get(ctx context.Context, key string) (val string, found bool, err error)
}

// LostWrites is the outcome of one read-back check.
type LostWrites struct {
	Tracked         uint64 // writes observed in the window
	Acked           uint64 // acknowledged
	Failed          uint64 // refused (READONLY, OOM, connection refused): normally not applied
	FailedApplied   uint64 // reported as failed yet found (an earlier attempt of a retried command was applied)
	Unknown         uint64 // timed out or connection broke: outcome unknown
	AckedAfterStart uint64 // acknowledged after the fault began
	Lost            uint64 // acknowledged, then missing or replaced by an older write
	LostKeys        []string
	// Examples explain up to a few lost writes: what was acknowledged and
	// what was found instead.
	Examples   []string
	Keys       int    // distinct keys read back
	ReadErrors uint64 // keys that could not be read back (not counted as lost)
	Untracked  uint64 // writes beyond the tracking bound, not checked
}

// Check reads back every key written in writes and decides, per
// acknowledged write W, whether it survived. W is lost when the key is gone,
// or when the value found was written by a write X that was acknowledged
// before W was sent (X strictly precedes W in real time, so W should have
// replaced it), or by a write that predates the window. A value from a
// write that overlapped W in time, or came after it, or whose outcome is
// unknown, does not make W lost. faultStart counts AckedAfterStart;
// windowOpened is when tracking began (writes sent before it may have
// overlapped untracked ones, so they are not judged by an untracked value).
func Check(ctx context.Context, r Reader, writes []Write, faultStart, windowOpened time.Time) (LostWrites, error) {
	var res LostWrites
	byKey := map[string][]int{}
	for i, w := range writes {
		res.Tracked++
		switch w.Outcome {
		case Acked:
			res.Acked++
			if !w.Done.Before(faultStart) {
				res.AckedAfterStart++
			}
		case Failed:
			res.Failed++
		case Unknown:
			res.Unknown++
		}
		byKey[w.Key] = append(byKey[w.Key], i)
	}
	res.Keys = len(byKey)
	var readErrs []error
	for key, idx := range byKey {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("chaos: lost-write check interrupted: %w", err)
		}
		hasAcked := false
		for _, i := range idx {
			if writes[i].Outcome == Acked {
				hasAcked = true
				break
			}
		}
		if !hasAcked {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		val, found, err := r.Get(rctx, key)
		cancel()
		if err != nil {
			res.ReadErrors++
			if len(readErrs) < 3 {
				readErrs = append(readErrs, err)
			}
			continue
		}
		var from *Write // the tracked write whose value was found
		foundWhat := "nothing"
		if found {
			v, verr := workload.Verify(key, val)
			if verr != nil {
				// A corrupted value destroyed whatever was acknowledged.
				found = false
				foundWhat = "a corrupted value"
			} else {
				foundWhat = fmt.Sprintf("version %d (untracked: older than the window)", v)
				for _, i := range idx {
					if writes[i].Version == v {
						from = &writes[i]
						foundWhat = fmt.Sprintf("version %d (written %s..%s)", v, clock(from.Sent), clock(from.Done))
						break
					}
				}
			}
		}
		lostHere := false
		for _, i := range idx {
			w := &writes[i]
			if w.Outcome != Acked {
				continue
			}
			lost := false
			switch {
			case !found:
				lost = true
			case from == w:
			case from != nil:
				// Only a write acknowledged before w began can be older. A
				// write reported as failed that is found anyway was applied
				// by an attempt whose reply was lost (a retry then failed):
				// its time is as uncertain as an unknown one's.
				lost = from.Outcome == Acked && from.Done.Before(w.Sent)
			default:
				// The value predates the window: older than w unless w was
				// itself in flight when tracking began.
				lost = !w.Sent.Before(windowOpened)
			}
			if lost {
				res.Lost++
				lostHere = true
				if len(res.Examples) < 5 {
					res.Examples = append(res.Examples, fmt.Sprintf("%s: version %d acknowledged (sent %s, acked %s), found %s",
						key, w.Version, clock(w.Sent), clock(w.Done), foundWhat))
				}
			}
		}
		if from != nil && from.Outcome == Failed {
			res.FailedApplied++
		}
		if lostHere && len(res.LostKeys) < 20 {
			res.LostKeys = append(res.LostKeys, key)
		}
	}
	if len(readErrs) > 0 {
		return res, fmt.Errorf("chaos: %d keys could not be read back: %w", res.ReadErrors, errors.Join(readErrs...))
	}
	return res, nil
}

func clock(t time.Time) string { return t.Format("15:04:05.000") }
