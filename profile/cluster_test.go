package profile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
)

// A cluster is profiled on every primary: the URL names one node, the
// profiler finds the three primaries (CLUSTER SHARDS), samples each in
// proportion to its keys and sums their counts.
func TestClusterEveryPrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a six-node cluster: not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeCluster, Dir: t.TempDir(), MaxMemory: 64 << 20, MaxMemoryPolicy: "allkeys-lru"})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	addrs := d.Endpoints().Addrs
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	for i := range 600 {
		if err := c.Set(ctx, fmt.Sprintf("item:%d", i), fmt.Sprintf("%0100d", i), 10*time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Run(ctx, quickConfig("redis://"+addrs[0]))
	if err != nil {
		t.Fatal(err)
	}
	if p.Deployment.Shape != "cluster" || len(p.Deployment.Nodes) != 3 {
		t.Fatalf("deployment %+v: want a cluster of 3 primaries", p.Deployment)
	}
	if p.DBSize != 600 || !p.Census || len(p.Families) != 1 || p.Families[0].Keys != 600 || p.Families[0].Pattern != "item:{item_id}" {
		t.Errorf("dbsize %d census %v families %+v: want item:{item_id} with 600 keys", p.DBSize, p.Census, p.Families)
	}
}

// A replica is profiled as itself: the shape says so, its keys are the
// primary's.
func TestReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeReplica, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start replica: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	addrs := d.Endpoints().Addrs
	primary := redis.NewClient(&redis.Options{Addr: addrs[0]})
	defer primary.Close()
	fill(t, primary)
	replica := redis.NewClient(&redis.Options{Addr: addrs[1]})
	defer replica.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if n, _ := replica.DBSize(ctx).Result(); n == 901 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica did not catch up")
		}
	}
	p, err := Run(ctx, quickConfig("redis://"+addrs[1]))
	if err != nil {
		t.Fatal(err)
	}
	if p.Deployment.Shape != "replica" || p.DBSize != 901 || len(p.Families) < 3 {
		t.Errorf("replica: shape %s, %d keys, families %v", p.Deployment.Shape, p.DBSize, patterns(p))
	}
}
