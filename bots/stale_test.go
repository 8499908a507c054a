package bots

import (
	"context"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// twoInstances starts a real redis-server and two bot instances on it
// (their own managers and subscriptions), wired into a driver whose one
// family (user_connected) is near-cached.
func twoInstances(t *testing.T) (*rig, []*pool.Manager) {
	t.Helper()
	ctx := context.Background()
	_, cfg := standaloneRedis(t)
	dev, _ := pool.ProfileConfig(pool.ProfileDevelopment)
	cfg.InvalidationChannel = dev.InvalidationChannel // these instances invalidate each other
	var mgrs []*pool.Manager
	for range 2 {
		m, err := pool.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
		mgrs = append(mgrs, m)
	}
	r := newTestDriver(t, mgrs[0], 4, time.Second, 2*time.Second)
	l := r.l
	l.nearFam = []bool{true}
	l.wlog = newWriteLog()
	l.stats = newLayerStats()
	l.insts = make([]instance, 2)
	for i, m := range mgrs {
		l.insts[i] = instance{c: m, near: newNearCache(time.Minute)}
		m.OnInvalidate(l.onInvalidate(&l.insts[i]))
	}
	r.start = time.Now()
	r.d.SetStart(r.start)
	l.SetStart(r.start)
	return r, mgrs
}

// do runs one command of one operation on instance inst, due now, and
// waits for it.
func do(r *rig, inst int, kind workload.OpKind, key string) {
	cmd := workload.Command{At: time.Since(r.start), Instance: inst, Ops: []workload.Op{{Kind: kind, Family: testFamily, Key: key, Size: 100}}}
	r.d.Run(make(chan struct{}), &engine.Commands{List: []workload.Command{cmd}})
	r.d.Wait()
}

// An update on one instance while another holds a local copy: with pub/sub
// delivering, the copy is dropped and the next read (after delivery) is not
// stale; with the invalidation lost, the copy is served after the write was
// acknowledged, and that read is counted stale, for its family.
func TestStaleReadsCounted(t *testing.T) {
	d, mgrs := twoInstances(t)
	fam := testFamily.Index

	// Instance 1 creates the value (a plain read's miss fills it) and so
	// holds a copy; a second read is served from it, fresh.
	do(d, 1, workload.OpGet, "user:connected:7")
	do(d, 1, workload.OpGet, "user:connected:7")
	c, _ := d.d.Recorder().Totals()
	if f := c.Fams[fam]; f.NearHits != 1 || f.Stale != 0 {
		t.Fatalf("before the update: near hits %d stale %d, want 1 and 0", f.NearHits, f.Stale)
	}

	// Pub/sub working: instance 0 updates, instance 1 receives the
	// invalidation before it reads again: no stale read, and the read goes
	// to Redis for the new value.
	do(d, 0, workload.OpUpdate, "user:connected:7")
	eventually(t, 2*time.Second, "invalidation delivered", func() bool { return d.l.stats.received.Load() >= 1 })
	do(d, 1, workload.OpGet, "user:connected:7")
	c, _ = d.d.Recorder().Totals()
	if f := c.Fams[fam]; f.Stale != 0 || f.StaleInFlight != 0 || d.l.stats.dropped.Load() != 1 {
		t.Fatalf("pub/sub delivered, yet stale %d in flight %d (copies dropped %d)", f.Stale, f.StaleInFlight, d.l.stats.dropped.Load())
	}
	if c.Published != 1 {
		t.Errorf("published %d, want 1", c.Published)
	}

	// Invalidation lost (instance 1's subscription gone, as during a
	// restart): its copy outlives the update and is served stale once the
	// grace has passed.
	do(d, 1, workload.OpGet, "user:connected:7") // copy of the current version
	mgrs[1].OnInvalidate(nil)
	do(d, 0, workload.OpUpdate, "user:connected:7")
	time.Sleep(staleGrace + 20*time.Millisecond)
	do(d, 1, workload.OpGet, "user:connected:7")
	c, _ = d.d.Recorder().Totals()
	if f := c.Fams[fam]; f.Stale != 1 {
		t.Fatalf("lost invalidation: stale %d, want 1 (near hits %d)", f.Stale, f.NearHits)
	}
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A plain delete of a near family's key is a write no copy holds: it
// publishes nothing, so another instance's copy outlives it, and a read
// served from that copy after the delete was acknowledged is stale.
func TestStaleReadAfterPlainDelete(t *testing.T) {
	d, _ := twoInstances(t)
	fam := testFamily.Index
	do(d, 1, workload.OpGet, "user:connected:9") // a miss: filled, and a copy kept
	do(d, 0, workload.OpDel, "user:connected:9")
	time.Sleep(staleGrace + 20*time.Millisecond)
	do(d, 1, workload.OpGet, "user:connected:9")
	c, _ := d.d.Recorder().Totals()
	if f := c.Fams[fam]; f.NearHits != 1 || f.Stale != 1 {
		t.Fatalf("after a delete: near hits %d, stale %d; want 1 and 1 (the copy outlived the delete)", f.NearHits, f.Stale)
	}
	// The deleting instance dropped its own copy: its next read asks
	// Redis, misses and is not a near hit.
	do(d, 0, workload.OpGet, "user:connected:9")
	c, _ = d.d.Recorder().Totals()
	if f := c.Fams[fam]; f.NearHits != 1 {
		t.Errorf("the deleter's read: near hits %d, want still 1", f.NearHits)
	}
}
