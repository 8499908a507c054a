package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the cacheproof command built once for the process-level tests:
// exit codes and signals are properties of the real process, not of a
// function call.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cacheproof-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "cacheproof")
	out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building cacheproof: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeScenario(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type cmdResult struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) cmdResult {
	t.Helper()
	return runEnv(t, nil, args...)
}

const tiny = `
name: tiny
seed: 5
workload: {population: 5000, active_users: 100, commands_per_user_per_minute: 120}
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 2s}
targets:
%s
`

func loadReportJSON(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("no report: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExitCodePass(t *testing.T) {
	out := t.TempDir()
	sc := writeScenario(t, fmt.Sprintf(tiny, "  latency_p99: \"< 60s\"\n  hit_rate: \">= 0%\""))
	r := run(t, "run", "--scenario", sc, "--out", out, "--progress", "none")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "PASS  latency_p99") || !strings.Contains(r.stdout, "PASS  pool_timeouts") {
		t.Errorf("console summary lacks target lines:\n%s", r.stdout)
	}
	rep := loadReportJSON(t, out)
	if rep["verdict"] != "pass" || rep["exit_code"].(float64) != 0 {
		t.Errorf("verdict %v exit_code %v", rep["verdict"], rep["exit_code"])
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Errorf("no HTML report: %v", err)
	}
}

// run --set changes the scenario as the file would, and the report records
// the values set, for compare.
func TestRunSetRecordsOverrides(t *testing.T) {
	out := t.TempDir()
	sc := writeScenario(t, fmt.Sprintf(tiny, "  latency_p99: \"< 60s\"\n  hit_rate: \">= 0%\""))
	r := run(t, "run", "-s", sc, "-o", out, "--progress", "none", "--set", "target.redis.maxmemory=16mb", "--set", "workload.active_users=50")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "set target.redis.maxmemory=16mb") {
		t.Errorf("console summary does not show the set value:\n%s", r.stdout)
	}
	rep := loadReportJSON(t, out)
	sci := rep["scenario"].(map[string]any)
	ov, _ := sci["overrides"].([]any)
	if len(ov) != 2 || ov[0].(map[string]any)["path"] != "target.redis.maxmemory" || ov[1].(map[string]any)["value"] != "50" {
		t.Errorf("scenario.overrides = %v", sci["overrides"])
	}
	res := sci["resolved"].(map[string]any)
	if w := res["workload"].(map[string]any); w["active_users"].(float64) != 50 {
		t.Errorf("resolved active_users %v, want 50", w["active_users"])
	}
}

func TestExitCodeTargetMissed(t *testing.T) {
	out := t.TempDir()
	// A cold cache cannot serve every lookup: a 100% hit-rate target fails.
	sc := writeScenario(t, fmt.Sprintf(tiny, "  hit_rate: \">= 100%\""))
	r := run(t, "run", "-s", sc, "-o", out, "-q")
	if r.code != exitTargetMiss {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "FAIL hit_rate") {
		t.Errorf("quiet output should name the failed target:\n%s", r.stdout)
	}
	if rep := loadReportJSON(t, out); rep["verdict"] != "fail" {
		t.Errorf("verdict %v", rep["verdict"])
	}
}

func TestExitCodeUsage(t *testing.T) {
	bad := writeScenario(t, "name: x\nphases:\n  - name: a\n    durration: 5s\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--scenario", bad}, bad + ":4:5: unknown field \"durration\" (did you mean \"duration\"?)"},
		{[]string{"validate", bad}, bad + ":4:5:"},
		{[]string{"run", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"run"}, "--scenario is required"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"run", "-s", "baseline", "--shard", "5/4"}, "--shard"},
		{[]string{"run", "-s", "baseline", "--users", "2000000"}, "exceeds the scenario's population"},
		{[]string{"run", "-s", "no-such-scenario"}, "built-in: baseline"},
		{[]string{"run", "-s", "baseline", "--users", "0"}, "--users 0: must be at least 1"},
		{[]string{"run", "-s", "baseline", "--duration", "0s"}, "--duration 0s: must be positive"},
		{[]string{"run", "-s", "baseline", "--cpuprofile", "/no/such/dir/cpu.pprof"}, "--cpuprofile"},
		{[]string{"run", "-s", "baseline", "--set", "target.redis.maxmemory=lots"}, "--set target.redis.maxmemory=lots: expected a size"},
		{[]string{"run", "-s", "baseline", "--set", "target.redis.maxmemroy=32mb"}, `did you mean "target.redis.maxmemory"?`},
		{[]string{"run", "-s", "baseline", "--set", "maxmemory"}, "--set maxmemory: expected PATH=VALUE"},
		{[]string{"capacity", "-s", "baseline", "--set", "workload.active_users=0"}, "--set workload.active_users=0: workload.active_users: must be at least 1"},
		{[]string{"size", "-s", "baseline", "--set", "pool.max_conns=x"}, "--set pool.max_conns=x: expected a whole number"},
		{[]string{"validate", "baseline", "--set", "phases[9].duration=1s"}, "--set phases[9].duration=1s: \"9\": expected an index"},
	} {
		r := run(t, tc.args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", tc.args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: stderr\n%s\nwant it to contain %q", tc.args, r.stderr, tc.want)
		}
	}
}

func TestValidateGood(t *testing.T) {
	r := run(t, "validate", "../../scenarios/baseline.yaml", "baseline")
	if r.code != exitOK || strings.Count(r.stdout, ": ok") != 2 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestExitCodeEnvironment(t *testing.T) {
	sc := writeScenario(t, fmt.Sprintf(tiny, ""))
	r := run(t, "run", "-s", sc, "-o", t.TempDir(), "--redis-server", "/nonexistent/redis-server")
	if r.code != exitEnvironment {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "redis-server") {
		t.Errorf("stderr should say what is missing:\n%s", r.stderr)
	}
}

func TestHelpShowsExamples(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}} {
		r := run(t, args...)
		if r.code != exitOK || !strings.Contains(r.stdout+r.stderr, "Examples:") {
			t.Errorf("%v: exit %d, no examples:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// childRedis lists the redis-server processes whose parent is pid.
func childRedis(pid int) []int {
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(pid), "redis-server").Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is dead for our purposes.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(data), ") Z ")
}

// SIGINT or SIGTERM during a run: a partial report marked interrupted, exit
// 130 within 5 seconds, and the redis-server the run started is gone.
func TestSignalWritesPartialReport(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := t.TempDir()
			sc := writeScenario(t, strings.Replace(fmt.Sprintf(tiny, ""), "duration: 2s", "duration: 60s", 1))
			cmd := exec.Command(binary, "run", "-s", sc, "-o", out, "--progress", "none")
			se := &lockedBuffer{}
			cmd.Stderr = se
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var redis []int
			deadline := time.Now().Add(20 * time.Second)
			for len(redis) == 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
				redis = childRedis(cmd.Process.Pid)
			}
			if len(redis) == 0 {
				_ = cmd.Process.Kill()
				t.Fatalf("no redis-server child appeared\n%s", se.String())
			}
			time.Sleep(2 * time.Second) // into the load
			sent := time.Now()
			_ = cmd.Process.Signal(sig)
			err := cmd.Wait()
			took := time.Since(sent)
			ee, _ := err.(*exec.ExitError)
			if ee == nil || ee.ExitCode() != exitInterrupted {
				t.Fatalf("exit %v, want 130\n%s", err, se.String())
			}
			if took > 5*time.Second {
				t.Errorf("took %s to stop after %s", took, sig)
			}
			rep := loadReportJSON(t, out)
			if rep["interrupted"] != true || rep["exit_code"].(float64) != 130 {
				t.Errorf("report interrupted=%v exit_code=%v", rep["interrupted"], rep["exit_code"])
			}
			for _, p := range redis {
				if alive(p) {
					t.Errorf("redis-server %d still running after the run stopped", p)
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
		})
	}
}

// A second Ctrl-C quits at once, and the redis-server still dies with the
// tool (parent-death signal), even though no cleanup code ran.
func TestSecondInterruptQuitsAtOnce(t *testing.T) {
	out := t.TempDir()
	sc := writeScenario(t, strings.Replace(fmt.Sprintf(tiny, ""), "duration: 2s", "duration: 60s", 1))
	cmd := exec.Command(binary, "run", "-s", sc, "-o", out, "--progress", "none")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var redis []int
	for deadline := time.Now().Add(20 * time.Second); len(redis) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		redis = childRedis(cmd.Process.Pid)
	}
	if len(redis) == 0 {
		_ = cmd.Process.Kill()
		t.Fatal("no redis-server child appeared")
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(20 * time.Millisecond)
	sent := time.Now()
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want 130", err)
	}
	if took := time.Since(sent); took > 2*time.Second {
		t.Errorf("second interrupt took %s", took)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range redis {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(p) {
			t.Errorf("redis-server %d outlived the tool", p)
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// Interrupted before the load starts (during prefill): still exit 130 with a
// report that says so.
func TestSignalDuringPrefill(t *testing.T) {
	out := t.TempDir()
	sc := writeScenario(t, `
name: long-prefill
workload: {population: 1000000, active_users: 10000, prefill: 2h}
phases:
  - {name: steady, duration: 10s}
`)
	cmd := exec.Command(binary, "run", "-s", sc, "-o", out, "--progress", "none")
	se := &lockedBuffer{}
	cmd.Stderr = se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(se.String(), "prefill: replaying") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want 130\n%s", err, se.String())
	}
	rep := loadReportJSON(t, out)
	if rep["interrupted"] != true || !strings.Contains(fmt.Sprint(rep["notes"]), "before the load started") {
		t.Errorf("report: interrupted=%v notes=%v", rep["interrupted"], rep["notes"])
	}
}

// lockedBuffer is a bytes.Buffer safe to read while os/exec writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
