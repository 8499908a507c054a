package pool

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

func TestLuaScriptsSurviveScriptFlush(t *testing.T) {
	d, m, ctx := standaloneWithTTL(t, TierSession, 10*time.Second)

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
		// Compare-and-swap by value on an ordinary string.
		key := "guild:settings:" + round
		if ok, err := m.CompareAndSwap(ctx, key, "", false, "a", TierPersistent); err != nil || !ok {
			t.Fatalf("%s: CAS create = %v %v", round, ok, err)
		}
		if ok, err := m.CompareAndSwap(ctx, key, "", false, "b", TierPersistent); err != nil || ok {
			t.Fatalf("%s: CAS create over an existing key = %v %v, want a conflict", round, ok, err)
		}
		if ok, err := m.CompareAndSwap(ctx, key, "x", true, "b", TierPersistent); err != nil || ok {
			t.Fatalf("%s: CAS from a value it does not hold = %v %v, want a conflict", round, ok, err)
		}
		if _, err := d.Do(ctx, "primary-0", "PEXPIRE", "cacheproof:"+key, "100000"); err != nil {
			t.Fatal(err)
		}
		if ok, err := m.CompareAndSwap(ctx, key, "a", true, "c", TierPersistent); err != nil || !ok {
			t.Fatalf("%s: CAS update = %v %v", round, ok, err)
		}
		if ttl, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:"+key); ttl.(int64) != -1 {
			t.Errorf("%s: CAS with the persistent tier left TTL %v, want none", round, ttl)
		}
		// The key stays the string GET and MGET read.
		if v, found, err := m.Get(ctx, key); err != nil || !found || v != "c" {
			t.Fatalf("%s: Get after CAS = %q %v %v", round, v, found, err)
		}
		if ok, err := m.CompareAndSwap(ctx, key, "c", true, "d", TierAPI); err != nil || !ok {
			t.Fatalf("%s: CAS update (api) = %v %v", round, ok, err)
		}
		if ttl, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:"+key); ttl.(int64) < 295 {
			t.Errorf("%s: CAS with the api tier left TTL %v", round, ttl)
		}
		if _, err := d.Do(ctx, "primary-0", "HSET", "cacheproof:h:"+round, "f", "v"); err != nil {
			t.Fatal(err)
		}
		if _, err := m.CompareAndSwap(ctx, "h:"+round, "", false, "x", TierAPI); err == nil || ErrorKind(err) != KindOther {
			t.Errorf("%s: CAS on a hash = %v, want Redis's WRONGTYPE", round, err)
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

// Two writers read the same value, then both swap: exactly one wins each
// round and the other sees a conflict. Then eight writers increment a
// counter kept in the value with read-swap-retry: no update is lost.
func TestCompareAndSwapUnderContention(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)

	const rounds = 20
	ready, outcome := make(chan struct{}), make(chan error, 2)
	swap := make([]chan struct{}, rounds)
	for r := range swap {
		swap[r] = make(chan struct{})
	}
	errConflict := errors.New("conflict")
	for w := 0; w < 2; w++ {
		go func() {
			for r := 0; r < rounds; r++ {
				v, found, err := m.Get(ctx, "locale")
				ready <- struct{}{}
				<-swap[r]
				if err == nil {
					var ok bool
					ok, err = m.CompareAndSwap(ctx, "locale", v, found, fmt.Sprintf("%d-%d", r, w), TierPersistent)
					if err == nil && !ok {
						err = errConflict
					}
				}
				outcome <- err
			}
		}()
	}
	wins, conflicts := 0, 0
	for r := 0; r < rounds; r++ {
		<-ready
		<-ready // both have read the same value
		close(swap[r])
		for i := 0; i < 2; i++ {
			switch err := <-outcome; {
			case err == nil:
				wins++
			case errors.Is(err, errConflict):
				conflicts++
			default:
				t.Fatal(err)
			}
		}
	}
	if wins != rounds || conflicts != rounds {
		t.Fatalf("%d rounds of two swaps from the same read: %d won, %d conflicts; want one of each a round", rounds, wins, conflicts)
	}

	const workers, each = 8, 25
	var wg sync.WaitGroup
	var retried atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				v, found, err := m.Get(ctx, "counter")
				if err != nil {
					t.Error(err)
					return
				}
				n := 0
				if found {
					n, _ = strconv.Atoi(v)
				}
				ok, err := m.CompareAndSwap(ctx, "counter", v, found, strconv.Itoa(n+1), TierPersistent)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					done++
				} else {
					retried.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	v, _, err := m.Get(ctx, "counter")
	if err != nil || v != strconv.Itoa(workers*each) {
		t.Fatalf("counter %q after %d successful swaps (%v): lost updates", v, workers*each, err)
	}
	t.Logf("%d conflicts retried, no update lost", retried.Load())
}
