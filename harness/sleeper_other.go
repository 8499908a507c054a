//go:build !linux

package harness

func newSleeper(stop <-chan struct{}) sleeper { return newTimerSleeper(stop) }
