package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
)

// steadyRun is a scenario of chaosPool's load: a second of warm-up, a
// steady phase of the given length, then rest (faults, targets).
func steadyRun(name string, seed int, steady, rest string) string {
	return fmt.Sprintf("name: %s\nseed: %d\n%sphases:\n  - {name: warmup, duration: 1s, record: false}\n  - {name: steady, duration: %s}\n%s",
		name, seed, chaosPool, steady, rest)
}

// A run with protocol faults goes through the protocol proxy: each fault's
// errors reach the cache manager as their kind and are measured like any
// fault's (errors by kind, time to first error, recovery), the proxy's
// note counts what it injected, and the run recovers after each.
func TestProtocolFaultsMeasured(t *testing.T) {
	res := runChaos(t, steadyRun("protocol-faults", 9, "7s", `faults:
  - {at: 2s, for: 1500ms, kind: protocol-error, error: loading, fraction: 0.8}
  - {at: 5s, for: 1s, kind: protocol-cut, cut: reset, fraction: 0.3}
`))
	for kind, errKind := range map[string]string{"protocol-error": pool.KindLoading, "protocol-cut": pool.KindConnectionReset} {
		f := faultOf(t, res, kind)
		if !f.Injected {
			t.Errorf("%s not injected: %v", kind, f.Notes)
			continue
		}
		if f.ErrorsByKind[errKind] == 0 {
			t.Errorf("%s: errors by kind %v, want %s errors", kind, f.ErrorsByKind, errKind)
		}
		if f.FirstErrorAfterS == nil || f.RecoveredAfterS == nil {
			t.Errorf("%s: first error after %s, recovered after %s", kind, ptr(f.FirstErrorAfterS), ptr(f.RecoveredAfterS))
		}
		if !strings.Contains(strings.Join(f.Notes, "\n"), "matching commands") {
			t.Errorf("%s: no count of what the proxy injected in %q", kind, f.Notes)
		}
	}
	var failed uint64
	for _, n := range res.Errors {
		failed += n
	}
	if res.Users.Requests == 0 || failed >= res.Users.Requests {
		t.Errorf("%d of %d requests failed: the proxy does not forward", failed, res.Users.Requests)
	}
}

// On a Redis the tool does not own, a protocol fault needs no
// --allow-destructive: it acts on the tool's own proxy in front of the
// node, and Redis is left as it was. Every command gets TRYAGAIN and the
// manager retries once: go-redis retries TRYAGAIN, so at a lower rate, or
// with more retries, the retries hide most of them (a 50 % run with the
// default profile injected 442 and the manager saw none).
func TestProtocolFaultOnExternalRedis(t *testing.T) {
	needRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	own, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close(context.Background())
	addr := own.Nodes()[0].Addr
	sc, err := scenarios.LoadBytes("ext.yaml", []byte(fmt.Sprintf(`
name: external-protocol
seed: 3
target: {backend: external, addrs: [%q]}
pool: {profile: production, command_timeout: 400ms, max_retries: 1, key_prefix: "cp-test:"}
workload: {population: 20000, active_users: 150, commands_per_user_per_minute: 60}
phases:
  - {name: steady, duration: 4s}
faults:
  - {at: 1s, for: 2s, kind: protocol-error, error: tryagain, fraction: 100%%}
`, addr)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, Options{Scenario: sc, Logf: t.Logf})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	f := faultOf(t, res, "protocol-error")
	if !f.Injected || f.ErrorsByKind[pool.KindTryAgain] == 0 {
		t.Errorf("fault on the external Redis: injected %v, errors %v, notes %q", f.Injected, f.ErrorsByKind, f.Notes)
	}
}
