package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/sizing"
)

// predict is run --predict: after the run, the scenario's access stream is
// simulated as `cacheproof size` does, for the run's policy, and the
// result records where the measured hit rate lies on the predicted curve.
// A prediction that cannot be made is a note, never a failed run.
func (c *runState) predict(ctx context.Context, res *result.Result) {
	note := func(format string, a ...any) {
		res.Notes = append(res.Notes, "prediction: "+fmt.Sprintf(format, a...))
	}
	sc := c.sc
	policy := sc.Target.Redis.MaxMemoryPolicy
	mem := int64(sc.Target.Redis.MaxMemory)
	switch {
	case res.Interrupted:
		note("skipped: the run was interrupted")
		return
	case c.shards > 1:
		note("skipped: a shard covers part of the users; predict the merged run with 'cacheproof size'")
		return
	case mem <= 0:
		note("skipped: the scenario sets no maxmemory")
		return
	case !slices.Contains(sizing.Simulated, policy):
		// Every Redis policy is simulated (size's default list is only
		// what it compares when asked nothing): volatile-lfu, allkeys-random
		// and the rest are checked on the corpus like the others.
		note("skipped: policy %q is not modelled (%s)", policy, strings.Join(sizing.Simulated, ", "))
		return
	case len(sc.Faults) > 0:
		note("made without the scenario's faults: the simulation knows no restarts or outages")
	}
	if !c.f.quiet {
		fmt.Fprintf(c.stderr, "predicting the hit rate of %s at %s %s (cacheproof size)\n", sc.Name, report.MB(float64(mem)), policy)
	}
	// Redis's base holds the connections the run really had open (a run
	// that was not starved opens fewer than every pool's max_conns), with
	// the buffers Redis really held for them: a loaded host's stalls put
	// more of them to work at once than the model's quiet one.
	z, pc, err := simulatePolicy(ctx, sc, policy, []int64{mem}, c.f.redisServer, recordedClients(res), recordedClientsMemory(res))
	if err != nil {
		note("failed: %v", err)
		return
	}
	p := &result.Prediction{Policy: policy, MaxMemoryBytes: mem, Measured: res.Cache.HitRate, TargetHitRate: z.TargetHitRate,
		WorkingSetBytes: z.WorkingSetBytes, Notes: z.Notes,
		Curve: pc.Curve, NeededBytes: pc.NeededBytes, Predicted: pc.AtMaxMemory}
	p.DiffPoints = 100 * (p.Measured - p.Predicted)
	if res.Cache.LookupErrors > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("the measured hit rate counts %d lookup errors as misses (answered hit rate %.2f%%); the simulation has none",
			res.Cache.LookupErrors, 100*res.Cache.AnsweredHitRate))
	}
	res.Prediction = p
	if !c.f.quiet {
		fmt.Fprintln(c.stderr, report.PredictionText(p))
	}
}

// simulatePolicy is `cacheproof size`'s simulation of sc for one policy
// at the sizes at, as run --predict and capacity's maxmemory sweep both
// make it: a 16-point curve, no TTL what-ifs, the calibration cached where
// size keeps it, Redis's base holding conns connections. pc is the
// policy's row (zero when the report has none).
func simulatePolicy(ctx context.Context, sc *scenarios.Scenario, policy string, at []int64, redisServer string, conns int, clientsMem float64) (z *result.Sizing, pc result.SizingPolicy, err error) {
	o := sizing.Options{Policies: []string{policy}, At: at, Points: 16, WhatIfs: map[string]time.Duration{},
		Cal: sizing.CalibrateOptions{RedisServer: redisServer, CacheDir: sizingCacheDir()}, Connections: conns, ClientsMemory: clientsMem}
	z, _, err = sizing.Compute(ctx, sc, o)
	if err != nil {
		return nil, pc, err
	}
	for _, p := range z.Policies {
		if p.Policy == policy {
			pc = p
		}
	}
	return z, pc, nil
}

// sizingCacheDir is where size keeps its calibrations between runs ("":
// the user has no cache folder, calibrate every time).
func sizingCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "cacheproof", "sizing")
}

// recordedClients is the mean of INFO connected_clients over the recorded
// phases' timeline rows, rounded (0 when the timeline has none).
func recordedClients(res *result.Result) int {
	m := recordedMean(res, func(r *result.TimelineRow) int64 { return r.ConnectedClients })
	return int(m + 0.5)
}

// recordedClientsMemory is the mean of INFO mem_clients_normal over the
// recorded phases' timeline rows (0 when none has it: a report from
// before the field).
func recordedClientsMemory(res *result.Result) float64 {
	return recordedMean(res, func(r *result.TimelineRow) int64 { return r.ClientsMemory })
}

// recordedMean is the mean of a positive gauge over the recorded phases'
// timeline rows (rows where it is 0 were not read: INFO failed).
func recordedMean(res *result.Result, of func(*result.TimelineRow) int64) float64 {
	rec := map[string]bool{}
	for _, p := range res.Phases {
		rec[p.Name] = p.Recorded
	}
	var sum, n int64
	for i := range res.Timeline {
		r := &res.Timeline[i]
		if v := of(r); rec[r.Phase] && v > 0 {
			sum += v
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}
