package chaos

import (
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
)

// Fault is one checked entry of the fault timeline, ready to play: the
// entry as written (defaults filled), its position in the scenario's
// faults: list (so reports can point back to it), and its kind holding its
// parameters.
type Fault struct {
	Spec
	Index int

	kind   Kind
	traits Traits
}

// New makes a run's faults from its entries (spec i is entry i of the
// scenario's faults:), with the kinds' defaults filled in. Each entry is
// checked as Validate checks it against site; the entries that fail are
// one error, a field.List with paths under faults[i].
func New(specs []Spec, site Site) ([]Fault, error) {
	var errs field.List
	out := make([]Fault, 0, len(specs))
	for i, s := range specs {
		s.Params = maps.Clone(s.Params)
		Defaults(&s)
		k, fe := check(s, site)
		if len(fe) > 0 {
			errs.Merge(field.Index("faults", i), fe)
			continue
		}
		out = append(out, Fault{Spec: s, Index: i, kind: k, traits: registry[s.Kind].traits})
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Traits are the fault's kind's.
func (f Fault) Traits() Traits { return f.traits }

// TracksWrites reports whether acknowledged writes are followed through this
// fault (see Traits.TrackWrites).
func (f Fault) TracksWrites() bool { return f.traits.TrackWrites }

// ActsOnRedis reports whether the fault changes Redis itself (every kind but
// those that act on the proxy): what an external Redis refuses without
// --allow-destructive, and what only shard 0 of a sharded run plays.
func (f Fault) ActsOnRedis() bool { return !f.traits.Proxy && !f.traits.Workload }

// ReportParams are the fault's parameters for the report, only those that
// apply: index, at_s, for_s, every_s and count, and the kind's parameters
// that are not zero (durations as <name>_ms).
func (f Fault) ReportParams() map[string]any {
	p := map[string]any{"index": f.Index, "at_s": f.At.Seconds()}
	if f.For > 0 {
		p["for_s"] = f.For.Seconds()
	}
	f.eachParam(func(pr param, v reflect.Value) {
		switch pr.typ {
		case TypeDuration:
			p[pr.name+"_ms"] = float64(v.Int()) / float64(time.Millisecond)
		default:
			p[pr.name] = canonical(pr.typ, v)
		}
	})
	if f.Every > 0 {
		p["every_s"] = f.Every.Seconds()
		p["count"] = f.Count
	}
	return p
}

// eachParam calls fn with every parameter of the fault's kind that is not
// zero, in the kind's order.
func (f Fault) eachParam(fn func(param, reflect.Value)) {
	r := registry[f.Kind]
	if f.kind == nil || r == nil {
		return
	}
	kv := reflect.ValueOf(f.kind).Elem()
	for _, pr := range r.params {
		if v := kv.Field(pr.field); !v.IsZero() {
			fn(pr, v)
		}
	}
}

// String is a short description for logs: "restart(kill) of primary at
// 2m0s"; the parenthesis holds the kind's first enumerated parameter (mode,
// toxic).
func (f Fault) String() string {
	s := f.Kind
	named := false
	f.eachParam(func(pr param, v reflect.Value) {
		if pr.values != nil && !named {
			s += "(" + v.String() + ")"
			named = true
		}
	})
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

// NeedsProxy reports whether any fault acts on the proxy (Traits.Proxy), in
// which case the cache manager must reach Redis through a Network for the
// whole run.
func NeedsProxy(faults []Fault) bool {
	for _, f := range faults {
		if f.traits.Proxy && !f.traits.Protocol {
			return true
		}
	}
	return false
}

// NeedsProtocol reports whether any fault acts on the RESP-aware proxy
// (Traits.Protocol), in which case the cache manager must dial every data
// node through a Protocol for the whole run.
func NeedsProtocol(faults []Fault) bool {
	for _, f := range faults {
		if f.traits.Protocol {
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
// report takes it from there. A fault that acts on the in-process proxy
// between one process and Redis (network) degrades only that process's
// link: every shard runs its own, as one unsharded run's whole load would
// feel it. byShard0 are the faults this shard leaves to shard 0.
func ForShard(faults []Fault, shard, shards int) (run, byShard0 []Fault) {
	if shards <= 1 || shard == 0 {
		return faults, nil
	}
	for _, f := range faults {
		if f.ActsOnRedis() {
			byShard0 = append(byShard0, f)
		} else {
			run = append(run, f)
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
