package scenarios

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
)

// Every scalar key of the scenario type, written as its zero (0, 0s, "" or
// false) in the smallest file that reaches it, is either rejected or kept as
// written: Defaults never replaces it. The keys are found by reflection, so
// a field added later is covered without touching this test.
func TestWrittenZeroNeverDefaulted(t *testing.T) {
	contexts := []struct {
		name string
		tmpl string // the zero key goes where %s is
		typ  reflect.Type
		at   func(*Scenario) reflect.Value // the struct holding the key
	}{
		{"scenario", "name: z\n%s\n", reflect.TypeFor[Scenario](), func(s *Scenario) reflect.Value { return reflect.ValueOf(s).Elem() }},
		{"target", "name: z\ntarget:\n  %s\n", reflect.TypeFor[Deployment](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Target).Elem() }},
		{"target.redis", "name: z\ntarget:\n  redis:\n    %s\n", reflect.TypeFor[RedisConf](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Target.Redis).Elem() }},
		{"pool", "name: z\npool:\n  %s\n", reflect.TypeFor[Pool](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Pool).Elem() }},
		{"workload", "name: z\nworkload:\n  %s\n", reflect.TypeFor[Workload](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Workload).Elem() }},
		{"family", "name: z\nworkload:\n  families:\n    - name: stratz_profile\n      %s\n", reflect.TypeFor[FamilyOverride](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Workload.Families[0]).Elem() }},
		{"defined family", "name: z\nworkload:\n  families:\n    - name: mine\n      key: \"mine:{id}\"\n      keys: 100\n      tier: api\n      mean_size: 1kb\n      weight: 1\n      %s\n", reflect.TypeFor[FamilyOverride](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Workload.Families[0]).Elem() }},
		{"features", "name: z\nworkload:\n  features:\n    %s\n", reflect.TypeFor[Features](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Workload.Features).Elem() }},
		{"rate_limit", "name: z\nworkload:\n  rate_limit:\n    %s\n", reflect.TypeFor[RateLimit](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Workload.RateLimit).Elem() }},
		{"popularity", "name: z\nworkload:\n  families:\n    - name: stratz_profile\n      popularity:\n        kind: zipf\n        %s\n", reflect.TypeFor[Popularity](), func(s *Scenario) reflect.Value { return reflect.ValueOf(s.Workload.Families[0].Popularity).Elem() }},
		{"origin", "name: z\nworkload:\n  origins:\n    stratz:\n      %s\n", reflect.TypeFor[OriginConfig](), func(s *Scenario) reflect.Value { return reflect.ValueOf(s.Workload.Origins["stratz"]) }},
		{"driver", "name: z\ndriver:\n  %s\n", reflect.TypeFor[Driver](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Driver).Elem() }},
		{"phase", "name: z\nphases:\n  - name: p\n    duration: 10s\n    %s\n", reflect.TypeFor[Phase](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Phases[0]).Elem() }},
		{"fault", "name: z\nphases:\n  - {name: p, duration: 60s}\nfaults:\n  - at: 1s\n    kind: restart\n    %s\n", reflect.TypeFor[Fault](), func(s *Scenario) reflect.Value { return reflect.ValueOf(&s.Faults[0]).Elem() }},
	}
	tested := 0
	for _, c := range contexts {
		for i := 0; i < c.typ.NumField(); i++ {
			f := c.typ.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			zero := zeroLiteral(f.Type)
			if key == "" || key == "-" || zero == "" || regexp.MustCompile(`(?m)^[ -]*`+key+`:`).MatchString(c.tmpl) {
				continue // not a scalar, or already in the template
			}
			line := key + ": " + zero
			data := fmt.Sprintf(c.tmpl, line)
			t.Run(c.name+"."+key, func(t *testing.T) {
				tested++
				s, err := LoadBytes("z.yaml", []byte(data))
				if err != nil {
					return // rejected as written: fine
				}
				v := c.at(s).Field(i)
				if v.Kind() == reflect.Pointer {
					if v.IsNil() {
						t.Fatalf("%q was written but the field is nil", line)
					}
					v = v.Elem()
				}
				if !v.IsZero() {
					t.Errorf("%q was accepted but became %v: a written zero was replaced by a default\n%s", line, v.Interface(), data)
				}
			})
		}
	}
	// A fault kind's parameters are declared in chaos, not in the Fault
	// type: each, written as its zero in an entry of its kind, is rejected
	// or kept.
	for _, kind := range chaos.Kinds() {
		for _, name := range chaos.ParamsOf(kind) {
			typ, _ := chaos.ParamOf(name)
			zero := map[chaos.ParamType]string{chaos.TypeString: `""`, chaos.TypeDuration: "0s", chaos.TypeSize: "0", chaos.TypeNumber: "0", chaos.TypeInt: "0"}[typ]
			data := fmt.Sprintf("name: z\nphases:\n  - {name: p, duration: 60s}\nfaults:\n  - at: 1s\n    kind: %s\n    %s: %s\n", kind, name, zero)
			t.Run("fault."+kind+"."+name, func(t *testing.T) {
				tested++
				s, err := LoadBytes("z.yaml", []byte(data))
				if err != nil {
					return // rejected as written: fine
				}
				v, ok := s.Faults[0].Params[name]
				if !ok || !reflect.ValueOf(v).IsZero() {
					t.Errorf("%s: %s was accepted but became %v (given %v)\n%s", name, zero, v, ok, data)
				}
			})
		}
	}
	if tested < 40 {
		t.Errorf("only %d keys reached; the reflection walk lost fields", tested)
	}
}

// zeroLiteral is how a file writes the zero of t, or "" for a non-scalar.
func zeroLiteral(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[Duration]():
		return "0s"
	case t == reflect.TypeFor[Size]():
		return "0"
	}
	switch t.Kind() {
	case reflect.String:
		return `""`
	case reflect.Bool:
		return "false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "0"
	}
	return ""
}

// The zeros that mean something, written out in testdata/good/zeros.yaml,
// reach the resolved scenario as written.
func TestMeaningfulZerosKept(t *testing.T) {
	s, err := Load("testdata/good/zeros.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.Redis.MaxMemory != 0 {
		t.Errorf("maxmemory: 0 (no limit) became %s", s.Target.Redis.MaxMemory)
	}
	if s.Workload.Prefill != 0 {
		t.Errorf("prefill: 0s became %s", s.Workload.Prefill.D())
	}
	if p := s.Pool; *p.MinIdle != 0 || *p.MaxRetries != 0 || *p.HealthCheckInterval != 0 || *p.KeyPrefix != "" {
		t.Errorf("pool zeros: min_idle %d, max_retries %d, health_check_interval %s, key_prefix %q", *p.MinIdle, *p.MaxRetries, p.HealthCheckInterval.D(), *p.KeyPrefix)
	}
	if w := s.Workload.Families[0].Weight; w == nil || *w != 0 {
		t.Errorf("weight: 0 became %v", w)
	}
	if f := s.Workload.Families[1]; f.Weight == nil || *f.Weight != 0 || f.Writes != 0 {
		t.Errorf("defined family weight: 0, writes: 0 became %v, %v", f.Weight, f.Writes)
	}
	if ft := s.Workload.Features; *ft.RateLimit || *ft.SessionGetAndExtend || *ft.CAS || *ft.MGet || *ft.Invalidation {
		t.Errorf("features written false became %+v", ft)
	}
	if o := s.Workload.Origins["stratz"]; o.Latency != 0 || o.P99 != 0 || o.ErrorRate != 0 {
		t.Errorf("stratz origin zeros: %+v", o)
	}
	if ramp := s.Phases[0]; ramp.Users != nil || *ramp.UsersFrom != 0 {
		t.Errorf("ramp from 0: users %v, users_from %v", ramp.Users, ramp.UsersFrom)
	}
	if idle := s.Phases[1]; idle.Users == nil || *idle.Users != 0 {
		t.Errorf("idle phase users: 0 became %v", idle.Users)
	}
	if steady := s.Phases[2]; steady.Users == nil || *steady.Users != 100 {
		t.Errorf("steady phase (no users written) should run active_users, got %v", steady.Users)
	}
	if f := s.Faults[0]; f.At != 0 || f.For != 0 {
		t.Errorf("restart at: 0s for: 0s became %+v", f)
	}
	if f := s.Faults[1]; f.Params["ballast"] != int64(0) || f.Params["fraction"] != 0.5 {
		t.Errorf("ballast: 0 became %+v", f.Params)
	}
	if f := s.Faults[2]; f.Params["jitter"] != time.Duration(0) {
		t.Errorf("jitter: 0s became %v", f.Params["jitter"])
	}
	if f := s.Faults[3]; f.Params["timeout"] != time.Duration(0) {
		t.Errorf("timeout: 0s became %v", f.Params["timeout"])
	}
}

// An origin that writes some fields gets the upstream's defaults for the
// others, not zeros: error_rate alone must not make steam answer instantly.
// A written latency without p99 keeps the default tail's shape.
func TestOriginUnwrittenFieldsDefault(t *testing.T) {
	s, err := LoadBytes("o.yaml", []byte("name: o\nworkload:\n  origins:\n    steam: {error_rate: 0}\n    stratz: {latency: 160ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o := s.Workload.Origins["steam"]; o.Latency.D() != 60*time.Millisecond || o.P99.D() != 250*time.Millisecond || o.ErrorRate != 0 {
		t.Errorf("steam: %+v, want the default 60ms/250ms and the written error_rate 0", o)
	}
	// stratz's default is 80ms with a 400ms p99: five times the median.
	if o := s.Workload.Origins["stratz"]; o.Latency.D() != 160*time.Millisecond || o.P99.D() != 800*time.Millisecond || o.ErrorRate != 0.005 {
		t.Errorf("stratz: %+v, want 160ms, p99 800ms, the default error_rate 0.005", o)
	}
}

// A zipf popularity without an exponent takes the workload's zipf; before,
// it stayed 0 and the workload model refused it only when the run started.
func TestPopularityExponentDefaultsToZipf(t *testing.T) {
	s, err := LoadBytes("p.yaml", []byte("name: p\nworkload:\n  zipf: 1.3\n  families:\n    - {name: stratz_profile, popularity: {kind: zipf}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e := s.Workload.Families[0].Popularity.Exponent; e != 1.3 {
		t.Errorf("exponent %g, want the workload's zipf 1.3", e)
	}
}

// The resolved scenario a report embeds shows the values the run used,
// zeros included: a missing "prefill" would read as "unknown", not "none".
func TestResolvedJSONShowsZeros(t *testing.T) {
	s, err := Load("testdata/good/zeros.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"prefill":"0s"`, `"maxmemory":0`, `"name":"idle","duration":"10s","record":null,"users":0`, `"min_idle":0`, `"max_retries":0`, `"error_rate":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("resolved JSON lacks %s:\n%s", want, b)
		}
	}
	d, err := LoadBytes("d.yaml", []byte("name: d\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(d)
	for _, want := range []string{`"guilds":20000`, `"prefill":"0s"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("defaulted resolved JSON lacks %s:\n%s", want, b)
		}
	}
}

// --users scales the phases in proportion: an idle phase stays idle, a
// ramp from 0 still starts at 0, and a ramp phase gets no constant users.
func TestOverrideUsersKeepsZeros(t *testing.T) {
	s, err := Load("testdata/good/zeros.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(Overrides{Users: 50}); err != nil {
		t.Fatal(err)
	}
	ramp, idle, steady := s.Phases[0], s.Phases[1], s.Phases[2]
	if ramp.Users != nil || *ramp.UsersFrom != 0 || *ramp.UsersTo != 50 {
		t.Errorf("ramp: %v %v→%v", ramp.Users, *ramp.UsersFrom, *ramp.UsersTo)
	}
	if *idle.Users != 0 || *steady.Users != 50 {
		t.Errorf("idle %d, steady %d", *idle.Users, *steady.Users)
	}
}

// A phase's users that came from active_users are not judged a second time:
// one error at active_users, not one per phase as well.
func TestInheritedPhaseUsersReportedOnce(t *testing.T) {
	_, err := LoadBytes("u.yaml", []byte("name: u\nworkload:\n  population: 1000\n  active_users: 2000\n"))
	l, ok := err.(ErrorList)
	if !ok || len(l) != 1 {
		t.Fatalf("want exactly the active_users error, got %v", err)
	}
	_, err = LoadBytes("u.yaml", []byte("name: u\nworkload:\n  population: 1000\n  active_users: 10\nphases:\n  - {name: a, duration: 1s, users: 2000}\n"))
	if err == nil || !strings.Contains(err.Error(), "u.yaml:6:") || !strings.Contains(err.Error(), "users 2000 out of range") {
		t.Errorf("a written phase users above the population: %v", err)
	}
}
