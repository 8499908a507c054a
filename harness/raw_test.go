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
