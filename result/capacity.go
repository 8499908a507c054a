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
	LimitAnyLoad   = "any_load"       // a target failed at every load tried and did not improve as the load fell: not a capacity limit
	LimitUndecided = "unknown"        // a target broke, the evidence names no resource
)

// Typed reasons why the load generator, not the system under test, limited
// a step (CapacityStep.ToolReasons). Only these make a step tool-limited;
// the words of client.bottleneck never do (its host messages mention the
// CPU whether or not the tool was short of it).
const (
	// ToolCPU: the tool's own CPU was at or above 90 % of the CPUs it may
	// use (GOMAXPROCS, at most the machine's).
	ToolCPU = "tool_cpu"
	// ToolDropped: commands were dropped while most late starts had
	// in-flight slots free: the tool could not keep its schedule.
	ToolDropped = "dropped_with_slots_free"
	// ToolLate: over 1 % of commands started over 1 ms late with slots
	// free, more than twice the share of late wake-ups the host timer probe
	// saw (or with no probe), the late starts moved the latency tail, and
	// every missed target is a latency from intended start whose service
	// time (from the actual send) held.
	ToolLate = "late_beyond_host"
)

// Design point verdicts (CapacityAnswer.DesignVerdict): the verdict of the
// steps run at the design load, or not_measured when none ran.
const (
	DesignNotMeasured = "not_measured"
)

// Confidence of a capacity interval (CapacityInterval.Confidence).
const (
	// ConfidenceConfirmed: each end ran at least twice and a majority of
	// its runs agreed with its verdict.
	ConfidenceConfirmed = "confirmed"
	// ConfidenceUnconfirmed: an end ran once (confirmation off, or its
	// re-runs were not reached: interrupted, an error, the re-run budget).
	ConfidenceUnconfirmed = "unconfirmed"
	// ConfidenceInconclusive: an end's runs reached the cap with no
	// majority (they flipped, or were inconclusive).
	ConfidenceInconclusive = "inconclusive"
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
	// Prediction is `cacheproof size`'s hit-rate curve for the scenario's
	// policy, drawn beside the measured steps of a maxmemory sweep.
	Prediction *CapacityPrediction `json:"prediction,omitempty"`
	Notes      []string            `json:"notes"`
}

// CapacityPrediction is the simulated hit rate of a maxmemory sweep's
// scenario (sizing's model of Redis's eviction) at the steps' sizes and
// along a curve over the searched range.
type CapacityPrediction struct {
	Policy          string        `json:"policy"`
	WorkingSetBytes int64         `json:"working_set_bytes"`
	Curve           []SizingPoint `json:"curve"`
	Notes           []string      `json:"notes,omitempty"`
}

// CapacitySearch is the search as planned.
type CapacitySearch struct {
	From      float64 `json:"from"`
	To        float64 `json:"to"`
	Growth    float64 `json:"growth"`
	Precision string  `json:"precision"`
	MaxLoad   float64 `json:"max_load,omitempty"`
	MaxSteps  int     `json:"max_steps"`
	// Confirm is the most runs of each boundary load (the highest passing
	// and the lowest failing) and of an inconclusive step; 1: no re-runs.
	// MaxReruns is the most re-runs the whole search may add.
	Confirm   int `json:"confirm"`
	MaxReruns int `json:"max_reruns"`
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
	Stage string  `json:"stage"` // ramp, down, bisect, design, rerun or confirm
	Load  float64 `json:"load"`
	// Run is this step's number among the runs at its load (1 for the
	// first; re-runs to decide an inconclusive step or confirm a boundary
	// count up).
	Run int `json:"run"`
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
	// MaxMemory is Redis's maxmemory as the step's run read it from the
	// server (INFO), so a maxmemory sweep shows each step really ran at its
	// size; PredictedHitRate is `cacheproof size`'s hit rate for the step's
	// maxmemory with the scenario's policy (maxmemory sweeps only).
	MaxMemory        int64    `json:"maxmemory,omitempty"`
	PredictedHitRate *float64 `json:"predicted_hit_rate,omitempty"`
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
	// ToolLimited: the step did not pass because of the load generator
	// (ToolReasons says which of the Tool* reasons); such a step ends the
	// search with "at least", never a knee.
	ToolLimited bool     `json:"tool_limited"`
	ToolReasons []string `json:"tool_reasons,omitempty"`
	// ToolWhy is the reasons' figures, for people.
	ToolWhy string         `json:"tool_why,omitempty"`
	Targets []TargetResult `json:"targets"`
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
	// DesignVerdict is the verdict of the steps run at the design point
	// (pass, fail, inconclusive: the majority of its runs), or not_measured
	// when no step ran there (the search was interrupted or stopped by an
	// error first). It is never inferred from other loads.
	DesignVerdict string `json:"design_verdict"`
	// Interval is the answer as a bracket: the highest load that held and
	// the lowest that broke, each re-run to confirm its verdict.
	Interval *CapacityInterval `json:"interval,omitempty"`
	// FailsAtAnyLoad: a target failed at every load tried, down to two
	// steps below the first failure, without getting better as the load
	// fell: the failure is not a capacity limit (Broke names the target).
	FailsAtAnyLoad bool `json:"fails_at_any_load"`
	// Unfinished: the search ran out of max_steps before reaching its
	// precision (or the top of its range); PrecisionReached is the gap it
	// did reach, relative to the passing load.
	Unfinished       bool   `json:"unfinished"`
	PrecisionReached string `json:"precision_reached,omitempty"`
	// Headline is the answer in one sentence.
	Headline string `json:"headline"`
}

// CapacityInterval is the answer as a bracket [Low, High]: Low the highest
// load at which the targets held (for a knob sweep, the least setting that
// held), High the lowest that broke (the highest setting that broke), with
// every run's verdict at each end.
type CapacityInterval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// LowRuns and HighRuns are the verdicts of the runs at each end, in
	// run order; an end that is 0 has none.
	LowRuns  []string `json:"low_runs"`
	HighRuns []string `json:"high_runs"`
	// Confidence is confirmed, unconfirmed or inconclusive (Confidence*);
	// Agreement is the weaker end's share of runs that agreed with its
	// verdict (1: every run agreed).
	Confidence string  `json:"confidence"`
	Agreement  float64 `json:"agreement"`
	// Method says how the ends were decided, for people.
	Method string `json:"method"`
}
