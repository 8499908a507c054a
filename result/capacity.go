package result

import "time"

// KindCapacity marks a capacity report (capacity.json): the same schema
// family and version as a run's report.json, with kind telling them apart
// (a run's report has no kind).
const KindCapacity = "capacity"

// Limiting resources a capacity search can name.
const (
	LimitPool      = "pool"           // pool waits or timeouts
	LimitRedisCPU  = "redis_cpu"      // Redis's single command thread near one core
	LimitMemory    = "memory"         // evictions rising, hit rate falling
	LimitNetwork   = "network"        // a network fault on the link
	LimitClient    = "client_side"    // Redis answered fast; the time went between it and the caller (network, client host CPU)
	LimitTool      = "load_generator" // cacheproof itself could not push the load
	LimitNone      = "none"           // no target broke within the searched range
	LimitUndecided = "unknown"        // a target broke, the evidence names no resource
)

// Capacity is what `cacheproof capacity` found: each step's figures (every
// step is a whole run, its own report.json kept beside) and the answer.
type Capacity struct {
	SchemaVersion string       `json:"schema_version"`
	Kind          string       `json:"kind"`
	Tool          ToolInfo     `json:"tool"`
	Scenario      ScenarioInfo `json:"scenario"`
	StartedAt     time.Time    `json:"started_at"`
	DurationS     float64      `json:"duration_s"`
	Verdict       string       `json:"verdict"`
	Interrupted   bool         `json:"interrupted"`
	ExitCode      int          `json:"exit_code"`

	// Vary is what the steps varied ("users" or "rate") and Unit the unit
	// of every load figure ("users", "commands/user/min").
	Vary string `json:"vary"`
	// Knob is true when the steps varied a setting (max_conns) at the
	// scenario's load: the answer is then the least of it that holds
	// (answer.min_holding_value), and headroom the design value over that.
	Knob bool   `json:"knob"`
	Unit string `json:"unit"`
	// DesignPoint is the scenario's own load (its active_users, or its
	// commands_per_user_per_minute).
	DesignPoint float64 `json:"design_point"`
	// Search is the plan the steps followed.
	Search CapacitySearch `json:"search"`
	// Targets are the scenario's targets, every step judged by them.
	Targets []TargetSpec   `json:"targets"`
	Steps   []CapacityStep `json:"steps"`
	Answer  CapacityAnswer `json:"answer"`
	Notes   []string       `json:"notes"`
}

// CapacitySearch is the search as planned.
type CapacitySearch struct {
	From      float64 `json:"from"`
	To        float64 `json:"to"`
	Growth    float64 `json:"growth"`
	Precision string  `json:"precision"`
	MaxLoad   float64 `json:"max_load,omitempty"`
	MaxSteps  int     `json:"max_steps"`
	// StepDurationS and StepWarmupS are each step's recorded and warm-up
	// seconds; Prefill says how each step's cache was brought to steady state.
	StepDurationS float64 `json:"step_duration_s"`
	StepWarmupS   float64 `json:"step_warmup_s"`
	Prefill       string  `json:"prefill"`
}

// CapacityStep is one run of the search at one load: the summary of its
// result. Latencies in ms (from intended start), rates as fractions.
type CapacityStep struct {
	N     int     `json:"n"`
	Stage string  `json:"stage"` // ramp, down or bisect
	Load  float64 `json:"load"`
	// Users and CommandsPerUserPerMinute are the step's workload;
	// OfferedCommandsPerSec what the schedule asked for.
	Users                    int     `json:"users"`
	CommandsPerUserPerMinute float64 `json:"commands_per_user_per_minute"`
	OfferedCommandsPerSec    float64 `json:"offered_commands_per_sec"`
	OpsPerSec                float64 `json:"ops_per_sec"`
	LatencyMs                Summary `json:"latency_ms"`
	HitRate                  float64 `json:"hit_rate"`
	PoolWaitMs               float64 `json:"pool_wait_ms"`
	PoolWaitCount            uint64  `json:"pool_wait_count"`
	PoolTimeouts             uint64  `json:"pool_timeouts"`
	Errors                   uint64  `json:"errors"` // every kind but the origin's (fetch); the step's report has them all
	EvictedKeys              uint64  `json:"evicted_keys"`
	// ServerCPUCores is Redis's CPU over the recorded seconds (1.0: its
	// command thread saturated); ClientCPUCores the tool's.
	ServerCPUCores     float64 `json:"server_cpu_cores"`
	ClientCPUCores     float64 `json:"client_cpu_cores"`
	Late               uint64  `json:"late"`
	LateWaitingForSlot uint64  `json:"late_waiting_for_slot"`
	Dropped            uint64  `json:"dropped"`
	Verdict            string  `json:"verdict"`
	Pass               bool    `json:"pass"`
	// Bottleneck is the run's client.bottleneck: set when the load generator
	// limited the step, whose failure then says nothing about Redis.
	Bottleneck string `json:"bottleneck,omitempty"`
	// HostLoad1 is this host's 1-minute load average when the step ended
	// (/proc/loadavg; 0 when unknown), beside NumCPU: above the CPUs, other
	// processes competed with the tool and a local Redis.
	HostLoad1 float64 `json:"host_load_1m,omitempty"`
	NumCPU    int     `json:"num_cpu,omitempty"`
	// ToolLimited: the step failed because of the load generator (its CPU,
	// or late starts that alone explain a latency miss); such a step ends
	// the search with "at least", never a knee.
	ToolLimited bool           `json:"tool_limited"`
	Targets     []TargetResult `json:"targets"`
	// Report is the folder of the step's own report.json and report.html,
	// relative to the capacity report's.
	Report string `json:"report,omitempty"`
}

// BrokenTarget is a target that failed at the lowest failing step, and by
// how much.
type BrokenTarget struct {
	Name         string  `json:"name"`
	Expr         string  `json:"expr"`
	Observed     float64 `json:"observed"`
	ObservedText string  `json:"observed_text"`
	Unit         string  `json:"unit"`
	Bound        float64 `json:"bound"`
	// By is how far the observation went past the bound, for people
	// ("2.4x the bound", "1.3 points short", "37 against 0").
	By string `json:"by"`
}

// CapacityAnswer is the search's answer.
type CapacityAnswer struct {
	// MaxLoad is the highest load at which every target held (0: none
	// did), with its users and measured ops/s.
	MaxLoad      float64 `json:"max_sustainable_load"`
	MaxUsers     int     `json:"max_sustainable_users"`
	MaxOpsPerSec float64 `json:"max_sustainable_ops_per_sec"`
	// AtLeast: the true capacity is MaxLoad or more, not found: the tool
	// could not push further, or nothing broke up to the search's end.
	AtLeast bool `json:"at_least"`
	// MinHolding is, for a knob sweep, the least value at which every
	// target held (0: none up to the search's end).
	MinHolding float64 `json:"min_holding_value,omitempty"`
	// FailLoad is the lowest load at which a target broke (0: none); for a
	// knob sweep, the highest value at which one broke.
	FailLoad float64 `json:"first_failing_load"`
	// Broke is the first of the scenario's targets that failed at FailLoad;
	// AlsoBroke the others that failed there.
	Broke     *BrokenTarget  `json:"broke,omitempty"`
	AlsoBroke []BrokenTarget `json:"also_broke,omitempty"`
	// Limit is the likely limiting resource (Limit* constants) and
	// Evidence the figures of the failing step that point to it.
	Limit    string `json:"limiting_resource"`
	Evidence string `json:"evidence"`
	// Headroom is MaxLoad over the design point; DesignHolds whether every
	// target held at the design point.
	Headroom    float64 `json:"headroom"`
	DesignHolds bool    `json:"design_holds"`
	// Headline is the answer in one sentence.
	Headline string `json:"headline"`
}
