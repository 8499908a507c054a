package engine

import (
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// timerfdSleeper sleeps on a Linux timerfd registered with Go's network
// poller: the runtime's epoll_wait returns as soon as the timer expires,
// whatever its own millisecond timeout, so the dispatcher wakes within tens
// of microseconds of the time it asked for (a time.Timer in an idle process
// wakes about 1.05 ms after any deadline under a millisecond: the runtime
// rounds epoll's timeout up to whole milliseconds).
//
// One sleep costs one timerfd_settime; the timer's expiry is never read
// (re-arming resets it, and the poller is edge-triggered), and the wait
// itself is Go's poller's, so the goroutine holds no thread while it sleeps.
type timerfdSleeper struct {
	f       *os.File
	rc      syscall.RawConn
	fd      uintptr
	stopped atomic.Bool
	done    chan struct{}
	// fallback takes over if the poller ever refuses a wait.
	fallback *timerSleeper
	stop     <-chan struct{}
}

type itimerspec struct {
	interval, value syscall.Timespec
}

const (
	clockMonotonic = 1
	tfdNonblock    = syscall.O_NONBLOCK
	tfdCloexec     = syscall.O_CLOEXEC
)

// CACHEPROOF_DISPATCH_TIMER=1 in the environment makes the dispatcher sleep
// on a time.Timer instead (for A/B measurements).
var timerDispatch = os.Getenv("CACHEPROOF_DISPATCH_TIMER") == "1"

func newSleeper(stop <-chan struct{}) sleeper {
	if timerDispatch {
		return newTimerSleeper(stop)
	}
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		return newTimerSleeper(stop)
	}
	f := os.NewFile(fd, "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return newTimerSleeper(stop)
	}
	s := &timerfdSleeper{f: f, rc: rc, fd: fd, done: make(chan struct{}), stop: stop}
	go func() {
		select {
		case <-stop:
			s.stopped.Store(true)
			// A read deadline in the past wakes the waiting dispatcher;
			// unlike re-arming the timer, it is safe after close (the
			// descriptor's number may be reused by then).
			_ = f.SetReadDeadline(time.Unix(1, 0))
		case <-s.done:
		}
	}()
	return s
}

func (s *timerfdSleeper) sleepUntil(t time.Time) bool {
	if s.fallback != nil {
		return s.fallback.sleepUntil(t)
	}
	select {
	case <-s.stop:
		return false
	default:
	}
	wait := time.Until(t)
	if wait <= 0 {
		return true
	}
	// Relative time on CLOCK_MONOTONIC, the clock of Go's monotonic
	// readings: the timer expires no earlier than t as time.Now sees it.
	its := itimerspec{value: syscall.NsecToTimespec(int64(wait))}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, s.fd, 0, uintptr(unsafe.Pointer(&its)), 0, 0, 0); errno != 0 {
		return s.fallBack(t)
	}
	err := s.rc.Read(func(uintptr) bool {
		// Called before each wait and after each wake-up of the poller; a
		// wake-up from an earlier arming finds t not yet reached.
		return s.stopped.Load() || !time.Now().Before(t)
	})
	if s.stopped.Load() {
		return false
	}
	if err != nil {
		return s.fallBack(t)
	}
	return true
}

func (s *timerfdSleeper) fallBack(t time.Time) bool {
	s.fallback = newTimerSleeper(s.stop)
	return s.fallback.sleepUntil(t)
}

func (s *timerfdSleeper) close() {
	close(s.done)
	_ = s.f.Close()
	if s.fallback != nil {
		s.fallback.close()
	}
}
