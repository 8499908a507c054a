package result

// LayerReport is the part of the seed's cache layer beyond GET and SET, as
// the run's simulated bot instances used it: rate limiting through the Lua
// script, compare-and-set, pub/sub invalidation between instances and the
// near cache it keeps honest, and cache warming. Nil (absent) in reports
// written before these were driven.
type LayerReport struct {
	// Instances is how many bot instances ran, each with its own cache
	// manager, pool (the scenario's pool settings each: max_conns is per
	// instance, as each bot process has its own pool) and subscription.
	Instances int `json:"instances"`
	// ByInstance is each instance's pool; the pool section sums them.
	ByInstance []InstanceReport   `json:"by_instance"`
	RateLimit  RateLimitReport    `json:"rate_limit"`
	CAS        CASReport          `json:"cas"`
	Invalidate InvalidationReport `json:"invalidation"`
	NearCache  NearCacheReport    `json:"near_cache"`
	Warming    []WarmingReport    `json:"warming"`
}

// InstanceReport is one bot instance's connection pool and subscription.
type InstanceReport struct {
	Instance              int     `json:"instance"`
	TotalConns            uint64  `json:"total_conns"`
	Timeouts              uint64  `json:"timeouts"`
	WaitMs                float64 `json:"wait_ms"`
	Dials                 uint64  `json:"dials"`
	InvalidationsSent     uint64  `json:"invalidations_sent"`
	InvalidationsReceived uint64  `json:"invalidations_received"`
}

// RateLimitReport counts the per-command rate limiter's decisions. A
// refused command does nothing else (the bot answers "slow down"):
// SkippedOps are the cache operations refused commands did not make.
type RateLimitReport struct {
	Allowed    uint64 `json:"allowed"`
	Denied     uint64 `json:"denied"`
	SkippedOps uint64 `json:"skipped_ops"`
}

// CASReport counts compare-and-swap conflicts (the value changed between
// the read and the swap: retried) and give-ups (conflicts on every try).
type CASReport struct {
	Conflicts uint64 `json:"conflicts"`
	GaveUp    uint64 `json:"gave_up"`
}

// InvalidationReport is pub/sub invalidation between instances. Expected
// is published x (instances - 1): every other instance should receive each
// message; Received short of it means messages were lost (a subscriber
// reconnecting through a restart misses what was published meanwhile).
// LagMs is from the write's acknowledgement to delivery on another
// instance.
type InvalidationReport struct {
	Published     uint64  `json:"published"`
	Expected      uint64  `json:"expected"`
	Received      uint64  `json:"received"`
	CopiesDropped uint64  `json:"copies_dropped"`
	LagMs         Summary `json:"lag_ms"`
}

// NearCacheReport is the instances' local copies of the near families.
// A stale read is one served from a copy older than a write any instance
// had acknowledged at least GraceMs before the read began; StaleInFlight
// are those within the grace (invalidation on its way).
type NearCacheReport struct {
	Families      []string              `json:"families"`
	TTLS          float64               `json:"ttl_s"`
	GraceMs       float64               `json:"grace_ms"`
	Hits          uint64                `json:"hits"`
	Misses        uint64                `json:"misses"`
	StaleReads    uint64                `json:"stale_reads"`
	StaleInFlight uint64                `json:"stale_in_flight"`
	ByFamily      map[string]NearCounts `json:"by_family"`
}

// NearCounts are one family's near-cache reads.
type NearCounts struct {
	Hits          uint64 `json:"hits"`
	Misses        uint64 `json:"misses"`
	StaleReads    uint64 `json:"stale_reads"`
	StaleInFlight uint64 `json:"stale_in_flight"`
}

// WarmingReport is one warming of one instance: at start, or after the
// fault Fault (its kind and occurrence, "restart #1"). Keys were written,
// OriginLoads made (each a call of the simulated upstream, errors
// included), MetaKeys and HotKeys what it chose to load.
type WarmingReport struct {
	Instance     int     `json:"instance"`
	Trigger      string  `json:"trigger"`
	AtS          float64 `json:"at_s"`
	TookS        float64 `json:"took_s"`
	Keys         int     `json:"keys"`
	MetaKeys     int     `json:"meta_keys"`
	HotKeys      int     `json:"hot_keys"`
	OriginLoads  int     `json:"origin_loads"`
	OriginErrors int     `json:"origin_errors"`
	WriteErrors  int     `json:"write_errors"`
}

// FaultWarming is how the bot re-warmed after one fault: whether warming
// ran (warm_on_start, or the fault's own warm: on|off), and the totals over
// its instances.
type FaultWarming struct {
	Warmed      bool    `json:"warmed"`
	Keys        int     `json:"keys"`
	OriginLoads int     `json:"origin_loads"`
	TookS       float64 `json:"took_s"`
}
