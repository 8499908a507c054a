package harness

import (
	"math"
	"os"
	"runtime/debug"
)

// The tool's soft memory limit (issue 28 item 5). At Go's defaults (GOGC
// 100, no limit) the heap may reach twice what is live before a
// collection, and what the heap once held stays resident until the
// runtime's background scavenger slowly returns it: on the shared 2-core
// machine, where collections fall behind a starved mutator, a 10,000-user
// baseline's RSS ratcheted up in 10 MB steps over ten minutes with its live
// heap flat. A run therefore sets GOMEMLIMIT (runtime/debug.SetMemoryLimit)
// to memLimitBase plus memLimitPerUser for each of its peak users (10,000
// users: 113 MiB), unless GOMEMLIMIT is in the environment (GOMEMLIMIT=off
// keeps Go's default) or the program already set one. The limit covers
// what Go manages; RSS adds the binary's resident pages (RssFile, 23 MB
// in a 10,000-user baseline), so 113 MiB keeps RSS under 150 MB with room.
// It is a soft limit:
// near it the collector runs more often (the runtime caps that at about
// half the CPU) and the scavenger returns memory at once; the client
// section reports it (gomemlimit, source "tool").
const (
	memLimitBase    = 64 << 20
	memLimitPerUser = 5 << 10
)

// memLimitFor is the soft memory limit of a run of peak users, rounded up
// to a whole MiB.
func memLimitFor(users int) int64 {
	b := int64(memLimitBase) + int64(max(users, 0))*memLimitPerUser
	return (b + 1<<20 - 1) &^ (1<<20 - 1)
}

// limitMemory sets the run's soft memory limit for its peak users and
// returns what restores the one before (nothing when the environment or
// the program set one).
func limitMemory(users int) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return func() {}
	}
	prev := debug.SetMemoryLimit(memLimitFor(users))
	return func() { debug.SetMemoryLimit(prev) }
}
