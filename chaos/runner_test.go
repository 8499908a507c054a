package chaos

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
)

// runFaults plays faults against d from now and waits until all are over.
func runFaults(t *testing.T, d topology.Deployment, net *Network, faults []Fault, total time.Duration) []Event {
	t.Helper()
	r := NewRunner(faults, Options{Deployment: d, Network: net, Total: total, Logf: t.Logf})
	start := time.Now()
	r.Start(start)
	time.Sleep(time.Until(start.Add(total)))
	r.Stop()
	return r.Events()
}

// Readonly demotes the primary (writes get READONLY, reads still work and
// the dataset survives) and promotes it back; memory pressure lowers
// maxmemory, writes ballast, and restores both; Active names the faults in
// effect.
func TestReadonlyAndMemoryPressureActions(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	c := client(t, nodeAddr(t, d, "primary-0"))
	if err := c.Set(ctx, "keep", "me", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r := NewRunner(mustFaults(t,
		Spec{Kind: "readonly", At: 0, For: 600 * time.Millisecond, Node: NodePrimary},
		Spec{Kind: "memory-pressure", At: 100 * time.Millisecond, For: 600 * time.Millisecond, Node: NodePrimary, Params: map[string]any{"fraction": 0.5, "ballast": int64(3 << 20)}},
	), Options{Deployment: d, Total: 2 * time.Second, Logf: t.Logf})
	start := time.Now()
	r.Start(start)
	time.Sleep(400 * time.Millisecond)
	err := c.Set(ctx, "k", "v", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Errorf("write during readonly: %v, want READONLY", err)
	}
	if v, err := c.Get(ctx, "keep").Result(); err != nil || v != "me" {
		t.Errorf("read during readonly: %q %v", v, err)
	}
	if a := r.Active(300*time.Millisecond, 400*time.Millisecond); a != "readonly,memory-pressure" {
		t.Errorf("Active = %q", a)
	}
	mm, _ := c.ConfigGet(ctx, "maxmemory").Result()
	if mm["maxmemory"] == "67108864" {
		t.Errorf("maxmemory not lowered: %v", mm)
	}
	time.Sleep(time.Until(start.Add(time.Second)))
	r.Stop()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Errorf("write after readonly: %v", err)
	}
	if v, _ := c.Get(ctx, "keep").Result(); v != "me" {
		t.Errorf("dataset lost by the demotion: keep=%q", v)
	}
	mm, _ = c.ConfigGet(ctx, "maxmemory").Result()
	if mm["maxmemory"] != "67108864" {
		t.Errorf("maxmemory not restored: %v", mm)
	}
	if n, _ := c.Keys(ctx, BallastPrefix+"*").Result(); len(n) != 0 {
		t.Errorf("ballast left behind: %d keys", len(n))
	}
	evs := r.Events()
	if len(evs) != 2 || !evs[0].Injected || !evs[1].Injected || !evs[0].Ended {
		t.Fatalf("events %+v", evs)
	}
	if evs[0].End-evs[0].Start < 600*time.Millisecond {
		t.Errorf("readonly lasted %s", evs[0].End-evs[0].Start)
	}
	if r.Active(1500*time.Millisecond, 2*time.Second) != "" {
		t.Error("faults still active after they ended")
	}
	joined := strings.Join(evs[1].Notes, "; ")
	if !strings.Contains(joined, "maxmemory") {
		t.Errorf("memory-pressure notes: %q", joined)
	}
}

// A graceful restart stops the node (clients see refused connections) and
// starts it on the same address; client-kill breaks connections; a fault
// on a node that does not exist is a note, not a crash; and CLIENT PAUSE
// WRITE holds writes but not reads.
func TestRestartClientKillPauseAndFailingAction(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	c := client(t, nodeAddr(t, d, "primary-0"))
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	evs := runFaults(t, d, nil, mustFaults(t,
		Spec{Kind: "client-kill", At: 0, Node: NodePrimary},
		Spec{Kind: "restart", At: 100 * time.Millisecond, For: 300 * time.Millisecond, Node: NodePrimary, Params: map[string]any{"mode": "graceful"}},
		Spec{Kind: "restart", At: 100 * time.Millisecond, Node: "replica-7", Params: map[string]any{"mode": "kill"}},
	), time.Second)
	if len(evs) != 3 {
		t.Fatalf("events %+v", evs)
	}
	for _, ev := range evs {
		switch ev.Fault.Index {
		case 0:
			if !ev.Injected || !strings.Contains(strings.Join(ev.Notes, ""), "closed") {
				t.Errorf("client-kill: %+v", ev)
			}
		case 1:
			if !ev.Injected || ev.End-ev.Start < 300*time.Millisecond {
				t.Errorf("restart: %+v", ev)
			}
		case 2:
			if ev.Injected || !strings.Contains(strings.Join(ev.Notes, ""), "unknown node") {
				t.Errorf("restart of a missing node: %+v", ev)
			}
		}
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("node not back after the restart: %v", err)
	}

	// CLIENT PAUSE WRITE: reads go on, writes wait.
	r := NewRunner(mustFaults(t, Spec{Kind: "pause", At: 0, For: 700 * time.Millisecond, Node: NodePrimary, Params: map[string]any{"mode": "client-pause-write"}}), Options{Deployment: d, Total: time.Second})
	start := time.Now()
	r.Start(start)
	time.Sleep(150 * time.Millisecond)
	if err := c.Get(ctx, "x").Err(); err != nil && !errors.Is(err, redis.Nil) {
		t.Errorf("read during CLIENT PAUSE WRITE: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	c2 := redis.NewClient(&redis.Options{Addr: nodeAddr(t, d, "primary-0"), MaxRetries: -1, ContextTimeoutEnabled: true})
	err := c2.Set(wctx, "x", "1", 0).Err()
	cancel()
	_ = c2.Close()
	if err == nil {
		t.Error("write went through during CLIENT PAUSE WRITE")
	}
	r.Stop()
	if err := c.Set(ctx, "x", "1", 0).Err(); err != nil {
		t.Errorf("write after the pause: %v", err)
	}
}

// The in-process proxy: a latency toxic delays every reply by about its
// latency, down refuses connections, and undoing either restores the link
// on the same address.
func TestNetworkToxics(t *testing.T) {
	n, up, c := networkT(t, 2*time.Second)
	ctx := ctxT(t)
	addr := n.Addr(up)
	if addr == up || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("proxy address %q", addr)
	}
	ping := func() time.Duration {
		s := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("ping through proxy: %v", err)
		}
		return time.Since(s)
	}
	ping()
	undo, err := n.Apply(up, Toxic{Type: ToxicLatency, Latency: 80 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d := ping(); d < 75*time.Millisecond {
		t.Errorf("ping with an 80ms latency toxic took %s", d)
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if d := ping(); d > 60*time.Millisecond {
		t.Errorf("ping after removing the toxic took %s", d)
	}

	undo, err = n.Apply(up, Toxic{Type: ToxicDown})
	if err != nil {
		t.Fatal(err)
	}
	if dialable(addr) {
		t.Error("proxy still accepts connections while down")
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if !dialable(addr) {
		t.Error("proxy not back on its address")
	}
	ping()

	if _, err := n.Apply(up, Toxic{Type: ToxicBandwidth}); err == nil {
		t.Error("bandwidth toxic without a rate accepted")
	}
	if _, err := n.Apply("127.0.0.1:1", Toxic{Type: ToxicLatency}); err == nil {
		t.Error("toxic on an address that is not proxied accepted")
	}
	undo, err = n.Apply(up, Toxic{Type: ToxicResetPeer, Direction: "both"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Error("ping went through a reset_peer toxic")
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
}

// Repetitions: every/count play the fault count times, each its own event.
func TestRepeatedFault(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	evs := runFaults(t, d, nil, mustFaults(t, Spec{Kind: "client-kill", At: 0, Every: 200 * time.Millisecond, Count: 3, Node: NodePrimary}), 800*time.Millisecond)
	if len(evs) != 3 {
		t.Fatalf("want 3 occurrences, got %d", len(evs))
	}
	for i, ev := range evs {
		if ev.N != i || !ev.Injected {
			t.Errorf("occurrence %d: %+v", i, ev)
		}
		if want := time.Duration(i) * 200 * time.Millisecond; ev.Start < want || ev.Start > want+400*time.Millisecond {
			t.Errorf("occurrence %d started at %s, want about %s", i, ev.Start, want)
		}
	}
}

// CLUSTER FAILOVER on a replica of the slot-0 primary: the runner returns
// once the replica serves slot 0.
func TestClusterFailover(t *testing.T) {
	d := startT(t, topology.ShapeCluster)
	ctx := ctxT(t)
	old, err := d.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs := runFaults(t, d, nil, mustFaults(t, Spec{Kind: "failover", At: 0}), 100*time.Millisecond)
	if len(evs) != 1 || !evs[0].Injected || evs[0].Node != old.Name {
		t.Fatalf("events %+v", evs)
	}
	now, err := d.Primary(ctx)
	if err != nil || now.Name == old.Name {
		t.Errorf("slot 0 still served by %s (was %s): %v", now.Name, old.Name, err)
	}
	if !strings.Contains(strings.Join(evs[0].Notes, ";"), "CLUSTER FAILOVER on") {
		t.Errorf("notes %q", evs[0].Notes)
	}
}

// A run that stops early still reports every planned occurrence: those that
// ran (injected, or not when the action failed), those the stop came before,
// and those a count: places after the run's end, each with its 1-based
// occurrence and its entry's planned count, so "planned 5, ran 3" shows.
func TestRunnerReportsEveryPlannedOccurrence(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	c := client(t, nodeAddr(t, d, "primary-0"))
	faults := mustFaults(t,
		// 0: five client kills 500ms apart; the run stops after three.
		Spec{Kind: "client-kill", At: 0, Every: 500 * time.Millisecond, Count: 5, Node: NodePrimary},
		// 1: an action that fails: it ran, but was not injected.
		Spec{Kind: "restart", At: 100 * time.Millisecond, Node: "replica-7", Params: map[string]any{"mode": "kill"}},
		// 2: three readonly slots 10s apart in a 12s run: one fits, and
		// the stop comes before it while its write window is already open.
		Spec{Kind: "readonly", At: 4 * time.Second, For: time.Second, Every: 10 * time.Second, Count: 3, Node: NodePrimary},
	)
	r := NewRunner(faults, Options{Deployment: d, Total: 12 * time.Second, Tracker: NewWriteTracker(), Reader: clientReader{c}, Logf: t.Logf})
	if n := len(r.Plan()); n != 7 {
		t.Fatalf("plan has %d occurrences, want 7 (5 + 1 + 1 that fits)", n)
	}
	start := time.Now()
	r.Start(start)
	time.Sleep(time.Until(start.Add(1250 * time.Millisecond)))
	r.Stop()
	evs := r.Events()

	type key struct{ idx, n int }
	got := map[key]Event{}
	for _, ev := range evs {
		got[key{ev.Fault.Index, ev.N}] = ev
	}
	if len(evs) != 9 || len(got) != 9 {
		t.Fatalf("%d events (%d distinct), want 9: every planned occurrence", len(evs), len(got))
	}
	for n := 0; n < 5; n++ {
		ev := got[key{0, n}]
		ran := n < 3
		if ev.Planned != 5 || ev.NotStarted == ran || ev.Injected != ran {
			t.Errorf("client-kill #%d: planned %d, not started %v, injected %v; want 5, %v, %v", n, ev.Planned, ev.NotStarted, ev.Injected, !ran, ran)
		}
		if !ran && !strings.Contains(strings.Join(ev.Notes, ";"), "never started: the run stopped") {
			t.Errorf("client-kill #%d notes %q", n, ev.Notes)
		}
	}
	if ev := got[key{1, 0}]; ev.NotStarted || ev.Injected || ev.Planned != 1 {
		t.Errorf("failing restart: %+v", ev)
	}
	for n := 0; n < 3; n++ {
		ev := got[key{2, n}]
		if ev.Planned != 3 || !ev.NotStarted || ev.Injected || ev.Start != 4*time.Second+time.Duration(n)*10*time.Second {
			t.Errorf("readonly #%d: %+v", n, ev)
		}
	}
	if notes := strings.Join(got[key{2, 1}].Notes, ";"); !strings.Contains(notes, "after the run's end at 12s") {
		t.Errorf("readonly #1 notes %q", notes)
	}
	if r.o.Tracker.Active() {
		t.Error("the stopped readonly left its write window open")
	}

	m := Measurement{RunEnd: 1250 * time.Millisecond}
	injected, planned := 0, 0
	for _, fr := range m.Reports(evs) {
		if fr.Kind == "client-kill" {
			planned = fr.Planned
			if fr.Injected {
				injected++
			}
		}
		if fr.Kind == "readonly" && (fr.Injected || fr.Occurrence < 1 || fr.Occurrence > 3 || fr.RecoveredAfterS != nil) {
			t.Errorf("unstarted readonly report: %+v", fr)
		}
	}
	if injected != 3 || planned != 5 {
		t.Errorf("client-kill reports: %d injected of %d planned, want 3 of 5", injected, planned)
	}
}
