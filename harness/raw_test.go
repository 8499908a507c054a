package harness

import (
	"context"
	"testing"

	"github.com/cacheproof/cacheproof/pool"
)

// Raw mode sends exactly the requested number of operations per test, of
// the requested size, across the keyspace, through the manager.
func TestRawMode(t *testing.T) {
	ctx := context.Background()
	dep, cfg := standaloneRedis(t)
	mgr, err := pool.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Shutdown(ctx)
	res, err := RunRaw(ctx, mgr, RawOptions{Tests: []string{"set", "get", "mix"}, Clients: 8, Requests: 3000, ValueSize: 100, Keyspace: 500, SetRatio: 1, GetRatio: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("want 3 results, got %d", len(res))
	}
	for _, r := range res {
		if r.Requests != 3000 || r.Errors != 0 || r.OpsPerSec <= 0 || r.Latency.P99 <= 0 || r.CPUPerOpUs <= 0 {
			t.Errorf("%s: %+v", r.Test, r)
		}
	}
	n, err := dep.Do(ctx, "primary-0", "DBSIZE")
	if err != nil || n.(int64) < 400 || n.(int64) > 500 {
		t.Errorf("keyspace: DBSIZE %v %v, want close to 500", n, err)
	}
	if l, err := dep.Do(ctx, "primary-0", "STRLEN", "key:000000000007"); err != nil || l.(int64) != 100 {
		t.Errorf("value size: %v %v", l, err)
	}
	if _, err := RunRaw(ctx, mgr, RawOptions{Tests: []string{"lpush"}, Clients: 1, Requests: 1, Keyspace: 1}); err == nil {
		t.Error("an unknown test was accepted")
	}
}

// Held to a rate, raw mode sends no request before its due time, and each
// request's latency, counted from that due time, is never below its
// sent-to-answered time: the quantiles of the first bound the second's.
func TestRawOpenLoop(t *testing.T) {
	ctx := context.Background()
	dep, _ := standaloneRedis(t)
	const n, rate = 1500, 3000.0
	res, err := Raw(ctx, RawTarget{Addr: dep.Endpoints().Addrs[0]}, RawOptions{Tests: []string{"set"}, Clients: 4, Requests: n, ValueSize: 10, Keyspace: 100, Rate: rate, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Requests != n || r.Errors != 0 || r.Rate != rate || r.Service == nil {
		t.Fatalf("%+v", r)
	}
	// The last request is due (n-1)/rate after the start.
	if min := float64(n-1) / rate; r.ElapsedS < min {
		t.Errorf("%d requests at %.0f/s took %.3fs, less than the %.3fs the last one waits for", n, rate, r.ElapsedS, min)
	}
	for _, q := range []struct {
		name       string
		due, since float64
	}{{"p50", r.Latency.P50, r.Service.P50}, {"p99", r.Latency.P99, r.Service.P99}, {"max", r.Latency.Max, r.Service.Max}} {
		if q.due < q.since {
			t.Errorf("%s from due time %.3fms below sent-to-answered %.3fms", q.name, q.due, q.since)
		}
	}
}

// --no-manager sends the same commands through a plain go-redis client:
// the keys and values land as through the manager.
func TestRawWithoutManager(t *testing.T) {
	ctx := context.Background()
	dep, _ := standaloneRedis(t)
	res, err := Raw(ctx, RawTarget{Addr: dep.Endpoints().Addrs[0], NoManager: true}, RawOptions{Tests: []string{"set", "get"}, Clients: 4, Requests: 800, ValueSize: 32, Keyspace: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Requests != 800 || r.Errors != 0 || r.Service != nil {
			t.Errorf("%s: %+v", r.Test, r)
		}
	}
	if l, err := dep.Do(ctx, "primary-0", "STRLEN", "key:000000000007"); err != nil || l.(int64) != 32 {
		t.Errorf("value size: %v %v", l, err)
	}
	if _, err := Raw(ctx, RawTarget{Addr: dep.Endpoints().Addrs[0], NoManager: true, AutoPipeline: true}, RawOptions{Tests: []string{"get"}, Clients: 1, Requests: 1, Keyspace: 1}); err == nil {
		t.Error("auto-pipelining without the manager was accepted")
	}
}

// TestRawWireLatency checks the wire clock (redis-benchmark's): one sample
// per request, through the manager and without it, each request's wire time
// inside its call time (so every percentile is at most the call's), and
// none with auto-pipelining, where one write carries many requests.
func TestRawWireLatency(t *testing.T) {
	ctx := context.Background()
	dep, _ := standaloneRedis(t)
	addr := dep.Endpoints().Addrs[0]
	for _, noManager := range []bool{false, true} {
		res, err := Raw(ctx, RawTarget{Addr: addr, NoManager: noManager}, RawOptions{Tests: []string{"set", "get"}, Clients: 4, Requests: 600, ValueSize: 64, Keyspace: 50, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			// The machine's noise over the test, or why it is not there:
			// never silently absent.
			if (r.HostTimer == nil) == (r.HostTimerNote == "") {
				t.Errorf("no-manager %v %s: host timer %+v, note %q", noManager, r.Test, r.HostTimer, r.HostTimerNote)
			}
			w := r.Wire
			if w == nil {
				t.Fatalf("no-manager %v %s: no wire latency", noManager, r.Test)
			}
			if w.Count != 600 {
				t.Errorf("no-manager %v %s: %d wire samples for 600 requests (the connections' setup must not count)", noManager, r.Test, w.Count)
			}
			if w.P50 <= 0 || w.P50 > r.Latency.P50 || w.P99 > r.Latency.P99 || w.Max > r.Latency.Max {
				t.Errorf("no-manager %v %s: wire %+v not inside call %+v", noManager, r.Test, *w, r.Latency)
			}
			// The manager's raw-syscall connections stamp arrivals; a plain
			// go-redis connection does not.
			if noManager {
				if r.Arrival != nil || r.Wake != nil {
					t.Errorf("no-manager %s: an arrival split without stamps", r.Test)
				}
				continue
			}
			a, k := r.Arrival, r.Wake
			if a == nil || k == nil {
				t.Fatalf("%s: no arrival split", r.Test)
			}
			// A read the kernel had not stamped yet (stamping starts a
			// moment after it is asked for) is left out of the split.
			if a.Count != k.Count || a.Count < 570 || a.Count > 600 {
				t.Errorf("%s: arrival %d / wake %d samples for 600 requests", r.Test, a.Count, k.Count)
			}
			// Each part is inside its request's wire time, and on loopback
			// a reply arrives after at least one trip through Redis.
			if a.Mean < 0.002 || a.P99 > w.P99 || a.Max > w.Max || k.P99 > w.P99 || k.Max > w.Max {
				t.Errorf("%s: arrival %+v / wake %+v not inside wire %+v", r.Test, *a, *k, *w)
			}
		}
	}
	res, err := Raw(ctx, RawTarget{Addr: addr, AutoPipeline: true}, RawOptions{Tests: []string{"get"}, Clients: 8, Requests: 200, Keyspace: 10, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Wire != nil {
		t.Errorf("auto-pipeline reported a wire latency: %+v", *res[0].Wire)
	}
}
