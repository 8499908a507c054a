package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
)

// A pause lasts its for:, on every backend. On an external Redis, which the
// tool cannot signal, it is CLIENT PAUSE ALL: before, the sigstop mode took
// the backend's fixed 10 s window whatever for: said, and a 1 s pause froze
// the server for 10.
func TestExternalPauseHonoursFor(t *testing.T) {
	own := startT(t, topology.ShapeStandalone)
	addr := nodeAddr(t, own, "primary-0")
	ctx := ctxT(t)
	ext, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendExternal, AllowDestructive: true,
		External: topology.ExternalSpec{Addrs: []string{addr}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close(context.Background())

	const hold = 1200 * time.Millisecond
	r := NewRunner(mustFaults(t, Spec{Kind: "pause", For: hold}), Options{Deployment: ext, Total: 15 * time.Second, Logf: t.Logf})
	start := time.Now()
	r.Start(start)
	time.Sleep(300 * time.Millisecond)
	// Deadlines from the context, so a PING the pause holds times out.
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if err := c.Ping(pctx).Err(); err == nil {
		t.Error("PING answered during the pause")
	}
	cancel()
	// The pause is over when for: has passed, not when the backend's
	// default window would have ended.
	deadline := start.Add(hold + 2*time.Second)
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			break
		}
	}
	if since := time.Since(start); since > hold+2*time.Second {
		t.Fatalf("still paused %s after a %s pause", since, hold)
	}
	r.Stop()
	evs := r.Events()
	if len(evs) != 1 || !evs[0].Injected {
		t.Fatalf("events %+v", evs)
	}
	if d := evs[0].End - evs[0].Start; d < hold || d > hold+2*time.Second {
		t.Errorf("the pause lasted %s, want about %s", d, hold)
	}
}

// On the process backend a sigstop pause thaws by itself after for: (a
// timer in topology), and the fault's end thaws it when the run ends first.
func TestPauseEndsEarlyWhenTheRunEnds(t *testing.T) {
	d := startT(t, topology.ShapeStandalone)
	c := client(t, nodeAddr(t, d, "primary-0"))
	r := NewRunner(mustFaults(t, Spec{Kind: "pause", For: 30 * time.Second}), Options{Deployment: d, Total: time.Minute, Logf: t.Logf})
	r.Start(time.Now())
	time.Sleep(300 * time.Millisecond)
	r.Stop()
	pctx, cancel := context.WithTimeout(ctxT(t), time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		t.Errorf("node still frozen after the run ended: %v", err)
	}
	if evs := r.Events(); len(evs) != 1 || !evs[0].Injected || evs[0].End > 2*time.Second {
		t.Errorf("events %+v", evs)
	}
}
