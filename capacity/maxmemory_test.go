package capacity

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

// memScenario is a small scenario with a maxmemory and a hit-rate target.
func memScenario(t *testing.T, extra string, sets ...string) *scenarios.Scenario {
	t.Helper()
	var set []scenarios.Set
	for _, s := range sets {
		v, err := scenarios.ParseSet(s)
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, v)
	}
	sc, err := scenarios.LoadBytes("m.yaml", []byte("name: m\nworkload: {population: 10000, active_users: 100}\n"+
		"phases:\n  - {name: warm, duration: 1s, record: false}\n  - {name: steady, duration: 2s}\n"+
		"targets:\n  hit_rate: \">= 90%\"\n"+extra), set...)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// hitBySize is a step runner whose hit rate grows with maxmemory: below
// need it misses the 90 % target, at or above it meets it. It records the
// maxmemory each step's scenario really carried (StepScenario's), as the
// harness would start Redis with it.
type hitBySize struct {
	base *scenarios.Scenario
	s    Settings
	need float64
	got  []int64
}

func (h *hitBySize) run(_ context.Context, load float64) (*result.Result, error) {
	sc, err := StepScenario(h.base, h.s, load)
	if err != nil {
		return nil, err
	}
	mem := int64(sc.Target.Redis.MaxMemory)
	h.got = append(h.got, mem)
	hit := math.Min(0.99, 0.9*float64(mem)/h.need)
	pass := hit >= 0.9
	v := result.VerdictFail
	if pass {
		v = result.VerdictPass
	}
	return &result.Result{
		Users:   result.UsersReport{Active: sc.Workload.ActiveUsers, Requests: 1000, Commands: 1000, OpsPerSec: 100},
		Phases:  []result.PhaseReport{{Name: "steady", Recorded: true, StartS: 0, EndS: 2}},
		Cache:   result.CacheReport{CacheCounts: result.CacheCounts{HitRate: hit}},
		Server:  result.ServerReport{MaxMemory: mem, MaxMemoryPolicy: "allkeys-lru", EvictedKeys: uint64(1e14 / float64(mem))},
		Verdict: v,
		Targets: []result.TargetResult{{Name: "hit_rate", Expr: ">= 90%", Observed: hit, ObservedText: fmt.Sprintf("%.1f%%", 100*hit),
			Unit: "fraction", Pass: pass, Verdict: v}},
	}, nil
}

// A maxmemory sweep finds the smallest size that holds the load: the
// steps' sizes are the step scenarios' maxmemory, the bracket is within
// the precision around the known smallest size, and the scenario's own
// size is measured.
func TestSearchFindsSmallestMaxMemory(t *testing.T) {
	sc := memScenario(t, "", "target.redis.maxmemory=64mb")
	const need = 20<<20 + 320<<10 // 20.3125mb, a multiple of the 64kb quantum
	prep, err := Prepare(sc, Settings{Vary: scenarios.VaryMaxMemory, From: 4 << 20, To: 128 << 20, Precision: "1mb", Confirm: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p := prep.Plan; !p.Knob || p.Design != 64<<20 || p.Unit != "bytes" || p.Precision != 1<<20 || p.Relative {
		t.Fatalf("plan %+v", p)
	}
	h := &hitBySize{base: sc, s: prep.Settings, need: need}
	c, err := prep.Run(context.Background(), RunOptions{Runner: h.run})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("steps %v; %s", loads(c), c.Answer.Headline)
	a := c.Answer
	if a.MinHolding < need || a.FailLoad >= need || a.MinHolding-a.FailLoad > 1<<20 {
		t.Errorf("bracket (%v, %v] does not hold %v within 1mb", a.FailLoad, a.MinHolding, float64(need))
	}
	if a.DesignVerdict != result.VerdictPass || c.Vary != scenarios.VaryMaxMemory || !c.Knob {
		t.Errorf("design %s vary %s knob %v", a.DesignVerdict, c.Vary, c.Knob)
	}
	for i, st := range c.Steps {
		if int64(st.Load) != h.got[i] || st.MaxMemory != h.got[i] || h.got[i]%(64<<10) != 0 {
			t.Errorf("step %d: load %v, scenario's maxmemory %d, reported %d", st.N, st.Load, h.got[i], st.MaxMemory)
		}
	}
	if !strings.Contains(a.Headline, "needs maxmemory "+SizeText(a.MinHolding)) {
		t.Errorf("headline %q", a.Headline)
	}
}

// What a maxmemory sweep refuses before any step runs: no maxmemory to
// search around, an external Redis, a precision that is neither a share
// nor a size.
func TestMaxMemoryPlanRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		sc   *scenarios.Scenario
		s    Settings
		want string
	}{
		"no maxmemory": {memScenario(t, "", "target.redis.maxmemory=0"), Settings{Vary: "maxmemory"}, "sets no maxmemory"},
		"external":     {memScenario(t, "target: {backend: external, addrs: [\"127.0.0.1:1\"], redis: {maxmemory: 64mb}}\n"), Settings{Vary: "maxmemory", MaxLoad: 1 << 30}, "Redis the tool starts"},
		"precision":    {memScenario(t, ""), Settings{Vary: "maxmemory", Precision: "lots"}, "--precision"},
	} {
		if _, err := Prepare(c.sc, c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
	// Default range: an eighth to twice the scenario's size; 10 %.
	p, _, err := Resolve(memScenario(t, "", "target.redis.maxmemory=64mb"), Settings{Vary: "maxmemory"})
	if err != nil || p.From != 8<<20 || p.To != 128<<20 || !p.Relative {
		t.Errorf("defaults %+v, %v", p, err)
	}
	if units.Size(p.round(3<<20+1000)) != 3<<20 {
		t.Errorf("round %v", p.round(3<<20+1000))
	}
}

// --vary maxmemory over a scenario whose capacity: section varies users
// takes none of the section's loads (5,000 users are not 5,000 bytes):
// the range is the default one around the scenario's maxmemory.
func TestVaryOtherThanTheSectionDropsItsLoads(t *testing.T) {
	sc := memScenario(t, "capacity: {vary: users, from: 50, to: 400, precision: 20}\n", "target.redis.maxmemory=64mb")
	p, _, err := Resolve(sc, Settings{Vary: scenarios.VaryMaxMemory})
	if err != nil || p.From != 8<<20 || p.To != 128<<20 || p.PrecisionText != DefaultPrecision {
		t.Errorf("plan from %v to %v precision %s: %v", p.From, p.To, p.PrecisionText, err)
	}
	if p, _, err := Resolve(sc, Settings{}); err != nil || p.From != 50 || p.To != 400 {
		t.Errorf("the section's own vary: from %v to %v: %v", p.From, p.To, err)
	}
}
