package chaos

import "time"

// NoticeKind is what happened to an occurrence of a fault.
type NoticeKind int

const (
	// Started: the runner began acting on the deployment; a node the fault
	// takes down is still up.
	Started NoticeKind = iota
	// TookEffect: the fault's action succeeded (Event.Injected).
	TookEffect
	// NodeEmptied: a node the fault acted on serves again without its data:
	// the kind empties its node (Traits.EmptiesNode) and the deployment
	// keeps no persistence.
	NodeEmptied
	// Ended: the fault is over, reverted or ended early because the run
	// ended; Notice.Injected says whether it had taken effect.
	Ended
)

func (k NoticeKind) String() string {
	switch k {
	case Started:
		return "started"
	case TookEffect:
		return "took effect"
	case NodeEmptied:
		return "node emptied"
	case Ended:
		return "ended"
	}
	return "unknown"
}

// Notice is one fault event as the runner publishes it, with the
// identity of the occurrence it belongs to: the scenario's entry (Fault:
// its Index, Kind and Params), the repetition N and the node.
type Notice struct {
	What  NoticeKind
	Fault Fault
	N     int    // occurrence: 0 first, then repetitions
	Node  string // the node acted on; "" at Started (resolved after it)
	// Start is when the occurrence began and At when this happened, both
	// offsets from the run's start.
	Start, At time.Duration
	// Injected: the fault's action took effect (always at TookEffect).
	Injected bool
}

// Subscriber is told of every fault event as it happens (Options), on the
// goroutine playing the occurrence: it must return quickly and start any
// long work (a warming) on its own goroutine.
type Subscriber interface {
	FaultNotice(Notice)
}

// SubscriberFunc is a function as a Subscriber.
type SubscriberFunc func(Notice)

// FaultNotice calls f.
func (f SubscriberFunc) FaultNotice(n Notice) { f(n) }

// publish tells every subscriber of n.
func (r *Runner) publish(n Notice) {
	for _, s := range r.o.Subscribers {
		s.FaultNotice(n)
	}
}

// at is n as the notice of what, at t.
func (n Notice) at(what NoticeKind, t time.Duration) Notice {
	n.What, n.At = what, t
	return n
}
