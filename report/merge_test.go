package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

func TestMergeShards(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1, Shard: "1/2", StartedAt: t0})
	b := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 2, Shard: "2/2", StartedAt: t0.Add(3 * time.Second)})
	m, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.MergedFrom != 2 || !m.StartedAt.Equal(t0) || m.DurationS != 63 {
		t.Errorf("merged_from %d started %v duration %v", m.MergedFrom, m.StartedAt, m.DurationS)
	}
	// Histograms merge exactly: the merged overall equals a histogram fed
	// with both shards' values.
	ha, _, _ := a.Histogram("overall")
	hb, _, _ := b.Histogram("overall")
	both := result.NewHistogram()
	both.Merge(ha)
	both.Merge(hb)
	if m.Latency.Overall != result.Summarize(both) || m.Latency.Overall.Count != a.Latency.Overall.Count+b.Latency.Overall.Count {
		t.Errorf("merged latency %+v, want %+v", m.Latency.Overall, result.Summarize(both))
	}
	hm, _, _ := m.Histogram("overall")
	if !hm.Equals(both) {
		t.Error("stored merged histogram differs from the exact merge")
	}
	if m.Users.Requests != a.Users.Requests+b.Users.Requests || m.Cache.Hits != a.Cache.Hits+b.Cache.Hits ||
		m.Pool.Timeouts != a.Pool.Timeouts+b.Pool.Timeouts || m.TotalErrors() != a.TotalErrors()+b.TotalErrors() ||
		m.Users.Active != a.Users.Active+b.Users.Active {
		t.Error("counters not summed")
	}
	// Each shard drew its slice from the same population of 1,000,000.
	if m.Users.Population != 1_000_000 {
		t.Errorf("population %d, want 1,000,000 (not summed)", m.Users.Population)
	}
	// ops/s is over the recorded seconds: the steady phases' span on the
	// merged clock (a's warm-up ends at 10 s, b's steady phase at 63 s).
	if rec := m.RecordedSeconds(); rec != 53 || m.Users.OpsPerSec != float64(m.Users.Requests)/53 {
		t.Errorf("recorded %v s, ops/s %v; want 53 s and %v", rec, m.Users.OpsPerSec, float64(m.Users.Requests)/53)
	}
	if m.Server.EvictedKeys != max(a.Server.EvictedKeys, b.Server.EvictedKeys) {
		t.Error("server counters come from one shared Redis and must not be summed")
	}
	if want := result.HitRate(m.Cache.Hits, m.Cache.Misses); m.Cache.HitRate != want {
		t.Errorf("hit rate %v, want %v", m.Cache.HitRate, want)
	}
	// Timelines: b started 3 s later, so the merged timeline spans 63 s and
	// second 10 holds a's row 10 and b's row 7.
	if len(m.Timeline) != 63 {
		t.Fatalf("timeline rows %d, want 63", len(m.Timeline))
	}
	row := m.Timeline[9]
	if row.T != 10 || row.Ops != a.Timeline[9].Ops+b.Timeline[6].Ops {
		t.Errorf("row t=%v ops=%d, want 10 and %d", row.T, row.Ops, a.Timeline[9].Ops+b.Timeline[6].Ops)
	}
	// Faults seen by both shards 3 s apart on the merged clock are separate
	// entries only when more than 2 s apart: here they are 3 s apart.
	if len(m.Faults) != 4 {
		t.Errorf("faults %d, want 4 (same kinds 3 s apart are distinct)", len(m.Faults))
	}
	if len(m.Targets) != len(a.Targets) || m.Verdict == "" {
		t.Errorf("targets not re-evaluated: %+v", m.Targets)
	}
}

func TestMergeCombinesSameFault(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 1, Shard: "1/2", StartedAt: t0})
	b := reporttest.Sample(reporttest.Options{Seconds: 60, Seed: 2, Shard: "2/2", StartedAt: t0.Add(time.Second)})
	b.Faults[0].RecoveredAfterS = result.Seconds(7)
	b.Faults[0].LostWrites = 2
	m, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Faults) != 2 {
		t.Fatalf("faults %d, want 2", len(m.Faults))
	}
	f := m.Faults[0]
	if *f.RecoveredAfterS != 7 || f.LostWrites != 2 || f.Errors() != a.Faults[0].Errors()+b.Faults[0].Errors() {
		t.Errorf("fault not combined: recovered %v lost %d", *f.RecoveredAfterS, f.LostWrites)
	}
}

func TestMergeRejects(t *testing.T) {
	a := reporttest.Sample(reporttest.Options{Seconds: 10, Shard: "1/2"})
	b := reporttest.Sample(reporttest.Options{Seconds: 10, Shard: "1/2"})
	if _, err := report.Merge(a, b); err == nil || !strings.Contains(err.Error(), "shard 1/2 appears twice") {
		t.Errorf("duplicate shard: %v", err)
	}
	// One unsharded run given twice would double its load.
	whole := reporttest.Sample(reporttest.Options{Seconds: 10})
	if _, err := report.Merge(whole, reporttest.Sample(reporttest.Options{Seconds: 10})); err == nil ||
		!strings.Contains(err.Error(), "reports 1 and 2 are the same run (started 2026-03-14T09:30:00Z)") {
		t.Errorf("the same run twice: %v", err)
	}
	// Shards of one load draw from one population.
	p := reporttest.Sample(reporttest.Options{Seconds: 10, Shard: "2/2"})
	p.Users.Population = 500_000
	if _, err := report.Merge(a, p); err == nil || !strings.Contains(err.Error(), "population of 500,000, report 1 from 1,000,000") {
		t.Errorf("different populations: %v", err)
	}
	c := reporttest.Sample(reporttest.Options{Seconds: 10, Shard: "2/2"})
	c.Scenario.Name = "other"
	if _, err := report.Merge(a, c); err == nil || !strings.Contains(err.Error(), "only shards of one load") {
		t.Errorf("different scenarios: %v", err)
	}
	c.Scenario.Name = a.Scenario.Name
	c.HDR["overall"] = "garbage"
	if _, err := report.Merge(a, c); err == nil || !strings.Contains(err.Error(), `hdr "overall"`) {
		t.Errorf("bad histogram: %v", err)
	}
	if _, err := report.Merge(); err == nil {
		t.Error("no reports must fail")
	}
}

// Failed lookups and abandoned commands are client-side counts of disjoint
// shards: they add up, and the merged hit rate counts the failed lookups.
func TestMergeSumsLookupErrorsAndAbandoned(t *testing.T) {
	a, b := twoShards()
	for i, r := range []*result.Result{a, b} {
		n := uint64(100 * (i + 1))
		r.Cache.LookupErrors = n
		c := r.Cache.ByTier["api"]
		c.LookupErrors = n / 2
		r.Cache.ByTier["api"] = c
		f := r.Cache.ByFamily["session"]
		f.LookupErrors = n / 4
		r.Cache.ByFamily["session"] = f
		r.Users.Abandoned = n + 1
		r.Timeline[5].LookupErrors, r.Timeline[5].Abandoned = n, n+2
		r.Phases[1].LookupErrors = n
		r.Finalize(r.TargetSpecs())
	}
	m, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cache.LookupErrors != 300 || m.Cache.ByTier["api"].LookupErrors != 150 || m.Cache.ByFamily["session"].LookupErrors != 75 {
		t.Errorf("lookup errors not summed: %d, tier %+v, family %+v", m.Cache.LookupErrors, m.Cache.ByTier["api"], m.Cache.ByFamily["session"])
	}
	if m.Users.Abandoned != 302 || m.Timeline[5].Abandoned != 304 || m.Timeline[5].LookupErrors != 300 || m.Phases[1].LookupErrors != 300 {
		t.Errorf("abandoned %d, timeline row %+v, phase %+v", m.Users.Abandoned, m.Timeline[5], m.Phases[1])
	}
	if want := result.LookupHitRate(m.Cache.Hits, m.Cache.Misses, 300); m.Cache.HitRate != want || m.Cache.AnsweredHitRate <= want {
		t.Errorf("merged hit rate %v (answered %v), want %v", m.Cache.HitRate, m.Cache.AnsweredHitRate, want)
	}
	row := m.Timeline[5]
	if want := result.LookupHitRate(row.Hits, row.Misses, 300); row.HitRate != want {
		t.Errorf("timeline hit rate %v, want %v", row.HitRate, want)
	}
}

// A whole bot command's latency (by_op.command, stored as the "command"
// histogram) survives a merge, merged exactly like the operations'.
func TestMergeKeepsCommandLatency(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 1, Shard: "0/2", StartedAt: t0})
	b := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 2, Shard: "1/2", StartedAt: t0})
	both := result.NewHistogram()
	for _, r := range []*result.Result{a, b} {
		h, ok, err := r.Histogram("command")
		if err != nil || !ok || h.TotalCount() == 0 {
			t.Fatalf("sample has no command histogram: %v %v", ok, err)
		}
		r.Latency.ByOp["command"] = result.Summarize(h) // as the harness writes it
		both.Merge(h)
	}
	m, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Latency.ByOp["command"], result.Summarize(both); got != want || got.Count == 0 {
		t.Errorf("merged by_op.command %+v, want %+v", got, want)
	}
	if tr := result.Evaluate(m, result.LoadTargets([]result.TargetSpec{{Name: "latency_p99.op.command", Expr: "< 1m"}}))[0]; !tr.Pass {
		t.Errorf("latency_p99.op.command on the merged report: %+v", tr)
	}
}

// Sharded, shard 0 runs a fault that acts on Redis; a fault every shard runs
// (a network fault on its own proxy) is injected in the merge when any shard
// injected it, and the merged recovery targets judge it.
func TestMergeFaultInjection(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 1, Shard: "0/2", StartedAt: t0})
	b := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 2, Shard: "1/2", StartedAt: t0})
	b.Faults = b.Faults[1:] // shard 1 leaves the restart to shard 0
	b.Faults[0].Injected = false
	m, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Faults) != 2 || !m.Faults[0].Injected || !m.Faults[1].Injected || m.Faults[1].Planned != 1 {
		t.Fatalf("merged faults: %+v", m.Faults)
	}
	if tr := result.Evaluate(m, result.LoadTargets([]result.TargetSpec{{Name: "recovery_time", Expr: "< 10s"}}))[0]; !tr.Pass {
		t.Errorf("recovery_time on the merged report: %+v", tr)
	}
	// Without shard 0 the restart is in no report: no data, not a pass.
	c := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 3, Shard: "1/2", StartedAt: t0})
	c.Faults = c.Faults[1:]
	c.Faults[0].Injected = false
	m, err = report.Merge(c)
	if err != nil {
		t.Fatal(err)
	}
	if tr := result.Evaluate(m, result.LoadTargets([]result.TargetSpec{{Name: "recovery_time", Expr: "< 10s"}}))[0]; tr.Pass || !strings.Contains(tr.Detail, "did not take effect") {
		t.Errorf("recovery_time without shard 0: %+v", tr)
	}
}

// Redis's own latency comes from the one shared server: the merged report
// keeps the view with the most calls.
func TestMergeKeepsServerLatency(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 1, Shard: "0/2", StartedAt: t0})
	b := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 2, Shard: "1/2", StartedAt: t0})
	a.Server.LatencyStats = map[string]result.ServerLatency{"get": {Calls: 900, P99: 0.05}}
	b.Server.LatencyStats = map[string]result.ServerLatency{"get": {Calls: 1000, P99: 0.04}, "set": {Calls: 10, P99: 0.02}}
	m, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Server.LatencyStats["get"].Calls != 1000 || m.Server.LatencyStats["set"].Calls != 10 {
		t.Errorf("latency stats %+v", m.Server.LatencyStats)
	}
}

// Shards' producers add up: each shard wrote its share of the keys (or of
// the rate), at the same time, so writes and rates sum, as do the users'
// requests.
func TestMergeSumsProducers(t *testing.T) {
	a, b := twoShards()
	for i, r := range []*result.Result{a, b} {
		n := uint64(1000 * (i + 1))
		r.Users.UserRequests = r.Users.Requests - n
		r.Users.Producers = map[string]result.ProducerReport{"loc": {Schedule: "every 4s ± 1s", Write: "set", Writes: n, Errors: 1, Late: 2, Dropped: 3, WritesPerSec: float64(n) / 20}}
		r.Finalize(r.TargetSpecs())
	}
	m, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Users.Producers["loc"]
	if p.Writes != 3000 || p.Errors != 2 || p.Late != 4 || p.Dropped != 6 || p.WritesPerSec != 150 || p.Schedule != "every 4s ± 1s" || p.Write != "set" {
		t.Errorf("merged producer %+v", p)
	}
	if want := a.Users.UserRequests + b.Users.UserRequests; m.Users.UserRequests != want {
		t.Errorf("merged users' requests %d, want %d", m.Users.UserRequests, want)
	}
}

// twoShards are the reports of two shards of one run, started together.
func twoShards() (a, b *result.Result) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a = reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 1, Shard: "0/2", StartedAt: t0})
	b = reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 2, Shard: "1/2", StartedAt: t0})
	return a, b
}

// The merged report keeps each shard's client section, and a shard its
// own machine limited is named in the merged bottleneck and notes; the
// shards' CPU adds up and their host timer probes are pooled.
func TestMergeKeepsEachShardsClient(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 1, Shard: "0/2", StartedAt: t0, HostLateFraction: 0.01})
	b := reporttest.Sample(reporttest.Options{Seconds: 20, Seed: 2, Shard: "1/2", StartedAt: t0, HostLateFraction: 0.03})
	a.Client.CPUSeconds, b.Client.CPUSeconds = 10, 30
	a.Client.GOMAXPROCS, b.Client.GOMAXPROCS = 2, 2
	b.Users.Late = b.Users.Commands / 4
	b.Client.Bottleneck = "25% of commands started late with the tool's CPU saturated"
	m, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Client
	if len(c.Shards) != 2 || c.Shards[0].Shard != "0/2" || c.Shards[1].Shard != "1/2" {
		t.Fatalf("client.shards %+v, want both shards in order", c.Shards)
	}
	s1 := c.Shards[1]
	if s1.CPUSeconds != 30 || s1.Late != b.Users.Late || s1.LateFraction != float64(b.Users.Late)/float64(b.Users.Commands) ||
		s1.HostTimer == nil || s1.HostTimer.Late != b.Client.HostTimer.Late || s1.Bottleneck != b.Client.Bottleneck {
		t.Errorf("shard 1's client: %+v", s1)
	}
	if c.CPUSeconds != 40 || c.CPUPerRequestUs != 40e6/float64(m.Users.Requests) {
		t.Errorf("merged CPU %v s, %v µs per request; want the shards' sum", c.CPUSeconds, c.CPUPerRequestUs)
	}
	ha, hb := a.Client.HostTimer, b.Client.HostTimer
	if h := c.HostTimer; h == nil || h.Wakes != ha.Wakes+hb.Wakes || h.Late != ha.Late+hb.Late ||
		h.LateFraction != float64(ha.Late+hb.Late)/float64(ha.Wakes+hb.Wakes) {
		t.Errorf("pooled host timer %+v from %+v and %+v", h, ha, hb)
	}
	if !strings.Contains(c.Bottleneck, "shard 1/2: 25% of commands") || strings.Contains(c.Bottleneck, "0/2") {
		t.Errorf("merged bottleneck %q, want shard 1/2 named alone", c.Bottleneck)
	}
	if notes := strings.Join(m.Notes, "\n"); !strings.Contains(notes, "bottleneck: shard 1/2") {
		t.Errorf("notes do not name the tool-limited shard:\n%s", notes)
	}
	var buf strings.Builder
	if err := report.WriteJSON(&buf, m); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateJSON([]byte(buf.String())); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := report.WriteText(&text, m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "shard 1/2: 25% of commands") || !strings.Contains(text.String(), "TOOL-LIMITED") {
		t.Errorf("the console summary does not name the tool-limited shard:\n%s", text.String())
	}
}
