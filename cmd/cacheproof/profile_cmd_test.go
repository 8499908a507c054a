package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestProfileUsage(t *testing.T) {
	for _, args := range [][]string{
		{"profile"},
		{"profile", "--redis-url", "http://x"},
		{"profile", "--redis-url", "redis://127.0.0.1:1", "--sample", "0"},
		{"profile", "--redis-url", "redis://127.0.0.1:1", "--observe", "2m", "--duration", "1m"},
		{"profile", "--redis-url", "redis://127.0.0.1:1", "--max-ops-per-sec", "0"},
		{"profile", "--redis-url", "redis://127.0.0.1:1", "--no-such-flag"},
	} {
		if r := run(t, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	if r := run(t, "profile", "--redis-url", "redis://"+addr, "--out", t.TempDir()); r.code != exitEnvironment {
		t.Errorf("unreachable Redis: exit %d, want 3\n%s", r.code, r.stderr)
	}
}

// TestProfileWritesAScenario profiles a small redis-server and checks that
// the scenario it writes passes validate, beside profile.json and .html.
func TestProfileWritesAScenario(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	for deadline := time.Now().Add(5 * time.Second); c.Ping(ctx).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer")
		}
	}
	for i := range 300 {
		c.Set(ctx, fmt.Sprintf("order:%d:summary", i), strings.Repeat("x", 300), 5*time.Minute)
	}
	out := t.TempDir()
	sc := filepath.Join(out, "prod.yaml")
	r := run(t, "profile", "--redis-url", "redis://"+addr, "--duration", "1s", "-o", sc, "--out", out)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "order:{order_id}:summary") {
		t.Errorf("summary lacks the family:\n%s", r.stdout)
	}
	for _, f := range []string{"profile.json", "profile.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if v := run(t, "validate", sc); v.code != exitOK {
		t.Errorf("validate %s: exit %d\n%s", sc, v.code, v.stderr)
	}
}
