package workload

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/units"
)

// fleet is a ride-sharing cache with producers: drivers report their
// location every 2s (±0.5s), a job rewrites one city's surge hash (every
// field, in MULTI) 20 times a second over zipf-popular cities, and riders
// read both.
func fleet(t *testing.T, shard, shards int, producers bool) *Model {
	t.Helper()
	loc := &ProducerSettings{Every: units.Duration(2 * time.Second), Jitter: units.Duration(500 * time.Millisecond)}
	surge := &ProducerSettings{Rate: 20}
	if !producers {
		loc, surge = nil, nil
	}
	return mustNew(t, Settings{Population: 5_000, ActiveUsers: 200, CommandsPerUserPerMinute: 60, Catalogue: CatalogueNone, Features: featuresOff(), Instances: 3,
		Families: []FamilySettings{
			{Name: "driver_location", Key: "driver:{id}:loc", Keys: 300, TTL: units.Duration(30 * time.Second), SizeDist: SizeFixed, MeanSize: 64, Weight: new(50.0), Producer: loc},
			{Name: "surge", Key: "surge:{city}", Keys: 40, Type: TypeHash, Fields: 200, Write: WriteReplaceMulti, Tier: "api", SizeDist: SizeFixed, MeanSize: 16, Weight: new(50.0),
				Popularity: &PopularitySettings{Kind: PopZipf, Exponent: 1.2}, Producer: surge},
		}}, Run{Seed: 9, Shard: shard, Shards: shards})
}

// A per-key producer writes every key once per its interval (each gap
// within ±jitter of it), a rate producer at its rate over the family's
// popularity with whole-value writes as the family says, both merged in
// time order with the users' commands and told from them.
func TestProducersWriteAtTheirOwnRate(t *testing.T) {
	m := fleet(t, 0, 1, true)
	const run = 20 * time.Second
	cmds := collect(m.Schedule(steady(run, 200)), math.MaxInt)
	last := map[string]time.Duration{}
	perKey := map[string]int{}
	surgeWrites, surgeByKey, users := 0, map[string]int{}, 0
	var prev time.Duration
	for _, c := range cmds {
		if c.At < prev {
			t.Fatalf("command at %v after one at %v: not in time order", c.At, prev)
		}
		prev = c.At
		if c.Producer == "" {
			users++
			if c.Ops[0].Kind.Writes() {
				t.Fatalf("a user's command writes (writes: 0): %+v", c.Ops[0])
			}
			continue
		}
		if len(c.Ops) != 1 || c.User != 0 || c.Ops[0].Family.Name != c.Producer || c.Instance != 0 && c.Instance >= 3 {
			t.Fatalf("producer command %+v", c)
		}
		op := c.Ops[0]
		switch c.Producer {
		case "driver_location":
			if op.Kind != OpSet {
				t.Fatalf("location write is %s, want set", op.Kind)
			}
			if at, ok := last[op.Key]; ok {
				if gap := c.At - at; gap < 1500*time.Millisecond || gap > 2500*time.Millisecond {
					t.Fatalf("%s rewritten after %v, want 2s ± 0.5s", op.Key, gap)
				}
			} else if c.At >= 2*time.Second {
				t.Fatalf("%s first written at %v, after its first interval", op.Key, c.At)
			}
			last[op.Key] = c.At
			perKey[op.Key]++
		case "surge":
			if op.Kind != OpHSetAll || op.Field != "" || op.Size != max(16, MinValueSize) || len(op.Family.Names) != 200 || op.Family.Names[199] != "f199" {
				t.Fatalf("surge write %+v, want hset_all of 200 16-byte fields", op)
			}
			surgeWrites++
			surgeByKey[op.Key]++
		default:
			t.Fatalf("unknown producer %q", c.Producer)
		}
	}
	if len(perKey) != 300 {
		t.Errorf("%d driver keys written, want all 300", len(perKey))
	}
	for k, n := range perKey {
		if n < 8 || n > 13 {
			t.Errorf("%s written %d times in 20s, want about 10", k, n)
		}
	}
	// 20 writes a second for 20 s: 400, Poisson (sd 20).
	if surgeWrites < 320 || surgeWrites > 480 {
		t.Errorf("%d surge writes, want about 400", surgeWrites)
	}
	if top := surgeByKey[m.Key(m.Family("surge"), uint64(m.keyPerm[m.Family("surge").Index].at(0)))]; float64(top) < 0.15*float64(surgeWrites) {
		t.Errorf("the most popular city got %d of %d writes: zipf 1.2 over 40 gives it about a third", top, surgeWrites)
	}
	if users < 3000 {
		t.Errorf("only %d user commands (200 users, 1 a second, 20 s)", users)
	}
}

// Adding producers leaves the users' commands exactly as they were: the
// producers draw from streams of their own.
func TestProducersLeaveUsersUnchanged(t *testing.T) {
	phases := steady(10*time.Second, 200)
	without := collect(fleet(t, 0, 1, false).Schedule(phases), math.MaxInt)
	var with []Command
	for _, c := range collect(fleet(t, 0, 1, true).Schedule(phases), math.MaxInt) {
		if c.Producer == "" {
			with = append(with, c)
		}
	}
	if !reflect.DeepEqual(stripFamilies(without), stripFamilies(with)) {
		t.Fatalf("users' commands changed with producers: %d vs %d commands", len(without), len(with))
	}
}

// Shards split a per-key producer's keys (each key in one shard) and a
// rate producer's rate.
func TestProducersSplitOverShards(t *testing.T) {
	owner := map[string]int{}
	surge := 0
	for shard := range 3 {
		for _, c := range collect(fleet(t, shard, 3, true).Schedule(steady(10*time.Second, 60)), math.MaxInt) {
			switch c.Producer {
			case "driver_location":
				if o, ok := owner[c.Ops[0].Key]; ok && o != shard {
					t.Fatalf("%s written by shards %d and %d", c.Ops[0].Key, o, shard)
				}
				owner[c.Ops[0].Key] = shard
			case "surge":
				surge++
			}
		}
	}
	if len(owner) != 300 {
		t.Errorf("shards together wrote %d driver keys, want 300", len(owner))
	}
	if surge < 140 || surge > 260 {
		t.Errorf("shards together wrote %d surge hashes in 10s, want about 200", surge)
	}
}

// A producer's settings are checked with the rest: every or rate, not
// both; jitter below every; keys of the family's own; a rate one run can
// issue; a whole write only for a hash or zset.
func TestProducerAndWriteValidation(t *testing.T) {
	fam := func(pattern string, keys int, p *ProducerSettings) Settings {
		return Settings{Catalogue: CatalogueNone, Families: []FamilySettings{{Name: "a", Key: pattern, Keys: keys, Tier: "api", MeanSize: 10, Weight: new(1.0), Producer: p}}}
	}
	sec := units.Duration(time.Second)
	for _, c := range []struct {
		set  Settings
		want string
	}{
		{fam("a:{id}", 10, &ProducerSettings{Every: sec, Rate: 3}), "not both"},
		{fam("a:{id}", 10, &ProducerSettings{}), "needs every"},
		{fam("a:{id}", 10, &ProducerSettings{Every: sec, Jitter: sec}), "jitter"},
		{fam("a:{id}", 10, &ProducerSettings{Rate: 3, Jitter: sec}), "applies only with every"},
		{fam("a:{discordId}", 0, &ProducerSettings{Rate: 3}), "the issuing user's own"},
		{fam("a:{id}", 2_000_000, &ProducerSettings{Every: units.Duration(time.Hour)}), "rate"},
		{fam("a:{id}", 10, &ProducerSettings{Every: units.Duration(time.Millisecond)}), "every"},
		{Settings{Catalogue: CatalogueNone, Families: []FamilySettings{{Name: "a", Key: "a", Tier: "api", MeanSize: 10, Weight: new(1.0), Write: WriteWhole}}}, "applies only to type hash or zset"},
		{Settings{Catalogue: CatalogueNone, Families: []FamilySettings{{Name: "a", Key: "a", Type: TypeHash, Fields: 3, Tier: "api", MeanSize: 10, Weight: new(1.0), Write: "all"}}}, "write"},
		{Settings{Catalogue: CatalogueNone, Families: []FamilySettings{{Name: "a", Key: "a", Tier: "api", MeanSize: 10, Weight: new(1.0), Deletes: 1.5}}}, "deletes: 1.5 out of range"},
		{Settings{Catalogue: CatalogueNone, Families: []FamilySettings{{Name: "a", Key: "a", Tier: "api", MeanSize: 10, Weight: new(1.0), Writes: 0.7, Deletes: 0.4}}}, "at most 1 together"},
	} {
		err := validateResolved(c.set, Run{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.set.Families[0], err, c.want)
		}
	}
	if err := validateResolved(fam("a", 0, &ProducerSettings{Every: units.Duration(10 * time.Second), Jitter: sec}), Run{}); err != nil {
		t.Errorf("a single key's producer: %v", err)
	}
}
