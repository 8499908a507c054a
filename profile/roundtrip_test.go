package profile

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/workload"
)

// The round trip: a load of the tool's own runs against a redis-server,
// the profiler reads that server while the load runs, and what it found is
// set beside what the load was. Knobs (scripts/profile-roundtrip.sh sets
// them for make bench):
//
//	CACHEPROOF_RT_SCENARIOS  families,baseline (testdata/roundtrip-*.yaml)
//	CACHEPROOF_RT_USERS      active users of the load (default 100)
//	CACHEPROOF_RT_WINDOW     the profile's traffic window and --observe (default 8s)
//	CACHEPROOF_RT_OBSERVE    0: profile without --observe (weights and
//	                         exponents then estimated from idle times)
//	CACHEPROOF_RT_OUT        a folder for each scenario's table, profiled
//	                         scenario and original report.json
//
// The test holds the figures the profile must recover exactly or within
// 10 % (patterns, types, TTLs, key counts, mean sizes); command weights
// and popularity exponents are printed and checked only with
// CACHEPROOF_RT_STRICT=1 (they are sampled from a short observation).
func TestRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("round trip runs a load (about a minute): not in -short")
	}
	names := strings.Split(envOr("CACHEPROOF_RT_SCENARIOS", "families,baseline"), ",")
	for _, name := range names {
		t.Run(name, func(t *testing.T) { roundTrip(t, name) })
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// truth is one family of the original scenario.
type truth struct {
	name, pattern, typ, tier string
	re                       *regexp.Regexp
	keys                     int
	mean                     float64
	len                      int
	ttl                      time.Duration
	weight, exponent         float64 // weight: share of the families' commands; -1: not comparable
	live                     int     // keys of the family in Redis at the end (SCAN, every key)
	deletes                  bool    // the load deletes some of its keys (the seed's link_account: the user's profiles)
	found                    []Family
}

func roundTrip(t *testing.T, name string) {
	users, _ := strconv.Atoi(envOr("CACHEPROOF_RT_USERS", "100"))
	window, err := time.ParseDuration(envOr("CACHEPROOF_RT_WINDOW", "8s"))
	if err != nil {
		t.Fatal(err)
	}
	addr, raw := startRedis(t, map[string]string{"maxmemory": "64mb", "maxmemory-policy": "allkeys-lru"})
	src, err := os.ReadFile(filepath.Join("testdata", "roundtrip-"+name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The load outlasts the profile: its window, the sample, a margin.
	steady := window + 60*time.Second
	text := strings.NewReplacer("ADDR", addr, "USERS", strconv.Itoa(users), "STEADY", steady.String()).Replace(string(src))
	sc, err := scenarios.LoadBytes(name+".yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	truths := truthOf(sc)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		res, err := harness.Run(ctx, harness.Options{Scenario: sc, AllowDestructive: true})
		done <- outcome{res, err}
	}()
	// Prefill writes the keys; the profile starts once the warm-up is over.
	waitKeys(t, raw, done)
	time.Sleep(4 * time.Second)

	cfg := Config{Options: Options{URL: "redis://" + addr, MaxOpsPerSec: 20000}, Sample: SampleSize(0.02),
		Duration: window, Observe: window, MaxLines: 2_000_000, Probe: DefaultProbe, Elems: 3}
	if os.Getenv("CACHEPROOF_RT_OBSERVE") == "0" {
		cfg.Observe = 0 // popularity and weights from idle times: printed, held only where observed
	}
	p, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	countLive(t, raw, truths)
	cancel()
	out := <-done
	if out.err != nil {
		t.Fatalf("the load: %v", out.err)
	}
	match(p, truths)
	table := roundTripTable(name, users, window, p, truths, out.res)
	t.Log("\n" + table)
	scenario, serr := p.Scenario(DefaultScenario)
	if dir := os.Getenv("CACHEPROOF_RT_OUT"); dir != "" {
		saveRoundTrip(t, filepath.Join(dir, name), table, scenario, p, out.res, text)
	}
	if serr != nil {
		t.Fatalf("profiled scenario: %v\n%s", serr, scenario)
	}
	checkRoundTrip(t, truths, os.Getenv("CACHEPROOF_RT_STRICT") == "1" && cfg.Observe > 0)
	if cfg.Observe > 0 {
		checkDeletes(t, truths)
	}
}

// truthOf lists the scenario's families as the load writes them.
func truthOf(sc *scenarios.Scenario) []*truth {
	tiers := tierTTLs()
	var out []*truth
	var fams []workload.Family
	if sc.Workload.Catalogue == workload.CatalogueNone {
		for _, f := range sc.Workload.Families {
			fams = append(fams, workload.Family{Name: f.Name, KeyPattern: f.Key, Keys: f.Keys, Type: f.Type, Tier: f.Tier, TTL: f.TTL.D(),
				MeanSize: int(f.MeanSize), SizeDist: f.SizeDist, MinSize: int(f.MinSize), MaxSize: int(f.MaxSize),
				Fields: f.Fields, Members: f.Members, Weight: *f.Weight, Deletes: f.Deletes, Popularity: workload.Popularity{Kind: f.Popularity.Kind, Exponent: f.Popularity.Exponent}})
		}
	} else {
		fams = workload.DefaultFamilies()
		fams = append(fams, workload.Family{Name: workload.RateLimitFamily, KeyPattern: "ratelimit:{discordId}:{command}", TTL: sc.Workload.RateLimit.Window.D(), MeanSize: 1, SizeDist: workload.SizeFixed})
	}
	var total float64
	for _, f := range fams {
		total += f.Weight
	}
	for _, f := range fams {
		tr := &truth{name: f.Name, pattern: f.KeyPattern, typ: f.Type, tier: f.Tier, keys: f.Keys, ttl: f.TTL, weight: -1, exponent: -1}
		if tr.typ == "" {
			tr.typ = workload.TypeString
		}
		if f.Tier != "" && f.TTL == 0 {
			tr.ttl = tiers[f.Tier] // a defined family's tier; the seed's carry their own TTLs
		}
		tr.mean = float64(f.MeanSize)
		if f.SizeDist == workload.SizeUniform {
			tr.mean = float64(f.MinSize+f.MaxSize) / 2
		}
		switch tr.typ {
		case workload.TypeHash:
			tr.len = f.Fields
		case workload.TypeZSet:
			tr.len = min(f.Members, 100)
			tr.mean = -1 // members are named m0, m1, ...: mean_size is not written
		}
		if sc.Workload.Catalogue == workload.CatalogueNone {
			tr.weight = f.Weight / total
			if f.Popularity.Kind == workload.PopZipf {
				tr.exponent = f.Popularity.Exponent
			}
		}
		// link_account deletes the user's cached profiles (a DEL, alone or
		// in an invalidation); a defined family deletes with its share.
		tr.deletes = f.Deletes > 0 || (sc.Workload.Catalogue != workload.CatalogueNone && (f.Name == "stratz_profile" || f.Name == "opendota_profile"))
		re := regexp.QuoteMeta(f.KeyPattern)
		re = regexp.MustCompile(`\\\{[A-Za-z_]+\\\}`).ReplaceAllString(re, `[^:]+`)
		tr.re = regexp.MustCompile("^" + re + "$")
		out = append(out, tr)
	}
	return out
}

// outcome is the load's end.
type outcome struct {
	res *result.Result
	err error
}

// waitKeys waits until the load has written keys and their count has
// settled (prefill writes them in batches), or fails if the load ended.
func waitKeys(t *testing.T, c *redis.Client, done chan outcome) {
	t.Helper()
	ctx := context.Background()
	var last int64 = -1
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		select {
		case out := <-done:
			t.Fatalf("the load ended before the profile: %v", out.err)
		case <-time.After(500 * time.Millisecond):
		}
		n, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 && math.Abs(float64(n-last)) < 0.01*float64(n) {
			return
		}
		last = n
	}
	t.Fatal("the load wrote no keys in 2 minutes")
}

// countLive counts every key of each family (a full SCAN by the test's
// own client).
func countLive(t *testing.T, c *redis.Client, truths []*truth) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		for _, tr := range truths {
			if tr.re.MatchString(k) {
				tr.live++
				break
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

// match attributes each profiled family to the original family whose
// pattern its example key matches.
func match(p *Profile, truths []*truth) {
	for _, f := range p.Families {
		for _, tr := range truths {
			if tr.re.MatchString(f.Example) {
				tr.found = append(tr.found, f)
				break
			}
		}
	}
}

// roundTripTable is the side-by-side table: each original family, what
// the profile found, and the differences.
func roundTripTable(name string, users int, window time.Duration, p *Profile, truths []*truth, res *result.Result) string {
	var b strings.Builder
	obs := "and --observe "
	if p.Observation.Accesses == 0 {
		obs = "(no --observe) "
	}
	fmt.Fprintf(&b, "round trip %s: %d users, profile window %s%s, %d keys sampled of %d; families explain %.1f %% of keys, %.1f %% of memory\n",
		name, users, obs, window, p.Sampled, p.DBSize, 100*p.ExplainedKeys, 100*p.ExplainedMem)
	fmt.Fprintf(&b, "%-18s %-26s %-18s %-13s %-15s %-15s %-17s %-13s %-12s\n", "family", "pattern found", "type", "keys live→est", "mean B", "fields/members", "ttl", "weight %", "zipf")
	sort.Slice(truths, func(i, j int) bool { return truths[i].name < truths[j].name })
	for _, tr := range truths {
		if len(tr.found) == 0 {
			fmt.Fprintf(&b, "%-18s %-26s (not found; %d live keys)\n", tr.name, "-", tr.live)
			continue
		}
		f := merged(tr.found)
		pat := f.ScenarioPattern
		if len(tr.found) > 1 {
			pat = fmt.Sprintf("%s (+%d)", pat, len(tr.found)-1)
		}
		typ := tr.typ + "→" + f.Type
		keys := fmt.Sprintf("%d→%.0f", tr.live, f.Keys)
		mean := "n/a"
		if tr.mean > 0 {
			mean = fmt.Sprintf("%.0f→%.0f", tr.mean, f.Size.Mean)
		}
		ln := "-"
		if tr.len > 0 {
			ln = fmt.Sprintf("%d→%.1f", tr.len, f.Len)
			if f.Fields > 0 {
				ln = fmt.Sprintf("%d→%d (%.1f)", tr.len, f.Fields, f.Len)
			}
		}
		ttl := fmt.Sprintf("%s→%s", tr.ttl, f.TTL.TTL)
		w := "n/a"
		if tr.weight >= 0 {
			w = fmt.Sprintf("%.1f→%.1f", 100*tr.weight, 100*f.Weight)
		}
		z := "n/a"
		if tr.exponent > 0 {
			z = fmt.Sprintf("%.2f→%.2f", tr.exponent, f.Popularity.Exponent)
		}
		fmt.Fprintf(&b, "%-18s %-26s %-18s %-13s %-15s %-15s %-17s %-13s %-12s\n", tr.name, pat, typ, keys, mean, ln, ttl, w, z)
	}
	hr := "n/a"
	if p.Traffic.HitRate >= 0 {
		hr = fmt.Sprintf("%.2f %%", 100*p.Traffic.HitRate)
	}
	if res != nil {
		fmt.Fprintf(&b, "hit rate: the load measured %.2f %% (answered %.2f %%); the server's in the profile window %s\n", 100*res.Cache.HitRate, 100*res.Cache.AnsweredHitRate, hr)
	}
	return b.String()
}

// merged is one view of the profiled families an original family became
// (the rate-limit counters split by command): counts and weights summed,
// the rest from the largest.
func merged(fs []Family) Family {
	out := fs[0]
	for _, f := range fs[1:] {
		out.Keys += f.Keys
		out.Weight += f.Weight
		out.Sampled += f.Sampled
	}
	return out
}

func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

func checkRoundTrip(t *testing.T, truths []*truth, strict bool) {
	for _, tr := range truths {
		if tr.live < 50 {
			continue // too few keys alive for a sample to say much (a single meta key, an idle family)
		}
		if len(tr.found) == 0 {
			t.Errorf("%s (%s, %d live keys) not found", tr.name, tr.pattern, tr.live)
			continue
		}
		f := merged(tr.found)
		if f.Type != tr.typ {
			t.Errorf("%s: type %s, want %s", tr.name, f.Type, tr.typ)
		}
		if f.TTL.TTL != tr.ttl {
			t.Errorf("%s: ttl %s, want %s", tr.name, f.TTL.TTL, tr.ttl)
		}
		// A family of keys living under 2 minutes (the rate-limit
		// counters, 1 minute per user and command) turns over in the
		// seconds between the sample and the test's own count: printed,
		// not held to 10 %.
		// The count is read while the load runs and compared with the
		// keys alive at the end: a small family (the 300-key board)
		// turns over by tens of keys in between, so its bound is the
		// larger of 10 % and three Poisson deviations of the live count
		// (232 live: ±20 %); a large one is held to 10 %.
		rel := math.Max(0.10, 3/math.Sqrt(float64(tr.live)))
		if (tr.ttl == 0 || tr.ttl >= 2*time.Minute) && !within(f.Keys, float64(tr.live), rel) {
			t.Errorf("%s: %.0f keys estimated, %d live (more than %.0f %% off)", tr.name, f.Keys, tr.live, 100*rel)
		}
		if tr.mean > 0 && !within(f.Size.Mean, tr.mean, 0.10) {
			t.Errorf("%s: mean size %.0f, want %.0f within 10 %%", tr.name, f.Size.Mean, tr.mean)
		}
		if strict && tr.weight >= 0 && math.Abs(f.Weight-tr.weight) > 0.05 {
			t.Errorf("%s: weight %.1f %%, want %.1f %% within 5 points", tr.name, 100*f.Weight, 100*tr.weight)
		}
		if strict && tr.exponent > 0 && math.Abs(f.Popularity.Exponent-tr.exponent) > 0.15 {
			t.Errorf("%s: zipf %.2f, want %.2f within 0.15", tr.name, f.Popularity.Exponent, tr.exponent)
		}
	}
}

func saveRoundTrip(t *testing.T, dir, table string, scenario []byte, p *Profile, res *result.Result, original string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"table.txt": []byte(table), "profiled.yaml": scenario, "original.yaml": []byte(original)}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if res != nil {
		f, err := os.Create(filepath.Join(dir, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := report.WriteJSON(f, res); err != nil {
			t.Fatal(err)
		}
	}
}

// checkDeletes holds the observed delete shares: a family the load
// deletes keys of has one, and its deletes are not counted as writes
// (the baseline's profiles are never written but by their misses'
// fills); no other family has one.
func checkDeletes(t *testing.T, truths []*truth) {
	for _, tr := range truths {
		if len(tr.found) == 0 || tr.live < 50 {
			continue
		}
		f := merged(tr.found)
		switch {
		case tr.deletes && (f.DeleteShare <= 0 || f.WriteShare >= f.DeleteShare):
			t.Errorf("%s: delete share %.3f, write share %.3f; the load deletes its keys (%d DELs observed)", tr.name, f.DeleteShare, f.WriteShare, f.Deletes)
		case !tr.deletes && f.Deletes > 0:
			t.Errorf("%s: %d deletes observed; the load deletes none of its keys", tr.name, f.Deletes)
		}
	}
}
