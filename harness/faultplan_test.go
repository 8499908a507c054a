package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/scenarios"
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
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
}
