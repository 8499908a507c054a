package pool

import (
	"slices"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

// Hash and sorted-set commands on a real Redis: prefixed keys, the tier's
// TTL on every write (none for persistent), hits and misses counted, and a
// type clash reported as an error, never as a miss.
func TestHashAndSortedSet(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.TTL[TierAPI] = 10 * time.Second
	m := newManager(t, cfg)
	ctx := ctxT(t)

	if _, found, err := m.HGet(ctx, "profile:1", "name"); err != nil || found {
		t.Fatalf("HGet on an absent hash: found %v err %v", found, err)
	}
	if err := m.HSet(ctx, "profile:1", "name", "axe", TierAPI); err != nil {
		t.Fatal(err)
	}
	v, found, err := m.HGet(ctx, "profile:1", "name")
	if err != nil || !found || v != "axe" {
		t.Fatalf("HGet = %q %v %v", v, found, err)
	}
	if _, found, _ := m.HGet(ctx, "profile:1", "other"); found {
		t.Error("HGet of an absent field found it")
	}
	if ttl, _ := d.Do(ctx, "primary-0", "PTTL", "cacheproof:profile:1"); ttl.(int64) < 9000 {
		t.Errorf("HSet with the api tier left PTTL %v, want ~10000", ttl)
	}
	if err := m.HSet(ctx, "profile:2", "name", "lina", TierPersistent); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:profile:2"); ttl.(int64) != -1 {
		t.Errorf("HSet with the persistent tier left TTL %v, want none (-1)", ttl)
	}

	if _, found, err := m.ZRange(ctx, "lb:1", 3); err != nil || found {
		t.Fatalf("ZRange on an absent set: found %v err %v", found, err)
	}
	if err := m.ZAdd(ctx, "lb:1", TierAPI, ZMember{"a", 1}, ZMember{"b", 3}, ZMember{"c", 2}, ZMember{"d", 0}); err != nil {
		t.Fatal(err)
	}
	top, found, err := m.ZRange(ctx, "lb:1", 3)
	if err != nil || !found || !slices.Equal(top, []string{"b", "c", "a"}) {
		t.Fatalf("ZRange top 3 = %v %v %v, want [b c a]", top, found, err)
	}
	if ttl, _ := d.Do(ctx, "primary-0", "PTTL", "cacheproof:lb:1"); ttl.(int64) < 9000 {
		t.Errorf("ZAdd with the api tier left PTTL %v", ttl)
	}

	// A string key read as a hash is WRONGTYPE: an error, not a miss.
	if err := m.Set(ctx, "plain", "x", TierAPI); err != nil {
		t.Fatal(err)
	}
	if _, found, err := m.HGet(ctx, "plain", "f"); err == nil || found {
		t.Errorf("HGet on a string: found %v err %v, want an error", found, err)
	}
	st := m.Stats()
	if st.Hits != 2 || st.Misses != 3 || st.Errors != 1 || st.Sets < 4 {
		t.Errorf("stats: hits %d misses %d errors %d sets %d, want 2 3 1 >=4", st.Hits, st.Misses, st.Errors, st.Sets)
	}
	seen := map[string]bool{}
	for _, cl := range m.CommandLatencies() {
		seen[cl.Command] = true
	}
	for _, c := range []string{"hget", "hset", "zadd", "zrange"} {
		if !seen[c] {
			t.Errorf("no client latency recorded for %s: %v", c, seen)
		}
	}
}
