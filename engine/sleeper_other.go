//go:build !linux

package engine

func newSleeper(stop <-chan struct{}) sleeper { return newTimerSleeper(stop) }
