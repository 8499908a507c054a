package topology

import (
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A one-way partition on the container backend: replica-1's packets to the
// primary are dropped in the primary's namespace, so the replication
// stream still reaches the replica but none of its acknowledgements come
// back (WAIT 1 counts none); the clients, on the published port, still
// reach both; healed, the replica acknowledges again.
func TestContainerPartitionOneWay(t *testing.T) {
	img := containerImage(t)
	if os.Geteuid() != 0 {
		t.Skip("SKIP container partition: iptables in a container's namespace needs root")
	}
	d := startT(t, Spec{Backend: BackendContainer, Shape: ShapeReplica, Image: img, NodeLinks: true})
	ctx := ctxT(t)
	waitLinkUp(t, d, "replica-1")
	streaming(t, d, "primary-0")
	heal := cutT(t, d, "replica-1", "primary-0")
	c := redis.NewClient(&redis.Options{Addr: addrOfNode(t, d, "primary-0"), PoolSize: 1})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("a client across the cut: %v", err)
	}
	eventually(t, "the write reaches the replica", func() error {
		if v, err := d.Do(ctx, "replica-1", "GET", "k"); err != nil || v != "v" {
			return fmt.Errorf("GET k on replica-1 = %v, %v", v, err)
		}
		return nil
	})
	if n, err := c.Do(ctx, "WAIT", 1, 300).Int(); err != nil || n != 0 {
		t.Fatalf("WAIT 1 across a one-way cut = %v, %v; want 0", n, err)
	}
	heal()
	if n, err := c.Do(ctx, "WAIT", 1, 20000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 after the heal = %v, %v; want 1", n, err)
	}
}
