package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// clientReader reads through a plain go-redis client (the real pool is
// harness's business; here the checker's logic is under test).
type clientReader struct{ c *redis.Client }

var _ Reader = clientReader{}

func (r clientReader) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := r.c.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	return v, err == nil, err
}

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func nodeAddr(t *testing.T, d topology.Deployment, name string) string {
	for _, n := range d.Nodes() {
		if n.Name == name {
			return n.Addr
		}
	}
	t.Fatalf("no node %s", name)
	return ""
}

func waitRole(t *testing.T, d topology.Deployment, node, role string, linkUp bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		inf, err := d.Info(context.Background(), node, "replication")
		if err == nil && inf["role"] == role && (!linkUp || inf["master_link_status"] == "up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %s (link up %v): %v %v", node, role, linkUp, inf, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Known answer: writes acknowledged by a primary that is then demoted under
// a node with an older dataset are discarded by the full sync, and the
// checker counts exactly those as lost; writes the other node also holds
// survive.
func TestLostWritesKnownAnswer(t *testing.T) {
	d := startT(t, topology.ShapeReplica)
	ctx := ctxT(t)
	pAddr, rAddr := nodeAddr(t, d, "primary-0"), nodeAddr(t, d, "replica-1")
	primary, replica := client(t, pAddr), client(t, rAddr)

	// Detach the replica: from now on it keeps an older dataset.
	if _, err := d.Do(ctx, "replica-1", "REPLICAOF", "NO", "ONE"); err != nil {
		t.Fatal(err)
	}
	// Keys the replica has at an older version, and keys it has at exactly
	// the version the primary acknowledges.
	for i := 0; i < 10; i++ {
		k := fmt.Sprintf("user:connected:%d", i)
		if err := replica.Set(ctx, k, workload.Value(k, 1, 100), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	tr := NewWriteTracker()
	opened := time.Now()
	win := tr.openWindow(opened)
	write := func(c *redis.Client, k string, v uint32) {
		sent := time.Now()
		err := c.Set(ctx, k, workload.Value(k, v, 100), 0).Err()
		if err != nil {
			t.Fatal(err)
		}
		if c == primary {
			tr.Observe(Write{Key: k, Version: v, Sent: sent, Done: time.Now(), Outcome: Acked})
		}
	}
	for i := 0; i < 10; i++ { // older on the replica: lost
		write(primary, fmt.Sprintf("user:connected:%d", i), 2)
	}
	for i := 10; i < 60; i++ { // absent on the replica: lost
		write(primary, fmt.Sprintf("guild:locale:%d", i), 5)
	}
	for i := 60; i < 75; i++ { // the replica has the same write: survives
		k := fmt.Sprintf("guild:locale:%d", i)
		write(replica, k, 7)
		write(primary, k, 7)
	}
	// A refused write is counted apart and never lost.
	tr.Observe(Write{Key: "guild:locale:99", Version: 9, Sent: time.Now(), Done: time.Now(), Outcome: Failed})

	// Demote the primary under the detached node and let the full sync
	// discard its dataset; then promote it back and read from it.
	host, port, _ := strings.Cut(rAddr, ":")
	if _, err := d.Do(ctx, "primary-0", "REPLICAOF", host, port); err != nil {
		t.Fatal(err)
	}
	waitRole(t, d, "primary-0", "slave", true)
	if _, err := d.Do(ctx, "primary-0", "REPLICAOF", "NO", "ONE"); err != nil {
		t.Fatal(err)
	}
	obs := tr.closeWindow(win)
	if tr.Active() {
		t.Error("tracker still active with no window open")
	}
	got, err := Check(ctx, clientReader{primary}, obs, opened)
	if err != nil {
		t.Fatal(err)
	}
	if got.Acked != 75 || got.Lost != 60 || got.Failed != 1 || got.Unknown != 0 || got.AckedAfterStart != 75 {
		t.Errorf("got %+v; want 75 acked, 60 lost, 1 refused", got)
	}
	if len(got.Examples) == 0 || !strings.Contains(got.Examples[0], "acknowledged") {
		t.Errorf("examples %q", got.Examples)
	}
}

// A write whose outcome is unknown and whose value is found makes the
// acknowledged write it overlapped not lost; one acknowledged before an
// acknowledged later write that is found is not lost either.
func TestCheckOrdering(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	c := client(t, nodeAddr(t, d, "primary-0"))
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	set := func(k string, v uint32) {
		if err := c.Set(ctx, k, workload.Value(k, v, 50), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	set("a", 3) // found: the later of two sequential acked writes
	set("b", 4) // found: an unknown write overlapping the acked one
	set("c", 1) // found: an acked write that finished before the other began
	writes := []Write{
		{Key: "a", Version: 2, Sent: at(0), Done: at(10), Outcome: Acked},
		{Key: "a", Version: 3, Sent: at(20), Done: at(30), Outcome: Acked},
		{Key: "b", Version: 3, Sent: at(0), Done: at(10), Outcome: Acked},
		{Key: "b", Version: 4, Sent: at(5), Done: at(500), Outcome: Unknown},
		{Key: "c", Version: 1, Sent: at(0), Done: at(10), Outcome: Acked},
		{Key: "c", Version: 2, Sent: at(20), Done: at(30), Outcome: Acked},
	}
	got, err := Check(ctx, clientReader{c}, Observed{Opened: base, Writes: writes}, at(15))
	if err != nil {
		t.Fatal(err)
	}
	if got.Lost != 1 || got.LostKeys[0] != "c" || got.Unknown != 1 || got.AckedAfterStart != 2 {
		t.Errorf("got %+v, want only c's version 2 lost", got)
	}
}

// Known answers for the reads a window observes. The read-back alone is
// fooled by a refill: an acknowledged write lost during the fault, then
// re-filled, is found again at the end. Reads sent after the acknowledgement
// that found the key missing or older show the loss anyway; a newer value
// from a writer the window did not see, a delete in between, or a read that
// overlapped the write do not; a read that missed a write a later read (the
// read-back) found is a stale read, not a loss.
func TestReadsUnmaskLostWrites(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	c := client(t, nodeAddr(t, d, "primary-0"))
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	key := func(i int) string { return fmt.Sprintf("guild:locale:%d", i) }

	tr := NewWriteTracker()
	// Nothing is recorded while no window is open.
	tr.ObserveRead(key(1), 0, false, at(20))
	tr.ObserveDelete(key(1), at(1), at(2))
	tr.Observe(Write{Key: key(1), Version: 1, Sent: at(0), Done: at(1), Outcome: Acked})
	win := tr.openWindow(at(-1000))
	ack := func(k string, v uint32, sent, done int) {
		tr.Observe(Write{Key: k, Version: v, Sent: at(sent), Done: at(done), Outcome: Acked})
	}
	// 1: ack v5, a read misses (lost), the refill v6 is what the read-back finds.
	ack(key(1), 5, 0, 10)
	tr.ObserveRead(key(1), 0, false, at(20))
	ack(key(1), 6, 30, 40)
	// 2: ack v5, a read finds v7 written by someone untracked: newer, not lost.
	ack(key(2), 5, 0, 10)
	tr.ObserveRead(key(2), 7, true, at(20))
	// 3: ack v5, a read finds an untracked older v3, the read-back finds v5
	// itself: never lost, the read was stale (served by a node without v5).
	ack(key(3), 5, 0, 10)
	tr.ObserveRead(key(3), 3, true, at(20))
	// 4: ack v3 then v5, a read finds v3 (acknowledged before v5 was sent),
	// the read-back finds v5: a stale read again.
	ack(key(4), 3, 0, 10)
	ack(key(4), 5, 20, 30)
	tr.ObserveRead(key(4), 3, true, at(40))
	// 5: ack v5, a delete, a read misses: the delete's doing, not a loss;
	// the read-back finds nothing either, for the same reason.
	ack(key(5), 5, 0, 10)
	tr.ObserveDelete(key(5), at(15), at(18))
	tr.ObserveRead(key(5), 0, false, at(20))
	// 6: a read sent before v5 was acknowledged may miss it.
	ack(key(6), 5, 0, 50)
	tr.ObserveRead(key(6), 0, false, at(20))
	obs := tr.closeWindow(win)
	if tr.Active() {
		t.Fatal("tracker still active with no window open")
	}
	tr.ObserveRead(key(6), 0, false, at(60)) // after the close: not recorded
	if len(obs.Reads) != 6 || len(obs.Deletes) != 1 || len(obs.Writes) != 8 {
		t.Fatalf("observed %d reads, %d deletes, %d writes; want 6, 1, 8", len(obs.Reads), len(obs.Deletes), len(obs.Writes))
	}

	set := func(k string, v uint32) {
		if err := c.Set(ctx, k, workload.Value(k, v, 50), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	set(key(1), 6)
	set(key(2), 7)
	set(key(3), 5)
	set(key(4), 5)
	set(key(6), 5)

	got, err := Check(ctx, clientReader{c}, obs, at(0))
	if err != nil {
		t.Fatal(err)
	}
	lostKeys := map[string]bool{}
	for _, k := range got.LostKeys {
		lostKeys[k] = true
	}
	if got.Lost != 1 || got.LostSeenByRead != 1 || !lostKeys[key(1)] || len(lostKeys) != 1 {
		t.Errorf("lost %d (seen only by reads %d) on %v; want 1, seen only by reads, on key 1\n%s",
			got.Lost, got.LostSeenByRead, got.LostKeys, strings.Join(got.Examples, "\n"))
	}
	if st := got.ByCause[CauseStaleRead]; st == nil || st.Count != 2 || !strings.Contains(strings.Join(st.Examples, "\n"), "found version 5 (written") {
		t.Errorf("stale reads %+v; want 2 (keys 3 and 4), each citing the read-back that found version 5", st)
	}
	if got.Missing() != 3 {
		t.Errorf("missing %d, want 3 (1 lost, 2 stale reads)", got.Missing())
	}
	if got.Acked != 8 || got.Reads != 6 || got.Deletes != 1 {
		t.Errorf("acked %d reads %d deletes %d; want 8, 6, 1", got.Acked, got.Reads, got.Deletes)
	}
	if !strings.Contains(strings.Join(got.Examples, "\n"), "a read sent") {
		t.Errorf("examples do not say a read saw the loss: %q", got.Examples)
	}

	// The read-back alone, as before reads were observed, sees none of the
	// three losses (and blames key 2's newer value and key 5's delete).
	alone, err := Check(ctx, clientReader{c}, Observed{Opened: obs.Opened, Writes: obs.Writes, Deletes: obs.Deletes}, at(0))
	if err != nil {
		t.Fatal(err)
	}
	if alone.Lost != 0 {
		t.Errorf("read-back alone: lost %d, want 0 (the refill masks key 1): %q", alone.Lost, alone.Examples)
	}
}
