package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// cmdReader reads back through any go-redis client (cluster, sentinel).
type cmdReader struct{ c redis.Cmdable }

func (r cmdReader) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := r.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return v, err == nil, err
}

// writeLoop writes new versions of 200 keys round-robin through c until
// stop, reading another key after each write, and feeds both to tr as the
// harness's driver does. It returns how many writes were acknowledged.
func writeLoop(c redis.Cmdable, tr *WriteTracker, stop <-chan struct{}) func() uint64 {
	var acked atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ver := versionSpace
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("user:connected:%d", i%200)
			ver++
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			sent := time.Now()
			err := c.Set(ctx, k, workload.Value(k, ver, 60), 0).Err()
			done := time.Now()
			out := Acked
			if err != nil {
				out = Failed
				if errors.Is(err, context.DeadlineExceeded) {
					out = Unknown
				}
			} else {
				acked.Add(1)
			}
			tr.Observe(Write{Key: k, Version: ver, Sent: sent, Done: done, Outcome: out})
			rk := fmt.Sprintf("user:connected:%d", (i*7+3)%200)
			rsent := time.Now()
			v, err := c.Get(ctx, rk).Result()
			switch {
			case errors.Is(err, redis.Nil):
				tr.ObserveRead(rk, 0, false, rsent)
			case err == nil:
				if got, verr := workload.Verify(rk, v); verr == nil {
					tr.ObserveRead(rk, got, true, rsent)
				} else {
					tr.ObserveRead(rk, 0, false, rsent)
				}
			}
			cancel()
			time.Sleep(time.Millisecond)
		}
	}()
	return func() uint64 { wg.Wait(); return acked.Load() }
}

// failoverLoses runs the failover fault against d while writeLoop writes
// through c, and returns the fault's lost-write check.
func failoverLoses(t *testing.T, d topology.Deployment, c redis.Cmdable, params map[string]any) *LostWrites {
	t.Helper()
	tr := NewWriteTracker()
	r := NewRunner(mustFaults(t, Spec{Kind: "failover", At: time.Second, Params: params}),
		Options{Deployment: d, Tracker: tr, Reader: cmdReader{c}, Total: 3 * time.Second, Settle: 2 * time.Second, Logf: t.Logf})
	stop := make(chan struct{})
	wait := writeLoop(c, tr, stop)
	start := time.Now()
	r.Start(start)
	time.Sleep(time.Until(start.Add(3 * time.Second)))
	close(stop)
	acked := wait()
	r.Stop()
	evs := r.Events()
	if len(evs) != 1 || !evs[0].Injected || evs[0].Lost == nil {
		t.Fatalf("events %+v", evs)
	}
	l := evs[0].Lost
	t.Logf("acked %d in all, %d tracked; by cause: %s; notes %q", acked, l.Acked, CauseSummary(l), evs[0].Notes)
	if l.Acked < 100 {
		t.Errorf("only %d writes acknowledged in the window; the check saw too little to mean anything", l.Acked)
	}
	return l
}

// A coordinated CLUSTER FAILOVER waits for the replica to catch up: no
// acknowledged write is lost by replication.
func TestCoordinatedClusterFailoverLosesNothing(t *testing.T) {
	d := startT(t, topology.ShapeCluster)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: d.Endpoints().Addrs, DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	l := failoverLoses(t, d, c, nil)
	if l.Lost != 0 {
		t.Errorf("coordinated failover lost %d writes: %q", l.Lost, l.Examples)
	}
}

// A graceful sentinel switch (writes paused until the replica has the
// primary's offset, unpaused once the old primary is a replica) loses
// nothing. A plain SENTINEL FAILOVER is forced: the old primary acknowledges
// writes until the sentinels demote it, about a second later here, and
// those are lost (measured: 100 of 1,626 in this test without graceful).
func TestGracefulSentinelFailoverLosesNothing(t *testing.T) {
	d := startT(t, topology.ShapeSentinel)
	eps := d.Endpoints()
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: eps.MasterName, SentinelAddrs: eps.SentinelAddrs,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	waitRole(t, d, "replica-1", "slave", true)
	l := failoverLoses(t, d, c, map[string]any{"graceful": "on"})
	if l.Lost != 0 {
		t.Errorf("graceful failover lost %d writes: %q", l.Lost, l.Examples)
	}
}

// A forced failover with replication held back: the replica's link to the
// primary is cut (REPLICAOF NO ONE promotes it on the spot, as a forced
// failover after a partition does), the old primary goes on acknowledging
// writes nobody replicates, then clients move to the new primary and the
// old one rejoins under it, and the full sync discards what only it had.
// Exactly those writes are lost by replication; the ones replicated before
// the cut survive, and a read of the old primary after the cut that missed
// a write made on the new one is a stale read, not a loss.
//
// Why REPLICAOF NO ONE rather than pausing the replica's process: a stopped
// replica still has the stream in its socket buffer and applies it when it
// resumes (loopback delivers it at once), so SIGSTOP holds nothing back;
// cutting the link is what makes the primary's later writes unreplicated.
func TestForcedFailoverLosesWhatReplicationHeldBack(t *testing.T) {
	d := startT(t, topology.ShapeReplica)
	ctx := ctxT(t)
	pAddr, rAddr := nodeAddr(t, d, "primary-0"), nodeAddr(t, d, "replica-1")
	oldP, newP := client(t, pAddr), client(t, rAddr)
	waitRole(t, d, "replica-1", "slave", true)

	tr := NewWriteTracker()
	opened := time.Now()
	win := tr.openWindow(opened)
	ver := versionSpace
	write := func(c *redis.Client, k string) {
		ver++
		sent := time.Now()
		if err := c.Set(ctx, k, workload.Value(k, ver, 60), 0).Err(); err != nil {
			t.Fatal(err)
		}
		tr.Observe(Write{Key: k, Version: ver, Sent: sent, Done: time.Now(), Outcome: Acked})
	}
	read := func(c *redis.Client, k string) {
		sent := time.Now()
		v, err := c.Get(ctx, k).Result()
		switch {
		case errors.Is(err, redis.Nil):
			tr.ObserveRead(k, 0, false, sent)
		case err != nil:
			t.Fatal(err)
		default:
			got, verr := workload.Verify(k, v)
			tr.ObserveRead(k, got, verr == nil, sent)
		}
	}
	key := func(i int) string { return fmt.Sprintf("guild:locale:%d", i) }
	for i := range 50 { // replicated before the cut
		write(oldP, key(i))
	}
	if n, err := oldP.Wait(ctx, 1, 2000).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d replicas acknowledged, %v", n, err)
	}
	if _, err := d.Do(ctx, "replica-1", "REPLICAOF", "NO", "ONE"); err != nil {
		t.Fatal(err)
	}
	const heldBack = 30
	for i := 50; i < 50+heldBack; i++ { // acknowledged by the old primary only
		write(oldP, key(i))
	}
	for i := 80; i < 100; i++ { // clients follow the new primary
		write(newP, key(i))
	}
	read(oldP, key(90)) // a stale read: the demoted node never saw it
	for i := 50; i < 55; i++ {
		read(newP, key(i)) // misses of held-back writes
	}
	host, port, _ := strings.Cut(rAddr, ":")
	if _, err := d.Do(ctx, "primary-0", "REPLICAOF", host, port); err != nil {
		t.Fatal(err)
	}
	waitRole(t, d, "primary-0", "slave", true)
	got, err := Check(ctx, clientReader{newP}, tr.closeWindow(win), opened)
	if err != nil {
		t.Fatal(err)
	}
	if got.Acked != 100 || got.Lost != heldBack || got.Count(CauseStaleRead) != 1 || got.Missing() != heldBack+1 {
		t.Errorf("acked %d, lost %d, stale reads %d, missing %d; want 100, %d, 1, %d\n%s", got.Acked, got.Lost,
			got.Count(CauseStaleRead), got.Missing(), heldBack, heldBack+1, CauseSummary(&got))
	}
	if !strings.Contains(strings.Join(got.Examples, "\n"), "found nothing") {
		t.Errorf("examples %q", got.Examples)
	}
}

// Causes other than replication, with known answers: a fill that fetched
// before a write and landed after it, a warm's origin copy written over a
// write, a key Redis reported evicting, a write whose TTL passed. None
// counts as lost; each is counted under its cause with its evidence.
func TestCausesBesideReplication(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	c := client(t, nodeAddr(t, d, "primary-0"))
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	key := func(i int) string { return fmt.Sprintf("guild:locale:%d", i) }
	ack := func(k string, v uint32, sent, done int) Write {
		return Write{Key: k, Version: versionSpace + v, Sent: at(sent), Done: at(done), Outcome: Acked}
	}
	fill := func(k string, v uint32, fetched, sent, done int, warm bool) Write {
		return Write{Key: k, Version: v, Sent: at(sent), Done: at(done), Outcome: Acked, Fill: true, Fetched: at(fetched), Warm: warm}
	}
	obs := Observed{Opened: base.Add(-time.Second), EvictionsWatched: true}
	obs.Writes = []Write{
		ack(key(1), 5, 10, 20), fill(key(1), 7, 5, 30, 35, false), // the race: fetched before the ack, landed after
		ack(key(2), 5, 10, 20), fill(key(2), 8, 100, 110, 115, true), // a warm after the write
		ack(key(3), 5, 10, 20), // evicted, then missed
		{Key: key(4), Version: versionSpace + 5, Sent: at(10), Done: at(20), Outcome: Acked, TTL: 50 * time.Millisecond}, // expired
		ack(key(5), 5, 10, 20), // missing with no other cause: lost
	}
	obs.Evictions = []Eviction{{Key: key(3), At: at(40)}}
	obs.Reads = []Read{{Key: key(3), Found: false, Sent: at(50)}, {Key: key(4), Found: false, Sent: at(90)}}
	set := func(k string, v uint32) {
		if err := c.Set(ctx, k, workload.Value(k, v, 50), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	set(key(1), 7)
	set(key(2), 8)
	got, err := Check(ctx, clientReader{c}, obs, base)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Cause]uint64{CauseReplication: 1, CauseFill: 2, CauseEvicted: 1, CauseExpired: 1, CauseStaleRead: 0}
	for c, n := range want {
		if got.Count(c) != n {
			t.Errorf("%s: %d, want %d\n%s", c, got.Count(c), n, CauseSummary(&got))
		}
	}
	if got.Lost != 1 || got.LostKeys[0] != key(5) || got.Fills != 2 || got.Acked != 5 {
		t.Errorf("lost %d on %v, fills %d, acked %d; want 1 on %s, 2, 5", got.Lost, got.LostKeys, got.Fills, got.Acked, key(5))
	}
	ex := strings.Join(got.ByCause[CauseFill].Examples, "\n")
	if !strings.Contains(ex, "before the write was acknowledged") || !strings.Contains(ex, "warming") {
		t.Errorf("fill examples do not tell the race from the warm: %s", ex)
	}
	if ev := strings.Join(got.ByCause[CauseEvicted].Examples, ""); !strings.Contains(ev, "eviction at") {
		t.Errorf("evicted example %q", ev)
	}
	// Without an eviction watch the same miss is a loss.
	obs.Evictions, obs.EvictionsWatched = nil, false
	if got, _ := Check(ctx, clientReader{c}, obs, base); got.Lost != 2 {
		t.Errorf("without eviction evidence lost %d, want 2", got.Lost)
	}
}

// The eviction watch hears Redis evict keys by maxmemory and feeds them to
// an open window; Close restores the notification setting.
func TestEvictionWatch(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	c := client(t, nodeAddr(t, d, "primary-0"))
	tr := NewWriteTracker()
	w, err := WatchEvictions(ctx, d, d.Endpoints(), tr)
	if err != nil {
		t.Fatal(err)
	}
	win := tr.openWindow(time.Now())
	if err := c.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "maxmemory", "4mb").Err(); err != nil {
		t.Fatal(err)
	}
	val := strings.Repeat("x", 10_000)
	for i := range 2000 {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), val, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	evicted, _ := c.Info(ctx, "stats").Result()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tr.mu.Lock()
		n := len(win.evictions)
		tr.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	obs := tr.closeWindow(win)
	if len(obs.Evictions) == 0 || !obs.EvictionsWatched || !strings.HasPrefix(obs.Evictions[0].Key, "k") {
		t.Errorf("%d evictions heard (watched %v); INFO says %s", len(obs.Evictions), obs.EvictionsWatched, evicted)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.ConfigGet(ctx, "notify-keyspace-events").Result(); err != nil || v["notify-keyspace-events"] != "" {
		t.Errorf("notify-keyspace-events after Close: %v %v", v, err)
	}
}
