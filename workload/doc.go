// Package workload owns the model of the traffic that cacheproof drives into a
// Redis cache layer: a population of users (each a Discord snowflake, a Steam
// id and a guild), the sessions that make some of them active, the seed's key
// families with their tiers, TTLs and value sizes, per-family popularity
// (zipf, uniform, hotspot), the open-loop arrival schedule, the simulated
// upstream APIs a miss falls through to (Origin), the self-verifying values
// written to Redis, and the Ledger that turns a miss into a cause (cold,
// expired, evicted).
//
// The package knows nothing about Redis or reports: the harness driver pulls
// Commands from a Schedule and executes their Ops against the pool under test.
// Everything is deterministic from Config.Seed, and the per-operation paths
// (Schedule.Next, Value, Verify, Ledger) are built to run at tens of thousands
// of operations per second without a global lock.
package workload
