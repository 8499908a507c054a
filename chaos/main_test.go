package chaos

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cacheproof/cacheproof/topology"
)

// TestMain fails the package if a proxy, a throwaway listener or a fault
// goroutine outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startT starts a process deployment for a test and stops it in Cleanup,
// then checks that none of its redis-server processes is left.
func startT(t *testing.T, shape topology.Shape) topology.Deployment {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not on PATH (apt-get install redis-server): %v", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: shape, Dir: dir, MaxMemory: 64 << 20, MaxMemoryPolicy: "noeviction"})
	if err != nil {
		t.Fatalf("start %s: %v", shape, err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
		out, _ := exec.Command("pgrep", "-a", "-f", "redis-server").Output()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, dir) {
				t.Errorf("redis-server left behind: %s", l)
			}
		}
	})
	return d
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
