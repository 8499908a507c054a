package chaos

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

func modelT(t *testing.T) *workload.Model {
	t.Helper()
	s := workload.Settings{}
	s.Defaults()
	m, err := workload.New(s, workload.Run{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A mass expiry gives a fraction of a family's keys (chosen by the key,
// under the manager's key prefix) one expiry second, leaves the rest and
// the other families alone, and its key watch tells the expired keys'
// lookups from the others': a single fetch per key is single-flight
// holding.
func TestMassExpiryExpiresAFractionInOneSecond(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	c := client(t, nodeAddr(t, d, "primary-0"))
	const n = 400
	for i := range n {
		if err := c.Set(ctx, fmt.Sprintf("cp:stratz:profile:%d", 76561198000000000+i), "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(ctx, "cp:meta:heroes", "v", time.Hour)
	c.Set(ctx, "stratz:profile:1", "no prefix", time.Hour)
	model := modelT(t)
	faults, err := New([]Spec{{Kind: "mass-expiry", For: 3 * time.Second, Params: map[string]any{"family": "stratz_profile", "fraction": 0.5}}},
		Site{Shape: topology.ShapeStandalone, Total: 4 * time.Second, Families: []string{"stratz_profile"}})
	if err != nil {
		t.Fatal(err)
	}
	watch := NewKeyWatch()
	r := NewRunner(faults, Options{Deployment: d, Total: 4 * time.Second, Logf: t.Logf, Model: model, Watch: watch, KeyPrefix: "cp:"})
	start := time.Now()
	r.Start(start)
	// Wait until the fault took effect (polling: no timed assertion).
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if evs := r.Events(); len(evs) == 1 && evs[0].Injected {
			break
		}
	}
	// Every key was written for an hour: one given the fault's second has
	// a PTTL of at most 3 s, or is already gone.
	var expiring []string
	pipe := c.Pipeline()
	ttls := make([]*redis.DurationCmd, n)
	for i := range n {
		ttls[i] = pipe.PTTL(ctx, fmt.Sprintf("cp:stratz:profile:%d", 76561198000000000+i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range ttls {
		if ms := cmd.Val(); ms == -2 || (ms > 0 && ms <= 3*time.Second) {
			expiring = append(expiring, fmt.Sprintf("cp:stratz:profile:%d", 76561198000000000+i))
		}
	}
	// Lookups as the bot layer reports them: one fetch of an expired key,
	// then joiners; and another family's key.
	if len(expiring) > 0 {
		key := expiring[0][len("cp:"):]
		watch.Observe(key, 3*time.Millisecond, true)
		watch.Observe(key, 4*time.Millisecond, false)
		watch.Observe("meta:heroes", time.Millisecond, false)
	}
	time.Sleep(time.Until(start.Add(4 * time.Second)))
	r.Stop()
	evs := r.Events()
	if len(evs) != 1 || !evs[0].Injected || evs[0].Mode == nil {
		t.Fatalf("events %+v", evs)
	}
	mode := evs[0].Mode
	t.Logf("%d keys expiring, mode %+v, notes %q", len(expiring), *mode, evs[0].Notes)
	// The hash picks about half of 400: 5 standard deviations of margin.
	if mode.Keys < 150 || mode.Keys > 250 || uint64(len(expiring)) != mode.Keys {
		t.Fatalf("%d keys given an expiry, %d seen expiring, want about 200 and equal", mode.Keys, len(expiring))
	}
	// All in one second: every PEXPIREAT named the same instant, so what
	// is left after it is exactly the keys not chosen.
	left, _ := c.Keys(ctx, "cp:stratz:profile:*").Result()
	if len(left) != n-int(mode.Keys) {
		t.Fatalf("%d stratz_profile keys left after the expiry second, want %d", len(left), n-int(mode.Keys))
	}
	for _, k := range []string{"cp:meta:heroes", "stratz:profile:1"} {
		if c.Exists(ctx, k).Val() != 1 {
			t.Fatalf("%s expired: another family or an unprefixed key was touched", k)
		}
	}
	if mode.AffectedLookups != 2 || mode.AffectedFetches != 1 || mode.AffectedKeysFetched != 1 || mode.Other.Lookups != 1 {
		t.Fatalf("watch: %d affected lookups, %d fetches of %d keys, %d other lookups; want 2, 1 of 1, 1", mode.AffectedLookups, mode.AffectedFetches, mode.AffectedKeysFetched, mode.Other.Lookups)
	}
}

// A big key is written at the start with the workload's checksum (so every
// read verifies), and deleted at the end.
func TestBigKeyWritesAndDeletes(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	ctx := ctxT(t)
	c := client(t, nodeAddr(t, d, "primary-0"))
	faults, err := New([]Spec{{Kind: "big-key", For: time.Second, Params: map[string]any{"family": "stratz_profile", "fraction": 0.1, "value_size": int64(3 << 20), "key": "stratz:profile:7"}}},
		Site{Shape: topology.ShapeStandalone, Total: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(faults, Options{Deployment: d, Total: 3 * time.Second, Logf: t.Logf, Model: modelT(t), Watch: NewKeyWatch()})
	r.Start(time.Now())
	var val string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && val == ""; time.Sleep(20 * time.Millisecond) {
		val, _ = c.Get(ctx, "stratz:profile:7").Result()
	}
	r.Stop()
	if len(val) != 3<<20 {
		t.Fatalf("big key holds %d bytes, want %d", len(val), 3<<20)
	}
	if _, err := workload.Verify("stratz:profile:7", val); err != nil {
		t.Fatalf("big key's value does not verify: %v", err)
	}
	if c.Exists(context.Background(), "stratz:profile:7").Val() != 0 {
		t.Fatal("big key left behind after the fault")
	}
	ev := r.Events()[0]
	if ev.Mode == nil || ev.Mode.ValueBytes != 3<<20 || ev.Mode.Keys != 1 {
		t.Fatalf("mode %+v", ev.Mode)
	}
}
