package result

import "time"

// SchemaVersion is the version of the JSON report. The major part changes
// only when a field is removed or changes meaning; readers reject an unknown
// major and accept any minor (added fields).
const SchemaVersion = "1.4"

// Verdict values.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
	// VerdictInconclusive: neither held nor broken with confidence. A
	// target is inconclusive when its bound holds at the favourable end of
	// its confidence interval but not at the unfavourable end, or when a
	// miss is explained by the machine's own measured noise. A run is
	// inconclusive when no target failed and at least one is inconclusive.
	VerdictInconclusive = "inconclusive"
)

// Result is everything one run (or a merge of shard runs) found. It is a plain
// value: the harness fills it, Finalize evaluates the targets, and writers
// render it. Latencies are milliseconds, durations seconds, rates fractions
// (0..1), memory bytes.
type Result struct {
	SchemaVersion string       `json:"schema_version"`
	Tool          ToolInfo     `json:"tool"`
	Scenario      ScenarioInfo `json:"scenario"`
	StartedAt     time.Time    `json:"started_at"`
	DurationS     float64      `json:"duration_s"`
	Verdict       string       `json:"verdict"`
	Interrupted   bool         `json:"interrupted"`
	// Aborted is why a target with an abort rule stopped the run early
	// (nil: it was not). The report is complete up to then.
	Aborted  *AbortReport `json:"aborted,omitempty"`
	ExitCode int          `json:"exit_code"`

	Targets   []TargetResult          `json:"targets"`
	Latency   LatencyReport           `json:"latency_ms"`
	HDR       map[string]string       `json:"hdr"`
	Cache     CacheReport             `json:"cache"`
	Pool      PoolReport              `json:"pool"`
	Server    ServerReport            `json:"server"`
	Users     UsersReport             `json:"users"`
	Errors    map[string]uint64       `json:"errors"`
	Integrity IntegrityReport         `json:"integrity"`
	Origin    map[string]OriginReport `json:"origin"`
	Phases    []PhaseReport           `json:"phases"`
	Timeline  []TimelineRow           `json:"timeline"`
	Faults    []FaultReport           `json:"faults"`
	Notes     []string                `json:"notes"`
	// Layer is the seed's cache layer beyond GET and SET (rate limit, CAS,
	// invalidation between instances, near cache, warming).
	Layer *LayerReport `json:"layer,omitempty"`
	// Client is the load generator's own state: what it ran under and what
	// it cost, so a reader can tell Redis's latency from the tool's.
	Client ClientReport `json:"client"`
	// Prediction places the measured hit rate on the curve `cacheproof
	// size` predicts for the scenario (run --predict); nil otherwise.
	Prediction *Prediction `json:"prediction,omitempty"`

	// Repeat is set when the report judges several runs of one load (run
	// --repeat); nil for a single run.
	Repeat *RepeatReport `json:"repeat,omitempty"`

	// Shard is "i/n" when this result covers the i-th of n slices of the
	// population; empty for a whole run.
	Shard string `json:"shard,omitempty"`
	// MergedFrom counts the shard results a merged report was built from
	// (0 for a single run).
	MergedFrom int `json:"merged_from,omitempty"`
}

// ToolInfo identifies the program that wrote the report.
type ToolInfo struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
}

// ScenarioInfo names the scenario and keeps its fully resolved form (defaults
// applied, secrets redacted) so a report can be reproduced.
type ScenarioInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	File        string `json:"file"`
	Resolved    any    `json:"resolved"`
	Seed        int64  `json:"seed"`
	// Overrides are the scenario values set on the command line (`run --set
	// PATH=VALUE`) and by the seed's REDIS_* environment variables (Source
	// names the variable), in the order applied, already in Resolved. compare
	// shows the ones that differ between two sets of runs as the change
	// under test instead of refusing them as different loads.
	Overrides []Override `json:"overrides,omitempty"`
}

// Override is one scenario value set on the command line or by an
// environment variable: its YAML path (`target.redis.maxmemory`) and the
// value as YAML ("***" for a password).
type Override struct {
	Path  string `json:"path"`
	Value string `json:"value"`
	// Source is where the value came from: "" for --set, "env NAME" for
	// one of the seed's environment variables (`env REDIS_MAX_MEMORY`).
	Source string `json:"source,omitempty"`
}

// String is the override as PATH=VALUE, its source after it when it is
// not the command line: "target.redis.maxmemory=32mb (env REDIS_MAX_MEMORY)".
func (o Override) String() string {
	if o.Source == "" {
		return o.Path + "=" + o.Value
	}
	return o.Path + "=" + o.Value + " (" + o.Source + ")"
}

// LatencyReport holds latency summaries. Overall is measured from each
// request's intended start (coordinated-omission corrected). Service is the
// client's call, from the actual send to the reply: the pool's wait for a
// connection, retries and the tool's own GC pauses are in it as well as the
// network and Redis. Where service p99 stands far above Redis's own
// (ServerReport.LatencyStats), the time went to the client, not the server.
type LatencyReport struct {
	Overall Summary            `json:"overall"`
	Service Summary            `json:"service"`
	ByOp    map[string]Summary `json:"by_op"`
	ByTier  map[string]Summary `json:"by_tier"`
	ByPhase map[string]Summary `json:"by_phase"`
	// ByFamily is the latency of each key family's cache operations, from
	// intended start (histograms under "family:<name>"); absent in reports
	// whose run did not record it (before schema 1.3).
	ByFamily map[string]Summary `json:"by_family,omitempty"`
}

// CacheCounts are lookups of one slice of the keyspace. A lookup is a hit, a
// miss, or a lookup error (the GET failed: the cache gave no answer, and the
// caller went to the origin as on a miss). HitRate is
// hits / (hits + misses + lookup_errors), what the hit_rate target judges;
// AnsweredHitRate is hits / (hits + misses), the rate among lookups Redis
// answered. Both count cache-level lookups only, never all commands.
type CacheCounts struct {
	Hits            uint64            `json:"hits"`
	Misses          uint64            `json:"misses"`
	LookupErrors    uint64            `json:"lookup_errors"`
	HitRate         float64           `json:"hit_rate"`
	AnsweredHitRate float64           `json:"answered_hit_rate"`
	MissesByCause   map[string]uint64 `json:"misses_by_cause"`
}

// SetRates sets the judged hit rate (a failed lookup counts as a lookup
// that did not hit, what targets judge) and the rate among the lookups
// Redis answered, from the counts.
func (c *CacheCounts) SetRates() {
	c.HitRate = LookupHitRate(c.Hits, c.Misses, c.LookupErrors)
	c.AnsweredHitRate = HitRate(c.Hits, c.Misses)
}

// Miss causes the harness classifies.
const (
	CauseCold    = "cold"
	CauseExpired = "expired"
	CauseEvicted = "evicted"
	// CauseWiped: written, then emptied by a fault (a restart without
	// persistence), neither never written nor removed by maxmemory.
	CauseWiped = "wiped"
)

// CacheReport is the client-side view of the cache: lookups by the cache
// layer under test, overall (the embedded counts, whose fields JSON writes
// at this level), per tier and per key family.
type CacheReport struct {
	CacheCounts
	ByTier   map[string]CacheCounts `json:"by_tier"`
	ByFamily map[string]CacheCounts `json:"by_family"`
}

// PoolReport is the connection pool at the end of the run (counters are
// totals over the run). Config is the pool configuration, secrets redacted.
type PoolReport struct {
	Timeouts   uint64  `json:"timeouts"`
	Hits       uint64  `json:"hits"`
	Misses     uint64  `json:"misses"`
	TotalConns uint64  `json:"total_conns"`
	IdleConns  uint64  `json:"idle_conns"`
	StaleConns uint64  `json:"stale_conns"`
	WaitCount  uint64  `json:"wait_count"`
	WaitMs     float64 `json:"wait_ms"`
	Config     any     `json:"config"`
	// CommandLatency is the client's time per Redis command (get, set,
	// expire, ...) as the manager's go-redis hook measured it: from the
	// call into go-redis to its reply, pool wait and retries included. It
	// covers the load (warm-up included, prefill excluded), as
	// server.latency_stats does; histograms under "pool_command:<cmd>".
	CommandLatency map[string]Summary `json:"command_latency,omitempty"`
}

// ServerReport is Redis' own view (INFO), taken at the end of the run;
// UsedMemoryPeak is the peak over the run.
type ServerReport struct {
	EvictedKeys         uint64  `json:"evicted_keys"`
	ExpiredKeys         uint64  `json:"expired_keys"`
	UsedMemory          int64   `json:"used_memory"`
	UsedMemoryPeak      int64   `json:"used_memory_peak"`
	MaxMemory           int64   `json:"maxmemory"`
	MaxMemoryPolicy     string  `json:"maxmemory_policy"`
	RejectedConnections uint64  `json:"rejected_connections"`
	KeyspaceHits        uint64  `json:"keyspace_hits"`
	KeyspaceMisses      uint64  `json:"keyspace_misses"`
	HitRate             float64 `json:"hit_rate"`
	ConnectedClients    int64   `json:"connected_clients"`
	RedisVersion        string  `json:"redis_version"`
	Keys                int64   `json:"keys"`
	// LatencyStats is Redis's per-command latency by command name ("get",
	// "set"), from INFO latencystats; empty when the server does not have it
	// (Redis before 7).
	LatencyStats map[string]ServerLatency `json:"latency_stats,omitempty"`
	// CPUSeconds is the CPU the primaries spent over the recorded phases
	// (INFO used_cpu_sys + used_cpu_user, summed over the timeline's
	// recorded rows), Commands the commands they processed then, and
	// CPUPerCommandUs the one over the other: what Redis itself paid per
	// command, to set beside the tool's client.cpu_us_per_redis_command.
	CPUSeconds      float64 `json:"cpu_seconds"`
	Commands        uint64  `json:"commands"`
	CPUPerCommandUs float64 `json:"cpu_us_per_command"`
}

// UsersReport describes the simulated load. Requests are cache operations;
// Commands are user bot commands (each fans out into several requests). Late
// requests started after their intended time; dropped ones never started.
type UsersReport struct {
	Population int64  `json:"population"`
	Active     int    `json:"active"`
	Requests   uint64 `json:"requests"`
	Commands   uint64 `json:"commands"`
	Late       uint64 `json:"late"`
	// LateWaitingForSlot are the late commands that had waited for an
	// in-flight slot: every simulated user's previous command was still
	// running, so the system under test, not the tool, made them late.
	LateWaitingForSlot uint64  `json:"late_waiting_for_slot"`
	Dropped            uint64  `json:"dropped"`
	Abandoned          uint64  `json:"abandoned"`
	OpsPerSec          float64 `json:"ops_per_sec"`
	// UserRequests is the users' share of Requests when some family has a
	// producer (writers that are not users: a device fleet, a background
	// job); Producers are those writes by family. Both are in Requests,
	// Commands, Late, Dropped, OpsPerSec and every latency figure: they are
	// load like the users'. Zero and nil without producers.
	UserRequests uint64                    `json:"user_requests,omitempty"`
	Producers    map[string]ProducerReport `json:"producers,omitempty"`
}

// ProducerReport is one family's producer over the recorded phases: how it
// was scheduled, the operation it issued, and what became of its writes.
type ProducerReport struct {
	// Schedule is "every 4s ± 1s" (each key) or "20/s" (over the family
	// by its popularity); Write the operation and, for a whole-value
	// write, its mode ("hset_all replace_multi").
	Schedule string `json:"schedule"`
	Write    string `json:"write"`
	// Writes were issued (attempted), Errors failed; Late started over a
	// millisecond after their intended time, Dropped never started.
	Writes       uint64  `json:"writes"`
	Errors       uint64  `json:"errors"`
	Late         uint64  `json:"late"`
	Dropped      uint64  `json:"dropped"`
	WritesPerSec float64 `json:"writes_per_sec"`
}

// IntegrityReport counts value checks. LostWrites were acknowledged and
// later found missing or older with nothing but replication or a failover
// to explain it; UnknownWrites had no acknowledgement (error or timeout) so
// their fate is unknown. MissingByCause sums, over the faults' checks, every
// acknowledged write not found by cause (LostWriteCauses), the ones that do
// not count against lost_writes included; nil when no fault tracked writes.
type IntegrityReport struct {
	Checked        uint64            `json:"checked"`
	Mismatches     uint64            `json:"mismatches"`
	LostWrites     uint64            `json:"lost_writes"`
	UnknownWrites  uint64            `json:"unknown_writes"`
	WritesTracked  uint64            `json:"writes_tracked"`
	MissingByCause map[string]uint64 `json:"missing_by_cause,omitempty"`
}

// The causes of an acknowledged write not found, in report order. Only
// LossReplication counts against lost_writes.
const (
	LossReplication = "replication"    // lost by replication or failover
	LossEvicted     = "evicted"        // evicted by maxmemory (Redis notified the key's eviction)
	LossExpired     = "expired"        // its TTL had passed
	LossFill        = "fill_overwrite" // a cache-aside fill or warm wrote the origin's copy over it: the application's race
	LossStaleRead   = "stale_read"     // a read missed it, a later one found it: served by a node without it
)

// LostWriteCauses lists the causes in report order.
var LostWriteCauses = []string{LossReplication, LossEvicted, LossExpired, LossFill, LossStaleRead}

// WriteCheck is one lost-write check: a fault's window (from a little
// before the fault to its read-back), or the control window of about the
// same length just before it, with no fault. Every acknowledged write a read
// or the read-back did not find is counted under one cause.
type WriteCheck struct {
	// StartS and WindowS place the window: seconds since the run started,
	// and its length.
	StartS  float64 `json:"start_s"`
	WindowS float64 `json:"window_s"`
	// Acked is how many writes were acknowledged in it, Fills how many
	// cache-aside fills and warm writes were seen (not judged themselves),
	// Reads how many reads were observed.
	Acked uint64 `json:"acked"`
	Fills uint64 `json:"fills"`
	Reads uint64 `json:"reads"`
	// EvictionsNotified is how many evictions Redis notified in the window;
	// EvictionsWatched is false when no one listened, and then an eviction
	// cannot be told from a loss by key.
	EvictionsNotified uint64           `json:"evictions_notified"`
	EvictionsWatched  bool             `json:"evictions_watched"`
	Causes            []LostWriteCause `json:"causes"`
}

// Cause returns the tally of one cause (zero when absent).
func (w *WriteCheck) Cause(name string) LostWriteCause {
	if w != nil {
		for _, c := range w.Causes {
			if c.Cause == name {
				return c
			}
		}
	}
	return LostWriteCause{Cause: name}
}

// LostWriteCause is one cause's count in a check, with up to five examples
// and their evidence. Counts is true only for replication, the one that
// counts against lost_writes.
type LostWriteCause struct {
	Cause    string   `json:"cause"`
	Counts   bool     `json:"counts"`
	Count    uint64   `json:"count"`
	Examples []string `json:"examples"`
}

// OriginReport is one simulated upstream (stratz, opendota, steam).
type OriginReport struct {
	Calls   uint64  `json:"calls"`
	Errors  uint64  `json:"errors"`
	Latency Summary `json:"latency"`
}

// PhaseReport is one scenario phase. Recorded is false for phases (such as
// warm-up) whose figures are excluded from the overall results.
type PhaseReport struct {
	Name     string  `json:"name"`
	StartS   float64 `json:"start_s"`
	EndS     float64 `json:"end_s"`
	Recorded bool    `json:"recorded"`
	Requests uint64  `json:"requests"`
	Hits     uint64  `json:"hits"`
	Misses   uint64  `json:"misses"`
	// LookupErrors are the phase's failed lookups; HitRate counts them as
	// lookups that did not hit, as the cache report does.
	LookupErrors uint64  `json:"lookup_errors"`
	HitRate      float64 `json:"hit_rate"`
	Latency      Summary `json:"latency"`
	Errors       uint64  `json:"errors"`
}

// TimelineRow is one sampling interval (normally one second). T is the end of
// the interval in seconds since the run started. Counters (Ops, Errors,
// ErrorsByKind, Hits, Misses, MissesByCause, EvictedKeys, ExpiredKeys,
// PoolTimeouts, Late, Dropped) and PoolWaitMs are deltas over the interval;
// latencies are the interval's percentiles in ms; memory, clients, pool
// connections and Active are gauges at sampling time. Fault lists the fault
// kinds active during the interval, comma-joined.
type TimelineRow struct {
	T                float64            `json:"t"`
	Phase            string             `json:"phase"`
	Ops              uint64             `json:"ops"`
	Errors           uint64             `json:"errors"`
	ErrorsByKind     map[string]uint64  `json:"errors_by_kind"`
	P50              float64            `json:"p50"`
	P99              float64            `json:"p99"`
	P999             float64            `json:"p999"`
	Max              float64            `json:"max"`
	Hits             uint64             `json:"hits"`
	Misses           uint64             `json:"misses"`
	HitRate          float64            `json:"hit_rate"`
	HitRateByTier    map[string]float64 `json:"hit_rate_by_tier"`
	MissesByCause    map[string]uint64  `json:"misses_by_cause"`
	EvictedKeys      uint64             `json:"evicted_keys"`
	ExpiredKeys      uint64             `json:"expired_keys"`
	UsedMemory       int64              `json:"used_memory"`
	MaxMemory        int64              `json:"maxmemory"`
	ConnectedClients int64              `json:"connected_clients"`
	// ClientsMemory is what Redis's primaries hold for their normal
	// clients (INFO mem_clients_normal: query and reply buffers and the
	// client structs), a gauge: part of used_memory, so of what eviction
	// keeps under maxmemory, and what run --predict prices Redis's base
	// with. Absent in reports written before it.
	ClientsMemory int64   `json:"clients_memory,omitempty"`
	PoolTotal     uint64  `json:"pool_total"`
	PoolIdle      uint64  `json:"pool_idle"`
	PoolTimeouts  uint64  `json:"pool_timeouts"`
	PoolWaitMs    float64 `json:"pool_wait_ms"`
	Active        int     `json:"active"`
	Late          uint64  `json:"late"`
	Dropped       uint64  `json:"dropped"`
	Abandoned     uint64  `json:"abandoned"`
	LookupErrors  uint64  `json:"lookup_errors"`
	// ServerCPUS is the CPU seconds Redis's primaries spent in the interval
	// (INFO used_cpu_sys + used_cpu_user) and ServerCommands the commands
	// they processed: Redis's own cost, to set beside the tool's.
	ServerCPUS     float64 `json:"server_cpu_s"`
	ServerCommands uint64  `json:"server_commands"`
	// InfoT is when Redis's INFO was read for this row, in seconds since
	// the run started: the server counters (evictions, expiries, CPU) are
	// as of then, a little after T. 0 when INFO was not read.
	InfoT float64 `json:"info_t,omitempty"`
	Fault string  `json:"fault"`
	// LatencyHist is the interval's latency (from intended start) as a
	// coarse histogram (WindowHist): what lets a target's confidence
	// interval resample the run's seconds. Absent in reports written before
	// schema 1.2.
	LatencyHist WindowHist `json:"latency_hist,omitempty"`
	// HitRateByFamily is the interval's hit rate per key family (families
	// with lookups in it); absent in reports written before schema 1.3.
	HitRateByFamily map[string]float64 `json:"hit_rate_by_family,omitempty"`
	// OriginCalls is the calls the interval made to the simulated origin
	// (every source: misses fetched, warming); ServerNetOutBytes the bytes
	// Redis's primaries sent (INFO total_net_output_bytes). What a cache
	// failure mode costs the origin and the network. Absent before schema
	// 1.5.
	OriginCalls       uint64 `json:"origin_calls,omitempty"`
	ServerNetOutBytes uint64 `json:"server_net_out_bytes,omitempty"`
	// SpanS is how many seconds the row covers when it is more than one:
	// a long run's rows older than an hour, outside fault windows, are
	// folded into rows of several seconds (CompactRows) so the tool's
	// memory and the report stay bounded. Absent (0) for a one-second row.
	SpanS float64 `json:"span_s,omitempty"`
}

// FaultReport is one injected fault and what it did. Times are seconds since
// the run started (StartS, EndS) or since the fault started (the *_after_s
// fields). A nil pointer means "never happened during the run": no error
// seen, never recovered, p99 never back under target, never re-warmed.
type FaultReport struct {
	Kind   string         `json:"kind"`
	Node   string         `json:"node"`
	Params map[string]any `json:"params"`
	StartS float64        `json:"start_s"`
	EndS   float64        `json:"end_s"`
	// Injected is true only when the fault's action took effect on Redis. A
	// planned occurrence that never ran (the run ended or was interrupted
	// first) or whose action failed is still reported, with Injected false,
	// so targets about recovery fail with "no data" instead of passing.
	Injected bool `json:"injected"`
	// Occurrence is this report's 1-based repetition of its scenario fault
	// entry; Planned is how many occurrences that entry planned for the run.
	Occurrence int `json:"occurrence"`
	Planned    int `json:"planned"`

	ErrorsByKind map[string]uint64 `json:"errors_by_kind"`
	// WorstP99Ms and WorstMaxMs are the highest interval p99 and the
	// slowest operation, in ms, from the fault's start until one interval
	// after its effect ended: what a fault during which no command failed
	// did (its recovery is "at once" and says nothing).
	WorstP99Ms         float64  `json:"worst_p99_ms"`
	WorstMaxMs         float64  `json:"worst_max_ms"`
	FirstErrorAfterS   *float64 `json:"first_error_after_s"`
	RecoveredAfterS    *float64 `json:"recovered_after_s"`
	P99RecoveredAfterS *float64 `json:"p99_recovered_after_s"`
	HitRateBefore      float64  `json:"hit_rate_before"`
	HitRateMin         float64  `json:"hit_rate_min"`
	RewarmS            *float64 `json:"rewarm_s"`
	// Rewarm90S is until 90 % of the dip is won back; HitsLost the lookups
	// that missed but would have hit at the rate before the fault, until
	// re-warm or the next fault: what warming is for.
	Rewarm90S       *float64 `json:"rewarm_90_s"`
	HitsLost        uint64   `json:"hits_lost"`
	Evictions       uint64   `json:"evictions"`
	OOMErrors       uint64   `json:"oom_errors"`
	Reconnects      uint64   `json:"reconnects"`
	LostWrites      uint64   `json:"lost_writes"`
	UnknownWrites   uint64   `json:"unknown_writes"`
	AckedAfterStart uint64   `json:"acked_after_start"`
	// WriteCheck classifies every acknowledged write the fault's check did
	// not find, by cause; Control is the same check over a window of about
	// the same length just before the fault (nil when the fault came too
	// early for one), so the fault's figures read against the no-fault
	// rate. Both nil for faults that do not track writes.
	WriteCheck *WriteCheck `json:"write_check,omitempty"`
	Control    *WriteCheck `json:"write_control,omitempty"`
	// Warming is how the bot re-warmed after a restart or failover; nil
	// for the other kinds.
	Warming *FaultWarming `json:"warming,omitempty"`
	// CacheMode is what a cache failure mode (mass-expiry, hot-key,
	// big-key, penetration) did to the origin, Redis and the other keys;
	// nil for the other kinds.
	CacheMode *CacheModeReport `json:"cache_mode,omitempty"`
	Notes     []string         `json:"notes"`
}

// CacheModeReport is a cache failure mode's own figures: the origin
// stampede (calls per second before the fault and at its peak second, and
// whether get-or-fetch's single-flight held it: origin fetches per affected
// key fetched), Redis's CPU and network beside the load before, and the
// latency of the affected keys' lookups against the other keys'. Per
// second figures are read off the timeline rows from the fault's start
// until one row after its end; "before" is the 10 s before it.
type CacheModeReport struct {
	// Key is the hot or big key; Keys the keys the fault acted on (keys
	// expired at once, 1 for a hot or big key, the distinct absent keys a
	// penetration looked up); ValueBytes the big key's size.
	Key        string `json:"key,omitempty"`
	Keys       uint64 `json:"keys"`
	ValueBytes int64  `json:"value_bytes,omitempty"`
	// ExpireAtS is when a mass expiry's keys expired, seconds since the
	// run started.
	ExpireAtS float64 `json:"expire_at_s,omitempty"`

	OriginCallsPerSBefore float64 `json:"origin_calls_per_s_before"`
	OriginCallsPeakPerS   float64 `json:"origin_calls_peak_per_s"`
	OriginCallsPeakAtS    float64 `json:"origin_calls_peak_at_s"`
	OriginCalls           uint64  `json:"origin_calls"`

	// AffectedLookups are the lookups of the affected keys during the
	// fault; AffectedFetches those that went to the origin themselves (the
	// leaders of a single-flight); AffectedKeysFetched the distinct keys
	// fetched. FetchesPerKey is AffectedFetches over AffectedKeysFetched
	// and MaxFetchesPerKey the most of one key: single-flight holds when
	// no key was fetched by more callers than there are bot instances
	// (Instances: each has its own manager, so its own flight).
	AffectedLookups     uint64  `json:"affected_lookups"`
	AffectedFetches     uint64  `json:"affected_fetches"`
	AffectedKeysFetched uint64  `json:"affected_keys_fetched"`
	FetchesPerKey       float64 `json:"fetches_per_key"`
	MaxFetchesPerKey    uint64  `json:"max_fetches_per_key"`
	Instances           int     `json:"instances"`
	SingleFlightHeld    bool    `json:"single_flight_held"`

	// Affected and Other are the latency, from intended start, of the
	// cache reads of the affected keys' lookups and of every other lookup
	// during the fault (a near-cache hit counts 0; a miss's origin fetch
	// is not the cache's time, and is in the origin figures).
	Affected ModeLatency `json:"affected"`
	Other    ModeLatency `json:"other"`

	// Redis's CPU (seconds per second) and the bytes it sent per second,
	// before the fault and over its rows; the hit rate over its rows.
	RedisCPUBefore        float64 `json:"redis_cpu_before"`
	RedisCPUDuring        float64 `json:"redis_cpu_during"`
	NetOutBytesPerSBefore float64 `json:"net_out_bytes_per_s_before"`
	NetOutBytesPerSDuring float64 `json:"net_out_bytes_per_s_during"`
	HitRateDuring         float64 `json:"hit_rate_during"`
}

// ModeLatency is one side's lookups during a cache failure mode.
type ModeLatency struct {
	Lookups uint64  `json:"lookups"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
}

// Errors sums errors over all kinds.
func (f FaultReport) Errors() uint64 { return sumCounts(f.ErrorsByKind) }

// NoneFailed reports whether the fault took effect and no command failed
// during it or after it: its recovery ("at once") then says nothing, and
// WorstP99Ms/WorstMaxMs are what it did.
func (f FaultReport) NoneFailed() bool {
	return f.Injected && f.Errors() == 0 && f.FirstErrorAfterS == nil
}

// Seconds returns a pointer to v, for the nullable *_after_s fields.
func Seconds(v float64) *float64 { return &v }

// TotalErrors sums Errors over all kinds.
func (r *Result) TotalErrors() uint64 { return sumCounts(r.Errors) }

func sumCounts(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// LookupHitRate returns hits / (hits + misses + lookupErrors): a lookup that
// failed is a lookup that did not hit. 0 when there were no lookups.
func LookupHitRate(hits, misses, lookupErrors uint64) float64 {
	return HitRate(hits, misses+lookupErrors)
}

// HitRate returns hits / (hits + misses), or 0 when there were no lookups.
func HitRate(hits, misses uint64) float64 {
	if hits+misses == 0 {
		return 0
	}
	return float64(hits) / float64(hits+misses)
}
