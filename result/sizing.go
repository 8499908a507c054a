package result

import "time"

// KindSizing marks a sizing report (sizing.json from `cacheproof size`): the
// same schema family and version as a run's report.json.
const KindSizing = "sizing"

// Sizing is what `cacheproof size` computed: the hit rate against maxmemory
// for each eviction policy (the miss-ratio curve, overall and per tier and
// family), the maxmemory each needs for the target hit rate, and TTL
// what-ifs; from a simulation of the scenario's access stream, priced by a
// calibration against a real redis-server.
type Sizing struct {
	SchemaVersion string       `json:"schema_version"`
	Kind          string       `json:"kind"`
	Tool          ToolInfo     `json:"tool"`
	Scenario      ScenarioInfo `json:"scenario"`
	StartedAt     time.Time    `json:"started_at"`
	DurationS     float64      `json:"duration_s"`

	// TargetHitRate is the hit rate the answer is for (the scenario's
	// hit_rate target, or --target), a fraction.
	TargetHitRate float64 `json:"target_hit_rate"`
	// MaxMemoryBytes and Policy are the scenario's own Redis settings.
	MaxMemoryBytes int64  `json:"maxmemory_bytes"`
	Policy         string `json:"policy"`
	// WorkingSetBytes is the used_memory an unbounded cache reaches during
	// the recorded phases (the keys alive at once, plus the server's
	// base): beyond it more memory changes nothing. CeilingHitRate is the
	// hit rate there (what TTLs and first reads allow).
	WorkingSetBytes int64   `json:"working_set_bytes"`
	CeilingHitRate  float64 `json:"ceiling_hit_rate"`

	Method      SizingMethod      `json:"method"`
	Calibration SizingCalibration `json:"calibration"`
	Policies    []SizingPolicy    `json:"policies"`
	// SampledLRUGapPoints is the largest |allkeys-lru - exact-lru| hit rate
	// over the curve, in percentage points: the error Redis's sampled
	// eviction adds over true LRU.
	SampledLRUGapPoints float64        `json:"sampled_lru_gap_points"`
	WhatIfs             []SizingWhatIf `json:"what_ifs"`
	Notes               []string       `json:"notes"`
}

// SizingMethod says how the stream was simulated.
type SizingMethod struct {
	// SampleRate is the SHARDS spatial sampling rate of keys (1 = every
	// key); single-key families are always kept whole.
	SampleRate float64 `json:"sample_rate"`
	Commands   int64   `json:"commands"`
	Ops        int64   `json:"ops"`
	// Events and Keys are the sampled stream's accesses and distinct keys.
	Events int `json:"events"`
	Keys   int `json:"keys"`
	// HistoryS is the prefill replayed before the phases; RecordedS the
	// recorded phases' length.
	HistoryS  float64 `json:"history_s"`
	RecordedS float64 `json:"recorded_s"`
	// MaxMemorySamples is the maxmemory-samples modelled.
	MaxMemorySamples int `json:"maxmemory_samples"`
	// Expiry says how expired keys are reclaimed in the model.
	Expiry      string  `json:"expiry"`
	Simulations int     `json:"simulations"`
	SimulateS   float64 `json:"simulate_s"`
}

// SizingCalibration is the measured price of a key.
type SizingCalibration struct {
	RedisVersion string `json:"redis_version"`
	Source       string `json:"source"`
	// Types is, per data type, bytes = a + b * (key + value length).
	Types         map[string]SizingFit `json:"types"`
	VolatileBytes float64              `json:"volatile_bytes"`
	// BaseBytes is what maxmemory must hold besides the keys: Redis's
	// startup memory plus the run's connections (PoolConns of them: every
	// instance's pool at max_conns, its pub/sub and manager connections
	// and the sampler). ConnsInUse of them, on average, served a command
	// within Redis's idle window and hold their buffers (PerClientBytes
	// each), the rest the cron's shrunk ones (PerIdleClientBytes), both
	// measured; the pools' share of ConnsInUse follows from the request
	// rate and RoundTripS, the calibration's mean round trip.
	BaseBytes          float64 `json:"base_bytes"`
	PoolConns          int     `json:"pool_conns"`
	ConnsInUse         float64 `json:"conns_in_use"`
	RoundTripS         float64 `json:"round_trip_s,omitempty"`
	PerClientBytes     float64 `json:"per_client_bytes,omitempty"`
	PerIdleClientBytes float64 `json:"per_idle_client_bytes,omitempty"`
	// LatencyHistogramBytes is what one command's latency histogram holds
	// (Redis 7's latency-tracking; 0 without it), and Commands the
	// commands the run sends after its reset, each with one: BaseBytes
	// includes len(Commands) of them.
	LatencyHistogramBytes float64  `json:"latency_histogram_bytes,omitempty"`
	Commands              []string `json:"commands,omitempty"`
	// Typed is, per hash or zset, the key's price by encoding: bytes = a +
	// c * fields + b * (key + field names + values); ServerConfig the
	// eviction and encoding settings the calibration server had.
	Typed        map[string]SizingTypedFit `json:"typed,omitempty"`
	ServerConfig map[string]string         `json:"server_config,omitempty"`
}

// SizingTypedFit prices a hash or sorted set per encoding (listpack while
// it has at most MaxListpackEntries fields and no value over
// MaxListpackValue bytes).
type SizingTypedFit struct {
	Listpack           SizingLine `json:"listpack"`
	Large              SizingLine `json:"large"`
	MaxListpackEntries int        `json:"max_listpack_entries"`
	MaxListpackValue   int        `json:"max_listpack_value"`
	// ListpackA and HashtableA are the measured per-key constants of the
	// pricing by encoding (listpack bytes; a hashtable's allocations);
	// the lines are used where they are 0.
	ListpackA  float64 `json:"listpack_a_bytes,omitempty"`
	HashtableA float64 `json:"hashtable_a_bytes,omitempty"`
	Groups     int     `json:"groups"`
	MeanAbsErr float64 `json:"mean_abs_err_bytes"`
}

// SizingLine is bytes = A + C*fields + B*(key + names + values).
type SizingLine struct {
	A float64 `json:"a_bytes"`
	B float64 `json:"b_per_byte"`
	C float64 `json:"c_per_field"`
}

// SizingFit is one data type's cost line.
type SizingFit struct {
	A          float64 `json:"a_bytes"`
	B          float64 `json:"b_per_byte"`
	Keys       int     `json:"keys"`
	MeanAbsErr float64 `json:"mean_abs_err_bytes"`
	// Alloc: bytes = a + b * the key's allocations as Redis makes them
	// (dict entry, key and value sds, object, in jemalloc's size
	// classes), not its length; a is then the dicts' share per key.
	Alloc bool `json:"alloc,omitempty"`
}

// SizingPolicy is one eviction policy's curve and answer.
type SizingPolicy struct {
	Policy string `json:"policy"`
	// NeededBytes is the smallest maxmemory whose predicted hit rate meets
	// the target; nil when no size does (see the notes).
	NeededBytes *int64 `json:"needed_bytes"`
	// AtMaxMemory is the predicted hit rate at the scenario's maxmemory.
	AtMaxMemory float64       `json:"hit_rate_at_maxmemory"`
	Curve       []SizingPoint `json:"curve"`
}

// SizingPoint is the predicted outcome at one maxmemory.
type SizingPoint struct {
	MaxMemoryBytes int64              `json:"maxmemory_bytes"`
	HitRate        float64            `json:"hit_rate"`
	Tiers          map[string]float64 `json:"tiers"`
	Families       map[string]float64 `json:"families"`
	// Evicted, Expired and OOM count keys over the recorded phases (OOM:
	// writes refused because nothing was left to evict).
	Evicted float64 `json:"evicted"`
	Expired float64 `json:"expired"`
	OOM     float64 `json:"oom"`
}

// SizingWhatIf is the scenario's policy with one tier's TTL changed, or
// (Family set, Tier empty) one family's own TTL.
type SizingWhatIf struct {
	Tier   string `json:"tier"`
	Family string `json:"family,omitempty"`
	// Policy is the eviction policy the what-if was simulated with.
	Policy      string  `json:"policy"`
	FromS       float64 `json:"from_s"`
	ToS         float64 `json:"to_s"`
	AtMaxMemory float64 `json:"hit_rate_at_maxmemory"`
	// NeededBytes is the maxmemory for the target with this TTL (nil: no
	// size reaches it); WorkingSetBytes and CeilingHitRate as Sizing's.
	NeededBytes     *int64  `json:"needed_bytes"`
	WorkingSetBytes int64   `json:"working_set_bytes"`
	CeilingHitRate  float64 `json:"ceiling_hit_rate"`
}

// Prediction places a run's measured hit rate on the curve predicted for
// its scenario (`cacheproof run --predict`).
type Prediction struct {
	Policy         string  `json:"policy"`
	MaxMemoryBytes int64   `json:"maxmemory_bytes"`
	Predicted      float64 `json:"predicted_hit_rate"`
	Measured       float64 `json:"measured_hit_rate"`
	// DiffPoints is measured minus predicted, in percentage points.
	DiffPoints    float64 `json:"diff_points"`
	TargetHitRate float64 `json:"target_hit_rate"`
	// NeededBytes is the maxmemory the prediction says the target needs
	// with this policy (nil: no size reaches it).
	NeededBytes     *int64        `json:"needed_bytes"`
	WorkingSetBytes int64         `json:"working_set_bytes"`
	Curve           []SizingPoint `json:"curve"`
	Notes           []string      `json:"notes"`
}
