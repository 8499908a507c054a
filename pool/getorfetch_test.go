package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

func TestGetOrFetchFillsOnMissThenHits(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	calls := 0
	fetch := func(context.Context) (string, error) { calls++; return "profile-42", nil }

	v, out, err := m.GetOrFetchRaw(ctx, "stratz:profile:42", TierAPI, fetch)
	if err != nil || v != "profile-42" || !out.Fetched || out.Hit || out.Shared || out.FillErr != nil {
		t.Fatalf("first call = %q %+v %v, want a fetched fill", v, out, err)
	}
	if reply, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:stratz:profile:42"); reply.(int64) < 295 {
		t.Errorf("fill TTL = %v, want the api tier's 300 s", reply)
	}
	v, out, err = m.GetOrFetchRaw(ctx, "stratz:profile:42", TierAPI, fetch)
	if err != nil || v != "profile-42" || !out.Hit || out.Fetched || calls != 1 {
		t.Fatalf("second call = %q %+v %v (fetches %d), want a hit", v, out, err, calls)
	}
	if out.GetDur <= 0 || out.FetchDur != 0 {
		t.Errorf("hit durations %+v: want GetDur only", out)
	}
	s := m.Stats()
	api := s.Tiers[TierAPI]
	if api.Hits != 1 || api.Misses != 1 || api.Fetches != 1 || s.Fetches != 1 || s.Sets != 1 {
		t.Errorf("stats %+v tier %+v", s, api)
	}
}

func TestGetOrFetchCollapsesConcurrentMisses(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	const n = 50
	var fetches atomic.Int32
	release := make(chan struct{})
	fetch := func(context.Context) (string, error) {
		fetches.Add(1)
		<-release
		return "heroes", nil
	}
	var wg sync.WaitGroup
	outs := make([]Outcome, n)
	vals := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals[i], outs[i], errs[i] = m.GetOrFetchRaw(ctx, "meta:heroes", TierMeta, fetch)
		}()
	}
	// Release the single fetch only when every other caller has joined it.
	eventually(t, 10*time.Second, "all callers to join the fetch", func() bool {
		return m.flight.joinersOf("cacheproof:meta:heroes") == n-1
	})
	close(release)
	wg.Wait()
	fetched, shared := 0, 0
	for i := 0; i < n; i++ {
		if errs[i] != nil || vals[i] != "heroes" {
			t.Fatalf("caller %d: %q %v", i, vals[i], errs[i])
		}
		if outs[i].Fetched {
			fetched++
		}
		if outs[i].Shared {
			shared++
		}
	}
	if fetches.Load() != 1 || fetched != 1 || shared != n-1 {
		t.Fatalf("fetch ran %d times, Fetched %d, Shared %d; want 1, 1, %d", fetches.Load(), fetched, shared, n-1)
	}
	if s := m.Stats(); s.SharedFetches != n-1 || s.Fetches != 1 {
		t.Errorf("stats shared=%d fetches=%d", s.SharedFetches, s.Fetches)
	}
}

func TestGetOrFetchErrorsAreNotCached(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	boom := errors.New("stratz 503")
	_, out, err := m.GetOrFetchRaw(ctx, "k", TierAPI, func(context.Context) (string, error) { return "", boom })
	if !errors.Is(err, boom) || ErrorKind(err) != KindFetch || !out.Fetched {
		t.Fatalf("err = %v (kind %q), out %+v; want the fetch error, kind fetch", err, ErrorKind(err), out)
	}
	if n, _ := d.Do(ctx, "primary-0", "EXISTS", "cacheproof:k"); n.(int64) != 0 {
		t.Fatal("a failed fetch left a cache entry")
	}
	v, out, err := m.GetOrFetchRaw(ctx, "k", TierAPI, func(context.Context) (string, error) { return "ok", nil })
	if err != nil || v != "ok" || !out.Fetched {
		t.Fatalf("retry after error = %q %+v %v, want a fresh fetch", v, out, err)
	}
	if s := m.Stats(); s.FetchErrors != 1 || s.Fetches != 2 {
		t.Errorf("fetch errors %d fetches %d, want 1 and 2", s.FetchErrors, s.Fetches)
	}
}

type profile struct {
	SteamID int64  `json:"steam_id"`
	Name    string `json:"name"`
}

func TestGetOrFetchGenericJSONAndRepair(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	want := profile{SteamID: 7, Name: "n0tail"}
	fetch := func(context.Context) (profile, error) { return want, nil }
	got, out, err := GetOrFetch(ctx, m, "opendota:profile:7", TierAPI, fetch)
	if err != nil || got != want || !out.Fetched {
		t.Fatalf("fetch = %+v %+v %v", got, out, err)
	}
	raw, _ := d.Do(ctx, "primary-0", "GET", "cacheproof:opendota:profile:7")
	if raw != `{"steam_id":7,"name":"n0tail"}` {
		t.Errorf("stored %v, want JSON", raw)
	}
	got, out, err = GetOrFetch(ctx, m, "opendota:profile:7", TierAPI, fetch)
	if err != nil || got != want || !out.Hit {
		t.Fatalf("hit = %+v %+v %v", got, out, err)
	}
	// A corrupt entry is a miss that gets repaired by a fresh fetch.
	if _, err := d.Do(ctx, "primary-0", "SET", "cacheproof:opendota:profile:7", "not json"); err != nil {
		t.Fatal(err)
	}
	got, out, err = GetOrFetch(ctx, m, "opendota:profile:7", TierAPI, fetch)
	if err != nil || got != want || out.Hit || !out.Fetched {
		t.Fatalf("corrupt entry = %+v %+v %v, want a refetch", got, out, err)
	}
	raw, _ = d.Do(ctx, "primary-0", "GET", "cacheproof:opendota:profile:7")
	if raw != `{"steam_id":7,"name":"n0tail"}` {
		t.Errorf("entry not repaired: %v", raw)
	}
}

func TestGetOrFetchReportsFillFailureOnReadonlyStandalone(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.MaxRetries = 1
	m := newManager(t, cfg)
	ctx := ctxT(t)
	// Demote the only node: it now replicates from a port nobody listens on.
	if _, err := d.Do(ctx, "primary-0", "REPLICAOF", "127.0.0.1", "1"); err != nil {
		t.Fatal(err)
	}
	v, out, err := m.GetOrFetchRaw(ctx, "user:connected:1", TierPersistent, func(context.Context) (string, error) { return "yes", nil })
	if err != nil || v != "yes" {
		t.Fatalf("value must still be served from the origin: %q %v", v, err)
	}
	if out.FillErr == nil || ErrorKind(out.FillErr) != KindReadOnly {
		t.Fatalf("FillErr = %v (kind %q), want readonly", out.FillErr, ErrorKind(out.FillErr))
	}
	// Plain writes keep failing, loudly, until the node is promoted again.
	for i := 0; i < 3; i++ {
		if err := m.Set(ctx, "k", "v", TierAPI); ErrorKind(err) != KindReadOnly {
			t.Fatalf("Set on a demoted standalone: %v, want a readonly error", err)
		}
	}
	if _, err := d.Do(ctx, "primary-0", "REPLICAOF", "NO", "ONE"); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, "k", "v", TierAPI); err != nil {
		t.Fatalf("Set after REPLICAOF NO ONE: %v", err)
	}
	s := m.Stats()
	if s.FillErrors != 1 || s.CommandErrors[KindReadOnly] < 4 || s.PrimarySwitches != 0 {
		t.Errorf("stats fill=%d readonly=%d switches=%d", s.FillErrors, s.CommandErrors[KindReadOnly], s.PrimarySwitches)
	}
}

func TestGetOrFetchFallsBackToOriginWhenRedisIsDown(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.MaxRetries = -1
	m := newManager(t, cfg)
	ctx := ctxT(t)
	if err := d.Kill(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	v, out, err := m.GetOrFetchRaw(ctx, "k", TierAPI, func(context.Context) (string, error) { return "origin", nil })
	if err != nil || v != "origin" {
		t.Fatalf("%q %v, want the origin's value", v, err)
	}
	if k := ErrorKind(out.GetErr); k != KindConnectionRefused && k != KindConnectionReset {
		t.Errorf("GetErr = %v (kind %q), want a connection error", out.GetErr, k)
	}
	if out.FillErr == nil {
		t.Error("fill into a dead Redis reported no error")
	}
	if err := d.Start(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	// The pool reconnects on its own: the restarted, empty cache misses.
	eventually(t, 10*time.Second, "a working GET after restart", func() bool {
		_, _, err := m.Get(ctx, "k")
		return err == nil
	})
	if s := m.Stats(); s.Dials < 2 {
		t.Errorf("dials = %d, want a reconnect counted", s.Dials)
	}
}
