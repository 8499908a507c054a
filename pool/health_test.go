package pool

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

func TestHealthApplyServerConfigStatusWarm(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.MaxMemory = 64 << 20
	cfg.MaxMemoryPolicy = "allkeys-lfu"
	cfg.HealthCheckInterval = 50 * time.Millisecond
	m := newManager(t, cfg)
	ctx := ctxT(t)

	// New never touches the server's configuration.
	info, _ := d.Info(ctx, "primary-0", "memory")
	if info["maxmemory"] != "0" {
		t.Fatalf("maxmemory changed by New: %s", info["maxmemory"])
	}
	if err := m.ApplyServerConfig(ctx); err != nil {
		t.Fatal(err)
	}
	info, _ = d.Info(ctx, "primary-0", "memory")
	if info["maxmemory"] != "67108864" || info["maxmemory_policy"] != "allkeys-lfu" {
		t.Fatalf("after ApplyServerConfig: maxmemory=%s policy=%s", info["maxmemory"], info["maxmemory_policy"])
	}

	// Warm loads the meta keys from the origin.
	origin := map[string]string{"meta:heroes": "[...]", "meta:items": "[...]", "meta:current_patch": "7.36"}
	n, err := m.Warm(ctx, func(_ context.Context, k string) (string, error) { return origin[k], nil },
		map[string]Tier{"meta:heroes": TierMeta, "meta:items": TierMeta, "meta:current_patch": TierMeta})
	if err != nil || n != 3 {
		t.Fatalf("Warm = %d, %v", n, err)
	}
	if ttl, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:meta:items"); ttl.(int64) < 3590 {
		t.Errorf("warmed key TTL %v, want the meta tier's", ttl)
	}
	boom := errors.New("steam down")
	n, err = m.Warm(ctx, func(context.Context, string) (string, error) { return "", boom },
		map[string]Tier{"meta:heroes": TierMeta})
	if n != 0 || !errors.Is(err, boom) || ErrorKind(err) != KindFetch {
		t.Errorf("failing Warm = %d, %v", n, err)
	}

	// Two hits, one miss, seen by the server as keyspace hits/misses.
	before, err := m.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _ = m.Get(ctx, "meta:heroes")
	_, _, _ = m.Get(ctx, "meta:items")
	_, _, _ = m.Get(ctx, "nope")
	h, err := m.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Role != "master" || h.Keys != 3 || h.KeysWithExpiry != 3 || h.MaxMemory != 64<<20 ||
		h.MaxMemoryPolicy != "allkeys-lfu" || h.UsedMemory <= 0 || h.UsedMemoryPeak < h.UsedMemory ||
		h.ConnectedClients < 1 || h.Version == "" {
		t.Errorf("health = %+v", h)
	}
	if dh, dm := h.KeyspaceHits-before.KeyspaceHits, h.KeyspaceMisses-before.KeyspaceMisses; dh != 2 || dm != 1 {
		t.Errorf("server saw %d hits and %d misses for 2 hits and 1 miss", dh, dm)
	}
	if want := float64(h.KeyspaceHits) / float64(h.KeyspaceHits+h.KeyspaceMisses); h.ServerHitRate != want {
		t.Errorf("server hit rate %v, want hits/(hits+misses) = %v", h.ServerHitRate, want)
	}
	if h.MemoryGrade != GradeMemory(h.UsedMemory, h.MaxMemory) || h.MemoryUsage <= 0 {
		t.Errorf("memory grade %s usage %v", h.MemoryGrade, h.MemoryUsage)
	}
	// The background loop refreshes LastHealth on its own.
	first, _ := m.LastHealth()
	eventually(t, 5*time.Second, "the health loop to run again", func() bool {
		last, ok := m.LastHealth()
		return ok && last.At.After(first.At)
	})
	st := m.Status()
	for _, want := range []string{"REDIS CACHE STATUS", "Hit Rate:        66.7%", "Max:             64.0 MB", "Total:           3"} {
		if !strings.Contains(st, want) {
			t.Errorf("Status lacks %q:\n%s", want, st)
		}
	}
	if strings.ContainsAny(st, "ðâ") {
		t.Errorf("Status has mojibake:\n%s", st)
	}
	lat := m.CommandLatencies()
	if len(lat) == 0 || lat[0].Command != "get" || lat[0].Count != 3 || lat[0].Hist.TotalCount() != 3 {
		t.Errorf("command latencies = %+v", lat)
	}
}

func TestApplyServerConfigRefusedWhenProtected(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.ProtectServer = true
	m := newManager(t, cfg)
	ctx := ctxT(t)
	if err := m.ApplyServerConfig(ctx); !errors.Is(err, ErrServerConfigRefused) {
		t.Fatalf("ApplyServerConfig on a protected server = %v", err)
	}
	if info, _ := d.Info(ctx, "primary-0", "memory"); info["maxmemory"] != "0" {
		t.Errorf("protected server reconfigured: maxmemory=%s", info["maxmemory"])
	}
}

func TestGrades(t *testing.T) {
	for _, c := range []struct {
		used, max int64
		want      Grade
	}{{69, 100, GradeGood}, {70, 100, GradeWarning}, {85, 100, GradeWarning}, {86, 100, GradeCritical}, {5, 0, GradeUnknown}} {
		if g := GradeMemory(c.used, c.max); g != c.want {
			t.Errorf("GradeMemory(%d, %d) = %s, want %s", c.used, c.max, g, c.want)
		}
	}
	if GradeHitRate(0.9, 10) != GradeGood || GradeHitRate(0.75, 10) != GradeWarning || GradeHitRate(0.5, 10) != GradeCritical || GradeHitRate(0, 0) != GradeUnknown {
		t.Error("hit-rate grades do not follow the seed's table")
	}
}
