package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// Options configure a Runner. Deployment is required.
type Options struct {
	Deployment topology.Controller
	// Network is the proxy the cache manager goes through; required when a
	// fault acts on it (Traits.Proxy).
	Network *Network
	// Protocol is the RESP-aware proxy; required when a fault acts on it
	// (Traits.Protocol).
	Protocol *Protocol
	// Tracker and Reader enable the lost-write check of readonly and
	// failover faults: Tracker collects the writes, Reader reads them back.
	Tracker *WriteTracker
	Reader  Reader
	// Settle is how long after a fault ends the read-back waits, so a
	// recovering deployment can finish resyncing (default 1s).
	Settle time.Duration
	// Total is the run's length; repetitions (every:) stop before it.
	Total time.Duration
	// ActionTimeout bounds one inject or revert (default 30s).
	ActionTimeout time.Duration
	// Logf reports faults as they happen; nil is silent.
	Logf func(format string, args ...any)
	// Subscribers are told of every occurrence's start, effect, emptied
	// node and end as they happen (Notice).
	Subscribers []Subscriber
	// Model is the run's workload model and Watch the key watch the bot
	// layer feeds: what the cache failure modes (Traits.Workload, and
	// mass-expiry) read their family and measure their keys through.
	Model *workload.Model
	Watch *KeyWatch
	// Ledger is the run's miss ledger: a mass expiry tells it which keys
	// it expired, so their misses count as expired (nil: not told).
	Ledger *workload.Ledger
	// KeyPrefix is what the cache manager puts before every key in Redis
	// (pool's key_prefix): the keys a fault finds or writes carry it.
	KeyPrefix string
}

// Event is one occurrence of a fault as it happened. Start and End are
// offsets from the run start: Start when the action began, End when the
// deployment was back (the node answered again, the limit was restored, the
// new primary serves). An instantaneous fault has End close to Start.
//
// An occurrence that never started (the run ended or was interrupted before
// its slot, or its slot lies past the run's end) is an Event too, with
// NotStarted set and Start at its planned slot: a report must show what was
// planned and not measured, not leave it out.
type Event struct {
	Fault    Fault
	N        int    // occurrence: 0 first, then repetitions
	Planned  int    // occurrences the fault's scenario entry plans (see Occurrence)
	Node     string // the node acted on, resolved ("primary-0", "node-2")
	Start    time.Duration
	End      time.Duration
	Injected bool // the action took effect
	Ended    bool // the fault is over (reverted, or ended early)
	// NotStarted: the occurrence never began; Notes say why.
	NotStarted bool
	Notes      []string
	// Lost is the read-back of acknowledged writes (readonly, failover).
	Lost *LostWrites
	// Control is the same check over a window just before the fault's
	// tracking began, with no fault: the no-fault rate of every cause. Nil
	// when the fault came too early in the run for one.
	Control *LostWrites
	// Mode is a cache failure mode's own figures as its kind measured them
	// (the key watch's); Measurement adds the timeline's. Nil for other
	// kinds.
	Mode *result.CacheModeReport
}

// Runner plays a fault timeline against a deployment. Every occurrence runs
// in its own goroutine, so faults overlap freely; Stop ends them all.
type Runner struct {
	o      Options
	plan   []Occurrence
	beyond []Occurrence // planned past the run's end: never played
	start  time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	events []*Event
	missed []Event // played occurrences stopped before their slot
	last   primaryMemo
}

// NewRunner prepares the timeline; nothing happens before Start.
func NewRunner(faults []Fault, o Options) *Runner {
	if o.Settle <= 0 {
		o.Settle = time.Second
	}
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = 30 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	r := &Runner{o: o}
	r.plan, r.beyond = schedule(faults, o.Total)
	return r
}

// Plan returns the occurrences the runner will play (those planned past the
// run's end are left out; Events reports them as not started).
func (r *Runner) Plan() []Occurrence { return append([]Occurrence(nil), r.plan...) }

// Start begins the timeline; offsets count from runStart.
func (r *Runner) Start(runStart time.Time) {
	r.start = runStart
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if len(r.plan) > 0 {
		pctx, cancel := context.WithTimeout(r.ctx, 2*time.Second)
		if p, err := r.o.Deployment.Primary(pctx); err == nil {
			r.last.set(p)
		}
		cancel()
	}
	for _, occ := range r.plan {
		r.wg.Add(1)
		go r.play(occ)
	}
}

// Stop cancels occurrences that have not started, ends the ones in progress
// now (reverting them) and waits until every revert and read-back is done.
// Call it before the deployment or the cache manager is closed.
func (r *Runner) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
}

func (r *Runner) since() time.Duration { return time.Since(r.start) }

// trackLead is how long before a fault that tracks writes (readonly,
// failover) its writes start being tracked.
const trackLead = 5 * time.Second

// minControl is the shortest control window worth checking.
const minControl = time.Second

// sleepUntil waits until offset at of the run; false when the run ended.
func (r *Runner) sleepUntil(at time.Duration) bool {
	t := time.NewTimer(time.Until(r.start.Add(at)))
	defer t.Stop()
	select {
	case <-r.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// play runs one occurrence: its write tracking from a little before its
// slot, the fault itself, then the read-back of the writes it tracked.
func (r *Runner) play(occ Occurrence) {
	defer r.wg.Done()
	win, control, ok := r.track(occ)
	if !ok || !r.sleepUntil(occ.At) {
		if control != nil {
			<-control
		}
		if win != nil {
			r.o.Tracker.closeWindow(win)
		}
		r.miss(occ)
		return
	}
	ev := &Event{Fault: occ.Fault, N: occ.N, Planned: occ.Planned, Start: r.since()}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	faultStart := time.Now()
	ns := &notes{}
	r.act(occ, ev, ns)
	if win != nil {
		r.readBack(occ, ev, ns, win, control, faultStart)
	} else if control != nil {
		<-control
	}
	r.mu.Lock()
	ev.Notes = append(ev.Notes, ns.take()...)
	r.mu.Unlock()
}

// track opens the occurrence's write tracking when its fault tracks
// writes: from a little before the fault, so the report can tell writes
// acknowledged before it from those acknowledged during it, and a control
// window of about the fault window's length just before that, with the
// same tracking and no fault, so the fault's figures can be read against
// what the same workload shows without one (fill races, evictions and stale
// reads happen without any fault). control delivers the control window's
// check. ok is false when the run ended first (nothing is left open).
func (r *Runner) track(occ Occurrence) (win *window, control chan *LostWrites, ok bool) {
	f := occ.Fault
	if !f.TracksWrites() || r.o.Tracker == nil || r.o.Reader == nil {
		return nil, nil, true
	}
	lead := min(trackLead, occ.At)
	ctlStart := max(occ.At-lead-(trackLead+f.For+r.o.Settle), 0)
	var ctl *window
	if occ.At-lead-ctlStart >= minControl {
		if !r.sleepUntil(ctlStart) {
			return nil, nil, false
		}
		ctl = r.o.Tracker.openWindow(time.Now())
	}
	if !r.sleepUntil(occ.At - lead) {
		if ctl != nil {
			r.o.Tracker.closeWindow(ctl)
		}
		return nil, nil, false
	}
	win = r.o.Tracker.openWindow(time.Now())
	if ctl != nil {
		obs := r.o.Tracker.closeWindow(ctl)
		control = make(chan *LostWrites, 1)
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), r.o.ActionTimeout)
			defer cancel()
			lost, err := Check(cctx, r.o.Reader, obs, time.Now())
			if err != nil {
				r.o.Logf("chaos: %s: control window's check: %v", f, err)
			}
			lost.Start = obs.Opened.Sub(r.start)
			control <- &lost
		}()
	}
	return win, control, true
}

// act injects the occurrence's fault on its node, holds it for its
// duration (unless the run ends first) and ends it, telling the
// subscribers as each happens.
func (r *Runner) act(occ Occurrence, ev *Event, ns *notes) {
	f := occ.Fault
	name := f.String()
	if occ.N > 0 {
		name += fmt.Sprintf(" (repetition %d)", occ.N)
	}
	t := &Target{Deployment: r.o.Deployment, Fault: f, Network: r.o.Network, Protocol: r.o.Protocol, Model: r.o.Model, Watch: r.o.Watch, Ledger: r.o.Ledger, KeyPrefix: r.o.KeyPrefix, notes: ns, tracker: r.o.Tracker, runStart: r.start}
	notice := Notice{Fault: f, N: occ.N, Start: ev.Start}
	r.publish(notice.at(Started, ev.Start))

	actx, cancel := context.WithTimeout(context.Background(), r.o.ActionTimeout)
	var err error
	if f.traits.OwnNode {
		// The kind picks its node; the report names the primary it acted
		// against.
		t.Node, _ = resolveNode(actx, r.o.Deployment, &r.last, ns, NodePrimary)
	} else {
		t.Node, err = resolveNode(actx, r.o.Deployment, &r.last, ns, f.Node)
	}
	called := err == nil
	var end func(context.Context) error
	if called {
		r.o.Logf("chaos: %s: injecting", name)
		end, err = f.kind.Inject(actx, t)
	}
	cancel()
	r.mu.Lock()
	ev.Node = t.Node.Name
	ev.Injected = err == nil
	r.mu.Unlock()
	notice.Node, notice.Injected = t.Node.Name, err == nil
	if err == nil {
		r.publish(notice.at(TookEffect, r.since()))
	} else {
		ns.notef("injecting failed: %v", err)
		r.o.Logf("chaos: %s: injecting failed: %v", name, err)
	}

	// Hold the fault for its duration, unless the run ends first.
	if f.For > 0 && called {
		hold := time.NewTimer(f.For)
		select {
		case <-hold.C:
		case <-r.ctx.Done():
			hold.Stop()
			ns.notef("ended early after %.1fs of %s: the run ended", r.since().Seconds()-ev.Start.Seconds(), f.For)
		}
	}
	if end != nil {
		rctx, cancel := context.WithTimeout(context.Background(), r.o.ActionTimeout)
		if err := end(rctx); err != nil {
			ns.notef("ending the fault failed: %v", err)
			r.o.Logf("chaos: %s: ending failed: %v", name, err)
		} else if f.traits.EmptiesNode && !r.o.Deployment.Spec().Persistence {
			// The node serves again, without what it held.
			r.publish(notice.at(NodeEmptied, r.since()))
		}
		cancel()
	}
	over := r.since()
	r.mu.Lock()
	ev.End, ev.Ended = over, true
	ev.Mode = t.mode
	r.mu.Unlock()
	r.publish(notice.at(Ended, over))
	r.o.Logf("chaos: %s: over after %.2fs", name, (over - ev.Start).Seconds())
}

// readBack lets replication settle after the fault, reads back the writes
// its window tracked (Check) and puts the result, with the control
// window's, into the event.
func (r *Runner) readBack(occ Occurrence, ev *Event, ns *notes, win *window, control chan *LostWrites, faultStart time.Time) {
	// Let replication and the manager's primary-following settle, but
	// do not keep a finishing run waiting.
	settle := time.NewTimer(r.o.Settle)
	select {
	case <-settle.C:
	case <-r.ctx.Done():
		settle.Stop()
	}
	cctx, cancel := context.WithTimeout(context.Background(), r.o.ActionTimeout)
	obs := r.o.Tracker.closeWindow(win)
	lost, err := Check(cctx, r.o.Reader, obs, faultStart)
	cancel()
	lost.Start = obs.Opened.Sub(r.start)
	if err != nil {
		ns.notef("lost-write check: %v", err)
	}
	if lost.Lost > 0 {
		ns.notef("%d acknowledged writes lost by replication or failover; e.g. %s", lost.Lost, strings.Join(lost.Examples, "; "))
	}
	var ctl *LostWrites
	if control != nil {
		ctl = <-control
	} else {
		ns.notef("no control window: the fault's tracking begins %s into the run, too early for one of at least %s before it", occ.At-min(trackLead, occ.At), minControl)
	}
	r.mu.Lock()
	ev.Lost = &lost
	ev.Control = ctl
	r.mu.Unlock()
}

// miss records a played occurrence that was stopped before its slot.
func (r *Runner) miss(occ Occurrence) {
	stopped := r.since()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.missed = append(r.missed, notStarted(occ, fmt.Sprintf("never started: the run stopped at %.1fs, before this occurrence's slot at %s", stopped.Seconds(), occ.At)))
}

// notStarted is the Event of an occurrence that never began.
func notStarted(occ Occurrence, why string) Event {
	return Event{Fault: occ.Fault, N: occ.N, Planned: occ.Planned, Node: occ.Fault.Node, Start: occ.At, End: occ.At, NotStarted: true, Notes: []string{why}}
}

// Active lists the kinds of faults in effect at any moment of (from, to],
// comma-joined in start order ("" when none), for the timeline.
func (r *Runner) Active(from, to time.Duration) string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var kinds []string
	seen := map[string]bool{}
	for _, ev := range r.events {
		if ev.Start > to || (ev.Ended && ev.End < from) {
			continue
		}
		if !seen[ev.Fault.Kind] {
			seen[ev.Fault.Kind] = true
			kinds = append(kinds, ev.Fault.Kind)
		}
	}
	return strings.Join(kinds, ",")
}

// Events returns a copy of every occurrence that started, every played one
// that the run's end stopped before its slot, and every one planned past the
// run's end (both NotStarted), by start time (planned slot for those that
// never started). After Stop it covers the whole plan.
func (r *Runner) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Event, 0, len(r.events)+len(r.missed)+len(r.beyond))
	for _, ev := range r.events {
		e := *ev
		e.Notes = append([]string(nil), ev.Notes...)
		out = append(out, e)
	}
	for _, ev := range r.missed {
		ev.Notes = append([]string(nil), ev.Notes...)
		out = append(out, ev)
	}
	for _, occ := range r.beyond {
		f := occ.Fault
		out = append(out, notStarted(occ, fmt.Sprintf("never started: planned at %s (count %d, every %s), after the run's end at %s", occ.At, f.Count, f.Every, r.o.Total)))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// String describes an event for logs.
func (e Event) String() string {
	return fmt.Sprintf("%s #%d on %s: %.2fs..%.2fs", e.Fault, e.N, e.Node, e.Start.Seconds(), e.End.Seconds())
}
