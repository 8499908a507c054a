package chaos

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

// noticeLog collects the notices a runner publishes.
type noticeLog struct {
	mu sync.Mutex
	ns []Notice
}

func (l *noticeLog) FaultNotice(n Notice) {
	l.mu.Lock()
	l.ns = append(l.ns, n)
	l.mu.Unlock()
}

// of lists what happened to entry index's occurrence n, in order.
func (l *noticeLog) of(index, n int) []NoticeKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []NoticeKind
	for _, x := range l.ns {
		if x.Fault.Index == index && x.N == n {
			out = append(out, x.What)
		}
	}
	return out
}

// A real redis-server restarted without persistence: the runner tells its
// subscribers the occurrence started, took effect, emptied its node (named)
// and ended, in that order, each notice carrying the occurrence's identity
// and its start; a pause, which empties nothing, started, took effect and
// ended. A restart's node really was empty when the notice said so.
func TestRunnerPublishesNotices(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	if _, err := d.Do(ctx, "primary-0", "SET", "before", "x"); err != nil {
		t.Fatal(err)
	}
	log := &noticeLog{}
	emptied := make(chan any, 1)
	onEmptied := SubscriberFunc(func(n Notice) {
		if n.What == NodeEmptied {
			// The node serves again: what it held is gone.
			v, _ := d.Do(ctx, n.Node, "EXISTS", "before")
			emptied <- v
		}
	})
	faults := mustFaults(t,
		Spec{Kind: "restart", At: 0, Node: NodePrimary, Params: map[string]any{"mode": "kill"}},
		Spec{Kind: "pause", At: 1500 * time.Millisecond, For: 200 * time.Millisecond, Node: NodePrimary},
	)
	r := NewRunner(faults, Options{Deployment: d, Total: 3 * time.Second, Logf: t.Logf, Subscribers: []Subscriber{log, onEmptied}})
	start := time.Now()
	r.Start(start)
	time.Sleep(time.Until(start.Add(2500 * time.Millisecond)))
	r.Stop()

	if got, want := log.of(0, 0), []NoticeKind{Started, TookEffect, NodeEmptied, Ended}; !slices.Equal(got, want) {
		t.Errorf("restart's notices %v, want %v", got, want)
	}
	if got, want := log.of(1, 0), []NoticeKind{Started, TookEffect, Ended}; !slices.Equal(got, want) {
		t.Errorf("pause's notices %v, want %v", got, want)
	}
	select {
	case n := <-emptied:
		if n != int64(0) {
			t.Errorf("the node was not empty when NodeEmptied said so: EXISTS before = %d", n)
		}
	default:
		t.Error("no NodeEmptied notice")
	}
	evs := r.Events()
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, n := range log.ns {
		ev := evs[slices.IndexFunc(evs, func(e Event) bool { return e.Fault.Index == n.Fault.Index && e.N == n.N })]
		if n.Start != ev.Start || n.At < n.Start || n.Fault.Kind != ev.Fault.Kind {
			t.Errorf("%s of %s: start %s at %s, want the event's start %s", n.What, n.Fault.Kind, n.Start, n.At, ev.Start)
		}
		if n.What != Started && (n.Node != ev.Node || n.Node == "" || !n.Injected) {
			t.Errorf("%s of %s: node %q injected %v, want the event's node %q, injected", n.What, n.Fault.Kind, n.Node, n.Injected, ev.Node)
		}
	}
}
