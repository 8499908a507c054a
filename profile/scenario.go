package profile

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/redistext"
	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/workload"
)

// ScenarioOptions name the scenario and shape its run.
type ScenarioOptions struct {
	Name string
	// ActiveUsers carry the measured rate (commands_per_user_per_minute is
	// derived from it); the families are id ranges, not users' own keys,
	// so the number only spreads the load over sessions.
	ActiveUsers int
	Warmup      time.Duration
	Steady      time.Duration
}

// DefaultScenario: 1,000 users, 30 s of warm-up and 2 minutes recorded.
var DefaultScenario = ScenarioOptions{Name: "profiled", ActiveUsers: 1000, Warmup: 30 * time.Second, Steady: 2 * time.Minute}

// Scenario writes the profile as a scenario file (catalogue: none, one
// defined family per inferred family) and checks that the scenario loader
// accepts it, returning the file's text.
func (p *Profile) Scenario(o ScenarioOptions) ([]byte, error) {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Written by `cacheproof profile` from %s (%s, %s) on %s.\n", p.URL, p.Deployment.Shape, p.Deployment.Version, p.Started.Format(time.RFC3339))
	w("# %d keys sampled of %d; the families below explain %.1f %% of the keys and %.1f %% of their memory.\n", p.Sampled, p.DBSize, 100*p.ExplainedKeys, 100*p.ExplainedMem)
	if p.Observation.Accesses > 0 {
		w("# Popularity and command shares observed with MONITOR over %s (%d accesses).\n", p.Observation.Duration, p.Observation.Accesses)
	} else {
		w("# Popularity and command shares estimated from OBJECT IDLETIME/FREQ (rough: profile with --observe to measure them).\n")
	}
	w("# profile.json and profile.html say how sure each figure is. Each key pattern's placeholder\n")
	w("# is an id range (keys: N); a pattern found with several ids (ratelimit:{ratelimit_id}:{id})\n")
	w("# is written with one, from its first id to its last.\n")
	w("name: %s\n", o.Name)
	w("description: %q\n", fmt.Sprintf("measured from %s: %d families, %.0f commands/s", p.URL, len(p.families()), p.OpsPerSec))
	w("seed: 1\n")
	maxmem := p.Deployment.MaxMemory
	if maxmem <= 0 {
		// No limit on the server: give the run room for what is used.
		maxmem = roundMB(p.UsedMemory*2, 64)
		w("# The server has no maxmemory; twice its used_memory (%s) is set.\n", redistext.FormatMemory(p.UsedMemory))
	}
	policy := p.Deployment.Policy
	if policy == "" {
		policy = "allkeys-lru"
	}
	w("target:\n  backend: process\n  topology: standalone\n  redis: {maxmemory: %s, maxmemory_policy: %s}\n", units.Size(maxmem), policy)
	w("pool: {profile: production}\n")
	rate := math.Max(p.OpsPerSec, 0.1)
	users := max(o.ActiveUsers, 1)
	cpm := rate * 60 / float64(users)
	for cpm > workload.MaxCPM && users < workload.MaxPopulation/10 {
		users *= 10
		cpm /= 10
	}
	w("workload:\n")
	w("  population: %d\n  active_users: %d\n", max(users*10, 1000), users)
	w("  commands_per_user_per_minute: %s   # %.1f commands/s measured\n", trimFloat(cpm, 4), rate)
	w("  catalogue: none\n  instances: 1\n")
	prefill, by := p.Prefill, p.PrefillBy
	switch {
	case p.CacheAge > 0:
		// The warm-up runs on the cache too: the recorded phase starts
		// at the age the profile's window opened at.
		prefill = max(prefill-o.Warmup, 0)
		by += fmt.Sprintf(", less the %s warm-up", o.Warmup)
	case prefill <= 0:
		prefill, by = prefillFor(p.families()), "twice the longest TTL, at least 10 minutes and at most an hour"
	}
	w("  prefill: %s   # %s\n", prefill, by)
	w("  families:\n")
	for _, f := range p.families() {
		p.writeFamily(&b, f)
	}
	w("phases:\n  - {name: warmup, duration: %s, record: false}\n  - {name: steady, duration: %s}\n", o.Warmup, o.Steady)
	w("targets:\n  latency_p99: \"< 5ms\"\n")
	if hr := p.Traffic.HitRate; hr >= 0 {
		w("  hit_rate: \">= %s%%\"   # the server's hit rate in the profile's window: %.2f %%\n", trimFloat(math.Floor(hr*100)-1, 0), hr*100)
	}
	text := []byte(b.String())
	if _, err := scenarios.LoadBytes(o.Name+".yaml", text); err != nil {
		return text, fmt.Errorf("the written scenario does not load: %w", err)
	}
	return text, nil
}

// families is the families the scenario can write (a weight above zero or
// keys in Redis; a single key family needs its size).
func (p *Profile) families() []Family {
	var out []Family
	for _, f := range p.Families {
		if f.Size.N == 0 && f.MeanMem <= 0 {
			continue
		}
		out = append(out, f)
	}
	return out
}

func (p *Profile) writeFamily(b *strings.Builder, f Family) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	name := f.Name
	if name == workload.RateLimitFamily {
		name += "_keys"
	}
	w("    - name: %s   # %s: %d sampled keys, %.1f %% of the memory\n", name, f.Pattern, f.Sampled, 100*f.MemShare)
	w("      key: %q\n", f.ScenarioPattern)
	if f.Placeholders > 0 {
		w("      keys: %d   # %s\n", max(1, int(math.Round(f.Keyspace))), f.KeyspaceBy)
	}
	typ := f.Type
	switch typ {
	case workload.TypeString, workload.TypeHash, workload.TypeZSet:
	default:
		w("      # a %s in Redis: written as a string of its size (the workload has strings, hashes and sorted sets)\n", typ)
		typ = workload.TypeString
	}
	if typ != workload.TypeString {
		w("      type: %s\n", typ)
	}
	n := max(1, int(math.Round(f.Len)))
	if f.Fields > 0 {
		n = f.Fields
	}
	switch typ {
	case workload.TypeHash:
		w("      fields: %d\n", min(n, workload.MaxFields))
	case workload.TypeZSet:
		w("      members: %d\n", min(n, workload.MaxFields))
	}
	switch {
	case f.TTL.Tier != "":
		w("      tier: %s\n", f.TTL.Tier)
	default:
		w("      ttl: %s\n", f.TTL.TTL)
	}
	if f.TTL.NoTTLShare > 0 && f.TTL.NoTTLShare < 1 {
		w("      # %.1f %% of its keys have no TTL\n", 100*f.TTL.NoTTLShare)
	}
	size := f.Size
	mean := size.Mean
	if f.Type != f.typeWritten(typ) || size.N == 0 {
		mean = math.Max(f.MeanMem, 1)
	}
	switch size.Kind {
	case workload.SizeFixed:
		w("      size_dist: fixed\n      mean_size: %s\n", sizeOf(mean))
	case workload.SizeUniform:
		w("      size_dist: uniform\n      min_size: %s\n      max_size: %s\n", sizeOf(size.Min), sizeOf(math.Max(size.Max, size.Min)))
	default:
		w("      mean_size: %s   # lognormal, sigma %.2f (KS %.3f)\n", sizeOf(mean), size.Sigma, size.KS)
	}
	if f.Placeholders > 0 {
		switch pop := f.Popularity; pop.Kind {
		case "zipf":
			w("      popularity: {kind: zipf, exponent: %s}\n", trimFloat(math.Max(pop.Exponent, 0.01), 2))
		case "hotspot":
			w("      popularity: {kind: hotspot, hot_fraction: %s, hot_share: %s}\n", trimFloat(pop.HotFraction, 6), trimFloat(pop.HotShare, 4))
		default:
			w("      popularity: {kind: uniform}\n")
		}
	}
	w("      weight: %s\n", trimFloat(math.Max(f.Weight*100, 0), 3))
	// Shares are written to 3 decimals; the writes give way so the two
	// never add up to more than every command.
	round3 := func(x float64) float64 { return math.Round(math.Min(math.Max(x, 0), 1)*1000) / 1000 }
	wr, del := round3(f.WriteShare), round3(f.DeleteShare)
	wr = math.Min(wr, 1-del)
	if wr > 0 {
		w("      writes: %s\n", trimFloat(wr, 3))
	}
	if del > 0 {
		w("      deletes: %s   # DEL/UNLINK of its keys (invalidations)\n", trimFloat(del, 3))
	}
}

// typeWritten is the type the scenario writes for typ.
func (f Family) typeWritten(typ string) string {
	if f.Type == typ {
		return typ
	}
	return ""
}

// prefillFor replays twice the longest TTL of history (so every TTL has
// turned over), at least 10 minutes and at most an hour.
func prefillFor(fs []Family) time.Duration {
	longest := time.Duration(0)
	for _, f := range fs {
		longest = max(longest, f.TTL.TTL)
	}
	return min(max(2*longest, 10*time.Minute), time.Hour)
}

// sizeOf writes a byte count the scenario accepts (whole bytes, at
// least 1).
func sizeOf(x float64) units.Size { return units.Size(max(1, int64(math.Round(x)))) }

func roundMB(n int64, floorMB int64) int64 {
	mb := max((n+(1<<20)-1)>>20, floorMB)
	return mb << 20
}

// trimFloat formats x with at most prec decimals, trailing zeros dropped.
func trimFloat(x float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, x)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
