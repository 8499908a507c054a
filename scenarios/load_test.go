package scenarios

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/workload"
)

// Every file under testdata/bad starts with "# want: LINE:COL: TEXT"; loading
// it must fail with an error at that position containing that text.
func TestBadScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bytes.Cut(data, []byte("\n"))
			want, ok := strings.CutPrefix(string(first), "# want: ")
			if !ok {
				t.Fatalf("%s: first line must be '# want: LINE:COL: TEXT'", f)
			}
			_, err = Load(f)
			if err == nil {
				t.Fatalf("loaded without error; want %q", want)
			}
			if !IsInvalid(err) {
				t.Errorf("error %T is not a scenario error", err)
			}
			pos, text, _ := strings.Cut(want, ": ")
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, f+":"+pos+": ") && strings.Contains(line, strings.TrimSpace(text)) {
					found = true
				}
			}
			if !found {
				t.Errorf("error\n  %s\nwant a line at %s:%s containing %q", err, f, pos, text)
			}
		})
	}
}

func TestGoodScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no good fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := Load(f)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if s.Name == "" || len(s.Phases) == 0 || len(s.Targets) == 0 {
				t.Errorf("incomplete after defaults: %+v", s)
			}
		})
	}
}

func TestFullScenarioValues(t *testing.T) {
	s, err := Load("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rp, err := s.Repeat.Parse(); err != nil || rp != (RepeatPlan{Runs: 3, Auto: true}) {
		t.Errorf("repeat %q: %+v %v", s.Repeat, rp, err)
	}
	if s.Target.Redis.MaxMemory != 128<<20 || s.Target.Redis.MaxMemoryPolicy != "allkeys-lfu" {
		t.Errorf("redis conf: %+v", s.Target.Redis)
	}
	if *s.Pool.MaxConns != 20 || s.Pool.PoolTimeout.D() != time.Second || s.Pool.TTL["api"].D() != 2*time.Minute {
		t.Errorf("pool: %+v", s.Pool)
	}
	if s.Workload.Families[0].MeanSize != 4096 || s.Workload.Families[0].Popularity.Kind != "hotspot" {
		t.Errorf("families: %+v", s.Workload.Families)
	}
	w := s.Workload
	if w.Instances != 2 || !*w.Features.RateLimit || *w.Features.SessionGetAndExtend || w.RateLimit.Hits != 20 || w.RateLimit.Window.D() != 30*time.Second {
		t.Errorf("workload features: %+v %+v %+v", w.Instances, w.Features, w.RateLimit)
	}
	if c := w.Families[3]; c.Type != "zset" || c.Members != 25 || c.TTL.D() != 2*time.Minute || c.Tier != "" || c.MinSize != 100 || c.Writes != 0.2 || c.Popularity != nil {
		t.Errorf("defined family: %+v", c)
	}
	if cfg := w.Config(workload.Run{}); len(cfg.Defined) != 1 || len(cfg.Families) != 3 || cfg.Families[2].SizeDist != "fixed" || cfg.Features.Invalidation || !cfg.Features.CAS || cfg.RateLimitHits != 20 {
		t.Errorf("config: %+v", cfg)
	} else if _, err := workload.New(w, workload.Run{}); err != nil {
		t.Errorf("model: %v", err)
	}
	if s.Phases[0].Recorded() || !s.Phases[2].Recorded() || *s.Phases[1].UsersTo != 2000 {
		t.Errorf("phases: %+v", s.Phases)
	}
	if s.Phases[2].Users == nil || *s.Phases[2].Users != 2000 {
		t.Errorf("steady phase users default to active_users, got %v", s.Phases[2].Users)
	}
	if s.TotalDuration() != 170*time.Second {
		t.Errorf("total %s", s.TotalDuration())
	}
	if s.Faults[0].Params["mode"] != "kill" || s.Faults[0].Node != "primary" || s.Faults[1].Params["fraction"] != 0.5 {
		t.Errorf("faults: %+v", s.Faults)
	}
	// Scenario targets override the seed defaults of the same name and keep
	// the rest: latency_p99 and hit_rate overridden, pool_timeouts default.
	got := map[string]string{}
	for _, tg := range s.Targets {
		got[tg.Name] = tg.Expr
	}
	if got["latency_p99"] != "< 10ms" || got["hit_rate"] != ">= 90%" || got["pool_timeouts"] != "== 0" || got["recovery_time"] != "< 10s" {
		t.Errorf("targets: %v", got)
	}
}

func TestDefaultsFromSeed(t *testing.T) {
	s, err := LoadBytes("mem.yaml", []byte("name: tiny\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Workload.Population != 1_000_000 || s.Workload.ActiveUsers != 10_000 {
		t.Errorf("population/active: %d/%d", s.Workload.Population, s.Workload.ActiveUsers)
	}
	if s.Target.Redis.MaxMemory != 256<<20 || s.Target.Redis.MaxMemoryPolicy != "allkeys-lru" || s.Pool.Profile != "production" {
		t.Errorf("seed production defaults not applied: %+v %+v", s.Target.Redis, s.Pool)
	}
	// The scenario adds no targets, so it gets the report's defaults, in order.
	var names, want []string
	for _, tg := range s.Targets {
		names = append(names, tg.Name+" "+tg.Expr)
	}
	for _, tg := range result.DefaultTargets() {
		want = append(want, tg.Name+" "+tg.Expr)
	}
	if strings.Join(names, ",") != strings.Join(want, ",") || len(want) == 0 {
		t.Errorf("default targets: %v, want %v", names, want)
	}
}

func TestTargetOff(t *testing.T) {
	s, err := LoadBytes("mem.yaml", []byte("name: t\ntargets:\n  hit_rate: \"off\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range s.Targets {
		if tg.Name == "hit_rate" {
			t.Errorf("hit_rate: off should drop the default target")
		}
	}
}

func TestMultipleErrorsAllReported(t *testing.T) {
	_, err := LoadBytes("m.yaml", []byte("name: x\nworkload:\n  active_users: -1\n  zipf: 9\n"))
	l, ok := err.(ErrorList)
	if !ok || len(l) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if l[0].Line != 3 || l[1].Line != 4 {
		t.Errorf("positions: %v", err)
	}
}

func TestBuiltinResolve(t *testing.T) {
	for _, name := range []string{"baseline", "baseline.yaml"} {
		s, err := Resolve(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Name != "baseline" || s.Workload.ActiveUsers != 10_000 {
			t.Errorf("%s: %+v", name, s)
		}
	}
	if _, err := Resolve("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "built-in: ") {
		t.Errorf("missing scenario error should list built-ins: %v", err)
	}
}

// Every built-in scenario must load: they ship inside the binary.
func TestBuiltinsValid(t *testing.T) {
	for _, n := range Builtins() {
		if _, err := Resolve(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// A size means what Redis makes of it (redis-server 7: 256m is 256,000,000
// bytes, 256mb 268,435,456), in a scenario as in the seed's
// REDIS_MAX_MEMORY, which is a set of target.redis.maxmemory (env.go):
// one parser, whose value is passed on to Redis. Written back, a
// scenario's size reads the same again.
func TestSizesAgreeWithMaxMemoryEnv(t *testing.T) {
	for in, want := range map[string]int64{
		"256mb": 256 << 20, "256m": 256_000_000, "256MB": 256 << 20, "1gb": 1 << 30, "1g": 1_000_000_000,
		"2048kb": 2048 << 10, "2000k": 2_000_000, "1048576b": 1 << 20, "268435456": 268435456,
	} {
		s, err := LoadBytes("size.yaml", []byte("name: size\ntarget:\n  redis:\n    maxmemory: "+in+"\n"))
		if err != nil {
			t.Errorf("maxmemory: %s: %v", in, err)
			continue
		}
		e, err := LoadBytesWith("size.yaml", []byte("name: size\n"), Options{Getenv: func(k string) string { return map[string]string{"REDIS_MAX_MEMORY": in}[k] }})
		if err != nil {
			t.Errorf("REDIS_MAX_MEMORY=%s: %v", in, err)
			continue
		}
		if got := int64(s.Target.Redis.MaxMemory); got != want || int64(e.Target.Redis.MaxMemory) != want {
			t.Errorf("%s: scenario %d, REDIS_MAX_MEMORY %d; want both %d", in, got, e.Target.Redis.MaxMemory, want)
		}
		if back, err := units.ParseSize(s.Target.Redis.MaxMemory.String()); err != nil || int64(back) != want {
			t.Errorf("%s written back as %q reads %d, %v", in, s.Target.Redis.MaxMemory, back, err)
		}
	}
	// What Redis refuses (or would misread) both refuse.
	for _, in := range []string{"1.5mb", "mb", "-1", "256 mb", "lots"} {
		_, serr := LoadBytes("size.yaml", []byte("name: size\ntarget:\n  redis:\n    maxmemory: \""+in+"\"\n"))
		_, eerr := LoadBytesWith("size.yaml", []byte("name: size\n"), Options{Getenv: func(k string) string { return map[string]string{"REDIS_MAX_MEMORY": in}[k] }})
		if serr == nil || eerr == nil {
			t.Errorf("%q: scenario error %v, REDIS_MAX_MEMORY error %v; want both to refuse it", in, serr, eerr)
		}
	}
}

func TestOverridesWarmupDurationUsers(t *testing.T) {
	s, err := Resolve("baseline")
	if err != nil {
		t.Fatal(err)
	}
	w := 10 * time.Second
	if err := s.Apply(Overrides{Warmup: &w, Duration: 20 * time.Second, Users: 500}); err != nil {
		t.Fatal(err)
	}
	if s.Phases[0].Duration.D() != 10*time.Second || s.Phases[1].Duration.D() != 20*time.Second {
		t.Errorf("phases: %+v", s.Phases)
	}
	if s.Workload.ActiveUsers != 500 || *s.Phases[1].Users != 500 {
		t.Errorf("users: %d / %d", s.Workload.ActiveUsers, *s.Phases[1].Users)
	}
	zero := time.Duration(0)
	if err := s.Apply(Overrides{Warmup: &zero}); err != nil {
		t.Fatal(err)
	}
	if len(s.Phases) != 1 || !s.Phases[0].Recorded() {
		t.Errorf("--warmup 0s should remove warm-up phases: %+v", s.Phases)
	}
}

// The built-in custom-families scenario describes a cache of its own
// families only, and its workload issues each of their types' commands
// (hash, sorted set, plain strings with fixed and uniform sizes), its
// string writes as updates, and the rate-limit hit first.
func TestCustomFamiliesScenario(t *testing.T) {
	s, err := Resolve("custom-families")
	if err != nil {
		t.Fatal(err)
	}
	w := s.Workload
	if w.Catalogue != workload.CatalogueNone || w.Instances != 4 || len(w.Families) != 4 || *w.Features.SessionGetAndExtend || !*w.Features.RateLimit {
		t.Fatalf("workload: %+v", w)
	}
	m, err := workload.New(w, workload.Run{Seed: s.Seed})
	if err != nil {
		t.Fatal(err)
	}
	var kinds [workload.NumOpKinds]int
	n := 0
	sched := m.Schedule([]workload.PhasePlan{{Name: "steady", Duration: 10 * time.Second, UsersStart: 2000, UsersEnd: 2000, Record: true}})
	for c, ok := sched.Next(); ok; c, ok = sched.Next() {
		n++
		if c.Ops[0].Kind != workload.OpRateLimit {
			t.Fatalf("%s starts with %s", c.Name, c.Ops[0].Kind)
		}
		for _, o := range c.Ops {
			kinds[o.Kind]++
		}
	}
	for _, k := range []workload.OpKind{workload.OpHGet, workload.OpHSet, workload.OpZRange, workload.OpZAdd, workload.OpGetOrFetch, workload.OpUpdate} {
		if kinds[k] == 0 {
			t.Errorf("no %s in %d commands", k, n)
		}
	}
	for _, k := range []workload.OpKind{workload.OpSessionGet, workload.OpMGet, workload.OpCAS, workload.OpSet, workload.OpTouch} {
		if kinds[k] != 0 {
			t.Errorf("%d %s operations from a scenario without the seed's families (invalidation on)", kinds[k], k)
		}
	}
}

// The built-in ride-sharing scenario: its YAML's producers, whole-hash
// rewrite and mid-key placeholders reach the model. Its producers' writes
// come without a rate-limit hit (they are not users), the surge tables as
// one replacing HSET of all 200 zones, and the location and ETA keys,
// which differ only after their id, each under its own TTL.
func TestRideSharingScenario(t *testing.T) {
	s, err := Resolve("ride-sharing")
	if err != nil {
		t.Fatal(err)
	}
	m, err := workload.New(s.Workload, workload.Run{Seed: s.Seed})
	if err != nil {
		t.Fatal(err)
	}
	ttls := m.OwnTTLs()
	if ttls["driver:{driverId}:loc"] != 30*time.Second || ttls["driver:{driverId}:eta"] != 2*time.Minute {
		t.Errorf("own TTLs %v", ttls)
	}
	if f := m.Family("surge"); f.Write != workload.WriteReplaceMulti || f.Producer == nil || f.Producer.String() != "every 10s ± 1s" || f.WriteOp(false) != "hset_all replace_multi" {
		t.Fatalf("surge: %+v", f)
	}
	byProducer := map[string]int{}
	users := 0
	sched := m.Schedule([]workload.PhasePlan{{Name: "steady", Duration: 10 * time.Second, UsersStart: 500, UsersEnd: 500, Record: true}})
	for c, ok := sched.Next(); ok; c, ok = sched.Next() {
		if c.Producer == "" {
			users++
			if c.Ops[0].Kind != workload.OpRateLimit {
				t.Fatalf("a rider's %s starts with %s", c.Name, c.Ops[0].Kind)
			}
			continue
		}
		byProducer[c.Producer]++
		op := c.Ops[0]
		switch {
		case c.Producer == "surge" && (op.Kind != workload.OpHSetAll || len(op.Family.Names) != 200):
			t.Fatalf("surge write %s of %d fields", op.Kind, len(op.Family.Names))
		case c.Producer == "driver_location" && (op.Kind != workload.OpSet || !strings.HasSuffix(op.Key, ":loc")):
			t.Fatalf("location write %s %s", op.Kind, op.Key)
		}
	}
	// 8,000 drivers every 4 s for 10 s: about 20,000; 50 cities every 10 s:
	// about 50.
	if n := byProducer["driver_location"]; n < 17_000 || n > 23_000 {
		t.Errorf("%d location writes in 10 s, want about 20,000", n)
	}
	if n := byProducer["surge"]; n < 40 || n > 60 {
		t.Errorf("%d surge rewrites in 10 s, want about 50", n)
	}
	if users == 0 {
		t.Error("no rider commands")
	}
}

// --duration moves faults with the phases: soak's client-kill every 10
// minutes of an hour becomes one every 80 s of an 8-minute run, and the
// notes say so.
func TestDurationScalesFaults(t *testing.T) {
	s, err := Resolve("soak")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(Overrides{Duration: 8 * time.Minute}); err != nil {
		t.Fatalf("soak --duration 8m refused: %v", err)
	}
	f := s.Faults[0]
	// warm-up 1m unchanged; 9m into the hour's soak is 9/60 of 8m = 72s in.
	if f.At.D() != time.Minute+72*time.Second || f.Every.D() != 80*time.Second {
		t.Errorf("fault at %s every %s, want 2m12s every 1m20s", f.At.D(), f.Every.D())
	}
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "client-kill 10m0s → 2m12s") {
		t.Errorf("notes %q", s.Notes)
	}
	w := time.Duration(0)
	if err := s.Apply(Overrides{Warmup: &w}); err != nil {
		t.Fatal(err)
	}
	if got := s.Faults[0].At.D(); got != 72*time.Second {
		t.Errorf("with the warm-up removed the fault is at %s, want 1m12s", got)
	}
}
