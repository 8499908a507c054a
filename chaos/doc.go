// Package chaos owns the faults cacheproof injects while a load runs: each
// fault is a typed action on a topology.Deployment (restart, pause, memory
// pressure, read-only demotion, failover, client kill) or on an in-process
// Toxiproxy placed between the cache manager and Redis (network). A Runner
// plays the scenario's fault timeline against the run's clock, a
// WriteTracker follows acknowledged writes to the persistent tier through
// read-only demotions and failovers (Jepsen's set test, in spirit), and
// Measure turns the run's timeline into one result.FaultReport per fault:
// time to the first error, time until operations and p99 recover, the
// hit-rate dip and re-warm, evictions, OOM errors, reconnects and lost writes.
//
// It does not know how results are written; it fills the report model only.
package chaos
