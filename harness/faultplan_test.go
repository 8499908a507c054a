package harness

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
)

// A run interrupted before a fault's slot still lists that fault, with
// injected false and a note, so a recovery target cannot pass on the faults
// that happened to run.
func TestInterruptedRunListsUnstartedFaults(t *testing.T) {
	needRedis(t)
	sc, err := scenarios.LoadBytes("unstarted.yaml", []byte(`
name: unstarted
seed: 3
`+chaosPool+`
phases:
  - {name: steady, duration: 20s}
faults:
  - {at: 500ms, kind: client-kill, every: 10s, count: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	// The interrupt comes well after the first slot (startup included) and
	// long before the second.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	res, err := Run(ctx, Options{Scenario: sc, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || len(res.Faults) != 2 {
		t.Fatalf("interrupted %v, %d faults, want 2 (one ran, one never started): %+v", res.Interrupted, len(res.Faults), res.Faults)
	}
	ran, never := res.Faults[0], res.Faults[1]
	if !ran.Injected || ran.Occurrence != 1 || ran.Planned != 2 {
		t.Errorf("first occurrence: injected %v occurrence %d planned %d", ran.Injected, ran.Occurrence, ran.Planned)
	}
	if never.Injected || never.Occurrence != 2 || never.Planned != 2 || never.StartS != 10.5 || !strings.Contains(strings.Join(never.Notes, ";"), "never started") {
		t.Errorf("second occurrence: %+v", never)
	}
	if !strings.Contains(strings.Join(res.Notes, ";"), "1 of 2 planned fault occurrences started") {
		t.Errorf("notes %q", res.Notes)
	}
	// The scenario's targets say nothing about faults; the occurrence that
	// never started fails the run anyway, named, with why.
	last := res.Targets[len(res.Targets)-1]
	if res.Verdict != result.VerdictFail || last.Name != result.FaultsNotInjected || last.Pass || last.Observed != 1 ||
		!strings.Contains(last.Detail, "client-kill fault on primary at 10.5s: never started") {
		t.Errorf("verdict %s, implicit target %+v", res.Verdict, last)
	}
}

// Sharded, shard 0 runs the faults that act on the shared Redis and the
// other shards only note them; network faults (each process's own proxy)
// run everywhere.
func TestShardsLeaveRedisFaultsToShardZero(t *testing.T) {
	needRedis(t)
	sc, err := scenarios.LoadBytes("sharded.yaml", []byte(`
name: sharded
seed: 4
`+chaosPool+`
phases:
  - {name: steady, duration: 3s}
faults:
  - {at: 1s, kind: client-kill}
  - {at: 1s, for: 500ms, kind: network, toxic: latency, latency: 5ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, shard := range []int{0, 1} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		res, err := Run(ctx, Options{Scenario: sc, Shard: shard, Shards: 2})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		kinds := []string{}
		for _, f := range res.Faults {
			kinds = append(kinds, f.Kind)
			if !f.Injected {
				t.Errorf("shard %d: %s not injected: %q", shard, f.Kind, f.Notes)
			}
		}
		sort.Strings(kinds) // both start at 1s, in either order
		notes := strings.Join(res.Notes, ";")
		switch shard {
		case 0:
			if strings.Join(kinds, ",") != "client-kill,network" || strings.Contains(notes, "fault plan") {
				t.Errorf("shard 0/2: faults %v, notes %q; want both faults, no fault-plan note", kinds, notes)
			}
		case 1:
			if strings.Join(kinds, ",") != "network" || !strings.Contains(notes, "shard 0 runs and reports client-kill of primary at 1s") {
				t.Errorf("shard 1/2: faults %v, notes %q; want the network fault and a note leaving client-kill to shard 0", kinds, notes)
			}
		}
	}
}

// A shard other than 0 changes nothing on an external Redis, so it needs no
// --allow-destructive: it gets as far as connecting (and fails there, as
// nothing listens), where shard 0 is refused up front.
func TestNonZeroShardNeedsNoAllowDestructive(t *testing.T) {
	sc, err := scenarios.LoadBytes("ext.yaml", []byte(`
name: ext
target: {backend: external, addrs: ["127.0.0.1:1"]}
phases: [{name: steady, duration: 5s}]
faults:
  - {at: 1s, kind: restart}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Options{Scenario: sc, Shard: 0, Shards: 2})
	if !errors.Is(err, topology.ErrDestructive) {
		t.Fatalf("shard 0/2: %v, want ErrDestructive", err)
	}
	_, err = Run(context.Background(), Options{Scenario: sc, Shard: 1, Shards: 2})
	var ee *EnvError
	if errors.Is(err, topology.ErrDestructive) || !errors.As(err, &ee) {
		t.Fatalf("shard 1/2: %v, want an EnvError (cannot reach 127.0.0.1:1), not a refusal", err)
	}
}
