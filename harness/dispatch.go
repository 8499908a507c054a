package harness

import (
	"time"

	"github.com/cacheproof/cacheproof/workload"
)

// dispatchEarly is how far ahead of its intended start the dispatcher hands
// out a command instead of sleeping for it: a sleep that short costs more
// than it saves, and the hand-off to a worker takes about as long.
const dispatchEarly = 50 * time.Microsecond

// newDispatchSleeper makes the dispatcher's sleeper; tests script it.
var newDispatchSleeper = newSleeper

// run dispatches commands until the schedule ends or stop is closed, then
// waits for in-flight commands (up to the op timeout).
//
// It sleeps until each command's intended start on a sleeper (sleeper.go):
// on Linux a timerfd in Go's network poller, which wakes within tens of
// microseconds. A time.Timer cannot: when the process is idle the runtime
// sleeps in epoll_wait, whose timeout is whole milliseconds, so a timer set
// for 100 µs fires after about 1.05 ms and most of the commands it waited
// for started more than 1 ms late (users.late) through no fault of Redis.
func (d *driver) run(stop <-chan struct{}, sched source) {
	sl := newDispatchSleeper(stop)
	defer sl.close()
	var timer *time.Timer // the in-flight wait's drop bound, made on first use
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
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
		if time.Until(intended) > dispatchEarly {
			if !sl.sleepUntil(intended.Add(-dispatchEarly)) {
				return
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
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case d.inflight <- struct{}{}:
					acquired = true
					timer.Stop()
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
