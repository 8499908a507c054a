package topology

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startT starts a deployment for a test and closes it in t.Cleanup, then
// checks that none of its redis-server processes is left.
func startT(t *testing.T, spec Spec) Deployment {
	t.Helper()
	if spec.Dir == "" {
		spec.Dir = t.TempDir()
	}
	spec.Logf = func(format string, args ...any) {
		t.Helper()
		t.Logf(time.Now().Format("15:04:05.000 ")+format, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	d, err := Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start(%s/%s): %v", spec.Backend, spec.Shape, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dir := t.TempDir()
			if err := d.KeepLogs(dir); err == nil {
				t.Logf("node logs kept in %s", dir)
			}
		}
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertNoRedisIn(t, spec.Dir)
	})
	return d
}

// assertNoRedisIn fails if any redis-server still runs with a config under dir.
func assertNoRedisIn(t *testing.T, dir string) {
	t.Helper()
	out, _ := exec.Command("pgrep", "-a", "-f", "redis-server").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, dir) {
			t.Errorf("redis-server still running after Close: %s", line)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
