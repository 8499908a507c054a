package harness

import (
	"time"

	"github.com/cacheproof/cacheproof/workload"
)

// run dispatches commands until the schedule ends or stop is closed, then
// waits for in-flight commands (up to the op timeout).
func (d *driver) run(stop <-chan struct{}, sched source) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	d.jobs = make(chan job)
	// Idle workers end when dispatching ends; busy ones after their command.
	defer close(d.jobs)
	for {
		cmd, ok := sched.Next()
		if !ok {
			return
		}
		d.active.Store(int64(sched.Active()))
		d.phase.Store(int32(cmd.Phase))
		intended := d.start.Add(cmd.At)
		if wait := time.Until(intended); wait > 50*time.Microsecond {
			timer.Reset(wait)
			select {
			case <-stop:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-stop:
				return
			default:
			}
		}
		// Acquire an in-flight slot. If none frees up before the command's
		// drop bound, the command is dropped and counted, never hidden.
		waited := false
		select {
		case d.inflight <- struct{}{}:
		default:
			waited = true
			deadline := intended.Add(d.dropAft)
			wait := time.Until(deadline)
			acquired := false
			if wait > 0 {
				timer.Reset(wait)
				select {
				case d.inflight <- struct{}{}:
					acquired = true
					if !timer.Stop() {
						<-timer.C
					}
				case <-timer.C:
				case <-stop:
					return
				}
			}
			if !acquired {
				d.drop(cmd, intended)
				continue
			}
		}
		if time.Since(intended) > d.dropAft {
			<-d.inflight
			d.drop(cmd, intended)
			continue
		}
		d.wg.Add(1)
		j := job{cmd: cmd, intended: intended, waited: waited}
		select {
		case d.jobs <- j:
		default:
			// No worker is idle: one more joins the pool. The in-flight
			// bound above bounds their number.
			go d.worker(j)
		}
	}
}

// job is one command handed to a worker.
type job struct {
	cmd      workload.Command
	intended time.Time
	// waited is true when every in-flight slot was taken at its intended
	// start: the system under test, not the tool, held it back.
	waited bool
}
