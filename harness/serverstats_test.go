package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/topology"
)

func TestParseLatencyStats(t *testing.T) {
	// As Redis 7.0 writes them (topology's INFO parser splits at the first ':').
	lat := map[string]string{
		"latency_percentiles_usec_get":              "p50=1.003,p99=3.007,p99.9=10.015",
		"latency_percentiles_usec_set":              "p50=2.003,p99=12.031,p99.9=40.191",
		"latency_percentiles_usec_info":             "p50=28.031,p99=28.031,p99.9=28.031",
		"latency_percentiles_usec_config|resetstat": "p50=44.031,p99=44.031,p99.9=44.031",
		"latency_percentiles_usec_expire":           "p50=1.001,p99=2.003", // custom latency-tracking-info-percentiles
	}
	cmd := map[string]string{
		"cmdstat_get":  "calls=1234,usec=5678,usec_per_call=4.60,rejected_calls=0,failed_calls=0",
		"cmdstat_set":  "calls=99,usec=300,usec_per_call=3.03,rejected_calls=0,failed_calls=0",
		"cmdstat_info": "calls=2,usec=97,usec_per_call=48.50,rejected_calls=0,failed_calls=0",
	}
	got := parseLatencyStats(lat, cmd)
	want := map[string]result.ServerLatency{
		"get":    {Calls: 1234, P50: 0.001003, P99: 0.003007, P999: 0.010015},
		"set":    {Calls: 99, P50: 0.002003, P99: 0.012031, P999: 0.040191},
		"expire": {P50: 0.001001, P99: 0.002003},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
}

// Redis before 7 has no latencystats section: INFO latencystats is empty.
func TestParseLatencyStatsAbsent(t *testing.T) {
	cmd := map[string]string{"cmdstat_get": "calls=10,usec=20,usec_per_call=2.00"}
	if got := parseLatencyStats(map[string]string{}, cmd); len(got) != 0 {
		t.Errorf("figures from an empty latencystats: %v", got)
	}
	if got := parseLatencyStats(nil, nil); len(got) != 0 {
		t.Errorf("figures from nothing: %v", got)
	}
}

func TestMergeServerLatencyAcrossPrimaries(t *testing.T) {
	out := map[string]result.ServerLatency{}
	mergeServerLatency(out, map[string]result.ServerLatency{"get": {Calls: 10, P50: 0.002, P99: 0.009, P999: 0.02}})
	mergeServerLatency(out, map[string]result.ServerLatency{"get": {Calls: 5, P50: 0.003, P99: 0.004, P999: 0.05}, "set": {Calls: 1, P50: 0.01}})
	if g := out["get"]; g != (result.ServerLatency{Calls: 15, P50: 0.003, P99: 0.009, P999: 0.05}) {
		t.Errorf("get over two primaries: %+v", g)
	}
	if s := out["set"]; s.Calls != 1 || s.P50 != 0.01 {
		t.Errorf("set on one primary: %+v", s)
	}
}

// Reading latency from a real Redis: primaries only, the tool's commands
// left out; and an old Redis (no figures) is noted rather than silent.
func TestServerLatencyFromRedis(t *testing.T) {
	needRedis(t)
	dep := startDeployment(t)
	ctx := context.Background()
	for i := range 20 {
		if _, err := dep.Do(ctx, "primary-0", "SET", "k", i); err != nil {
			t.Fatal(err)
		}
		if _, err := dep.Do(ctx, "primary-0", "GET", "k"); err != nil {
			t.Fatal(err)
		}
	}
	lat, note := serverLatency(ctx, dep)
	if note != "" {
		t.Errorf("note %q", note)
	}
	for _, c := range []string{"get", "set"} {
		if l := lat[c]; l.Calls != 20 || l.P50 <= 0 || l.P99 < l.P50 {
			t.Errorf("%s: %+v", c, l)
		}
	}
	if _, ok := lat["info"]; ok {
		t.Error("INFO reported as cache traffic")
	}

	if _, err := dep.Do(ctx, "primary-0", "CONFIG", "SET", "latency-tracking", "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := dep.Do(ctx, "primary-0", "CONFIG", "RESETSTAT"); err != nil {
		t.Fatal(err)
	}
	lat, note = serverLatency(ctx, dep)
	if len(lat) != 0 || !strings.Contains(note, "no per-command figures") {
		t.Errorf("without latency tracking: %v, note %q", lat, note)
	}
}

// CONFIG RESETSTAT before the load: latency and command counts start again
// from zero, and the sampler's counters count from the reset instead of
// subtracting the pre-reset reading (which would lose events).
func TestResetServerStatsKeepsSamplerCounters(t *testing.T) {
	needRedis(t)
	dep := startDeployment(t)
	ctx := context.Background()
	do := func(args ...any) {
		t.Helper()
		if _, err := dep.Do(ctx, "primary-0", args...); err != nil {
			t.Fatal(err)
		}
	}
	do("SET", "k", "v")
	for range 10 {
		do("GET", "k") // a prefill's traffic: 10 keyspace hits
	}
	s := &sampler{info: dep}
	s.prime(ctx)

	if note := s.resetServerStats(ctx, dep, true); note != "" {
		t.Fatalf("reset note %q", note)
	}
	lat, _ := serverLatency(ctx, dep)
	if _, ok := lat["get"]; ok {
		t.Errorf("GETs before the reset still counted: %+v", lat["get"])
	}

	for range 15 {
		do("GET", "k") // the load's traffic
	}
	all, err := dep.InfoAll(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	s.server.observe(all)
	if s.server.keyspaceHits != 15 {
		t.Errorf("keyspace hits after the reset %d, want 15", s.server.keyspaceHits)
	}
	lat, _ = serverLatency(ctx, dep)
	if g := lat["get"]; g.Calls != 15 {
		t.Errorf("GET calls after the reset %d, want 15", g.Calls)
	}
}

// An external Redis is not ours to reset: nothing is sent, and the report
// says the figures cover the server's life.
func TestResetServerStatsLeavesExternalAlone(t *testing.T) {
	s := &sampler{}
	note := s.resetServerStats(context.Background(), refuseAll{t}, false)
	if !strings.Contains(note, "external") {
		t.Errorf("note %q", note)
	}
}

type refuseAll struct{ t *testing.T }

func (r refuseAll) InfoAll(context.Context, string) (map[string]map[string]string, error) {
	r.t.Error("INFO sent")
	return nil, nil
}
func (r refuseAll) Nodes() []topology.Node {
	return []topology.Node{{Name: "primary-0", Role: topology.RolePrimary}}
}
func (r refuseAll) Do(context.Context, string, ...any) (any, error) {
	r.t.Error("command sent to an external Redis")
	return nil, nil
}

func startDeployment(t *testing.T) topology.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dep, err := topology.Start(ctx, topology.Spec{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dep.Close(context.Background()) })
	return dep
}
