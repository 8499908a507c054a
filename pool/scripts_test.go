package pool

import (
	"sync"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

func TestLuaScriptsSurviveScriptFlush(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.TTL[TierSession] = 10 * time.Second
	m := newManager(t, cfg)
	ctx := ctxT(t)

	// Loaded once at New.
	for _, sc := range m.scripts.all() {
		ok, err := d.Do(ctx, "primary-0", "SCRIPT", "EXISTS", sc.Hash())
		if err != nil || ok.([]any)[0].(int64) != 1 {
			t.Fatalf("script %s not loaded at New: %v %v", sc.Hash(), ok, err)
		}
	}
	check := func(round string) {
		t.Helper()
		// Session read extends the TTL atomically.
		if _, err := d.Do(ctx, "primary-0", "SET", "cacheproof:session:1", "s", "PX", "1000"); err != nil {
			t.Fatal(err)
		}
		v, found, err := m.SessionGet(ctx, "session:1")
		if err != nil || !found || v != "s" {
			t.Fatalf("%s: SessionGet = %q %v %v", round, v, found, err)
		}
		pttl, _ := d.Do(ctx, "primary-0", "PTTL", "cacheproof:session:1")
		if pttl.(int64) < 9000 {
			t.Errorf("%s: PTTL after SessionGet = %v, want ~10000", round, pttl)
		}
		if _, found, err := m.SessionGet(ctx, "session:none"); err != nil || found {
			t.Errorf("%s: SessionGet on a missing session: %v %v", round, found, err)
		}
		// Compare-and-set by version.
		key := "guild:settings:" + round
		v1, ok, err := m.CompareAndSet(ctx, key, 0, "a", TierPersistent)
		if err != nil || !ok || v1 != 1 {
			t.Fatalf("%s: CAS create = %d %v %v", round, v1, ok, err)
		}
		if cur, ok, err := m.CompareAndSet(ctx, key, 0, "b", TierPersistent); err != nil || ok || cur != 1 {
			t.Fatalf("%s: CAS with a stale version = %d %v %v, want a conflict at 1", round, cur, ok, err)
		}
		if v2, ok, err := m.CompareAndSet(ctx, key, 1, "c", TierAPI); err != nil || !ok || v2 != 2 {
			t.Fatalf("%s: CAS update = %d %v %v", round, v2, ok, err)
		}
		got, err := m.GetVersioned(ctx, key)
		if err != nil || got.Value != "c" || got.Version != 2 {
			t.Fatalf("%s: GetVersioned = %+v %v", round, got, err)
		}
		if ttl, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:"+key); ttl.(int64) < 295 {
			t.Errorf("%s: CAS with the api tier left TTL %v", round, ttl)
		}
		// Fixed-window rate limiter: 3 per window.
		var last RateResult
		for i := 1; i <= 5; i++ {
			r, err := m.RateLimit(ctx, "rl:"+round, 3, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if r.Allowed != (i <= 3) || r.Count != int64(i) {
				t.Fatalf("%s: hit %d = %+v", round, i, r)
			}
			last = r
		}
		if last.Remaining != 0 || last.ResetIn <= 0 || last.ResetIn > time.Minute {
			t.Errorf("%s: last = %+v", round, last)
		}
	}
	check("loaded")
	if _, err := d.Do(ctx, "primary-0", "SCRIPT", "FLUSH"); err != nil {
		t.Fatal(err)
	}
	check("flushed")
	if _, err := m.RateLimit(ctx, "x", 0, time.Second); err == nil {
		t.Error("RateLimit with limit 0 accepted")
	}
}

func TestCompareAndSetIsAtomicUnderContention(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				cur, err := m.GetVersioned(ctx, "counter")
				if err != nil {
					t.Error(err)
					return
				}
				if _, ok, err := m.CompareAndSet(ctx, "counter", cur.Version, "x", TierPersistent); err != nil {
					t.Error(err)
					return
				} else if ok {
					done++
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	got, err := m.GetVersioned(ctx, "counter")
	if err != nil || got.Version != workers*each || wins != workers*each {
		t.Fatalf("version %d after %d successful CAS (%v): lost updates", got.Version, wins, err)
	}
}
