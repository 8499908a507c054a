package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
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
	// Fill marks a cache-aside fill or a warm: a value fetched from the
	// origin at Fetched and then written. It is the application's copy of
	// the origin as of Fetched, so when it lands over a later write that
	// write is overwritten by the application, not lost by Redis.
	Fill    bool
	Fetched time.Time
	// Warm marks a fill written by the bot's warming (at start, after a
	// restart or failover) rather than after a miss.
	Warm bool
	// TTL is how long the write lives in Redis (0: no expiry), so a miss
	// after it passed is an expiry, not a loss.
	TTL time.Duration
}

// Eviction is a key Redis reported evicting (a keyspace notification), at
// the moment the notification arrived.
type Eviction struct {
	Key string
	At  time.Time
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
	// evictionsWatched is set while an EvictionWatch feeds the tracker, so
	// a check knows that no notification for a key means no eviction.
	evictionsWatched atomic.Bool
}

type window struct {
	opened       time.Time
	writes       []Write
	reads        []Read
	deletes      []Delete
	evictions    []Eviction
	dropped      uint64 // writes and deletes beyond maxTracked
	droppedReads uint64
	// droppedEvictions counts evictions beyond maxTracked: the window's
	// eviction evidence is then incomplete.
	droppedEvictions uint64
	// twoPrimaries are the spans in which two nodes may have served as
	// primary (Target.TwoPrimaries).
	twoPrimaries []Span
}

// Span is a stretch of wall-clock time.
type Span struct{ From, To time.Time }

func (s Span) holds(t time.Time) bool { return !t.Before(s.From) && !t.After(s.To) }

// NewWriteTracker returns a tracker with no window open.
func NewWriteTracker() *WriteTracker { return &WriteTracker{windows: map[*window]struct{}{}} }

// Observe records one write in every open window. Safe for concurrent use.
func (t *WriteTracker) Observe(w Write) {
	if !t.Active() {
		return
	}
	inEveryWindow(t, func(win *window) (*[]Write, *uint64) { return &win.writes, &win.dropped }, w)
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
	inEveryWindow(t, func(win *window) (*[]Read, *uint64) { return &win.reads, &win.droppedReads }, r)
}

// ObserveDelete records a delete of a persistent-tier key sent at sent and
// answered (or failed) at done, whatever its outcome: a miss or an older
// value after it is the delete's doing, not a lost write. Safe for
// concurrent use; nothing is recorded when no window is open.
func (t *WriteTracker) ObserveDelete(key string, sent, done time.Time) {
	if !t.Active() {
		return
	}
	inEveryWindow(t, func(win *window) (*[]Delete, *uint64) { return &win.deletes, &win.dropped }, Delete{Key: key, Sent: sent, Done: done})
}

// ObserveEviction records that Redis evicted key (a keyspace
// notification that arrived at at) in every open window. Safe for
// concurrent use; nothing is recorded when no window is open.
func (t *WriteTracker) ObserveEviction(key string, at time.Time) {
	if !t.Active() {
		return
	}
	inEveryWindow(t, func(win *window) (*[]Eviction, *uint64) { return &win.evictions, &win.droppedEvictions }, Eviction{Key: key, At: at})
}

// inEveryWindow appends v to the list pick names in every open window; a
// window whose list already holds maxTracked counts v in pick's dropped
// counter instead, so memory stays bounded however long a fault lasts.
func inEveryWindow[T any](t *WriteTracker, pick func(*window) (*[]T, *uint64), v T) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for win := range t.windows {
		list, dropped := pick(win)
		if len(*list) >= maxTracked {
			*dropped++
			continue
		}
		*list = append(*list, v)
	}
}

// observeTwoPrimaries records a split-brain span in every open window
// (a few per fault: no bound needed).
func (t *WriteTracker) observeTwoPrimaries(s Span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for win := range t.windows {
		win.twoPrimaries = append(win.twoPrimaries, s)
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
	// Evictions are the keys Redis reported evicting while the window was
	// open; EvictionsWatched says whether anything was listening (without
	// it, a miss cannot be told from an eviction by key).
	Evictions        []Eviction
	EvictionsWatched bool
	// Untracked counts writes and deletes beyond the tracking bound,
	// UntrackedReads reads beyond it; neither is checked.
	// UntrackedEvictions counts evictions beyond it.
	Untracked          uint64
	UntrackedReads     uint64
	UntrackedEvictions uint64
	// TwoPrimaries are the spans in which two nodes may have served as
	// primary (a split brain): a read in one that missed a write is not
	// by itself evidence that the write was lost.
	TwoPrimaries []Span
}

func (t *WriteTracker) closeWindow(w *window) Observed {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.windows, w)
	t.open.Store(len(t.windows) > 0)
	return Observed{Opened: w.opened, Writes: w.writes, Reads: w.reads, Deletes: w.deletes, Evictions: w.evictions,
		EvictionsWatched: t.evictionsWatched.Load(), TwoPrimaries: w.twoPrimaries,
		Untracked: w.dropped, UntrackedReads: w.droppedReads, UntrackedEvictions: w.droppedEvictions}
}

// Reader reads a key back through the cache manager under test, which
// follows the current primary. pool.Manager satisfies it.
type Reader interface {
	Get(ctx context.Context, key string) (val string, found bool, err error)
}

// Cause is why an acknowledged write was not found where it should have
// been. Only CauseReplication is Redis losing an acknowledged write; the
// others are reported beside it.
type Cause string

// The causes, in report order.
const (
	// CauseReplication: the write was acknowledged and then gone (missing,
	// or an older value back) with no eviction, expiry or fill to explain
	// it, and no later read found it again: lost by replication or
	// failover. The only cause that counts against lost_writes.
	CauseReplication Cause = "replication"
	// CauseEvicted: Redis reported evicting the key (maxmemory) between the
	// write and the read that missed it.
	CauseEvicted Cause = "evicted"
	// CauseExpired: the write's TTL had passed when the read missed it.
	CauseExpired Cause = "expired"
	// CauseFill: the value found is a cache-aside fill's (or a warm's),
	// written after the acknowledged write was sent: the application
	// overwrote its own write with the origin's copy.
	CauseFill Cause = "fill_overwrite"
	// CauseStaleRead: a read missed the write (or found an older value)
	// but the write was never shown lost: a later read found the write
	// itself, or the read came while two nodes served as primary (a split
	// brain, Observed.TwoPrimaries) and no look after that span missed it.
	// The read was served by a node that did not have the write (a
	// replica, or a demoted primary still answering).
	CauseStaleRead Cause = "stale_read"
)

// Causes lists every cause in report order.
var Causes = []Cause{CauseReplication, CauseEvicted, CauseExpired, CauseFill, CauseStaleRead}

// CauseTally is how many writes one cause accounts for, with a few examples
// and their evidence.
type CauseTally struct {
	Count    uint64
	Examples []string
}

// maxExamples bounds the examples kept per cause.
const maxExamples = 5

// LostWrites is the outcome of one read-back check.
type LostWrites struct {
	Tracked         uint64 // writes observed in the window (fills apart)
	Acked           uint64 // acknowledged
	Failed          uint64 // refused (READONLY, OOM, connection refused): normally not applied
	FailedApplied   uint64 // reported as failed yet found (an earlier attempt of a retried command was applied)
	Unknown         uint64 // timed out or connection broke: outcome unknown
	AckedAfterStart uint64 // acknowledged after the fault began
	// Fills counts the cache-aside fills and warm writes observed: origin
	// values the application wrote, which a write can be overwritten by but
	// which are not themselves judged (losing one costs a refetch, not data).
	Fills uint64
	// Lost counts the writes lost by replication or failover
	// (ByCause[CauseReplication]): acknowledged, then missing or replaced by
	// an older write, with no other cause to explain it.
	Lost uint64
	// ByCause is every acknowledged write that a read or the read-back did
	// not find, by cause; each write is counted under one cause.
	ByCause map[Cause]*CauseTally
	// LostSeenByRead counts the lost writes only a read during the window
	// showed: by the read-back the key held the write again or a newer one
	// (a cache-aside refill), which alone would have hidden the loss.
	LostSeenByRead uint64
	LostKeys       []string
	// Examples explain up to a few lost writes (replication): what was
	// acknowledged and what was found instead.
	Examples   []string
	Keys       int    // distinct keys read back
	Reads      uint64 // persistent-tier reads observed in the window
	Deletes    uint64 // persistent-tier deletes observed in the window
	ReadErrors uint64 // keys that could not be read back (not counted as lost)
	Untracked  uint64 // writes beyond the tracking bound, not checked
	// UntrackedReads counts reads beyond the tracking bound, not checked.
	UntrackedReads uint64
	// Evictions is how many evictions Redis notified in the window;
	// EvictionsWatched whether it was listened to at all (when not, a miss
	// evicted by maxmemory is indistinguishable from a loss by key).
	Evictions        uint64
	EvictionsWatched bool
	// Window is how long the window was open, from Opened to the read-back;
	// Start is when it opened, as an offset from the run's start (set by the
	// runner).
	Window time.Duration
	Start  time.Duration
}

// Count returns the writes attributed to c.
func (l *LostWrites) Count(c Cause) uint64 {
	if l == nil || l.ByCause[c] == nil {
		return 0
	}
	return l.ByCause[c].Count
}

// Missing returns every write not found, whatever the cause.
func (l *LostWrites) Missing() uint64 {
	var n uint64
	for _, c := range Causes {
		n += l.Count(c)
	}
	return n
}

func (l *LostWrites) tally(c Cause, example string) {
	if l.ByCause == nil {
		l.ByCause = map[Cause]*CauseTally{}
	}
	t := l.ByCause[c]
	if t == nil {
		t = &CauseTally{}
		l.ByCause[c] = t
	}
	t.Count++
	if len(t.Examples) < maxExamples {
		t.Examples = append(t.Examples, example)
	}
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

// evictionSlack is how long after a read was sent an eviction notification
// may arrive and still explain the read's miss: the eviction happened
// before the read was served, the notification travels after it.
const evictionSlack = time.Second

// sighting is one look at a key: a read observed in the window, or the
// read-back (readBack true, at when it was sent).
type sighting struct {
	at       time.Time
	found    bool
	corrupt  bool
	version  uint32
	from     *Write // the tracked write of that version, if any
	readBack bool
}

func (s *sighting) what() string {
	switch {
	case s.corrupt:
		return "a corrupted value"
	case !s.found:
		return "nothing"
	case s.from != nil && s.from.Fill && s.from.Warm:
		return fmt.Sprintf("version %d (a warm's origin value fetched %s, written %s..%s)", s.version, clock(s.from.Fetched), clock(s.from.Sent), clock(s.from.Done))
	case s.from != nil && s.from.Fill:
		return fmt.Sprintf("version %d (an origin fill fetched %s, written %s..%s)", s.version, clock(s.from.Fetched), clock(s.from.Sent), clock(s.from.Done))
	case s.from != nil:
		return fmt.Sprintf("version %d (written %s..%s)", s.version, clock(s.from.Sent), clock(s.from.Done))
	}
	return fmt.Sprintf("version %d (untracked)", s.version)
}

func (s *sighting) where() string {
	if s.readBack {
		return "the read-back at " + clock(s.at) + " found " + s.what()
	}
	return "a read sent " + clock(s.at) + " found " + s.what()
}

// keyLog is every observation of one key.
type keyLog struct {
	writes    []*Write
	deletes   []*Delete
	evictions []time.Time
	sightings []sighting
	byVersion map[uint32]*Write // tracked write (or fill) by version
	// twoPrimaries are the window's split-brain spans.
	twoPrimaries []Span
}

// split returns the span with two primaries that holds at, if any.
func (kl *keyLog) split(at time.Time) (Span, bool) {
	for _, s := range kl.twoPrimaries {
		if s.holds(at) {
			return s, true
		}
	}
	return Span{}, false
}

// deletedBetween reports whether a tracked delete of the key may have taken
// effect after w was sent and before a look at at.
func (kl *keyLog) deletedBetween(w *Write, at time.Time) bool {
	for _, d := range kl.deletes {
		if d.Done.After(w.Sent) && d.Sent.Before(at) {
			return true
		}
	}
	return false
}

// superseded reports whether another acknowledged write of the key (not a
// fill) was sent after w was acknowledged and acknowledged before at: what
// the key holds at at is that write's business, not w's.
func (kl *keyLog) superseded(w *Write, at time.Time) bool {
	for _, o := range kl.writes {
		if o != w && !o.Fill && o.Outcome == Acked && o.Sent.After(w.Done) && o.Done.Before(at) {
			return true
		}
	}
	return false
}

// evictedBetween returns the first eviction notified for the key after w
// was sent and at most evictionSlack after at.
func (kl *keyLog) evictedBetween(w *Write, at time.Time) (time.Time, bool) {
	for _, e := range kl.evictions {
		if e.After(w.Sent) && !e.After(at.Add(evictionSlack)) {
			return e, true
		}
	}
	return time.Time{}, false
}

// relevant reports whether sighting s says anything about w: it was sent
// after w was acknowledged, no delete fell in between, and no later write
// replaced w before it.
func (kl *keyLog) relevant(w *Write, s *sighting) bool {
	return s.at.After(w.Done) && !kl.deletedBetween(w, s.at) && !kl.superseded(w, s.at)
}

// missing decides whether sighting s shows acknowledged write w gone, and
// why. A missing key or a corrupted value loses w: by eviction when Redis
// said it evicted the key, by expiry when w's TTL had passed, else by
// replication. A fill written after w was sent overwrote w (the
// application's doing). A value from a write acknowledged before w was
// sent is older: w should have replaced it. A value from a write that
// overlapped w in time, came after it, or whose outcome is unknown does not
// make w lost. An untracked value is newer when its version is higher from
// the same counter, written by something the window did not see; otherwise
// it predates the window and is older, unless w was itself in flight when
// tracking began.
func (kl *keyLog) missing(w *Write, s *sighting, opened time.Time) (bool, Cause, string) {
	switch {
	case s.corrupt:
		return true, CauseReplication, ""
	case !s.found:
		if e, ok := kl.evictedBetween(w, s.at); ok {
			return true, CauseEvicted, "Redis notified the key's eviction at " + clock(e)
		}
		if w.TTL > 0 && !s.at.Before(w.Sent.Add(w.TTL)) {
			return true, CauseExpired, fmt.Sprintf("its TTL of %s had passed", w.TTL)
		}
		return true, CauseReplication, ""
	case s.from == w:
		return false, "", ""
	case s.from != nil && s.from.Fill && s.from.Done.After(w.Sent):
		f := s.from
		if f.Fetched.Before(w.Done) {
			return true, CauseFill, "the fill fetched the origin at " + clock(f.Fetched) + ", before the write was acknowledged, and landed after it was sent: the application's race"
		}
		what := "the fill"
		if f.Warm {
			what = "the bot's warming"
		}
		return true, CauseFill, what + " fetched the origin at " + clock(f.Fetched) + ", after the write, and wrote the origin's copy over it (the simulated origin does not hold the tool's writes)"
	case s.from != nil:
		return s.from.Outcome == Acked && s.from.Done.Before(w.Sent), CauseReplication, ""
	}
	if newer, ok := versionNewer(s.version, w.Version); ok && newer {
		return false, "", ""
	}
	return !w.Sent.Before(opened), CauseReplication, ""
}

// Check decides, per acknowledged write W of the window, whether every
// look at its key after W was acknowledged found it: the reads observed in
// the window, then the key read back through r. A look that found the key
// missing or older (see missing) is explained by the first such look after
// the last one that still found W: evicted, expired, overwritten by a fill,
// or, with no other cause, lost by replication. When every look that missed
// W came before one that found it again, W was never lost: those reads were
// stale. A delete of the key in between, or a later acknowledged write,
// excuses a look. Each write is counted once, under one cause; only
// replication counts as Lost. faultStart counts AckedAfterStart.
func Check(ctx context.Context, r Reader, obs Observed, faultStart time.Time) (LostWrites, error) {
	res := LostWrites{Reads: uint64(len(obs.Reads)), Deletes: uint64(len(obs.Deletes)), Untracked: obs.Untracked, UntrackedReads: obs.UntrackedReads,
		Evictions: uint64(len(obs.Evictions)) + obs.UntrackedEvictions, EvictionsWatched: obs.EvictionsWatched}
	logs := map[string]*keyLog{}
	for i := range obs.Writes {
		w := &obs.Writes[i]
		kl := logs[w.Key]
		if kl == nil {
			kl = &keyLog{byVersion: map[uint32]*Write{}, twoPrimaries: obs.TwoPrimaries}
			logs[w.Key] = kl
		}
		kl.writes = append(kl.writes, w)
		kl.byVersion[w.Version] = w
		if w.Fill {
			res.Fills++
			continue
		}
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
	}
	res.Keys = len(logs)
	for i := range obs.Deletes {
		if kl := logs[obs.Deletes[i].Key]; kl != nil {
			kl.deletes = append(kl.deletes, &obs.Deletes[i])
		}
	}
	for _, e := range obs.Evictions {
		if kl := logs[e.Key]; kl != nil {
			kl.evictions = append(kl.evictions, e.At)
		}
	}
	for i := range obs.Reads {
		rd := &obs.Reads[i]
		kl := logs[rd.Key]
		if kl == nil {
			continue
		}
		s := sighting{at: rd.Sent, found: rd.Found, version: rd.Version}
		if rd.Found {
			s.from = kl.byVersion[rd.Version]
		}
		kl.sightings = append(kl.sightings, s)
	}
	// The read-back comes after every operation the window observed.
	var last time.Time
	for i := range obs.Writes {
		last = maxTime(last, obs.Writes[i].Done)
	}
	for i := range obs.Deletes {
		last = maxTime(last, obs.Deletes[i].Done)
	}
	for i := range obs.Reads {
		last = maxTime(last, obs.Reads[i].Sent)
	}
	var readErrs []error
	for key, kl := range logs {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("chaos: lost-write check interrupted: %w", err)
		}
		var acked []*Write
		for _, w := range kl.writes {
			if w.Outcome == Acked && !w.Fill {
				acked = append(acked, w)
			}
		}
		if len(acked) == 0 {
			continue
		}
		sort.SliceStable(kl.sightings, func(i, j int) bool { return kl.sightings[i].at.Before(kl.sightings[j].at) })

		// What the key holds now: the last sighting, after everything
		// the window observed.
		at := time.Now()
		if !at.After(last) {
			at = last.Add(time.Nanosecond)
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		val, found, err := r.Get(rctx, key)
		cancel()
		readBack := err == nil
		if err != nil {
			res.ReadErrors++
			if len(readErrs) < 3 {
				readErrs = append(readErrs, err)
			}
		} else {
			s := sighting{at: at, found: found, readBack: true}
			if found {
				var verr error
				if s.version, verr = workload.Verify(key, val); verr != nil {
					// A corrupted value destroyed whatever was acknowledged.
					s.found, s.corrupt = false, true
				} else if s.from = kl.byVersion[s.version]; s.from != nil && s.from.Outcome == Failed {
					res.FailedApplied++
				}
			}
			kl.sightings = append(kl.sightings, s)
		}

		lostHere := false
		for _, w := range acked {
			cause, evidence, ok := kl.judge(w, obs.Opened)
			if !ok {
				continue
			}
			ex := fmt.Sprintf("%s: version %d acknowledged (sent %s, acked %s), %s", key, w.Version, clock(w.Sent), clock(w.Done), evidence)
			res.tally(cause, ex)
			if cause != CauseReplication {
				continue
			}
			res.Lost++
			lostHere = true
			if len(res.Examples) < maxExamples {
				res.Examples = append(res.Examples, ex)
			}
			if last := &kl.sightings[len(kl.sightings)-1]; readBack && last.readBack {
				if bad, _, _ := kl.missing(w, last, obs.Opened); !bad || !kl.relevant(w, last) {
					res.LostSeenByRead++
				}
			}
		}
		if lostHere && len(res.LostKeys) < 20 {
			res.LostKeys = append(res.LostKeys, key)
		}
	}
	res.Window = time.Since(obs.Opened)
	if len(readErrs) > 0 {
		return res, fmt.Errorf("chaos: %d keys could not be read back: %w", res.ReadErrors, errors.Join(readErrs...))
	}
	return res, nil
}

// judge classifies acknowledged write w against the key's sightings (in
// time order): ok is false when every relevant sighting found it (or none
// missed it). The first sighting that missed w after the last one that
// found it, outside any span with two primaries, gives the cause. Misses
// before a sighting that found w again, and misses while two nodes served
// as primary (the read may have gone to the side without w), are stale
// reads unless a later look shows w gone.
func (kl *keyLog) judge(w *Write, opened time.Time) (Cause, string, bool) {
	lastSeen := -1
	for i := range kl.sightings {
		s := &kl.sightings[i]
		if s.from == w && kl.relevant(w, s) {
			lastSeen = i
		}
	}
	stale := -1
	for i := range kl.sightings {
		s := &kl.sightings[i]
		if !kl.relevant(w, s) {
			continue
		}
		bad, cause, why := kl.missing(w, s, opened)
		if !bad {
			continue
		}
		if _, split := kl.split(s.at); i < lastSeen || (split && !s.readBack) {
			if stale < 0 {
				stale = i
			}
			continue
		}
		evidence := s.where()
		if why != "" {
			evidence += ": " + why
		}
		return cause, evidence, true
	}
	if stale < 0 {
		return "", "", false
	}
	s := &kl.sightings[stale]
	if sp, split := kl.split(s.at); split {
		return CauseStaleRead, s.where() + fmt.Sprintf(" while two nodes served as primary (%s..%s)", clock(sp.From), clock(sp.To)) +
			": served by the side without the write; no look after that missed it", true
	}
	return CauseStaleRead, s.where() + "; " + kl.sightings[lastSeen].where() +
		": the first read was served by a node without the write (a replica, or the demoted primary)", true
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func clock(t time.Time) string { return t.Format("15:04:05.000") }
