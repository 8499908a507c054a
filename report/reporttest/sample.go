// Package reporttest builds realistic result.Results in code, so writers,
// compare, merge and the subcommands can be tested without running a load
// against Redis. The shapes follow a real run: a warm-up phase, a steady
// phase, a Redis restart that empties the cache and a memory squeeze that
// causes evictions.
package reporttest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cacheproof/cacheproof/result"
)

// Options shape a sample result. Zero values give a 120 s run of about
// 2,000 requests per second with two faults.
type Options struct {
	Seconds   int     // run length; default 120
	OpsPerSec int     // mean requests per second; default 2000
	Seed      uint64  // random seed; results are deterministic per seed
	NoFaults  bool    // leave out the restart and the memory squeeze
	Slowdown  float64 // multiplies every latency; default 1
	Shard     string  // "i/n" marks a shard result
	StartedAt time.Time
	// WindowHists records each second's latency histogram in the timeline
	// (latency_hist), as a real run does since schema 1.2, so latency
	// targets get a within-run confidence interval. Off by default: the
	// samples other tests were written against stay as they were.
	WindowHists bool
	// HostLateFraction, when above 0, records a host timer probe that saw
	// this share of its wake-ups late (client.host_timer).
	HostLateFraction float64
	// Targets replace the default targets (the seed's defaults plus
	// recovery_time < 10s) when not empty.
	Targets []result.TargetSpec
}

var (
	tiers    = []string{"api", "session", "persistent", "meta"}
	tierMix  = []float64{0.45, 0.25, 0.15, 0.15}
	ops      = []string{"get", "set", "get_or_fetch", "del"}
	opMix    = []float64{0.55, 0.15, 0.28, 0.02}
	families = map[string]string{"stratz_profile": "api", "stratz_matches": "api", "opendota_profile": "api",
		"steam_avatar": "api", "session": "session", "guild_locale": "persistent", "user_connected": "persistent",
		"meta_heroes": "meta", "meta_items": "meta", "meta_current_patch": "meta"}
)

// Sample returns a finalized Result evaluated against the seed's default
// targets plus recovery_time < 10s.
func Sample(o Options) *result.Result {
	if o.Seconds <= 0 {
		o.Seconds = 120
	}
	if o.OpsPerSec <= 0 {
		o.OpsPerSec = 2000
	}
	if o.Slowdown <= 0 {
		o.Slowdown = 1
	}
	if o.StartedAt.IsZero() {
		o.StartedAt = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	warm := float64(o.Seconds) / 6
	restartAt, restartEnd := float64(o.Seconds)/2, float64(o.Seconds)/2+1
	squeezeAt, squeezeEnd := float64(o.Seconds)*0.75, float64(o.Seconds)*0.85

	r := &result.Result{
		SchemaVersion: result.SchemaVersion,
		Tool:          result.ToolInfo{Name: "cacheproof", Version: "0.1.0-test", GoVersion: "go1.26"},
		Scenario: result.ScenarioInfo{
			Name: "restart-under-load", Description: "10k users; Redis killed mid-run; must recover within 10 s",
			File: "scenarios/restart-under-load.yaml", Seed: int64(o.Seed),
			Resolved: map[string]any{
				"name":     "restart-under-load",
				"target":   map[string]any{"backend": "process", "topology": "standalone", "password": "hunter2", "redis": map[string]any{"maxmemory": "256mb", "maxmemory_policy": "allkeys-lru"}},
				"pool":     map[string]any{"profile": "production", "min_idle": 10, "max_conns": 50},
				"workload": map[string]any{"population": 1000000, "active_users": 10000, "zipf": 1.1},
				"phases":   []any{map[string]any{"name": "warmup", "duration": "20s", "record": false}, map[string]any{"name": "steady", "duration": "100s"}},
				"faults":   []any{map[string]any{"at": "60s", "kind": "restart", "mode": "kill"}},
			},
		},
		StartedAt: o.StartedAt,
		DurationS: float64(o.Seconds),
		Shard:     o.Shard,
		HDR:       map[string]string{},
		Errors:    map[string]uint64{},
		Cache: result.CacheReport{CacheCounts: result.CacheCounts{MissesByCause: map[string]uint64{}}, ByTier: map[string]result.CacheCounts{},
			ByFamily: map[string]result.CacheCounts{}},
		Origin: map[string]result.OriginReport{},
		Users:  result.UsersReport{Population: 1_000_000, Active: 10_000},
		Pool: result.PoolReport{Config: map[string]any{"min_idle": 10, "max_conns": 50, "pool_timeout": "4s",
			"url": "redis://default:s3cret@127.0.0.1:6379/0"}},
		Server: result.ServerReport{MaxMemory: 256 << 20, MaxMemoryPolicy: "allkeys-lru", RedisVersion: "7.0.15"},
	}

	overall, service := result.NewHistogram(), result.NewHistogram()
	command := result.NewHistogram() // whole bot commands (about five operations each), as by_op.command
	byOp, byTier, byPhase, byOrigin := hists(ops), hists(tiers), hists([]string{"warmup", "steady"}), hists([]string{"stratz", "opendota", "steam"})
	phases := map[string]*result.PhaseReport{
		"warmup": {Name: "warmup", StartS: 0, EndS: warm, Recorded: false},
		"steady": {Name: "steady", StartS: warm, EndS: float64(o.Seconds), Recorded: true},
	}
	hitRate, mem := 0.3, int64(20<<20)
	interval := result.NewHistogram() // reused: one allocation, not one per second
	var evictedTotal, expiredTotal uint64
	for s := 1; s <= o.Seconds; s++ {
		t := float64(s)
		phase := "steady"
		if t <= warm {
			phase = "warmup"
		}
		row := result.TimelineRow{T: t, Phase: phase, ErrorsByKind: map[string]uint64{}, HitRateByTier: map[string]float64{},
			MissesByCause: map[string]uint64{}, MaxMemory: 256 << 20, Active: 10_000, PoolTotal: 50}
		n := uint64(float64(o.OpsPerSec) * (0.95 + 0.1*rng.Float64()))
		// Hit rate warms towards 97 %, collapses on restart, evictions dent it.
		target := 0.985
		var faults []string
		inRestart := t > restartAt && t <= restartEnd+1
		inSqueeze := t > squeezeAt && t <= squeezeEnd
		if !o.NoFaults && inRestart {
			faults = append(faults, "restart")
			hitRate = 0.02
		}
		if !o.NoFaults && inSqueeze {
			faults = append(faults, "memory_pressure")
			target = 0.88
		}
		hitRate += (target - hitRate) * 0.12
		latScale := o.Slowdown
		if !o.NoFaults && inRestart {
			latScale *= 40
			row.ErrorsByKind["connection"] = n / 3
			row.ErrorsByKind["timeout"] = n / 20
			row.PoolTimeouts = n / 50
			row.PoolTotal, row.PoolIdle = 0, 0
		} else {
			row.PoolIdle = uint64(8 + rng.IntN(10))
		}
		if !o.NoFaults && inSqueeze {
			row.MaxMemory = 64 << 20
			mem = min(mem, 63<<20)
			row.ErrorsByKind["oom"] = uint64(rng.IntN(4))
			row.EvictedKeys = uint64(800 + rng.IntN(400))
		}
		for _, v := range row.ErrorsByKind {
			row.Errors += v
		}
		row.Ops = n
		row.Hits = uint64(float64(n-row.Errors) * hitRate * 0.8) // 80 % of operations are lookups
		row.Misses = uint64(float64(n-row.Errors)*0.8) - row.Hits
		if s < o.Seconds/6 {
			row.MissesByCause[result.CauseCold] = row.Misses
		} else {
			row.MissesByCause[result.CauseExpired] = row.Misses / 3
			row.MissesByCause[result.CauseEvicted] = min(row.EvictedKeys/4, row.Misses-row.Misses/3)
			row.MissesByCause[result.CauseCold] = row.Misses - row.MissesByCause[result.CauseExpired] - row.MissesByCause[result.CauseEvicted]
		}
		row.HitRate = result.HitRate(row.Hits, row.Misses)
		for i, tier := range tiers {
			row.HitRateByTier[tier] = math.Min(1, row.HitRate*(0.9+0.04*float64(i)))
		}
		row.ExpiredKeys = uint64(rng.IntN(30))
		if !o.NoFaults && inRestart {
			mem = 2 << 20
		} else {
			mem = min(mem+int64(n)*700, row.MaxMemory*98/100)
		}
		row.UsedMemory = mem - int64(rng.IntN(1<<20))
		row.ConnectedClients = int64(row.PoolTotal) + 2
		row.PoolWaitMs = rng.Float64() * 2 * latScale
		if row.PoolTimeouts > 0 {
			row.Late = n / 10
		}

		interval.Reset()
		const samples = 200
		weight := int64(n / samples)
		for i := 0; i < samples; i++ {
			// Log-normal around 0.4 ms with a long tail.
			us := int64(math.Exp(rng.NormFloat64()*0.7+math.Log(400)) * latScale)
			if rng.Float64() < 0.01 {
				us *= int64(3 + rng.IntN(8))
			}
			us = max(1, min(us, result.HistogramMaxUS))
			_ = interval.RecordValues(us, weight)
			op, tier := pick(rng, ops, opMix), pick(rng, tiers, tierMix)
			_ = byOp[op].RecordValues(us, weight)
			_ = byTier[tier].RecordValues(us, weight)
			_ = byPhase[phase].RecordValues(us, weight)
			if phase == "steady" {
				_ = overall.RecordValues(us, weight)
				_ = service.RecordValues(max(1, us*7/10), weight)
				if i%5 == 0 {
					_ = command.RecordValues(min(us*4, result.HistogramMaxUS), weight)
				}
			}
			if i%40 == 0 {
				origin := []string{"stratz", "opendota", "steam"}[i/40%3]
				_ = byOrigin[origin].RecordValues(us*60+int64(rng.IntN(20000)), 1)
			}
		}
		if o.WindowHists {
			row.LatencyHist = result.NewWindowHist(interval)
		}
		sum := result.Summarize(interval)
		row.P50, row.P99, row.P999, row.Max = sum.P50, sum.P99, sum.P999, sum.Max
		row.Fault = join(faults)
		r.Timeline = append(r.Timeline, row)

		ph := phases[phase]
		ph.Requests += n
		ph.Errors += row.Errors
		ph.Hits += row.Hits
		ph.Misses += row.Misses
		if phase != "steady" {
			continue
		}
		r.Users.Requests += n
		r.Users.Commands += n / 5
		r.Users.Late += row.Late
		r.Cache.Hits += row.Hits
		r.Cache.Misses += row.Misses
		for k, v := range row.MissesByCause {
			r.Cache.MissesByCause[k] += v
		}
		for k, v := range row.ErrorsByKind {
			r.Errors[k] += v
		}
		r.Pool.Timeouts += row.PoolTimeouts
		r.Pool.WaitCount += n / 100
		r.Pool.WaitMs += row.PoolWaitMs
		evictedTotal += row.EvictedKeys
		expiredTotal += row.ExpiredKeys
		r.Server.UsedMemoryPeak = max(r.Server.UsedMemoryPeak, row.UsedMemory)
		for i, tier := range tiers {
			c := r.Cache.ByTier[tier]
			h := uint64(float64(row.Hits) * tierMix[i])
			m := uint64(float64(row.Misses) * tierMix[i])
			c.Hits += h
			c.Misses += m
			r.Cache.ByTier[tier] = c
		}
	}
	for fam, tier := range families {
		tc := r.Cache.ByTier[tier]
		r.Cache.ByFamily[fam] = result.CacheCounts{Hits: tc.Hits / 3, Misses: tc.Misses / 3,
			MissesByCause: map[string]uint64{result.CauseExpired: tc.Misses / 9, result.CauseCold: tc.Misses / 9, result.CauseEvicted: tc.Misses / 9}}
	}
	last := r.Timeline[len(r.Timeline)-1]
	r.Pool.TotalConns, r.Pool.IdleConns, r.Pool.Hits, r.Pool.Misses = last.PoolTotal, last.PoolIdle, r.Users.Requests-200, 200
	r.Server.EvictedKeys, r.Server.ExpiredKeys = evictedTotal, expiredTotal
	r.Server.UsedMemory, r.Server.ConnectedClients = last.UsedMemory, last.ConnectedClients
	r.Server.KeyspaceHits, r.Server.KeyspaceMisses = r.Cache.Hits+r.Cache.Hits/10, r.Cache.Misses
	r.Server.Keys = 180_000
	r.Integrity = result.IntegrityReport{Checked: r.Cache.Hits, WritesTracked: r.Cache.Misses + r.Users.Requests/7}

	must(r.SetHDR("overall", overall))
	must(r.SetHDR("service", service))
	must(r.SetHDR("command", command))
	for k, h := range byOp {
		must(r.SetHDR("op:"+k, h))
	}
	for k, h := range byTier {
		must(r.SetHDR("tier:"+k, h))
	}
	for k, h := range byPhase {
		must(r.SetHDR("phase:"+k, h))
	}
	for k, h := range byOrigin {
		must(r.SetHDR("origin:"+k, h))
		r.Origin[k] = result.OriginReport{Calls: uint64(h.TotalCount()), Errors: uint64(h.TotalCount() / 50)}
	}
	for _, name := range []string{"warmup", "steady"} {
		p := phases[name]
		r.Phases = append(r.Phases, *p)
	}
	if !o.NoFaults {
		r.Faults = []result.FaultReport{
			{Kind: "restart", Node: "redis-0", Params: map[string]any{"index": 0, "at_s": restartAt, "mode": "kill"}, StartS: restartAt, EndS: restartEnd,
				Injected: true, Occurrence: 1, Planned: 1,
				ErrorsByKind: map[string]uint64{}, FirstErrorAfterS: result.Seconds(0.004), RecoveredAfterS: result.Seconds(2.1),
				P99RecoveredAfterS: result.Seconds(4.6 * o.Slowdown), HitRateBefore: 0.962, HitRateMin: 0.02, RewarmS: result.Seconds(28), Rewarm90S: result.Seconds(17), HitsLost: 41250,
				Reconnects: 50, UnknownWrites: 3, AckedAfterStart: 1200, Notes: []string{"cache emptied: restart without persistence"}},
			{Kind: "memory_pressure", Node: "redis-0", Params: map[string]any{"index": 1, "at_s": squeezeAt, "maxmemory": "64mb", "ballast": "32mb"},
				StartS: squeezeAt, EndS: squeezeEnd, Injected: true, Occurrence: 1, Planned: 1,
				ErrorsByKind: map[string]uint64{}, FirstErrorAfterS: result.Seconds(1.5), RecoveredAfterS: result.Seconds(0),
				P99RecoveredAfterS: result.Seconds(0), HitRateBefore: 0.965, HitRateMin: 0.87, RewarmS: nil, Rewarm90S: result.Seconds(6), HitsLost: 1930, Evictions: evictedTotal},
		}
		for _, row := range r.Timeline {
			for i := range r.Faults {
				f := &r.Faults[i]
				if row.T > f.StartS && row.T <= f.EndS+1 {
					for k, v := range row.ErrorsByKind {
						f.ErrorsByKind[k] += v
					}
				}
			}
		}
		r.Faults[1].OOMErrors = r.Faults[1].ErrorsByKind["oom"]
	}
	if o.HostLateFraction > 0 {
		const wakes = 60_000
		late := uint64(o.HostLateFraction * wakes)
		r.Client.HostTimer = &result.HostTimer{Wakes: wakes, Late: late, LateFraction: float64(late) / wakes, MaxMs: 12,
			Over: []result.HostTimerBound{{OverUs: 1000, Wakes: late}}}
	}
	r.Notes = []string{"latency measured from intended start (coordinated-omission corrected)"}
	r.Finalize(result.LoadTargets(targetSpecs(o)))
	r.ExitCode = exitCode(r.Verdict)
	return r
}

// targetSpecs are the targets a sample is judged against.
func targetSpecs(o Options) []result.TargetSpec {
	if len(o.Targets) > 0 {
		return o.Targets
	}
	return append(result.DefaultTargets(), result.TargetSpec{Name: "recovery_time", Expr: "< 10s"})
}

// exitCode is the code `cacheproof run` ends with for a verdict: 1 for a
// failed target, 4 for an undecided one.
func exitCode(verdict string) int {
	switch verdict {
	case result.VerdictFail:
		return 1
	case result.VerdictInconclusive:
		return 4
	}
	return 0
}

// Repeated returns the report of a repeated run (run --repeat N) of one
// load: one Sample per slowdown (seeds o.Seed, o.Seed+1, ...; per-second
// latency histograms on), judged together by result.Aggregate, with run i's
// folder named "run-i". A run with a slowdown above 1.5 is given a noisy
// host (a high host timer late share), as a slow run on a shared machine
// has. The first run's slowdown is o.Slowdown's place: o.Slowdown is
// ignored.
func Repeated(o Options, slowdowns []float64) *result.Result {
	if len(slowdowns) == 0 {
		panic("reporttest.Repeated: no runs")
	}
	if o.Seconds <= 0 {
		o.Seconds = 120
	}
	if o.StartedAt.IsZero() {
		o.StartedAt = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	}
	runs := make([]*result.Result, len(slowdowns))
	dirs := make([]string, len(slowdowns))
	for i, sd := range slowdowns {
		ro := o
		ro.Seed, ro.Slowdown, ro.WindowHists = o.Seed+uint64(i), sd, true
		ro.StartedAt = o.StartedAt.Add(time.Duration(i*(o.Seconds+15)) * time.Second)
		ro.HostLateFraction = 0.002
		if sd > 1.5 {
			ro.HostLateFraction = 0.03
		}
		runs[i] = Sample(ro)
		dirs[i] = fmt.Sprintf("run-%d", i+1)
	}
	rep := result.RepeatReport{Mode: "fixed", MaxRuns: len(slowdowns), StopReason: "runs"}
	r := result.Aggregate(runs, result.LoadTargets(targetSpecs(o)), rep, dirs)
	r.ExitCode = exitCode(r.Verdict)
	return r
}

func hists(names []string) map[string]*hdrhistogram.Histogram {
	m := make(map[string]*hdrhistogram.Histogram, len(names))
	for _, n := range names {
		m[n] = result.NewHistogram()
	}
	return m
}

func pick(rng *rand.Rand, names []string, mix []float64) string {
	x := rng.Float64()
	for i, p := range mix {
		if x < p {
			return names[i]
		}
		x -= p
	}
	return names[len(names)-1]
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// SetTimelineHitRate sets every timeline row's lookups to the hit rate
// rate (hits rounded, the rest misses, no failed lookups), keeping each
// row's number of lookups: a test that changes a sample's hit rate changes
// it second by second too, where compare tests single runs.
func SetTimelineHitRate(r *result.Result, rate float64) {
	for i := range r.Timeline {
		row := &r.Timeline[i]
		n := row.Hits + row.Misses + row.LookupErrors
		row.Hits = uint64(math.Round(rate * float64(n)))
		row.Misses, row.LookupErrors = n-row.Hits, 0
		row.HitRate = rate
	}
}
