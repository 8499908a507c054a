package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runEnv runs the binary with the seed's REDIS_* variables added to (and
// overriding) the test's own environment.
func runEnv(t *testing.T, env []string, args ...string) cmdResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cmdResult{code, so.String(), se.String()}
}

// REDIS_MAX_MEMORY and REDIS_MAX_MEMORY_POLICY are applied once, to the
// scenario: the Redis the run started holds them (its INFO maxmemory, every
// interval and at the end), the report's pool config is the same, and the
// report records where they came from. The file's own 256mb loses.
func TestEnvMaxMemoryReachesRedisAndReport(t *testing.T) {
	out := t.TempDir()
	sc := writeScenario(t, fmt.Sprintf(tiny, "  latency_p99: \"< 60s\"\n  hit_rate: \">= 0%\""))
	env := []string{"REDIS_MAX_MEMORY=48mb", "REDIS_MAX_MEMORY_POLICY=allkeys-lfu"}
	r := runEnv(t, env, "run", "-s", sc, "-o", out, "--progress", "none", "--set", "workload.active_users=50")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	const want = 48 << 20
	rep := loadReportJSON(t, out)
	server := rep["server"].(map[string]any)
	if server["maxmemory"].(float64) != want || server["maxmemory_policy"] != "allkeys-lfu" {
		t.Errorf("the started Redis has maxmemory %v %v, want %d allkeys-lfu", server["maxmemory"], server["maxmemory_policy"], want)
	}
	for i, row := range rep["timeline"].([]any) {
		if m := row.(map[string]any)["maxmemory"]; m != nil && m.(float64) != want {
			t.Errorf("timeline row %d: Redis's maxmemory %v, want %d", i, m, want)
		}
	}
	cfg := rep["pool"].(map[string]any)["config"].(map[string]any)
	if cfg["max_memory"].(float64) != want || cfg["max_memory_policy"] != "allkeys-lfu" {
		t.Errorf("the report's pool config has %v %v, want %d allkeys-lfu", cfg["max_memory"], cfg["max_memory_policy"], want)
	}
	ov, _ := rep["scenario"].(map[string]any)["overrides"].([]any)
	var got []string
	for _, o := range ov {
		m := o.(map[string]any)
		src, _ := m["source"].(string)
		got = append(got, fmt.Sprintf("%s=%s|%s", m["path"], m["value"], src))
	}
	if strings.Join(got, " ") != "target.redis.maxmemory=48mb|env REDIS_MAX_MEMORY target.redis.maxmemory_policy=allkeys-lfu|env REDIS_MAX_MEMORY_POLICY workload.active_users=50|" {
		t.Errorf("scenario.overrides = %v", got)
	}
	if !strings.Contains(r.stdout, "set target.redis.maxmemory=48mb (env REDIS_MAX_MEMORY)") {
		t.Errorf("console summary does not show the variable:\n%s", r.stdout)
	}
}

// A bad REDIS_* value is a usage error naming the variable, before any
// Redis starts.
func TestEnvBadValueExitsUsage(t *testing.T) {
	sc := writeScenario(t, fmt.Sprintf(tiny, "  hit_rate: \">= 0%\""))
	for env, want := range map[string]string{
		"REDIS_MAX_MEMORY=lots":          "environment variable REDIS_MAX_MEMORY (target.redis.maxmemory=lots): expected a size",
		"REDIS_MAX_MEMORY=100kb":         "environment variable REDIS_MAX_MEMORY (target.redis.maxmemory=100kb): target.redis.maxmemory: 100kb is below 1mb",
		"REDIS_COMMAND_TIMEOUT=soon":     "environment variable REDIS_COMMAND_TIMEOUT (pool.command_timeout=soon): want a number (unit 1ms)",
		"REDIS_MAX_MEMORY_POLICY=lru-ok": "environment variable REDIS_MAX_MEMORY_POLICY (target.redis.maxmemory_policy=lru-ok)",
	} {
		r := runEnv(t, []string{env}, "run", "-s", sc, "-o", t.TempDir(), "--progress", "none")
		if r.code != exitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", env, r.code, r.stderr, exitUsage, want)
		}
	}
}
