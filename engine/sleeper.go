package engine

import "time"

// sleeper sleeps the dispatcher until a command's intended start.
type sleeper interface {
	// sleepUntil returns true at or after t, false once stop is closed.
	sleepUntil(t time.Time) bool
	close()
}

// timerSleeper sleeps on a time.Timer: the portable fallback. Its wake-ups
// are late by up to a millisecond and more when the process is idle (see
// driver.run).
type timerSleeper struct {
	t    *time.Timer
	stop <-chan struct{}
}

func newTimerSleeper(stop <-chan struct{}) *timerSleeper {
	return &timerSleeper{t: time.NewTimer(time.Hour), stop: stop}
}

func (s *timerSleeper) sleepUntil(t time.Time) bool {
	s.t.Reset(time.Until(t))
	select {
	case <-s.stop:
		return false
	case <-s.t.C:
		return true
	}
}

func (s *timerSleeper) close() { s.t.Stop() }
