package workload

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/keypattern"
	"github.com/cacheproof/cacheproof/internal/units"
)

// rides is a ride-sharing cache's families: two families that differ only
// after their placeholder, a placeholder of any name bound to an id range
// (keys: N) and one bound to the user (no keys).
func rides(t *testing.T) *Model {
	t.Helper()
	return mustNew(t, Settings{Population: 5_000, ActiveUsers: 300, CommandsPerUserPerMinute: 60, Catalogue: CatalogueNone, Features: featuresOff(), Instances: 1,
		Families: []FamilySettings{
			{Name: "driver_location", Key: "driver:{driverId}:loc", Keys: 2000, TTL: units.Duration(30 * time.Second), SizeDist: SizeFixed, MeanSize: 64, Weight: new(40.0)},
			{Name: "driver_eta", Key: "driver:{driverId}:eta", Keys: 2000, TTL: units.Duration(2 * time.Minute), MeanSize: 128, Weight: new(20.0)},
			{Name: "profile", Key: "profile:{userId}", Tier: "api", MeanSize: 3000, Weight: new(40.0), Writes: 0.1},
		}}, Run{Seed: 5})
}

// Families whose patterns differ only after the placeholder coexist: each
// key matches its own family's whole pattern and no other's, each family
// has its own TTL rule, {driverId} with keys: N ranges over N keys and
// {userId} without keys is the issuing user's number.
func TestMidKeyPlaceholdersAndAnyName(t *testing.T) {
	m := rides(t)
	ttls := m.OwnTTLs()
	if ttls["driver:{driverId}:loc"] != 30*time.Second || ttls["driver:{driverId}:eta"] != 2*time.Minute || len(ttls) != 2 {
		t.Errorf("own TTLs %v, want driver:{driverId}:loc 30s and driver:{driverId}:eta 2m", ttls)
	}
	var set keypattern.Set
	fams := m.Families()
	for _, f := range fams {
		if _, err := set.Add(keypattern.MustParse(f.KeyPattern)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]map[string]bool{}
	for _, c := range collect(m.Schedule(steady(20*time.Second, 300)), math.MaxInt) {
		op := c.Ops[0]
		if i := set.Lookup(op.Key); i < 0 || fams[i].Name != op.Family.Name {
			t.Fatalf("key %q of %s is filed under pattern %d", op.Key, op.Family.Name, i)
		}
		if seen[op.Family.Name] == nil {
			seen[op.Family.Name] = map[string]bool{}
		}
		seen[op.Family.Name][op.Key] = true
		switch op.Family.Name {
		case "profile":
			if want := "profile:" + strconv.Itoa(int(c.User)); op.Key != want {
				t.Fatalf("profile key %q for user %d, want %q", op.Key, c.User, want)
			}
		default:
			id, _, _ := strings.Cut(strings.TrimPrefix(op.Key, "driver:"), ":")
			if n, err := strconv.Atoi(id); err != nil || n < 0 || n >= 2000 {
				t.Fatalf("driver key %q outside its 2000 keys", op.Key)
			}
		}
	}
	for _, name := range []string{"driver_location", "driver_eta", "profile"} {
		if len(seen[name]) < 50 {
			t.Errorf("%s: %d distinct keys", name, len(seen[name]))
		}
	}
}

// The placeholder's binding is the settings': {id} needs keys, any other
// name takes keys as an id range, the user's seed ids refuse keys, and a
// name spelt like a seed id in another case is refused rather than bound
// to the user's number.
func TestPatternBindingRules(t *testing.T) {
	base := func(pattern string, keys int) Settings {
		return Settings{Catalogue: CatalogueNone, Families: []FamilySettings{{Name: "a", Key: pattern, Keys: keys, Tier: "api", MeanSize: 10, Weight: new(1.0)}}}
	}
	for _, c := range []struct {
		pattern string
		keys    int
		wantErr string
	}{
		{"a:{id}:x", 10, ""},
		{"a:{city}:surge", 10, ""},
		{"a:{userId}", 0, ""},
		{"{id}:a", 10, ""},
		{"a:{id}", 0, "ranges over keys: N"},
		{"a:{guildId}", 10, "the issuing user's own"},
		{"a:{SteamId}", 0, "did you mean {steamId}"},
		{"a:{x}:{y}", 0, "2 placeholders"},
		{"a:{x", 0, "without its '}'"},
	} {
		err := validateResolved(base(c.pattern, c.keys), Run{})
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s keys %d: %v", c.pattern, c.keys, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s keys %d: %v, want %q", c.pattern, c.keys, err, c.wantErr)
		}
	}
}
