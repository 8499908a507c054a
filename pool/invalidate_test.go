package pool

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

func TestInvalidatePatternUsesScanAndBroadcasts(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	a := newManager(t, cfg)
	b := newManager(t, cfg)
	ctx := ctxT(t)

	var mu sync.Mutex
	var got [][]string
	b.OnInvalidate(func(keys []string) {
		mu.Lock()
		got = append(got, keys)
		mu.Unlock()
	})
	for i := 0; i < 2500; i++ { // more than one SCAN step
		if err := a.Set(ctx, fmt.Sprintf("stratz:profile:%d", i), "p", TierAPI); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.Set(ctx, "stratz:matches:1", "m", TierAPI)
	_ = a.Set(ctx, "session:9", "s", TierSession)
	// A key outside the prefix must survive a pattern invalidation.
	if _, err := d.Do(ctx, "primary-0", "SET", "stratz:profile:other-app", "x"); err != nil {
		t.Fatal(err)
	}

	n, err := a.Invalidate(ctx, "stratz:profile:*", "session:9")
	if err != nil || n != 2501 {
		t.Fatalf("Invalidate = %d, %v; want 2501", n, err)
	}
	if _, found, _ := a.Get(ctx, "stratz:matches:1"); !found {
		t.Error("a key outside the pattern was deleted")
	}
	if v, _ := d.Do(ctx, "primary-0", "EXISTS", "stratz:profile:other-app"); v.(int64) != 1 {
		t.Error("an unprefixed key of another application was deleted")
	}
	eventually(t, 5*time.Second, "b to receive the broadcast", func() bool {
		return b.Stats().InvalidationsReceived == 1
	})
	mu.Lock()
	if len(got) != 1 || !slices.Equal(got[0], []string{"stratz:profile:*", "session:9"}) {
		t.Errorf("handler got %v", got)
	}
	mu.Unlock()
	if s := a.Stats(); s.InvalidationsSent != 1 || s.InvalidationsReceived != 0 {
		t.Errorf("sender counted sent=%d received=%d; its own message must not count", s.InvalidationsSent, s.InvalidationsReceived)
	}
	// The server saw SCAN, never KEYS.
	stats, err := d.Info(ctx, "primary-0", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stats["cmdstat_keys"]; ok {
		t.Error("KEYS was called")
	}
	if _, ok := stats["cmdstat_scan"]; !ok {
		t.Error("SCAN was not called")
	}
}

func TestInvalidateAcrossClusterMasters(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster start takes seconds")
	}
	d := startTopo(t, topology.ShapeCluster)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	for i := 0; i < 300; i++ {
		if err := m.Set(ctx, fmt.Sprintf("guild:locale:%d", i), "en", TierPersistent); err != nil {
			t.Fatal(err)
		}
	}
	// The keys really are spread over several masters.
	holders := 0
	for _, node := range d.Nodes() {
		if node.Role != topology.RolePrimary {
			continue
		}
		if n, err := d.Do(ctx, node.Name, "DBSIZE"); err == nil && n.(int64) > 0 {
			holders++
		}
	}
	if holders < 2 {
		t.Fatalf("keys on %d masters, want several", holders)
	}
	vals, found, err := m.MGet(ctx, "guild:locale:1", "guild:locale:2", "guild:locale:nope")
	if err != nil || !found[0] || !found[1] || found[2] || vals[0] != "en" {
		t.Fatalf("cross-slot MGet = %v %v %v", vals, found, err)
	}
	n, err := m.Invalidate(ctx, "guild:locale:*")
	if err != nil || n != 300 {
		t.Fatalf("Invalidate = %d, %v; want 300", n, err)
	}
	if n, err := m.Del(ctx, "guild:locale:1", "guild:locale:2"); err != nil || n != 0 {
		t.Errorf("cross-slot Del after invalidation = %d %v", n, err)
	}
}
