package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSizeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"size"},
		{"size", "-s", "baseline", "--target", "150%"},
		{"size", "-s", "baseline", "--at", "12 parsecs"},
		{"size", "-s", "baseline", "--policy", "allkeys-lfru"},
		{"size", "-s", "../../sizing/testdata/small.yaml", "--points", "2", "--ttl", "no_such_family=60s"},
		{"size", "-s", "baseline", "--ttl", "api"},
		{"size", "-s", "baseline", "--ttl", "api=600s", "--no-what-ifs"},
		{"size", "-s", "baseline", "--sample-rate", "2"},
		{"size", "-s", "no-such-scenario"},
		{"size", "-s", "baseline", "--clients-memory", "240kb"},
		{"size", "-s", "baseline", "--clients-memory", "lots", "--conns", "8"},
	} {
		if r := run(t, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
}

// TestSizeWritesTheAnswer sizes the small fixture (a scratch redis-server
// for the calibration) and checks the files and the answer's shape.
func TestSizeWritesTheAnswer(t *testing.T) {
	out := t.TempDir()
	r := run(t, "size", "-s", "../../sizing/testdata/small.yaml", "--policy", "allkeys-lru,exact-lru", "--points", "6", "--ttl", "api=600s",
		"--at", "8mb", "-o", out, "--no-cache")
	if r.code != exitOK && r.code != exitTargetMiss {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "maxmemory needed for the hit-rate target") || !strings.Contains(r.stdout, "api (allkeys-lru) 300s -> 600s") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	data, err := os.ReadFile(filepath.Join(out, "sizing.json"))
	if err != nil {
		t.Fatal(err)
	}
	var z struct {
		Kind     string `json:"kind"`
		Policies []struct {
			Policy string `json:"policy"`
			Curve  []struct {
				MaxMemoryBytes int64   `json:"maxmemory_bytes"`
				HitRate        float64 `json:"hit_rate"`
			} `json:"curve"`
		} `json:"policies"`
		WhatIfs []struct{ Tier string } `json:"what_ifs"`
	}
	if err := json.Unmarshal(data, &z); err != nil {
		t.Fatal(err)
	}
	if z.Kind != "sizing" || len(z.Policies) != 2 || len(z.Policies[0].Curve) < 6 || len(z.WhatIfs) != 1 {
		t.Errorf("sizing.json: %+v", z)
	}
	html, err := os.ReadFile(filepath.Join(out, "sizing.html"))
	if err != nil || !strings.Contains(string(html), "<svg") {
		t.Errorf("sizing.html without a chart (%v)", err)
	}
}
