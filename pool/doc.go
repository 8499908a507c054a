// Package pool owns the cache manager under test: the seed's RedisManager and
// CacheService rebuilt on go-redis's UniversalClient, so that what cacheproof
// measures is what a careful team would ship.
//
// A Manager wraps one go-redis client for any deployment shape (standalone,
// primary+replica, sentinel, cluster) and adds what the seed promised: tiered
// TTLs, cache-aside get-or-fetch with collapsed concurrent misses, SCAN-based
// invalidation broadcast over pub/sub, Lua scripts for atomic operations,
// cache warming, a periodic INFO health check graded with the seed's
// monitoring table, and cheap metrics (atomic counters, lock-free latency
// histograms) fed by go-redis hooks.
//
// The hot path (Get, Set, GetOrFetchRaw on a hit) takes no lock and allocates
// nothing beyond what go-redis itself allocates for the command, except the
// key concatenation when a KeyPrefix is configured.
package pool
