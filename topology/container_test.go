package topology

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
)

// ImageEnv names the Redis image the container tests use; .ci/docker.sh
// builds cacheproof/redis-local:7 and exports it.
const imageEnv = "CACHEPROOF_REDIS_IMAGE"

// containerImage returns the image for container tests, or skips the test
// saying why: no Docker engine, or no Redis image this offline machine has.
func containerImage(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Skipf("SKIP container backend: no Docker engine answers (%v); .ci/docker.sh installs and starts one", err)
	}
	defer cli.Close()
	candidates := []string{"cacheproof/redis-local:7", DefaultImage}
	if img := os.Getenv(imageEnv); img != "" {
		candidates = []string{img}
	}
	for _, img := range candidates {
		if _, err := cli.ImageInspect(ctx, img); err == nil {
			return img
		}
	}
	t.Skipf("SKIP container backend: Docker answers but none of the images %v is present and this machine cannot pull; build one with .ci/docker.sh or set %s", candidates, imageEnv)
	return ""
}

func TestContainerRefusesShapesItCannotServe(t *testing.T) {
	for _, s := range []Shape{ShapeSentinel, ShapeCluster} {
		_, err := Start(context.Background(), Spec{Backend: BackendContainer, Shape: s})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "container backend") {
			t.Errorf("%s on container backend: %v, want ErrUnsupported naming the backend", s, err)
		}
	}
}

func TestContainerStandalone(t *testing.T) {
	img := containerImage(t)
	d := startT(t, Spec{Backend: BackendContainer, Image: img, MaxMemory: 32 << 20, MaxMemoryPolicy: "allkeys-lru"})
	ctx := ctxT(t)
	ep := d.Endpoints()
	if len(ep.Addrs) != 1 || !strings.HasPrefix(ep.Addrs[0], "127.0.0.1:") {
		t.Fatalf("Endpoints = %+v", ep)
	}
	c := redis.NewClient(&redis.Options{Addr: ep.Addrs[0]})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v := mustDo(t, d, "primary-0", "GET", "k"); v != "v" {
		t.Fatalf("GET = %v", v)
	}
	if inf, err := d.Info(ctx, "primary-0", "memory"); err != nil || inf["maxmemory_policy"] != "allkeys-lru" {
		t.Fatalf("INFO memory = %v, %v", inf["maxmemory_policy"], err)
	}
	checkConfigSet(t, d, "primary-0")
	checkClientKill(t, d, "primary-0")
	checkPauseResume(t, d, "primary-0")

	for _, kill := range []bool{false, true} {
		ctx := ctxT(t)
		var err error
		if kill {
			err = d.Kill(ctx, "primary-0")
		} else {
			err = d.Stop(ctx, "primary-0")
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := pingWithin(d, "primary-0", time.Second); err == nil {
			t.Fatal("answers after stop/kill")
		}
		if err := d.Start(ctx, "primary-0"); err != nil {
			t.Fatal(err)
		}
		// The endpoint is resolved again: whatever port Docker mapped now works.
		now := d.Endpoints().Addrs[0]
		if now != addrOfNode(t, d, "primary-0") {
			t.Fatalf("Endpoints %s and Nodes %s disagree after restart", now, addrOfNode(t, d, "primary-0"))
		}
		c2 := redis.NewClient(&redis.Options{Addr: now})
		err = c2.Ping(ctx).Err()
		_ = c2.Close()
		if err != nil {
			t.Fatalf("restarted container not reachable at %s: %v", now, err)
		}
		t.Logf("after restart (kill=%v) the endpoint is %s (was %s)", kill, now, ep.Addrs[0])
	}
	if v := mustDo(t, d, "primary-0", "GET", "k"); v != nil {
		t.Fatalf("data survived a restart without persistence: %v", v)
	}
	logs := t.TempDir()
	if err := d.KeepLogs(logs); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(logs, "primary-0.log")); err != nil || !strings.Contains(string(b), "Ready to accept connections") {
		t.Fatalf("kept log: %v %.200s", err, b)
	}
}

func TestContainerReplica(t *testing.T) {
	img := containerImage(t)
	d := startT(t, Spec{Backend: BackendContainer, Shape: ShapeReplica, Image: img})
	ctx := ctxT(t)
	wantPrimary(t, d, "primary-0")
	mustDo(t, d, "primary-0", "SET", "k", "replicated")
	mustDo(t, d, "primary-0", "WAIT", 1, 5000)
	if v := mustDo(t, d, "replica-1", "GET", "k"); v != "replicated" {
		t.Fatalf("GET on replica = %v", v)
	}
	// Readonly fault inside the container network: names, not host ports.
	mustDo(t, d, "replica-1", "REPLICAOF", "NO", "ONE")
	mustDo(t, d, "primary-0", "REPLICAOF", "replica-1", "6379")
	waitLinkUp(t, d, "primary-0")
	if _, err := d.Do(ctx, "primary-0", "SET", "k", "x"); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("write on demoted primary: %v", err)
	}
	wantPrimary(t, d, "replica-1")
	mustDo(t, d, "primary-0", "REPLICAOF", "NO", "ONE")
	mustDo(t, d, "replica-1", "REPLICAOF", "primary-0", "6379")
	waitLinkUp(t, d, "replica-1")
	wantPrimary(t, d, "primary-0")

	checkPauseResume(t, d, "replica-1")
	if err := d.Kill(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	waitLinkUp(t, d, "replica-1")
}
