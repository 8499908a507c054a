package scenarios

import (
	"errors"
	"strings"
	"testing"
)

func mustSet(t *testing.T, arg string) Set {
	t.Helper()
	s, err := ParseSet(arg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A set value is decoded, defaulted and validated as the file's own: it
// replaces a written value, adds a missing one (sections included), and
// reaches list entries by index.
func TestSetAppliesLikeTheFile(t *testing.T) {
	src := "name: s\ntarget: {redis: {maxmemory: 256mb}}\nphases:\n  - {name: warm, duration: 10s, record: false}\n  - {name: steady, duration: 60s}\n"
	sets := []Set{
		mustSet(t, "target.redis.maxmemory=32mb"),
		mustSet(t, "workload.active_users=500"),
		mustSet(t, "phases[1].duration=20s"),
		mustSet(t, "driver.op_timeout=2s"),
		mustSet(t, "targets.latency_p99=< 3ms"),
		mustSet(t, "targets.hit_rate=>= 90%"),
	}
	s, err := LoadBytes("s.yaml", []byte(src), sets...)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(s.Target.Redis.MaxMemory); got != 32<<20 {
		t.Errorf("maxmemory %d, want 32mb", got)
	}
	if s.Workload.ActiveUsers != 500 || *s.Phases[1].Users != 500 {
		t.Errorf("active_users %d, phase users %d: want 500 (a set value is defaulted from like the file's)", s.Workload.ActiveUsers, *s.Phases[1].Users)
	}
	if s.Phases[1].Duration.D().String() != "20s" || s.Driver.OpTimeout.D().String() != "2s" {
		t.Errorf("phases[1].duration %s, op_timeout %s", s.Phases[1].Duration.D(), s.Driver.OpTimeout.D())
	}
	found := false
	for _, tg := range s.TargetSpecs() {
		if tg.Name == "latency_p99" && strings.Contains(tg.Text, "3ms") {
			found = true
		}
	}
	for _, tg := range s.Targets {
		if tg.Name == "hit_rate" && tg.Expr != ">= 90%" {
			found = false
		}
	}
	if !found {
		t.Errorf("targets.latency_p99 not set: %+v", s.Targets)
	}
	if got := s.Info().Overrides; len(got) != len(sets) || got[0] != sets[0] {
		t.Errorf("Info().Overrides = %v, want the sets in order", got)
	}
}

// A bad set value names the flag and what was expected; a bad path gets a
// did-you-mean over the known paths. Each is a scenario problem (exit 2).
func TestSetErrorsNameTheFlag(t *testing.T) {
	src := "name: s\nphases:\n  - {name: steady, duration: 60s}\ntargets:\n  latency_p99: \"< 5ms\"\n"
	for _, tc := range []struct{ arg, want string }{
		{"target.redis.maxmemory=lots", "--set target.redis.maxmemory=lots"},
		{"workload.active_users=0", "--set workload.active_users=0: workload.active_users"},
		{"workload.active_users=many", "expected a whole number"},
		{"target.redis.maxmemroy=32mb", `did you mean "target.redis.maxmemory"?`},
		{"phases[3].duration=1s", "expected an index of the list's 1 entries"},
		{"phases[0].duration=-1s", "--set phases[0].duration=-1s"},
		{"pool.max_conns=[1, 2]", "--set pool.max_conns=[1, 2]: expected a whole number"},
		{"targets.hit_rat=>= 9%", `did you mean "hit_rate"?`},
		{"targets.latency_p99=< 5 parsecs", "--set targets.latency_p99=< 5 parsecs: target latency_p99"},
		{"faults=[{at: 1s, kind: restart, mod: kill}]", `unknown field "mod" (did you mean "mode"?)`},
	} {
		_, err := LoadBytes("s.yaml", []byte(src), mustSet(t, tc.arg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: got %v, want it to contain %q", tc.arg, err, tc.want)
			continue
		}
		if !IsInvalid(err) {
			t.Errorf("--set %s: %v is not a scenario problem", tc.arg, err)
		}
		if strings.Contains(err.Error(), "s.yaml:") {
			t.Errorf("--set %s: %v points into the file, not at the flag", tc.arg, err)
		}
	}
	for _, bad := range []string{"nopath", "=1", "a.b="} {
		if _, err := ParseSet(bad); err == nil || !strings.Contains(err.Error(), "--set") {
			t.Errorf("ParseSet(%q) = %v, want an error naming --set", bad, err)
		}
	}
}

// The file's own errors keep their line and column when sets are given.
func TestSetKeepsFilePositions(t *testing.T) {
	src := "name: s\nworkload:\n  zipf: -1\n"
	_, err := LoadBytes("s.yaml", []byte(src), mustSet(t, "pool.max_conns=20"))
	var list ErrorList
	if !errors.As(err, &list) || !strings.Contains(err.Error(), "s.yaml:3:") {
		t.Fatalf("got %v, want the file's error at s.yaml:3", err)
	}
}

// A key a set adds inside a fault entry (whose parameters the kind
// declares) is judged by the decoder, and its error names the flag.
func TestSetNewKeyInAFault(t *testing.T) {
	src := "name: s\nphases:\n  - {name: steady, duration: 60s}\nfaults:\n  - {at: 10s, kind: restart}\n"
	_, err := LoadBytes("s.yaml", []byte(src), mustSet(t, "faults[0].mod=kill"))
	if err == nil || !strings.Contains(err.Error(), `--set faults[0].mod=kill: unknown field "mod"`) {
		t.Fatalf("got %v", err)
	}
	s, err := LoadBytes("s.yaml", []byte(src), mustSet(t, "faults[0].mode=graceful"))
	if err != nil || s.Faults[0].Params["mode"] != "graceful" {
		t.Fatalf("faults[0].mode=graceful: %v, %v", err, s)
	}
}
