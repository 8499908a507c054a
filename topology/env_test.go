package topology

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestFindRedisServer(t *testing.T) {
	_, err := FindRedisServer("/nonexistent/redis-server")
	if !errors.Is(err, ErrRedisServerNotFound) || !errors.As(err, new(*EnvError)) || !strings.Contains(err.Error(), "apt-get install redis-server") {
		t.Fatalf("explicit missing binary: %v", err)
	}
	t.Setenv(RedisServerEnv, "/nonexistent/from-env")
	_, err = FindRedisServer("")
	if !errors.Is(err, ErrRedisServerNotFound) || !strings.Contains(err.Error(), RedisServerEnv) {
		t.Fatalf("missing binary from env: %v", err)
	}
	t.Setenv(RedisServerEnv, "")
	t.Setenv("PATH", t.TempDir())
	if _, err := FindRedisServer(""); !errors.Is(err, ErrRedisServerNotFound) {
		t.Fatalf("empty PATH: %v", err)
	}
	// Start maps it to an environment error, the command's exit code 3.
	_, err = Start(context.Background(), Spec{})
	if !errors.As(err, new(*EnvError)) {
		t.Fatalf("Start without redis-server: %T %v", err, err)
	}
}

func TestSpecDefaultsAndValidation(t *testing.T) {
	s, err := Spec{}.withDefaults()
	if err != nil || s.Backend != BackendProcess || s.Shape != ShapeStandalone || s.Image != DefaultImage || s.MasterName != DefaultMasterName || s.Logf == nil {
		t.Fatalf("defaults = %+v, %v", s, err)
	}
	if s, _ := (Spec{Shape: ShapeSentinel}).withDefaults(); s.Replicas != 1 {
		t.Fatalf("sentinel replicas default = %d", s.Replicas)
	}
	if s, _ := (Spec{Shape: ShapeCluster, Replicas: 4}).withDefaults(); s.Replicas != 1 {
		t.Fatalf("cluster replicas must be fixed at 1 per primary, got %d", s.Replicas)
	}
	if s, _ := (Spec{Shape: ShapeSentinel, External: ExternalSpec{MasterName: "ext"}}).withDefaults(); s.MasterName != "ext" {
		t.Fatalf("external master name not used: %q", s.MasterName)
	}
	for _, bad := range []Spec{{Backend: "vm"}, {Shape: "mesh"}, {Shape: ShapeReplica, Replicas: -1}} {
		if _, err := Start(context.Background(), bad); err == nil || errors.As(err, new(*EnvError)) {
			t.Errorf("Start(%+v) = %v, want a usage error (not EnvError)", bad, err)
		}
	}
}

// TestLostPortRaceIsRetried forces the first port to be taken by someone
// else (as another test binary would) and checks the node starts on another.
func TestLostPortRaceIsRetried(t *testing.T) {
	requireRedis(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPortFunc = func() (int, error) {
		calls++
		if calls == 1 {
			return taken, nil
		}
		return pickPort()
	}
	t.Cleanup(func() { pickPortFunc = pickPort })
	d := startT(t, Spec{})
	if calls < 2 {
		t.Fatalf("pickPort called %d times; the taken port was not detected", calls)
	}
	if addr := d.Endpoints().Addrs[0]; strings.HasSuffix(addr, ":"+strconv.Itoa(taken)) {
		t.Fatalf("node claims the taken port %s", addr)
	}
	mustDo(t, d, "primary-0", "PING")
}

func TestNodeThatWillNotStartIsAnEnvErrorWithItsLog(t *testing.T) {
	requireRedis(t)
	_, err := Start(ctxT(t), Spec{Dir: t.TempDir(), ExtraConfig: map[string]string{"no-such-directive": "1"}})
	if !errors.As(err, new(*EnvError)) || !strings.Contains(err.Error(), "no-such-directive") {
		t.Fatalf("bad config: %v, want an EnvError quoting redis' complaint", err)
	}
}
