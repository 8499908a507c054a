package capacity

import (
	"context"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

// Run returns the finished result: the search's steps and answer with the
// header a report needs (the tool, the scenario and the values set on the
// command line, each step's length, the targets), every step seen by
// OnStep with the host's load average; an interrupted search says so.
func TestRunReturnsTheFinishedResult(t *testing.T) {
	set, _ := scenarios.ParseSet("pool.max_conns=20")
	sc, err := scenarios.LoadBytes("k.yaml", []byte("name: k\nworkload: {population: 100000, active_users: 1000}\nphases:\n  - {name: warm, duration: 2s, record: false}\n  - {name: steady, duration: 8s}\n"), set)
	if err != nil {
		t.Fatal(err)
	}
	prep, err := Prepare(sc, Settings{From: 500, To: 4000, Precision: "10%", Confirm: 1})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	tool := result.ToolInfo{Name: "cacheproof", Version: "test"}
	c, err := prep.Run(context.Background(), RunOptions{Runner: fakeStep(1500, 0), Tool: tool, OnStep: func(st *result.CapacityStep, _ *result.Result) {
		seen++
		if st.HostLoad1 == 0 {
			t.Errorf("step %d: no host load average", st.N)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(c.Steps) || seen == 0 {
		t.Errorf("OnStep saw %d of %d steps", seen, len(c.Steps))
	}
	if c.Tool != tool || c.Scenario.Name != "k" || len(c.Scenario.Overrides) != 1 || c.Search.StepDurationS != 8 || c.Search.StepWarmupS != 2 ||
		len(c.Targets) == 0 || c.StartedAt.IsZero() || !strings.Contains(c.Search.Prefill, "own prefill") {
		t.Errorf("header not filled: tool %+v scenario %+v search %+v targets %d", c.Tool, c.Scenario, c.Search, len(c.Targets))
	}
	if c.Answer.MaxLoad == 0 {
		t.Errorf("no answer: %+v", c.Answer)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err = prep.Run(ctx, RunOptions{Runner: func(ctx context.Context, load float64) (*result.Result, error) { return nil, ctx.Err() }})
	if err == nil || c == nil || !c.Interrupted || !strings.Contains(strings.Join(c.Notes, " "), "interrupted") {
		t.Errorf("interrupted search: err %v, result %+v", err, c)
	}
}
