//go:build race

package workload

// raceEnabled lets memory measurements skip under the race detector, whose
// instrumentation makes them slow and meaningless.
const raceEnabled = true
