package topology

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// streaming waits until the primary streams to its replica and hears its
// acknowledgements (a write and WAIT 1 on one connection): after a diskless
// full sync the primary starts the stream only at the replica's first ACK,
// so a cut before that would hold the stream itself.
func streaming(t *testing.T, d Deployment, primary string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addrOfNode(t, d, primary), PoolSize: 1})
	defer c.Close()
	eventually(t, primary+" streams to its replica", func() error {
		ctx := ctxT(t)
		if err := c.Set(ctx, "streaming", "1", 0).Err(); err != nil {
			return err
		}
		if n, err := c.Do(ctx, "WAIT", 1, 1000).Int(); err != nil || n != 1 {
			return fmt.Errorf("WAIT 1 = %d, %v", n, err)
		}
		return nil
	})
}

func cutT(t *testing.T, d Deployment, from, to string) func() {
	t.Helper()
	p, ok := d.(Partitioner)
	if !ok {
		t.Fatalf("%T is not a Partitioner", d)
	}
	heal, err := p.Cut(from, to)
	if err != nil {
		t.Fatalf("Cut(%s, %s): %v", from, to, err)
	}
	t.Cleanup(heal)
	return heal
}

// TestNodeLinksSplitBrain cuts the primary from its replica and the
// sentinels both ways while a client still reaches it: the sentinels
// promote the replica, the old primary keeps acknowledging writes, and once
// the partition heals the sentinels demote it and it resyncs, losing them.
func TestNodeLinksSplitBrain(t *testing.T) {
	t.Parallel()
	requireRedis(t)
	d := startT(t, Spec{Shape: ShapeSentinel, NodeLinks: true})
	ctx := ctxT(t)
	wantPrimary(t, d, "primary-0")
	// Every address the nodes and the clients know is a gate's.
	old := addrOfNode(t, d, "primary-0")
	if inf, err := d.Info(ctx, "replica-1", "replication"); err != nil || inf["master_port"] != old[len("127.0.0.1:"):] {
		t.Fatalf("replica-1 replicates from %v (%v), want the primary's gate %s", inf["master_port"], err, old)
	}
	c := redis.NewClient(&redis.Options{Addr: old, MaxRetries: -1})
	defer c.Close()
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	streaming(t, d, "primary-0")

	var heals []func()
	for _, peer := range []string{"replica-1", SentinelName(0), SentinelName(1), SentinelName(2)} {
		heals = append(heals, cutT(t, d, "primary-0", peer), cutT(t, d, peer, "primary-0"))
	}
	wantPrimary(t, d, "replica-1")
	// The client is on the old primary's side: it still writes there.
	if err := c.Set(ctx, "split", "old-side", 0).Err(); err != nil {
		t.Fatalf("write to the cut-off primary: %v", err)
	}
	if inf, _ := d.Info(ctx, "primary-0", "replication"); inf["role"] != "master" {
		t.Fatalf("primary-0 during the partition: role %s, want master", inf["role"])
	}
	for _, h := range heals {
		h()
	}
	waitLinkUp(t, d, "primary-0")
	eventually(t, "the old primary's write is gone after its resync", func() error {
		v, err := d.Do(ctx, "primary-0", "GET", "split")
		if err != nil || v != nil {
			return fmt.Errorf("GET split on primary-0 = %v, %v", v, err)
		}
		return nil
	})
	if v := mustDo(t, d, "replica-1", "GET", "before"); v != "1" {
		t.Fatalf("the write before the partition: %v", v)
	}
}

// TestNodeLinksOneWay cuts only replica -> primary: the replication stream
// (primary -> replica, on the connection the replica opened) still flows,
// while the replica's acknowledgements stop reaching the primary.
func TestNodeLinksOneWay(t *testing.T) {
	t.Parallel()
	requireRedis(t)
	d := startT(t, Spec{Shape: ShapeReplica, NodeLinks: true})
	ctx := ctxT(t)
	waitLinkUp(t, d, "replica-1")
	streaming(t, d, "primary-0")
	cutT(t, d, "replica-1", "primary-0")
	// WAIT counts the replicas that acknowledged this connection's last
	// write: SET and WAIT go down one connection.
	c := redis.NewClient(&redis.Options{Addr: addrOfNode(t, d, "primary-0"), PoolSize: 1})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the write reaches the replica", func() error {
		if v, err := d.Do(ctx, "replica-1", "GET", "k"); err != nil || v != "v" {
			return fmt.Errorf("GET k on replica-1 = %v, %v", v, err)
		}
		return nil
	})
	// WAIT counts replicas that acknowledged the offset: none can.
	if n, err := c.Do(ctx, "WAIT", 1, 300).Int(); err != nil || n != 0 {
		t.Fatalf("WAIT 1 across a one-way cut = %v, %v; want 0", n, err)
	}
	inf, err := d.Info(ctx, "primary-0", "replication")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(inf["connected_slaves"]); n != 1 {
		t.Fatalf("connected_slaves = %s", inf["connected_slaves"])
	}
}

func TestNodeLinksRefused(t *testing.T) {
	if _, err := (Spec{Backend: BackendExternal, NodeLinks: true}).withDefaults(); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("external with node links: %v", err)
	}
	requireRedis(t)
	d := startT(t, Spec{Shape: ShapeStandalone})
	if _, err := d.(Partitioner).Cut("primary-0", Clients); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Cut without node links: %v", err)
	}
}

// TestNodeLinksCluster cuts a cluster primary from every other node (the
// cluster bus and replication) both ways: the others fail it over to its
// replica; healed, it rejoins as a replica.
func TestNodeLinksCluster(t *testing.T) {
	t.Parallel()
	requireRedis(t)
	d := startT(t, Spec{Shape: ShapeCluster, NodeLinks: true})
	ctx := ctxT(t)
	p, err := d.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var heals []func()
	for _, n := range d.Nodes() {
		if n.Name != p.Name {
			heals = append(heals, cutT(t, d, p.Name, n.Name), cutT(t, d, n.Name, p.Name))
		}
	}
	eventually(t, "a replica takes over slot 0", func() error {
		np, err := d.Primary(ctx)
		if err != nil || np.Name == p.Name {
			return fmt.Errorf("primary of slot 0: %v, %v", np.Name, err)
		}
		return nil
	})
	for _, h := range heals {
		h()
	}
	waitLinkUp(t, d, p.Name)
}
