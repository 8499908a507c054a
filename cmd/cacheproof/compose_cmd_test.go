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
