// Package topologytest starts real Redis deployments for the tests of the
// packages above topology (harness, bots), so each does not carry its own
// copy of the start-and-stop code.
package topologytest

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

// Standalone starts a redis-server on loopback (process backend, in a
// temporary directory) for the test and stops it at the test's end.
func Standalone(t testing.TB) topology.Deployment { return Start(t, topology.ShapeStandalone) }

// Start starts a deployment of shape on loopback (process backend, in a
// temporary directory) for the test and stops it at the test's end. A
// machine without redis-server fails the test: behaviour tests need the
// real one.
func Start(t testing.TB, shape topology.Shape) topology.Deployment {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not on PATH (apt-get install redis-server): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dep, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: shape, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dep.Close(context.Background()) })
	return dep
}
