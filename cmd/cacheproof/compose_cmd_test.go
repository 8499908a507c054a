package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/compose"
)

func TestComposeListsPrintsAndWrites(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"compose"}, &out, &errb); code != exitOK {
		t.Fatalf("compose: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"standalone  standalone.yml", "sentinel    sentinel.yml sentinel.conf", "k8s         k8s/shards.yaml"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	errb.Reset()
	if code := dispatch([]string{"compose", "standalone"}, &out, &errb); code != exitOK {
		t.Fatalf("compose standalone: exit %d: %s", code, errb.String())
	}
	want, _ := compose.Files.ReadFile("standalone.yml")
	if !bytes.Equal(out.Bytes(), want) || errb.Len() != 0 {
		t.Errorf("compose standalone printed %d bytes (stderr %q), want standalone.yml's %d", out.Len(), errb.String(), len(want))
	}

	// sentinel.yml reads sentinel.conf: printing it alone says so.
	out.Reset()
	errb.Reset()
	if code := dispatch([]string{"compose", "sentinel"}, &out, &errb); code != exitOK || !strings.Contains(errb.String(), "sentinel.conf") {
		t.Errorf("compose sentinel: exit %d, stderr %q", code, errb.String())
	}

	dir := filepath.Join(t.TempDir(), "redis")
	out.Reset()
	if code := dispatch([]string{"compose", "sentinel", "--out", dir}, &out, &errb); code != exitOK {
		t.Fatalf("compose sentinel --out: exit %d: %s", code, errb.String())
	}
	for _, f := range []string{"sentinel.yml", "sentinel.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("--out did not write %s: %v", f, err)
		}
	}
	// Never overwritten.
	errb.Reset()
	if code := dispatch([]string{"compose", "replica", "-o", dir}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "exists") {
		t.Errorf("second write: exit %d, stderr %q", code, errb.String())
	}

	errb.Reset()
	if code := dispatch([]string{"compose", "clustr"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), `did you mean "cluster"`) {
		t.Errorf("unknown target: exit %d, stderr %q", code, errb.String())
	}
}

// compose -s starts the scenario's Redis, not the seed's 256 MB: its
// maxmemory, policy and config, in its topology's file by default.
func TestComposeUsesTheScenario(t *testing.T) {
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.yaml")
	body := "name: s\ntarget: {topology: cluster, redis: {maxmemory: 128mb, maxmemory_policy: allkeys-lfu, config: {hz: \"50\"}}}\n"
	if err := os.WriteFile(sc, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := dispatch([]string{"compose", "-s", sc, "--set", "target.redis.maxmemory=32mb"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.Count(out.String(), "--maxmemory 32mb --maxmemory-policy allkeys-lfu --hz 50"); got != 6 {
		t.Errorf("the cluster file starts %d nodes with the scenario's settings, want 6:\n%s", got, out.String())
	}
	if strings.Contains(out.String(), "256mb") {
		t.Errorf("the seed's 256mb is still there:\n%s", out.String())
	}
	out.Reset()
	errb.Reset()
	if code := dispatch([]string{"compose", "standalone", "-s", "baseline", "--set", "target.redis.maxmemory=64mb"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "redis-server --maxmemory 64mb --maxmemory-policy allkeys-lru") {
		t.Errorf("compose standalone -s baseline --set ...: exit %d\n%s%s", code, out.String(), errb.String())
	}
	errb.Reset()
	if code := dispatch([]string{"compose", "standalone", "--set", "target.redis.maxmemory=64mb"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "--set needs --scenario") {
		t.Errorf("--set without -s: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := dispatch([]string{"compose", "-s", "baseline", "--set", "target.redis.maxmemory=lots"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "--set target.redis.maxmemory=lots") {
		t.Errorf("bad --set: exit %d: %s", code, errb.String())
	}
}
