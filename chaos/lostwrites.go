package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// maxTracked bounds one window's memory: past it, writes (and, apart, reads)
// are counted but no longer checked (and a note says so).
const maxTracked = 1 << 20

// Read is one read of the persistent tier as the driver saw it: what a
// cache lookup sent at Sent returned. Found is false for a miss; Version is
// the version workload.Verify returned for the value found.
type Read struct {
	Key     string
	Version uint32
	Found   bool
	Sent    time.Time
}

// Delete is one delete of a persistent-tier key, with whatever outcome: it
// may have removed the key at any moment between Sent and Done.
type Delete struct {
	Key  string
	Sent time.Time
	Done time.Time
}

// WriteTracker follows the persistent tier while at least one window is
// open. Windows open at a fault's start (minus a margin) and close when that
// fault's read-back check is done, so every write acknowledged while a fault
// could lose it is checked.
//
// Writes alone are not enough: a write lost during the fault and then
// re-filled (a lookup misses, the cache-aside fill writes a newer value) is
// found at read-back and would pass. So reads and deletes of the tier are
// observed as well, and a read that, after a write was acknowledged, found
// the key missing or at an older version (with no delete in between) shows
// that write lost however the key looks at the end.
//
// Every Observe method is one atomic load when no window is open, so the
// driver may call them on every persistent-tier operation.
type WriteTracker struct {
	open    atomic.Bool // any window open; read without the lock
	mu      sync.Mutex
	windows map[*window]struct{}
}

type window struct {
	opened       time.Time
	writes       []Write
	reads        []Read
	deletes      []Delete
	dropped      uint64 // writes and deletes beyond maxTracked
	droppedReads uint64
}

// NewWriteTracker returns a tracker with no window open.
func NewWriteTracker() *WriteTracker { return &WriteTracker{windows: map[*window]struct{}{}} }

// Observe records one write in every open window. Safe for concurrent use.
func (t *WriteTracker) Observe(w Write) {
	if !t.Active() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for win := range t.windows {
		if len(win.writes) >= maxTracked {
			win.dropped++
			continue
		}
		win.writes = append(win.writes, w)
	}
}

// ObserveRead records one read of a persistent-tier key in every open
// window: at is when the read was sent, found whether a value came back,
// version the version workload.Verify returned for it. A value that fails
// Verify counts as found=false: whatever was acknowledged is gone. A read
// that failed (an error, no answer) says nothing about the key and must not
// be observed. Safe for concurrent use; nothing is recorded when no window
// is open.
func (t *WriteTracker) ObserveRead(key string, version uint32, found bool, at time.Time) {
	if !t.Active() {
		return
	}
	r := Read{Key: key, Version: version, Found: found, Sent: at}
	t.mu.Lock()
	defer t.mu.Unlock()
	for win := range t.windows {
		if len(win.reads) >= maxTracked {
			win.droppedReads++
			continue
		}
		win.reads = append(win.reads, r)
	}
}

// ObserveDelete records a delete of a persistent-tier key sent at sent and
// answered (or failed) at done, whatever its outcome: a miss or an older
// value after it is the delete's doing, not a lost write. Safe for
// concurrent use; nothing is recorded when no window is open.
func (t *WriteTracker) ObserveDelete(key string, sent, done time.Time) {
	if !t.Active() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for win := range t.windows {
		if len(win.deletes) >= maxTracked {
			win.dropped++
			continue
		}
		win.deletes = append(win.deletes, Delete{Key: key, Sent: sent, Done: done})
	}
}

// Active reports whether any window is open, so a caller can skip building
// an observation nobody will look at. One atomic load.
func (t *WriteTracker) Active() bool {
	return t != nil && t.open.Load()
}

func (t *WriteTracker) openWindow(at time.Time) *window {
	w := &window{opened: at}
	t.mu.Lock()
	t.windows[w] = struct{}{}
	t.open.Store(true)
	t.mu.Unlock()
	return w
}

// Observed is what one window saw, for Check.
type Observed struct {
	Opened  time.Time // when tracking began
	Writes  []Write
	Reads   []Read
	Deletes []Delete
	// Untracked counts writes and deletes beyond the tracking bound,
	// UntrackedReads reads beyond it; neither is checked.
	Untracked      uint64
	UntrackedReads uint64
}

func (t *WriteTracker) closeWindow(w *window) Observed {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.windows, w)
	t.open.Store(len(t.windows) > 0)
	return Observed{Opened: w.opened, Writes: w.writes, Reads: w.reads, Deletes: w.deletes, Untracked: w.dropped, UntrackedReads: w.droppedReads}
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
	// LostSeenByRead counts the lost writes only a read during the window
	// showed: by the read-back the key held the write again or a newer one
	// (a cache-aside refill), which alone would have hidden the loss.
	LostSeenByRead uint64
	LostKeys       []string
	// Examples explain up to a few lost writes: what was acknowledged and
	// what was found instead.
	Examples   []string
	Keys       int    // distinct keys read back
	Reads      uint64 // persistent-tier reads observed in the window
	Deletes    uint64 // persistent-tier deletes observed in the window
	ReadErrors uint64 // keys that could not be read back (not counted as lost)
	Untracked  uint64 // writes beyond the tracking bound, not checked
	// UntrackedReads counts reads beyond the tracking bound, not checked.
	UntrackedReads uint64
}

// Versions come from counters that only rise, so within one counter a
// larger version is a later write. The harness draws its own writes'
// versions from 1<<31 upwards and the origin's fills from 1 upwards, so the
// top bit tells the two counters apart and numbers compare only within one.
const versionSpace = uint32(1) << 31

// versionNewer reports whether a was drawn after b; comparable is false
// when they come from different counters and say nothing about time.
func versionNewer(a, b uint32) (newer, comparable bool) {
	if a&versionSpace != b&versionSpace {
		return false, false
	}
	return a > b, true
}

// keyLog is every observation of one key, by index into Observed.
type keyLog struct {
	writes, reads, deletes []int
	byVersion              map[uint32]int // tracked write by version
}

// judge decides whether acknowledged write w is lost given that a read
// (sent after w was acknowledged) found nothing (found false) or version v,
// from being the tracked write of that version if any. A missing key or a
// corrupted value loses w. A value from a write acknowledged before w was
// sent is older: w should have replaced it. A value from a write that
// overlapped w in time, came after it, or whose outcome is unknown (a
// failed write found applied was applied at an unknown moment) does not
// make w lost. An untracked value (no write of the window has its version)
// is newer when its version is higher from the same counter, written by
// something the window did not see; otherwise it predates the window and is
// older, unless w was itself in flight when tracking began.
func judge(w *Write, found bool, v uint32, from *Write, opened time.Time) bool {
	switch {
	case !found:
		return true
	case from == w:
		return false
	case from != nil:
		return from.Outcome == Acked && from.Done.Before(w.Sent)
	}
	if newer, ok := versionNewer(v, w.Version); ok && newer {
		return false
	}
	return !w.Sent.Before(opened)
}

// deletedBetween reports whether a tracked delete of the key may have taken
// effect after w was sent and before a read sent at readSent (zero: the
// read-back, after everything).
func deletedBetween(obs *Observed, kl *keyLog, w *Write, readSent time.Time) bool {
	for _, i := range kl.deletes {
		d := &obs.Deletes[i]
		if d.Done.After(w.Sent) && (readSent.IsZero() || d.Sent.Before(readSent)) {
			return true
		}
	}
	return false
}

func (kl *keyLog) found(obs *Observed, key string, found bool, v uint32) (*Write, string) {
	if !found {
		return nil, "nothing"
	}
	if i, ok := kl.byVersion[v]; ok {
		from := &obs.Writes[i]
		return from, fmt.Sprintf("version %d (written %s..%s)", v, clock(from.Sent), clock(from.Done))
	}
	return nil, fmt.Sprintf("version %d (untracked)", v)
}

// Check decides, per acknowledged write W of the window, whether it
// survived: first by every read observed in the window that was sent after
// W was acknowledged, then by reading every written key back through r. W
// is lost when any of them found the key missing (or corrupted) or at an
// older version (see judge), unless a tracked delete of the key fell in
// between. Each lost write is counted once. faultStart counts
// AckedAfterStart.
func Check(ctx context.Context, r Reader, obs Observed, faultStart time.Time) (LostWrites, error) {
	res := LostWrites{Reads: uint64(len(obs.Reads)), Deletes: uint64(len(obs.Deletes)), Untracked: obs.Untracked, UntrackedReads: obs.UntrackedReads}
	writes := obs.Writes
	logs := map[string]*keyLog{}
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
		kl := logs[w.Key]
		if kl == nil {
			kl = &keyLog{byVersion: map[uint32]int{}}
			logs[w.Key] = kl
		}
		kl.writes = append(kl.writes, i)
		kl.byVersion[w.Version] = i
	}
	res.Keys = len(logs)
	for i := range obs.Reads {
		if kl := logs[obs.Reads[i].Key]; kl != nil {
			kl.reads = append(kl.reads, i)
		}
	}
	for i := range obs.Deletes {
		if kl := logs[obs.Deletes[i].Key]; kl != nil {
			kl.deletes = append(kl.deletes, i)
		}
	}
	example := func(key string, w *Write, what string) {
		if len(res.Examples) < 5 {
			res.Examples = append(res.Examples, fmt.Sprintf("%s: version %d acknowledged (sent %s, acked %s), %s",
				key, w.Version, clock(w.Sent), clock(w.Done), what))
		}
	}
	var readErrs []error
	for key, kl := range logs {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("chaos: lost-write check interrupted: %w", err)
		}
		hasAcked := false
		for _, i := range kl.writes {
			if writes[i].Outcome == Acked {
				hasAcked = true
				break
			}
		}
		if !hasAcked {
			continue
		}
		// What the reads during the window saw.
		lost := map[int]bool{}
		for _, i := range kl.writes {
			w := &writes[i]
			if w.Outcome != Acked {
				continue
			}
			for _, ri := range kl.reads {
				rd := &obs.Reads[ri]
				if !rd.Sent.After(w.Done) || deletedBetween(&obs, kl, w, rd.Sent) {
					continue
				}
				from, what := kl.found(&obs, key, rd.Found, rd.Version)
				if judge(w, rd.Found, rd.Version, from, obs.Opened) {
					lost[i] = true
					example(key, w, "a read sent "+clock(rd.Sent)+" found "+what)
					break
				}
			}
		}

		// What the key holds now.
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		val, found, err := r.Get(rctx, key)
		cancel()
		if err != nil {
			res.ReadErrors++
			if len(readErrs) < 3 {
				readErrs = append(readErrs, err)
			}
		} else {
			var v uint32
			corrupt := false
			if found {
				if v, err = workload.Verify(key, val); err != nil {
					// A corrupted value destroyed whatever was acknowledged.
					found, corrupt = false, true
				}
			}
			from, what := kl.found(&obs, key, found, v)
			if corrupt {
				what = "a corrupted value"
			}
			for _, i := range kl.writes {
				w := &writes[i]
				if w.Outcome != Acked || deletedBetween(&obs, kl, w, time.Time{}) {
					continue
				}
				if judge(w, found, v, from, obs.Opened) {
					if !lost[i] {
						lost[i] = true
						example(key, w, "found "+what+" at read-back")
					}
				} else if lost[i] {
					res.LostSeenByRead++
				}
			}
			if from != nil && from.Outcome == Failed {
				res.FailedApplied++
			}
		}
		res.Lost += uint64(len(lost))
		if len(lost) > 0 && len(res.LostKeys) < 20 {
			res.LostKeys = append(res.LostKeys, key)
		}
	}
	if len(readErrs) > 0 {
		return res, fmt.Errorf("chaos: %d keys could not be read back: %w", res.ReadErrors, errors.Join(readErrs...))
	}
	return res, nil
}

func clock(t time.Time) string { return t.Format("15:04:05.000") }
