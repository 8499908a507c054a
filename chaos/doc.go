// Package chaos owns the faults cacheproof injects while a load runs. Each
// kind of fault is one file: a Kind that declares its parameters, validates
// them, gives their defaults and acts on a topology.Controller (restart,
// pause, memory-pressure, readonly, failover, client-kill) or on an
// in-process Toxiproxy placed between the cache manager and Redis
// (network), registered by name (Register, Kinds; see docs/faults.md for
// how to add one).
//
// A scenario's fault entry is a Spec; Validate checks one against the run
// it belongs to (scenarios calls it when loading a file), and New turns a
// run's specs into Faults. A Runner plays the fault timeline against the
// run's clock, a WriteTracker follows acknowledged writes to the persistent
// tier through demotions and failovers (Jepsen's set test, in spirit), and
// a Measurement turns the run's timeline (the result's rows) into the
// result's report of each occurrence (result.FaultReport): time to the
// first error, time until operations and p99 recover, the hit-rate dip and
// re-warm, evictions, OOM errors, reconnects and lost writes. As it plays,
// the Runner tells its subscribers (Options.Subscribers) of each
// occurrence's start, effect, emptied node and end (Notice), so the bot
// layer and the miss ledger react to a fault when it happens.
//
// It does not know the scenario file format: harness translates a
// scenario's entries into Specs. The result package is its report's model,
// filled here directly.
package chaos
