package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/cacheproof/cacheproof/capacity"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/sizing"
)

// capacityPredictor is what a maxmemory sweep adds: `cacheproof size`'s
// predicted hit rate for the scenario's policy at every size a step ran,
// beside the measured one. It follows the steps for the connections Redis
// held (the simulation prices them as run --predict does).
type capacityPredictor struct {
	clients     int
	redisServer string
	quiet       bool
	stderr      io.Writer
}

// step notes a step's measured connections (the most of any step: the
// prediction is for the sweep as a whole).
func (p *capacityPredictor) step(res *result.Result) {
	if res != nil {
		p.clients = max(p.clients, recordedClients(res))
	}
}

// predict simulates the scenario at the steps' sizes and along a curve
// over the searched range, and writes the prediction into c: the curve,
// and each step's predicted hit rate. A prediction that cannot be made is
// a note, never a failed search.
func (p *capacityPredictor) predict(ctx context.Context, sc *scenarios.Scenario, c *result.Capacity) {
	note := func(format string, a ...any) {
		c.Notes = append(c.Notes, "prediction: "+fmt.Sprintf(format, a...))
	}
	policy := sc.Target.Redis.MaxMemoryPolicy
	switch {
	case len(c.Steps) == 0:
		return
	case !slices.Contains(sizing.Simulated, policy):
		note("skipped: policy %q is not modelled", policy)
		return
	case len(sc.Faults) > 0:
		note("made without the scenario's faults: the simulation knows no restarts or outages")
	}
	at := []int64{int64(c.Search.From), int64(c.Search.To)}
	for _, st := range c.Steps {
		if !slices.Contains(at, int64(st.Load)) {
			at = append(at, int64(st.Load))
		}
	}
	slices.Sort(at)
	if !p.quiet {
		fmt.Fprintf(p.stderr, "predicting the hit rate of %s at %d sizes with %s (cacheproof size)\n", sc.Name, len(at), policy)
	}
	z, pc, err := simulatePolicy(ctx, sc, policy, at, p.redisServer, p.clients, 0)
	if err != nil {
		note("failed: %v", err)
		return
	}
	capacity.AttachPrediction(c, &result.CapacityPrediction{Policy: policy, WorkingSetBytes: z.WorkingSetBytes, Notes: z.Notes, Curve: pc.Curve})
}
