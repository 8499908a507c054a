package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

// A fault entry's kind-specific keys reach Params typed as chaos declares
// them, defaults filled; Spec hands the entry to chaos as written.
func TestFaultEntrySpec(t *testing.T) {
	s, err := LoadBytes("f.yaml", []byte(`
name: f
target: {topology: replica}
phases: [{name: steady, duration: 1m}]
faults:
  - {at: 10s, for: 5s, kind: memory-pressure, fraction: 0.5, ballast: 8mb}
  - {at: 20s, for: 3s, kind: network, toxic: latency, latency: 20ms, jitter: 5ms, direction: both}
  - {at: 30s, kind: restart, mode: kill, node: replica-1, every: 10s, count: 2}
  - {at: 40s, kind: pause, for: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	sp := s.Faults[0].Spec()
	if sp.Kind != "memory-pressure" || sp.At != 10*time.Second || sp.For != 5*time.Second || sp.Node != "primary" ||
		sp.Params["fraction"] != 0.5 || sp.Params["ballast"] != int64(8<<20) || !sp.Wrote["for"] {
		t.Errorf("memory-pressure: %+v", sp)
	}
	if p := s.Faults[1].Params; p["toxic"] != "latency" || p["latency"] != 20*time.Millisecond || p["jitter"] != 5*time.Millisecond || p["direction"] != "both" {
		t.Errorf("network: %v", p)
	}
	if f := s.Faults[2].Spec(); f.Params["mode"] != "kill" || f.Node != "replica-1" || f.Every != 10*time.Second || f.Count != 2 {
		t.Errorf("restart: %+v", f)
	}
	if p := s.Faults[3].Params; p["mode"] != "sigstop" {
		t.Errorf("pause's default mode: %v", p)
	}
	if !s.Faults[0].ActsOnRedis() || s.Faults[1].ActsOnRedis() {
		t.Error("ActsOnRedis: memory-pressure changes Redis, network only the proxy")
	}

	// Written back flat, as the file has it, in the kind's order.
	b, err := json.Marshal(s.Faults)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{"at":"10s","for":"5s","kind":"memory-pressure","node":"primary","fraction":0.5,"ballast":8388608}`,
		`{"at":"20s","for":"3s","kind":"network","node":"primary","toxic":"latency","latency":"20ms","jitter":"5ms","direction":"both"}`,
		`{"at":"30s","kind":"restart","node":"replica-1","mode":"kill","every":"10s","count":2}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("resolved JSON lacks %s:\n%s", want, b)
		}
	}
	y, err := yaml.Marshal(s.Faults[1])
	if err != nil || !strings.Contains(string(y), "latency: 20ms") || !strings.Contains(string(y), "toxic: latency") {
		t.Errorf("YAML: %s %v", y, err)
	}
	y, _ = yaml.Marshal(s.Faults[0])
	if !strings.Contains(string(y), "ballast: 8mb") {
		t.Errorf("YAML size: %s", y)
	}
}

// fraction: 50% is read as 0.5, as targets read ">= 95%".
func TestFractionPercent(t *testing.T) {
	s, err := Load("testdata/good/fraction_percent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Faults[0].Params["fraction"]; got != 0.5 {
		t.Errorf("fraction = %v, want 0.5", got)
	}
}
