package engine

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

// Run dispatches commands until the schedule ends or stop is closed, then
// waits for in-flight commands (up to the op timeout).
//
// It sleeps until each command's intended start on a sleeper (sleeper.go):
// on Linux a timerfd in Go's network poller, which wakes within tens of
// microseconds. A time.Timer cannot: when the process is idle the runtime
// sleeps in epoll_wait, whose timeout is whole milliseconds, so a timer set
// for 100 µs fires after about 1.05 ms and most of the commands it waited
// for started more than 1 ms late (users.late) through no fault of Redis.
func (d *Driver) Run(stop <-chan struct{}, sched Source) {
	sl := newDispatchSleeper(stop)
	defer sl.close()
	var timer *time.Timer // the in-flight wait's drop bound, made on first use
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// jobs hands a command to an idle worker. Workers live for the run, so
	// a command costs neither a goroutine start nor the stack growth a new
	// goroutine pays on its first trip through go-redis; but no more than
	// maxIdleWorkers wait at once (driver.go). Idle workers end when
	// dispatching ends; busy ones after their command.
	jobs := make(chan job)
	defer close(jobs)
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
		waited, ok, stopped := d.acquire(intended, &timer, stop)
		if stopped {
			return
		}
		if !ok {
			d.drop(cmd, intended)
			continue
		}
		if time.Since(intended) > d.dropAft {
			<-d.inflight
			d.drop(cmd, intended)
			continue
		}
		d.wg.Add(1)
		j := job{cmd: cmd, intended: intended, waited: waited}
		select {
		case jobs <- j:
		default:
			// No worker is idle: one more joins the pool. The in-flight
			// bound above bounds their number.
			go d.worker(jobs, j)
		}
	}
}

// acquire takes an in-flight slot for a command due at intended. If none
// frees up before the command's drop bound, ok is false and the command is
// to be dropped and counted, never hidden; waited is true when every slot
// was taken at once. timer is the wait's drop bound, made on first use and
// kept for the next wait.
func (d *Driver) acquire(intended time.Time, timer **time.Timer, stop <-chan struct{}) (waited, ok, stopped bool) {
	select {
	case d.inflight <- struct{}{}:
		return false, true, false
	default:
	}
	wait := time.Until(intended.Add(d.dropAft))
	if wait <= 0 {
		return true, false, false
	}
	if *timer == nil {
		*timer = time.NewTimer(wait)
	} else {
		(*timer).Reset(wait)
	}
	select {
	case d.inflight <- struct{}{}:
		(*timer).Stop()
		return true, true, false
	case <-(*timer).C:
		return true, false, false
	case <-stop:
		return true, false, true
	}
}

// Source is where the driver takes commands from: a schedule, or a
// schedule whose first stretch was replayed by a prefill.
type Source interface {
	Next() (workload.Command, bool)
	Active() int
}

// job is one command handed to a worker.
type job struct {
	cmd      workload.Command
	intended time.Time
	// waited is true when every in-flight slot was taken at its intended
	// start: the system under test, not the tool, held it back.
	waited bool
}

// Commands is a fixed list of commands as a Source, with one user active
// throughout: what the engine's and the bot layer's tests dispatch.
type Commands struct {
	List []workload.Command
	i    int
}

// Next returns the next command, false after the last.
func (s *Commands) Next() (workload.Command, bool) {
	if s.i >= len(s.List) {
		return workload.Command{}, false
	}
	s.i++
	return s.List[s.i-1], true
}

// Active is one user.
func (s *Commands) Active() int { return 1 }
