package chaos

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// startLinked starts a process deployment with node links (partitions).
func startLinked(t *testing.T, shape topology.Shape) topology.Deployment {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: shape, Dir: dir, NodeLinks: true})
	if err != nil {
		t.Fatalf("start %s with node links: %v", shape, err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
		out, _ := exec.Command("pgrep", "-a", "-f", "redis-server").Output()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, dir) {
				t.Errorf("redis-server left behind: %s", l)
			}
		}
	})
	return d
}

// The sentinel split brain, step by step and with known answers: the
// primary is cut from its replica and the sentinels while clients still
// reach it; the sentinels promote the replica; the old primary acknowledges
// writes (lost when it resyncs after the heal) while the new one
// acknowledges others, which a read of the old primary then misses (stale
// reads: the writes survive). The check counts exactly the old primary's
// writes as lost and the misses as stale; without the span with two
// primaries the stale ones would count as lost.
func TestPartitionSplitBrainLostAndStale(t *testing.T) {
	d := startLinked(t, topology.ShapeSentinel)
	ctx := ctxT(t)
	oldP, newP := client(t, nodeAddr(t, d, "primary-0")), client(t, nodeAddr(t, d, "replica-1"))
	waitRole(t, d, "replica-1", "slave", true)

	tr := NewWriteTracker()
	opened := time.Now()
	win := tr.openWindow(opened)
	ver := versionSpace
	write := func(c *redis.Client, k string) {
		t.Helper()
		ver++
		sent := time.Now()
		if err := c.Set(ctx, k, workload.Value(k, ver, 60), 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		tr.Observe(Write{Key: k, Version: ver, Sent: sent, Done: time.Now(), Outcome: Acked})
	}
	read := func(c *redis.Client, k string) {
		t.Helper()
		sent := time.Now()
		v, err := c.Get(ctx, k).Result()
		switch {
		case errors.Is(err, redis.Nil):
			tr.ObserveRead(k, 0, false, sent)
		case err != nil:
			t.Fatalf("GET %s: %v", k, err)
		default:
			got, verr := workload.Verify(k, v)
			tr.ObserveRead(k, got, verr == nil, sent)
		}
	}
	key := func(i int) string { return fmt.Sprintf("guild:locale:%d", i) }
	for i := range 40 { // replicated before the cut
		write(oldP, key(i))
	}
	// WAIT counts acknowledgements of its own connection's last write.
	if n, err := oldP.Pipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Set(ctx, "streaming", "1", 0)
		pl.Do(ctx, "WAIT", 1, 5000)
		return nil
	}); err != nil || n[1].(*redis.Cmd).Val() != int64(1) {
		t.Fatalf("WAIT 1: %v, %v", n, err)
	}

	f := mustFaults(t, Spec{Kind: "partition", For: time.Second, Node: NodePrimary})[0]
	primary, err := d.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	target := &Target{Deployment: d, Node: primary, Fault: f, notes: &notes{}, tracker: tr}
	end, err := f.kind.Inject(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := d.Primary(ctx)
		if err == nil && p.Name == "replica-1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinels never promoted replica-1: %v %v", p, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	const lost, stale = 20, 10
	for i := range lost { // acknowledged by the old primary alone: lost
		write(oldP, key(i))
	}
	for i := 20; i < 20+stale; i++ {
		write(newP, key(i)) // the new primary acknowledges a newer write,
		read(oldP, key(i))  // the old one serves the older value: stale,
		write(newP, key(i)) // and a newer write hides the first for good
	}
	if err := end(ctx); err != nil {
		t.Fatalf("end: %v\n%s", err, strings.Join(target.notes.take(), "\n"))
	}
	obs := tr.closeWindow(win)
	notes := strings.Join(target.notes.take(), "\n")
	if len(obs.TwoPrimaries) != 1 {
		t.Fatalf("two-primary spans %v; notes:\n%s", obs.TwoPrimaries, notes)
	}
	got, err := Check(ctx, clientReader{newP}, obs, opened)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("split brain: acked %d, lost %d, stale reads %d\n%s\n%s", got.Acked, got.Lost, got.Count(CauseStaleRead), notes, CauseSummary(&got))
	if got.Acked != 40+lost+2*stale || got.Lost != lost || got.Count(CauseStaleRead) != stale || got.Missing() != lost+stale {
		t.Errorf("acked %d, lost %d, stale %d, missing %d; want %d, %d, %d, %d", got.Acked, got.Lost, got.Count(CauseStaleRead), got.Missing(),
			40+lost+2*stale, lost, stale, lost+stale)
	}
	if !strings.Contains(notes, "replica-1 was promoted") || !strings.Contains(notes, "two primaries for") {
		t.Errorf("notes:\n%s", notes)
	}
	// The same observations without the span: the stale reads count as
	// lost, as they did before the span was known.
	obs.TwoPrimaries = nil
	before, err := Check(ctx, clientReader{newP}, obs, opened)
	if err != nil {
		t.Fatal(err)
	}
	if before.Lost != lost+stale || before.Count(CauseStaleRead) != 0 {
		t.Errorf("without the span: lost %d, stale %d; want %d, 0", before.Lost, before.Count(CauseStaleRead), lost+stale)
	}
}

// A one-way partition through the runner: the replica cannot reach the
// primary (its acknowledgements are held) while the primary's stream still
// reaches it, so a write still arrives on the replica but WAIT sees no
// replica acknowledge it; the heal lets the acknowledgements through.
func TestPartitionOneWayThroughTheRunner(t *testing.T) {
	d := startLinked(t, topology.ShapeReplica)
	ctx := ctxT(t)
	waitRole(t, d, "replica-1", "slave", true)
	p := redis.NewClient(&redis.Options{Addr: nodeAddr(t, d, "primary-0"), PoolSize: 1})
	defer p.Close()
	// After a diskless full sync the primary starts the stream only at the
	// replica's first ACK: wait until a write is acknowledged before the
	// cut, or the cut would hold the stream itself.
	for {
		if n, err := p.Do(ctx, "WAIT", 1, 1000).Int(); err == nil && n == 1 {
			if err := p.Set(ctx, "streaming", "1", 0).Err(); err == nil {
				if n, err := p.Do(ctx, "WAIT", 1, 1000).Int(); err == nil && n == 1 {
					break
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the replica never acknowledged a write before the cut")
		}
	}
	r := NewRunner(mustFaults(t, Spec{Kind: "partition", At: 0, For: 3 * time.Second, Node: "replica-1",
		Params: map[string]any{"peers": []string{"primary-0"}, "direction": "outbound"}}), Options{Deployment: d, Total: 4 * time.Second, Logf: t.Logf})
	r.Start(time.Now())
	defer r.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for evs := r.Events(); len(evs) == 0 || !evs[0].Injected; evs = r.Events() {
		if time.Now().After(deadline) {
			t.Fatal("the partition never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// WAIT counts the replicas that acknowledged this connection's last
	// write: SET and WAIT go down one connection.
	var wait *redis.IntCmd
	if _, err := p.Pipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Set(ctx, "k", "v", 0)
		wait = redis.NewIntCmd(ctx, "WAIT", 1, 200)
		_ = pl.Process(ctx, wait)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := wait.Result(); err != nil || n != 0 {
		t.Errorf("WAIT 1 across the one-way cut: %d, %v; want 0", n, err)
	}
	rc := client(t, nodeAddr(t, d, "replica-1"))
	for {
		if v, _ := rc.Get(ctx, "k").Result(); v == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the write never reached the replica across the one-way cut")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.Stop()
	evs := r.Events()
	if len(evs) != 1 || !evs[0].Injected || !strings.Contains(strings.Join(evs[0].Notes, "\n"), "one way: it cannot reach the peers") {
		t.Fatalf("events %+v", evs)
	}
	if _, err := p.Pipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Set(ctx, "k", "w", 0)
		wait = redis.NewIntCmd(ctx, "WAIT", 1, 5000)
		_ = pl.Process(ctx, wait)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := wait.Result(); err != nil || n != 1 {
		t.Errorf("WAIT 1 after the heal: %d, %v; want 1", n, err)
	}
}

// On a cluster: the slot-0 primary cut from every other node (the cluster
// bus and replication) both ways fails over to its replica; after the heal
// it rejoins as that replica's replica, and the fault's notes say so.
func TestPartitionClusterFailsOver(t *testing.T) {
	d := startLinked(t, topology.ShapeCluster)
	// cluster-node-timeout is 2 s: the replica takes over within a few;
	// 10 s leaves room on a loaded machine.
	r := NewRunner(mustFaults(t, Spec{Kind: "partition", At: 0, For: 10 * time.Second, Node: NodePrimary}),
		Options{Deployment: d, Total: 10 * time.Second, Logf: t.Logf})
	r.Start(time.Now())
	time.Sleep(10 * time.Second)
	r.Stop()
	evs := r.Events()
	if len(evs) != 1 || !evs[0].Injected {
		t.Fatalf("events %+v", evs)
	}
	notes := strings.Join(evs[0].Notes, "\n")
	if !strings.Contains(notes, "node-3 was promoted") || !strings.Contains(notes, "node-0 demoted and resynced") {
		t.Errorf("notes:\n%s", notes)
	}
}
