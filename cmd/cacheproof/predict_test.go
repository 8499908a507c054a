package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRunPredictsEveryRedisPolicy: run --predict simulates the run's own
// policy whatever Redis policy it is, not only size's default comparison
// list (before, a volatile-lfu or allkeys-random run got "skipped: not
// modelled" though the simulator models both and the corpus checks them).
// A short run of a volatile-lfu cache against a real redis-server at 2 MB,
// where it evicts (75.5 % answered here, 84.8 % at 3 MB): the report
// carries a prediction for volatile-lfu with a predicted rate (75.6 %),
// and the measured one beside it.
func TestRunPredictsEveryRedisPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("a real run and a simulation: skipped with -short")
	}
	scen := writeScenario(t, `
name: predict-volatile-lfu
seed: 3
target:
  backend: process
  redis: {maxmemory: 2mb, maxmemory_policy: volatile-lfu}
pool: {min_idle: 2, max_conns: 4}
workload:
  population: 4000
  active_users: 60
  commands_per_user_per_minute: 120
  catalogue: none
  prefill: 1m
  families:
    - {name: page, key: "page:{id}", keys: 8000, tier: meta, mean_size: 512b, weight: 80}
    - {name: config, key: "config:{id}", keys: 50, tier: persistent, mean_size: 1kb, weight: 20}
phases:
  - {name: warmup, duration: 2s, record: false}
  - {name: steady, duration: 4s}
targets:
  pool_timeouts: "== 0"
`)
	out := filepath.Join(t.TempDir(), "out")
	// The calibration is cached under the user's cache folder: a fresh one
	// here, so the test neither reads nor leaves one.
	r := runEnv(t, []string{"XDG_CACHE_HOME=" + t.TempDir()}, "run", "-s", scen, "--predict", "--progress", "none", "-q", "-o", out)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	rep := loadReportJSON(t, out)
	for _, n := range asSlice(rep["notes"]) {
		if s, _ := n.(string); strings.HasPrefix(s, "prediction: skipped") || strings.HasPrefix(s, "prediction: failed") {
			t.Fatalf("no prediction: %s", s)
		}
	}
	p, ok := rep["prediction"].(map[string]any)
	if !ok {
		t.Fatalf("report has no prediction; notes: %v", rep["notes"])
	}
	if p["policy"] != "volatile-lfu" {
		t.Errorf("prediction for policy %v, want volatile-lfu", p["policy"])
	}
	pred, _ := p["predicted_hit_rate"].(float64)
	meas, _ := p["measured_hit_rate"].(float64)
	if !(pred > 0 && pred < 1) {
		t.Errorf("predicted hit rate %v, want one in (0, 1)", p["predicted_hit_rate"])
	}
	t.Logf("volatile-lfu at 2 MB: predicted %.2f%%, measured %.2f%%", 100*pred, 100*meas)
	// Redis's base is priced with the clients' memory the run measured
	// (timeline clients_memory, INFO mem_clients_normal), not modelled.
	var withClients bool
	for _, row := range asSlice(rep["timeline"]) {
		if r, _ := row.(map[string]any); r != nil {
			if v, _ := r["clients_memory"].(float64); v > 0 {
				withClients = true
			}
		}
	}
	if !withClients {
		t.Error("no timeline row has clients_memory (INFO mem_clients_normal)")
	}
	var noted bool
	for _, n := range asSlice(p["notes"]) {
		if s, _ := n.(string); strings.Contains(s, "mem_clients_normal") {
			noted = true
			t.Log(s)
		}
	}
	if !noted {
		t.Errorf("the prediction does not say it priced Redis's base with the run's clients' memory; notes: %v", p["notes"])
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
