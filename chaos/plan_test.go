package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/result"
)

func TestPlanRepeatsAndSorts(t *testing.T) {
	fs := mustFaults(t,
		Spec{Kind: "client-kill", At: 5 * time.Second, Every: 10 * time.Second, Count: 3},
		Spec{Kind: "pause", At: 2 * time.Second, For: time.Second},
		Spec{Kind: "restart", At: 20 * time.Second, Every: 15 * time.Second}, // until the run ends
	)
	got := Plan(fs, 60*time.Second)
	var want = []struct {
		idx, n int
		at     time.Duration
	}{{1, 0, 2 * time.Second}, {0, 0, 5 * time.Second}, {0, 1, 15 * time.Second}, {2, 0, 20 * time.Second}, {0, 2, 25 * time.Second}, {2, 1, 35 * time.Second}, {2, 2, 50 * time.Second}}
	if len(got) != len(want) {
		t.Fatalf("got %d occurrences, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Fault.Index != w.idx || got[i].N != w.n || got[i].At != w.at {
			t.Errorf("occurrence %d = fault %d #%d at %s, want fault %d #%d at %s", i, got[i].Fault.Index, got[i].N, got[i].At, w.idx, w.n, w.at)
		}
	}
}

// New fills the kinds' defaults and types every parameter; Params and
// String read them back for the report and the logs.
func TestNewTypesParamsAndDefaults(t *testing.T) {
	fs := mustFaults(t,
		Spec{Kind: "memory-pressure", At: 10 * time.Second, For: 5 * time.Second, Params: map[string]any{"fraction": 0.5, "ballast": int64(8 << 20)}},
		Spec{Kind: "network", At: 20 * time.Second, For: 3 * time.Second, Params: map[string]any{"toxic": "latency", "latency": 20 * time.Millisecond, "jitter": 5 * time.Millisecond, "direction": "both"}},
		Spec{Kind: "restart", At: 30 * time.Second, Node: "replica-1", Every: 10 * time.Second, Count: 2, Params: map[string]any{"mode": "kill"}},
		Spec{Kind: "restart", At: 40 * time.Second},
		Spec{Kind: "failover", At: 50 * time.Second},
	)
	mp := fs[0].kind.(*memoryPressure)
	if mp.Fraction != 0.5 || mp.Ballast != 8<<20 || mp.MaxMemory != 0 || fs[0].Node != NodePrimary {
		t.Errorf("memory-pressure: %+v on %q", mp, fs[0].Node)
	}
	if n := fs[1].kind.(*network); n.Toxic != ToxicLatency || n.Latency != 20*time.Millisecond || n.Jitter != 5*time.Millisecond || n.Direction != "both" {
		t.Errorf("network: %+v", n)
	}
	if r := fs[2].kind.(*restart); r.Mode != "kill" || fs[2].Node != "replica-1" || fs[2].Every != 10*time.Second || fs[2].Count != 2 {
		t.Errorf("restart: %+v %+v", r, fs[2].Spec)
	}
	if r := fs[3].kind.(*restart); r.Mode != "graceful" || fs[3].Params["mode"] != "graceful" || fs[3].Node != NodePrimary {
		t.Errorf("restart defaults: mode %q, params %v, node %q", r.Mode, fs[3].Params, fs[3].Node)
	}
	if fs[4].Node != "" {
		t.Errorf("failover picks its own node; got node %q", fs[4].Node)
	}
	if !NeedsProxy(fs) || NeedsProxy(fs[:1]) || fs[1].ActsOnRedis() || !fs[0].ActsOnRedis() {
		t.Error("NeedsProxy / ActsOnRedis")
	}
	if !fs[4].TracksWrites() || fs[0].TracksWrites() {
		t.Error("TracksWrites")
	}
	if p := fs[1].ReportParams(); p["toxic"] != "latency" || p["latency_ms"] != 20.0 || p["jitter_ms"] != 5.0 || p["direction"] != "both" || p["for_s"] != 3.0 || p["index"] != 1 {
		t.Errorf("network params %v", p)
	}
	if p := fs[0].ReportParams(); p["fraction"] != 0.5 || p["ballast"] != int64(8<<20) || p["maxmemory"] != nil {
		t.Errorf("memory-pressure params %v", p)
	}
	if p := fs[2].ReportParams(); p["mode"] != "kill" || p["every_s"] != 10.0 || p["count"] != 2 {
		t.Errorf("restart params %v", p)
	}
	for i, want := range []string{"memory-pressure of primary at 10s for 5s", "network(latency) of primary at 20s for 3s", "restart(kill) of replica-1 at 30s", "restart(graceful) of primary at 40s", "failover at 50s"} {
		if got := fs[i].String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	// The specs handed in are not changed by the defaults.
	spec := Spec{Kind: "restart", Params: map[string]any{}}
	if _, err := New([]Spec{spec}, Site{}); err != nil || len(spec.Params) != 0 {
		t.Errorf("New changed its input: %v %v", spec.Params, err)
	}
}

func TestActivityRecoveryAndFirstError(t *testing.T) {
	a := NewActivity(10*time.Second, 100*time.Millisecond)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for i := 0; i < 100; i++ { // steady success every 10ms until 2s
		a.Record(ms(i*10), false)
	}
	// Fault at 2s..3s: errors from 2.05s to 3.42s, a lucky success at 3.2s.
	for at := 2050; at <= 3420; at += 10 {
		a.Record(ms(at), true)
	}
	a.Record(ms(3200), false)
	for at := 3430; at < 6000; at += 10 {
		a.Record(ms(at), false)
	}
	first, ok := a.FirstError(ms(2000), ms(6000))
	if !ok || first != ms(2050) {
		t.Errorf("first error %s %v, want 2.05s", first, ok)
	}
	rec, ok := a.RecoveredAt(ms(3000), ms(6000), time.Second)
	if !ok || rec != ms(3420) {
		t.Errorf("recovered at %s %v, want 3.42s (the last error)", rec, ok)
	}
	// No errors after the end: recovered at once.
	if rec, ok := a.RecoveredAt(ms(4000), ms(6000), time.Second); !ok || rec != ms(4000) {
		t.Errorf("recovered at %s %v, want 4s", rec, ok)
	}
	// Silence is not recovery.
	b := NewActivity(10*time.Second, 100*time.Millisecond)
	b.Record(ms(500), true)
	if _, ok := b.RecoveredAt(ms(600), ms(9000), time.Second); ok {
		t.Error("recovered with no operations at all")
	}
}

// A synthetic timeline with known answers for every figure.
func TestMeasurementKnownAnswers(t *testing.T) {
	row := func(tt float64, ops, hits, misses uint64, p99 float64, errs map[string]uint64, evicted uint64) result.TimelineRow {
		r := result.TimelineRow{T: tt, Ops: ops, Hits: hits, Misses: misses, HitRate: hitRate(hits, misses), P99: p99, ErrorsByKind: errs, EvictedKeys: evicted}
		for _, n := range errs {
			r.Errors += n
		}
		return r
	}
	rows := []result.TimelineRow{
		row(1, 100, 90, 10, 2, nil, 0),
		row(2, 100, 95, 5, 2, nil, 0),
		row(3, 100, 95, 5, 2, nil, 0), // fault starts at 3.0
		row(4, 50, 0, 0, 800, map[string]uint64{"connection_refused": 40, "timeout": 2}, 0),
		row(5, 80, 10, 60, 40, map[string]uint64{"timeout": 1}, 0), // fault ended at 4.2
		row(6, 100, 60, 40, 3, nil, 7),
		row(7, 100, 96, 4, 2, nil, 0),
		row(8, 100, 97, 3, 2, nil, 0),
	}
	a := NewActivity(10*time.Second, 100*time.Millisecond)
	for at := 0 * time.Millisecond; at < 8*time.Second; at += 10 * time.Millisecond {
		failed := at >= 3100*time.Millisecond && at < 4500*time.Millisecond
		a.Record(at, failed)
	}
	m := Measurement{Rows: rows, Activity: a, Dials: []uint64{10, 10, 10, 30, 60, 60, 60, 60}, RunEnd: 8 * time.Second,
		LatencyP99Ms: 5, HitRateTarget: 0.95}
	ev := Event{Fault: mustFault(t, Spec{Kind: "restart", At: 3 * time.Second, For: time.Second, Params: map[string]any{"mode": "kill"}}), Node: "primary-0",
		Start: 3 * time.Second, End: 4200 * time.Millisecond, Injected: true, Ended: true}
	fr := m.Report(ev)
	check := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || *got < want-0.011 || *got > want+0.011 {
			t.Errorf("%s = %s, want %.2f", name, fmtPtr(got), want)
		}
	}
	check("first_error_after_s", fr.FirstErrorAfterS, 0.1)
	check("recovered_after_s", fr.RecoveredAfterS, 0.29) // last error at 4.49s
	check("p99_recovered_after_s", fr.P99RecoveredAfterS, 0.8)
	check("rewarm_s", fr.RewarmS, 1.8) // row 7 (6..7s) is the first >= 95%
	if fr.ErrorsByKind["connection_refused"] != 40 || fr.ErrorsByKind["timeout"] != 3 {
		t.Errorf("errors by kind %v", fr.ErrorsByKind)
	}
	if fr.HitRateBefore < 0.933 || fr.HitRateBefore > 0.934 { // 280/300
		t.Errorf("hit_rate_before %v", fr.HitRateBefore)
	}
	if fr.HitRateMin < 0.142 || fr.HitRateMin > 0.143 { // 10/70
		t.Errorf("hit_rate_min %v", fr.HitRateMin)
	}
	if fr.Evictions != 7 || fr.Reconnects != 50 {
		t.Errorf("evictions %d reconnects %d", fr.Evictions, fr.Reconnects)
	}
	if fr.StartS != 3 || fr.EndS != 4.2 || fr.Node != "primary-0" || fr.Params["mode"] != "kill" {
		t.Errorf("identity: %+v", fr)
	}
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "nil"
	}
	return time.Duration(*p * float64(time.Second)).String()
}

// The driver calls Record once per cache operation and Observe once per
// persistent-tier write; both must stay cheap on the hot path.
func BenchmarkActivityRecord(b *testing.B) {
	a := NewActivity(time.Minute, DefaultResolution)
	b.RunParallel(func(pb *testing.PB) {
		var at time.Duration
		i := 0
		for pb.Next() {
			at = (at + 37*time.Microsecond) % time.Minute
			i++
			a.Record(at, i%100 == 0)
		}
	})
}

func BenchmarkWriteTrackerObserveIdle(b *testing.B) {
	tr := NewWriteTracker()
	for i := 0; i < b.N; i++ {
		if tr.Active() {
			tr.Observe(Write{Key: "k"})
		}
	}
}

func BenchmarkWriteTrackerObserveOpen(b *testing.B) {
	tr := NewWriteTracker()
	tr.openWindow(time.Now())
	now := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Observe(Write{Key: "guild:locale:1", Version: uint32(i), Sent: now, Done: now})
	}
}

// Reads are observed on every persistent-tier lookup: with no window open
// they must cost one atomic load and record nothing.
func BenchmarkWriteTrackerObserveReadIdle(b *testing.B) {
	tr := NewWriteTracker()
	now := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr.ObserveRead("guild:locale:1", 7, true, now)
		}
	})
}

// Windows open and close while the driver observes from many goroutines;
// each window keeps exactly what arrived while it was open.
func TestWriteTrackerConcurrentWindows(t *testing.T) {
	tr := NewWriteTracker()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			now := time.Now()
			tr.Observe(Write{Key: "k", Sent: now, Done: now})
			tr.ObserveRead("k", 1, true, now)
			tr.ObserveDelete("k", now, now)
		}
	}()
	for i := 0; i < 50; i++ {
		w := tr.openWindow(time.Now())
		time.Sleep(100 * time.Microsecond)
		obs := tr.closeWindow(w)
		if len(obs.Writes) != len(obs.Reads) && len(obs.Writes) != len(obs.Reads)+1 && len(obs.Writes)+1 != len(obs.Reads) {
			t.Errorf("window %d: %d writes, %d reads", i, len(obs.Writes), len(obs.Reads))
		}
	}
	close(stop)
	<-done
	if tr.Active() {
		t.Error("active with every window closed")
	}
}

// Planned is count: when given, also for slots past the run's end (which can
// never run), and what fits in the run for count 0.
func TestScheduleCountsPlanned(t *testing.T) {
	fs := mustFaults(t,
		Spec{Kind: "client-kill", At: time.Minute, Every: time.Minute, Count: 5},
		Spec{Kind: "restart", At: 20 * time.Second, Every: 15 * time.Second},
		Spec{Kind: "pause", At: 2 * time.Second, For: time.Second},
	)
	play, beyond := schedule(fs, 3*time.Minute+30*time.Second)
	planned := map[int]int{}
	count := map[int]int{}
	for _, o := range play {
		planned[o.Fault.Index] = o.Planned
		count[o.Fault.Index]++
	}
	if count[0] != 3 || planned[0] != 5 || count[1] != 13 || planned[1] != 13 || count[2] != 1 || planned[2] != 1 {
		t.Errorf("played %v with planned %v; want 3 of 5, 13 of 13, 1 of 1", count, planned)
	}
	if len(beyond) != 2 || beyond[0].N != 3 || beyond[1].N != 4 || beyond[1].At != 5*time.Minute || beyond[0].Planned != 5 {
		t.Errorf("beyond the run: %+v", beyond)
	}
}

// Injected, Occurrence and Planned reach the report; an occurrence that
// never started has no figures.
func TestReportInjectionFields(t *testing.T) {
	rows := []result.TimelineRow{{T: 1, Ops: 100, Hits: 90, Misses: 10}, {T: 2, Ops: 100, Hits: 90, Misses: 10}}
	m := Measurement{Rows: rows, RunEnd: 2 * time.Second}
	f := mustFault(t, Spec{Kind: "client-kill", Node: NodePrimary, Every: time.Second, Count: 3})
	ok := m.Report(Event{Fault: f, N: 1, Planned: 3, Node: "primary-0", Start: time.Second, End: time.Second, Injected: true, Ended: true})
	if !ok.Injected || ok.Occurrence != 2 || ok.Planned != 3 || ok.RecoveredAfterS == nil {
		t.Errorf("injected occurrence: %+v", ok)
	}
	failed := m.Report(Event{Fault: f, Planned: 3, Start: time.Second, End: time.Second, Ended: true, Notes: []string{"injecting failed: boom"}})
	if failed.Injected || failed.Occurrence != 1 || !strings.Contains(strings.Join(failed.Notes, ";"), "did not take effect") {
		t.Errorf("failed occurrence: %+v", failed)
	}
	never := m.Report(Event{Fault: f, N: 2, Planned: 3, Start: 3 * time.Second, End: 3 * time.Second, NotStarted: true, Notes: []string{"never started"}})
	if never.Injected || never.Occurrence != 3 || never.Planned != 3 || never.StartS != 3 || never.RecoveredAfterS != nil || never.HitRateBefore != 0 {
		t.Errorf("unstarted occurrence: %+v", never)
	}
	if _, has := ok.Params["occurrence"]; has {
		t.Error("params repeat the occurrence the report now carries")
	}
}

// A fault no timeline row covers (it began after the last sample) is
// measured as having no reconnects instead of indexing row -1.
func TestReportFaultAfterTheLastRow(t *testing.T) {
	m := Measurement{Rows: []result.TimelineRow{{T: 1, Ops: 10}}, Dials: []uint64{4}, RunEnd: time.Second}
	fr := m.Report(Event{Fault: mustFault(t, Spec{Kind: "client-kill"}), Start: 5 * time.Second, End: 5 * time.Second, Injected: true, Ended: true})
	if fr.Reconnects != 0 {
		t.Errorf("reconnects %d", fr.Reconnects)
	}
}

// Sharded runs: shard 0 (or an unsharded run) runs every fault; another
// shard runs only the network faults of its own proxy and leaves the rest,
// which act on the one Redis all shards share, to shard 0.
func TestForShard(t *testing.T) {
	fs := mustFaults(t,
		Spec{Kind: "restart", At: time.Minute, Node: NodePrimary},
		Spec{Kind: "network", At: 2 * time.Minute, For: time.Second, Params: map[string]any{"toxic": "latency", "latency": time.Millisecond}},
		Spec{Kind: "readonly", At: 3 * time.Minute, For: time.Second, Node: NodePrimary},
	)
	for _, c := range []struct{ shard, shards int }{{0, 0}, {0, 1}, {0, 4}} {
		if run, left := ForShard(fs, c.shard, c.shards); len(run) != 3 || left != nil {
			t.Errorf("shard %d/%d runs %d and leaves %d, want all 3 and none", c.shard, c.shards, len(run), len(left))
		}
	}
	run, left := ForShard(fs, 3, 4)
	if len(run) != 1 || run[0].Index != 1 || len(left) != 2 || left[0].Index != 0 || left[1].Index != 2 {
		t.Fatalf("shard 3/4 runs %+v and leaves %+v", run, left)
	}
	note := ShardNote(left, 3, 4)
	if !strings.Contains(note, "shard 3/4") || !strings.Contains(note, "shard 0 runs and reports restart(graceful) of primary at 1m0s, readonly of primary at 3m0s for 1s") {
		t.Errorf("note %q", note)
	}
}

// An outage whose lookups all failed is a hit rate of 0 in the fault's dip,
// not a second skipped for having too few lookups (failed lookups count as
// not hit, as the hit_rate target judges them).
func TestMeasurementOutageLookupErrorsAreTheDip(t *testing.T) {
	row := func(tt float64, hits, misses, lookupErrs uint64) result.TimelineRow {
		return result.TimelineRow{T: tt, Ops: hits + misses + lookupErrs, Hits: hits, Misses: misses, LookupErrors: lookupErrs,
			HitRate: hitRate(hits, misses+lookupErrs), P99: 1}
	}
	rows := []result.TimelineRow{
		row(1, 96, 4, 0),
		row(2, 96, 4, 0), // fault at 2.0
		row(3, 0, 0, 100),
		row(4, 90, 10, 0),
		row(5, 97, 3, 0),
	}
	m := Measurement{Rows: rows, RunEnd: 5 * time.Second, HitRateTarget: 0.95}
	fr := m.Report(Event{Fault: mustFault(t, Spec{Kind: "restart", At: 2 * time.Second, Params: map[string]any{"mode": "kill"}}), Node: "primary-0",
		Start: 2 * time.Second, End: 2500 * time.Millisecond, Injected: true, Ended: true})
	if fr.HitRateMin != 0 {
		t.Errorf("hit_rate_min = %v, want 0: every lookup in the outage failed", fr.HitRateMin)
	}
	if fr.HitRateBefore < 0.959 || fr.HitRateBefore > 0.961 {
		t.Errorf("hit_rate_before = %v, want 0.96", fr.HitRateBefore)
	}
}

// A fault injected at a sampling tick moves the server counters INFO reads a
// few milliseconds after that tick: its evictions land in the row labelled
// with the tick, whose T precedes the fault's recorded start. They are the
// fault's all the same (the row's server counters cover up to its InfoT).
func TestMeasurementEvictionsReadJustAfterTheTick(t *testing.T) {
	rows := []result.TimelineRow{
		{T: 1, InfoT: 1.003, Ops: 100, Hits: 100, HitRate: 1, P99: 1},
		{T: 2, InfoT: 2.004, Ops: 100, Hits: 100, HitRate: 1, P99: 1, EvictedKeys: 4000}, // fault injected at 2.001
		{T: 3, InfoT: 3.002, Ops: 100, Hits: 90, Misses: 10, HitRate: 0.9, P99: 1, EvictedKeys: 10},
		{T: 4, InfoT: 4.003, Ops: 100, Hits: 100, HitRate: 1, P99: 1},
		{T: 5, InfoT: 5.002, Ops: 100, Hits: 100, HitRate: 1, P99: 1},
	}
	m := Measurement{Rows: rows, RunEnd: 5 * time.Second}
	fr := m.Report(Event{Fault: mustFault(t, Spec{Kind: "restart", At: 2 * time.Second, Params: map[string]any{"mode": "kill"}}), Node: "primary-0",
		Start: 2001 * time.Millisecond, End: 2500 * time.Millisecond, Injected: true, Ended: true})
	if fr.Evictions != 4010 {
		t.Errorf("evictions = %d, want 4010 (the row read 3 ms after the fault's start, and the next)", fr.Evictions)
	}
}

// Two restarts in one run: each is measured up to the next one's start, so
// the first one's lowest hit rate is its own dip, not the second's deeper
// one (before, both reported the second's minimum); the time to win back
// 90 % of the dip and the hits the dip cost are each fault's own.
func TestMeasurementStopsAtTheNextFault(t *testing.T) {
	row := func(tt float64, hits, misses uint64) result.TimelineRow {
		return result.TimelineRow{T: tt, Ops: hits + misses, Hits: hits, Misses: misses, HitRate: hitRate(hits, misses), P99: 1}
	}
	// 90 % before each fault; fault 1 at 3 s dips to 50 % and climbs to
	// 86 % by 8 s (never back to 90 %); fault 2 at 8 s dips to 30 %.
	rates := []uint64{90, 90, 90, 50, 60, 75, 82, 86, 30, 60, 88, 90, 90}
	var rows []result.TimelineRow
	for i, h := range rates {
		rows = append(rows, row(float64(i+1), h, 100-h))
	}
	m := Measurement{Rows: rows, RunEnd: 13 * time.Second}
	mk := func(at time.Duration) Event {
		return Event{Fault: mustFault(t, Spec{Kind: "restart", At: at, Params: map[string]any{"mode": "kill"}}), Node: "primary-0",
			Start: at, End: at + 100*time.Millisecond, Injected: true, Ended: true}
	}
	frs := m.Reports([]Event{mk(3 * time.Second), mk(8 * time.Second)})
	first, second := frs[0], frs[1]
	if first.HitRateMin != 0.5 {
		t.Errorf("first restart's hit_rate_min = %v, want 0.5 (its own dip; 0.3 is the second's)", first.HitRateMin)
	}
	if second.HitRateMin != 0.3 {
		t.Errorf("second restart's hit_rate_min = %v, want 0.3", second.HitRateMin)
	}
	if first.RewarmS != nil {
		t.Errorf("first restart re-warmed at %v; it never got back to 90 %% before the second", *first.RewarmS)
	}
	// 90 % of the dip: 0.5 + 0.9 x 0.4 = 0.86, reached in the row 7..8 s.
	if first.Rewarm90S == nil || *first.Rewarm90S < 3.8 || *first.Rewarm90S > 3.95 {
		t.Errorf("first rewarm_90_s = %s, want 3.9 (the row from 7 s, fault ended at 3.1 s)", fmtPtr(first.Rewarm90S))
	}
	// Hits lost: (90-50)+(90-60)+(90-75)+(90-82)+(90-86) = 97 in rows 3..8.
	if first.HitsLost != 97 {
		t.Errorf("first hits_lost = %d, want 97", first.HitsLost)
	}
	// Second: 0.3 + 0.9 x (before - 0.3), before = the 10 s before it.
	if second.Rewarm90S == nil || second.HitsLost == 0 {
		t.Errorf("second: rewarm_90_s %s hits_lost %d", fmtPtr(second.Rewarm90S), second.HitsLost)
	}
	if len(first.Notes) == 0 {
		t.Error("first restart carries no note that its window ended at the next fault")
	}
}

// A fault during which no command failed recovers "at once"; what it did
// is its worst latency: the highest interval p99 and max from its start
// until one interval after it ended, not the rows before or long after.
func TestMeasurementWorstLatency(t *testing.T) {
	p99s := []float64{1, 1, 2, 150, 160, 40, 1, 1, 90}
	var rows []result.TimelineRow
	for i, p := range p99s {
		rows = append(rows, result.TimelineRow{T: float64(i + 1), Ops: 100, Hits: 90, Misses: 10, HitRate: 0.9, P99: p, Max: 2 * p})
	}
	m := Measurement{Rows: rows, RunEnd: 9 * time.Second, LatencyP99Ms: 100}
	f := mustFault(t, Spec{Kind: "client-kill"})
	fr := m.Report(Event{Fault: f, Node: "primary-0", Start: 3 * time.Second, End: 5 * time.Second, Injected: true, Ended: true})
	if fr.FirstErrorAfterS != nil || fr.RecoveredAfterS == nil || *fr.RecoveredAfterS != 0 {
		t.Fatalf("no errors: first error %s, recovered %s; want none and +0s", fmtPtr(fr.FirstErrorAfterS), fmtPtr(fr.RecoveredAfterS))
	}
	// Rows 3..4, 4..5 (the fault) and 5..6 (one interval after): 160 and
	// 320; row 8..9's 90 is long after, row 2..3's 2 before.
	if fr.WorstP99Ms != 160 || fr.WorstMaxMs != 320 {
		t.Errorf("worst p99 %v max %v, want 160 and 320", fr.WorstP99Ms, fr.WorstMaxMs)
	}
}
