package harness

import (
	"math"
	"runtime/debug"
	"testing"
)

// A run's soft memory limit scales with its peak users, is restored after
// it, and stays out of the way of one the environment or program set.
func TestLimitMemory(t *testing.T) {
	if got := memLimitFor(10000); got != 113<<20 {
		t.Errorf("10,000 users: limit %d MiB, want 113", got>>20)
	}
	if got := memLimitFor(0); got != 64<<20 {
		t.Errorf("no users: limit %d MiB, want 64", got>>20)
	}
	t.Setenv("GOMEMLIMIT", "")
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Skip("a memory limit is already set in this process")
	}
	restore := limitMemory(20000)
	if got := debug.SetMemoryLimit(-1); got != memLimitFor(20000) {
		t.Errorf("limit during the run %d, want %d", got, memLimitFor(20000))
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit after the run %d, want none", got)
	}
	debug.SetMemoryLimit(200 << 20)
	defer debug.SetMemoryLimit(math.MaxInt64)
	limitMemory(20000)()
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Errorf("a limit the program set became %d", got)
	}
}
