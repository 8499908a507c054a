package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/scenarios"
)

// Kind is what a fault does.
type Kind string

// The fault kinds, as spelled in scenario files.
const (
	KindRestart        Kind = "restart"
	KindPause          Kind = "pause"
	KindMemoryPressure Kind = "memory-pressure"
	KindReadOnly       Kind = "readonly"
	KindFailover       Kind = "failover"
	KindClientKill     Kind = "client-kill"
	KindNetwork        Kind = "network"
)

// Modes of restart and pause.
const (
	ModeGraceful         = "graceful"
	ModeKill             = "kill"
	ModeSigstop          = "sigstop"
	ModeClientPauseWrite = "client-pause-write"
	ModeClientPauseAll   = "client-pause-all"
)

// Network toxics.
const (
	ToxicLatency   = "latency"
	ToxicBandwidth = "bandwidth"
	ToxicResetPeer = "reset_peer"
	ToxicTimeout   = "timeout"
	ToxicDown      = "down"
)

// NodePrimary names whichever node is primary when the fault starts.
const NodePrimary = "primary"

// Fault is one entry of the fault timeline, typed. Index is its position in
// the scenario's faults: list, so reports can point back to it.
type Fault struct {
	Index int
	Kind  Kind
	At    time.Duration
	For   time.Duration
	Mode  string
	Node  string // "primary", or a topology node name (replica-1, node-3, ...)

	// memory-pressure: exactly one of MaxMemory (bytes) or Fraction (of the
	// node's used_memory when the fault starts); Ballast bytes of keys under
	// BallastPrefix are written first.
	MaxMemory int64
	Fraction  float64
	Ballast   int64

	// network
	Toxic     string
	Latency   time.Duration
	Jitter    time.Duration
	RateKBps  int
	Timeout   time.Duration
	Direction string // upstream | downstream | both ("" = downstream)

	// Every > 0 repeats the fault every Every, Count occurrences in all
	// (Count 0: until the run ends).
	Every time.Duration
	Count int
}

// FromScenario types the scenario's (already validated) faults.
func FromScenario(in []scenarios.Fault) []Fault {
	out := make([]Fault, len(in))
	for i, f := range in {
		out[i] = Fault{
			Index: i, Kind: Kind(f.Kind), At: f.At.D(), For: f.For.D(), Mode: f.Mode, Node: f.Node,
			MaxMemory: int64(f.MaxMemory), Fraction: f.Fraction, Ballast: int64(f.Ballast),
			Toxic: f.Toxic, Latency: f.Latency.D(), Jitter: f.Jitter.D(), RateKBps: f.RateKBps,
			Timeout: f.Timeout.D(), Direction: f.Direction,
			Every: f.Every.D(), Count: f.Count,
		}
		if out[i].Node == "" && out[i].Kind != KindFailover {
			out[i].Node = NodePrimary
		}
	}
	return out
}

// TracksWrites reports whether acknowledged writes are followed through this
// fault: demotions and failovers are where a cache layer loses them.
func (f Fault) TracksWrites() bool { return f.Kind == KindReadOnly || f.Kind == KindFailover }

// Params are the fault's parameters for the report, only those that apply.
func (f Fault) Params() map[string]any {
	p := map[string]any{"index": f.Index, "at_s": f.At.Seconds()}
	if f.For > 0 {
		p["for_s"] = f.For.Seconds()
	}
	if f.Mode != "" {
		p["mode"] = f.Mode
	}
	switch f.Kind {
	case KindMemoryPressure:
		if f.MaxMemory > 0 {
			p["maxmemory"] = f.MaxMemory
		}
		if f.Fraction > 0 {
			p["fraction"] = f.Fraction
		}
		if f.Ballast > 0 {
			p["ballast"] = f.Ballast
		}
	case KindNetwork:
		p["toxic"] = f.Toxic
		if f.Latency > 0 {
			p["latency_ms"] = float64(f.Latency) / float64(time.Millisecond)
		}
		if f.Jitter > 0 {
			p["jitter_ms"] = float64(f.Jitter) / float64(time.Millisecond)
		}
		if f.RateKBps > 0 {
			p["rate_kbps"] = f.RateKBps
		}
		if f.Timeout > 0 {
			p["timeout_ms"] = float64(f.Timeout) / float64(time.Millisecond)
		}
		if f.Direction != "" {
			p["direction"] = f.Direction
		}
	}
	if f.Every > 0 {
		p["every_s"] = f.Every.Seconds()
		p["count"] = f.Count
	}
	return p
}

// String is a short description for logs: "restart(kill) of primary at 2m0s".
func (f Fault) String() string {
	s := string(f.Kind)
	if f.Mode != "" {
		s += "(" + f.Mode + ")"
	}
	if f.Kind == KindNetwork {
		s += "(" + f.Toxic + ")"
	}
	if f.Node != "" {
		s += " of " + f.Node
	}
	s += fmt.Sprintf(" at %s", f.At)
	if f.For > 0 {
		s += fmt.Sprintf(" for %s", f.For)
	}
	return s
}

// Occurrence is one planned execution of a fault.
type Occurrence struct {
	Fault Fault
	N     int           // 0 for the first, 1 for the first repetition, ...
	At    time.Duration // offset from the run start
	// Planned is how many occurrences the fault's scenario entry plans for
	// the run: count: when given, else as many as start before the run ends.
	Planned int
}

// Plan expands repetitions into occurrences that start before total, sorted
// by start time (ties keep scenario order).
func Plan(faults []Fault, total time.Duration) []Occurrence {
	play, _ := schedule(faults, total)
	return play
}

// schedule expands every fault entry into its occurrences: play are those
// that start before total (sorted by start, ties in scenario order), beyond
// those an explicit count: asks for that would start after the run ends.
// These can never run, and are reported as planned but not started, so a
// scenario that asks for five restarts and measures three does not pass as
// if it had measured five. With count: 0 (until the run ends) the plan is
// whatever fits in the run; without a run length it is the first only.
func schedule(faults []Fault, total time.Duration) (play, beyond []Occurrence) {
	for _, f := range faults {
		var occs []Occurrence
		at := f.At
		for n := 0; ; n++ {
			occs = append(occs, Occurrence{Fault: f, N: n, At: at})
			if f.Every <= 0 || (f.Count > 0 && n+1 >= f.Count) {
				break
			}
			if f.Count == 0 && (total <= 0 || at+f.Every >= total) {
				break // unbounded repetition stops at the run's end
			}
			at += f.Every
		}
		for i := range occs {
			occs[i].Planned = len(occs)
			if total > 0 && occs[i].At >= total {
				beyond = append(beyond, occs[i])
			} else {
				play = append(play, occs[i])
			}
		}
	}
	sort.SliceStable(play, func(i, j int) bool { return play[i].At < play[j].At })
	return play, beyond
}

// NeedsProxy reports whether any fault is a network fault, in which case the
// cache manager must reach Redis through a Network for the whole run.
func NeedsProxy(faults []Fault) bool {
	for _, f := range faults {
		if f.Kind == KindNetwork {
			return true
		}
	}
	return false
}

// ForShard splits a scenario's faults for shard of shards (0-based, as
// --shard i/n; shards 0 or 1: one unsharded run). n shards are n processes
// driving one Redis together: a fault that acts on Redis (restart, pause,
// readonly, failover, memory pressure, client kill) must happen once, not n
// times, so shard 0 alone runs it and lists it in its report, and the merged
// report takes it from there. A network fault acts on the in-process proxy
// between one process and Redis, so it degrades only that process's link:
// every shard runs its own, as one unsharded run's whole load would feel it.
// byShard0 are the faults this shard leaves to shard 0.
func ForShard(faults []Fault, shard, shards int) (run, byShard0 []Fault) {
	if shards <= 1 || shard == 0 {
		return faults, nil
	}
	for _, f := range faults {
		if f.Kind == KindNetwork {
			run = append(run, f)
		} else {
			byShard0 = append(byShard0, f)
		}
	}
	return run, byShard0
}

// ShardNote is the report note of a shard other than 0 about the faults it
// left to shard 0.
func ShardNote(byShard0 []Fault, shard, shards int) string {
	names := make([]string, len(byShard0))
	for i, f := range byShard0 {
		names[i] = f.String()
	}
	return fmt.Sprintf("fault plan: shard %d/%d runs no fault that acts on Redis; shard 0 runs and reports %s. This shard's figures include their effect on its traffic; the merged report takes the faults from shard 0",
		shard, shards, strings.Join(names, ", "))
}
