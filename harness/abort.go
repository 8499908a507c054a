package harness

import (
	"time"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// watchAborts prepares the abort watch of the scenario's targets with an
// abort rule (nil without one): each recorded timeline row is shown to it,
// and the run stops when a target is broken beyond recovery.
func (r *run) watchAborts() {
	r.aborts = result.NewAbortWatch(r.s.TargetSpecs(), remainingLoad(r.plans))
}

// observeAbort shows one timeline row to the abort watch; true when the run
// must stop (r.aborted says why). Rows of unrecorded (warm-up) phases are
// not judged, as targets do not judge them.
func (r *run) observeAbort(row result.TimelineRow) bool {
	if r.aborts == nil || r.aborted != nil {
		return false
	}
	dt := row.T - r.abortT
	r.abortT = row.T
	recorded := false
	for _, p := range r.phases {
		if p.Name == row.Phase {
			recorded = p.Recorded
		}
	}
	if !recorded || dt <= 0 {
		return false
	}
	if a := r.aborts.Observe(row, dt); a != nil {
		r.aborted = a
		r.o.logf("aborting the run at %.0fs: target %s %s: %s", a.AtS, a.Target, a.Expr, a.Reason)
		return true
	}
	return false
}

// remainingLoad is the recorded load the plan still holds after t seconds,
// as a multiple of the recorded load it held before t, counted in
// user-seconds (every user sends at the same rate, so load follows users).
func remainingLoad(plans []workload.PhasePlan) func(t float64) float64 {
	return func(t float64) float64 {
		var done, rest float64
		at := 0.0
		for _, p := range plans {
			d := p.Duration.Seconds()
			if p.Record && d > 0 {
				users := func(x float64) float64 { // users at x seconds into the phase
					return float64(p.UsersStart) + float64(p.UsersEnd-p.UsersStart)*x/d
				}
				cut := min(max(t-at, 0), d)
				done += (users(0) + users(cut)) / 2 * cut
				rest += (users(cut) + users(d)) / 2 * (d - cut)
			}
			at += d
		}
		if done <= 0 {
			// Nothing recorded yet: no estimate, so no rate can be
			// called lost.
			return float64(time.Hour / time.Second)
		}
		return rest / done
	}
}
