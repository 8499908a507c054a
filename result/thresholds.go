package result

// The load generator's self-judgement thresholds, one owner for every rule
// that reads them: harness's bottleneck verdict, capacity's typed
// tool-limited reasons, the noise rule of a target's verdict (noise.go) and
// compare's host-noise check. A change here changes all of them together.
const (
	// HostWakesPerStart is how many timed wake-ups a command's start rests
	// on (the dispatcher's sleep, then its worker's hand-off): a tool as
	// good as its host is late up to about this many times the host timer
	// probe's late share.
	HostWakesPerStart = 2
	// ToolLateShare: a tool that starts more than this share of its
	// commands over 1 ms late with in-flight slots free could not keep its
	// schedule.
	ToolLateShare = 0.01
	// ToolBusyShare: a tool (or a machine shared with a local Redis) above
	// this share of the CPUs it may use was saturated.
	ToolBusyShare = 0.9
	// LateTailShare: late starts moved the tail when the p99 from intended
	// start exceeds the p99 from the send by more than this share of it.
	LateTailShare = 0.2
	// SchedTailShare: the tool's own goroutine scheduling delay at p99
	// (client.sched_latency) of at least this share of the run's p99, and
	// at least SchedFloorMs, means the tool's waiting for a thread is a
	// large part of the tail it reports.
	SchedTailShare = 0.5
	SchedFloorMs   = 1.0
)
