package pool

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaks a goroutine: a manager that
// forgot its health loop, subscriber, retired client or follower probe.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startTopo starts a real Redis deployment of shape on loopback for one
// test and tears it down in t.Cleanup, checking no redis-server survives.
func startTopo(t *testing.T, shape topology.Shape) topology.Deployment {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: shape, Dir: dir})
	if err != nil {
		t.Fatalf("topology.Start(%s): %v", shape, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs := t.TempDir()
			if err := d.KeepLogs(logs); err == nil {
				t.Logf("node logs kept in %s", logs)
			}
		}
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("topology Close: %v", err)
		}
		out, _ := exec.Command("pgrep", "-a", "-f", "redis-server").Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, dir) {
				t.Errorf("redis-server still running after Close: %s", line)
			}
		}
	})
	return d
}

// testConfig is the development profile pointed at a deployment, with
// timeouts short enough for tests and no background health loop.
func testConfig(t *testing.T, ep topology.Endpoints) Config {
	t.Helper()
	c, err := ProfileConfig(ProfileDevelopment)
	if err != nil {
		t.Fatal(err)
	}
	c.Addrs = ep.Addrs
	c.Username, c.Password, c.TLS = ep.Username, ep.Password, ep.TLS
	switch ep.Shape {
	case topology.ShapeSentinel:
		c.EnableSentinel = true
		c.SentinelAddrs, c.MasterName = ep.SentinelAddrs, ep.MasterName
	case topology.ShapeCluster:
		c.Cluster = true
	case topology.ShapeStandalone:
		c.Addrs = ep.Addrs[:1]
	}
	c.MinConnections = 1
	c.ConnectionTimeout = 2 * time.Second
	c.CommandTimeout = 2 * time.Second
	c.PoolTimeout = time.Second
	c.MinRetryBackoff, c.MaxRetryBackoff = 10*time.Millisecond, 100*time.Millisecond
	c.HealthCheckInterval = 0
	c.KeyPrefix = "cacheproof:"
	return c
}

// standaloneWithTTL starts a standalone Redis and a manager on it whose
// tier has ttl (short, so a test sees the TTL a write left).
func standaloneWithTTL(t *testing.T, tier Tier, ttl time.Duration) (topology.Deployment, *Manager, context.Context) {
	t.Helper()
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.TTL[tier] = ttl
	return d, newManager(t, cfg), ctxT(t)
}

// newManager starts a Manager and shuts it down in t.Cleanup.
func newManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, err := New(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
