package topology

import "testing"

func TestStandaloneSmoke(t *testing.T) {
	d := startT(t, Spec{Shape: ShapeStandalone, MaxMemory: "64mb", MaxMemoryPolicy: "allkeys-lru"})
	ctx := ctxT(t)
	if _, err := d.Do(ctx, "primary-0", "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	v, err := d.Do(ctx, "primary-0", "GET", "k")
	if err != nil || v != "v" {
		t.Fatalf("GET = %v, %v", v, err)
	}
	inf, err := d.Info(ctx, "primary-0", "memory")
	if err != nil || inf["maxmemory_policy"] != "allkeys-lru" {
		t.Fatalf("INFO memory: %v %v", inf["maxmemory_policy"], err)
	}
}
