package workload

import (
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/units"
)

func TestDefaultFamiliesMatchTheSeedCatalogue(t *testing.T) {
	want := []struct {
		name, pattern, tier, source string
		ttl                         time.Duration
		size                        int
	}{
		{"stratz_profile", "stratz:profile:{steamId}", "api", "stratz", 300 * time.Second, 2048},
		{"stratz_matches", "stratz:matches:{steamId}", "api", "stratz", 300 * time.Second, 5120},
		{"opendota_profile", "opendota:profile:{steamId}", "api", "opendota", 600 * time.Second, 2048},
		{"steam_avatar", "steam:avatar:{steamId}", "api", "steam", 86400 * time.Second, 1024},
		{"session", "session:{discordId}", "session", "internal", 1800 * time.Second, 500},
		{"guild_locale", "guild:locale:{guildId}", "persistent", "internal", 0, 100},
		{"user_connected", "user:connected:{discordId}", "persistent", "internal", 0, 100},
		{"meta_heroes", "meta:heroes", "meta", "internal", 3600 * time.Second, 50 * 1024},
		{"meta_items", "meta:items", "meta", "internal", 3600 * time.Second, 30 * 1024},
		{"meta_current_patch", "meta:current_patch", "meta", "internal", 3600 * time.Second, 1024},
	}
	got := DefaultFamilies()
	if len(got) != len(want) {
		t.Fatalf("DefaultFamilies has %d families, want %d", len(got), len(want))
	}
	commands := map[string]bool{}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.KeyPattern != w.pattern || g.Tier != w.tier || g.Source != w.source || g.TTL != w.ttl || g.MeanSize != w.size {
			t.Errorf("family %d = %+v, want %+v", i, g, w)
		}
		if err := g.Popularity.Validate(); err != nil {
			t.Errorf("family %s popularity: %v", g.Name, err)
		}
		if g.Command == "" || commands[g.Command] {
			t.Errorf("family %s command %q empty or duplicated", g.Name, g.Command)
		}
		commands[g.Command] = true
	}
	got[0].Name = "changed"
	if DefaultFamilies()[0].Name != "stratz_profile" {
		t.Error("DefaultFamilies returned a shared slice")
	}
}

// Settings.Defaults is where the defaults are applied; Config carries
// them to the model with the run's shard (Shards 0 is 1) and every source
// the settings leave out at DefaultOrigins, in a map of its own.
func TestConfigDefaults(t *testing.T) {
	var s Settings
	s.Defaults()
	c := s.Config(Run{})
	if c.Population != 1_000_000 || c.ActiveUsers != 10_000 || c.CommandsPerUserPerMinute != 6 ||
		c.SessionMean != 10*time.Minute || c.Arrival != "poisson" || c.Zipf != 1.1 || c.Guilds != 20_000 || c.Shards != 1 {
		t.Errorf("defaults = %+v", c)
	}
	if o := c.Origins["stratz"]; o.Latency != 80*time.Millisecond || o.P99 != 400*time.Millisecond || o.ErrorRate != 0.005 {
		t.Errorf("stratz default = %+v", o)
	}
	for _, src := range []string{"stratz", "opendota", "steam", "internal"} {
		if _, ok := c.Origins[src]; !ok {
			t.Errorf("no default origin %s", src)
		}
	}
	if err := Validate(s, Run{}); err != nil {
		t.Errorf("zero settings, resolved, invalid: %v", err)
	}
	s = Settings{Origins: map[string]OriginSettings{"steam": {Latency: units.Duration(time.Millisecond), Wrote: field.Keys{"latency": true}}}}
	s.Defaults()
	c = s.Config(Run{})
	c.Origins["steam"] = OriginConfig{}
	if s.Origins["steam"].Latency.D() != time.Millisecond {
		t.Error("Config aliased the settings' Origins map")
	}
	if c = s.Config(Run{}); c.Origins["steam"].Latency != time.Millisecond {
		t.Error("origin override lost")
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	bad := []struct {
		field string
		set   Settings
		run   Run
	}{
		{"population", Settings{Population: -1}, Run{}},
		{"population", Settings{Population: 200_000_000}, Run{}},
		{"active_users", Settings{Population: 100, ActiveUsers: 101}, Run{}},
		{"commands_per_user_per_minute", Settings{CommandsPerUserPerMinute: -2}, Run{}},
		{"commands_per_user_per_minute", Settings{CommandsPerUserPerMinute: math.Inf(1)}, Run{}},
		{"session_mean", Settings{SessionMean: units.Duration(-time.Second)}, Run{}},
		{"arrival", Settings{Arrival: "bursty"}, Run{}},
		{"zipf", Settings{Zipf: -1}, Run{}},
		{"guilds", Settings{Population: 100, ActiveUsers: 10, Guilds: 1000}, Run{}},
		{"families[0].name", Settings{Families: []FamilySettings{{Name: "nope"}}}, Run{}},
		{"families[1].name", Settings{Families: []FamilySettings{{Name: "session"}, {Name: "session"}}}, Run{}},
		{"families[0].mean_size", Settings{Families: []FamilySettings{{Name: "session", MeanSize: -5}}}, Run{}},
		{"families[0].popularity", Settings{Families: []FamilySettings{{Name: "steam_avatar", Popularity: &PopularitySettings{Kind: "hotspot", HotFraction: 2, HotShare: 0.5}}}}, Run{}},
		{"families[0].popularity.kind", Settings{Families: []FamilySettings{{Name: "guild_locale", Popularity: &PopularitySettings{Kind: "pareto"}}}}, Run{}},
		{"families[0].popularity", Settings{Families: []FamilySettings{{Name: "session", Popularity: &PopularitySettings{Kind: "uniform"}}}}, Run{}},
		{"families[0].popularity", Settings{Families: []FamilySettings{{Name: "meta_items", Popularity: &PopularitySettings{Kind: "uniform"}}}}, Run{}},
		{"families[0].weight", Settings{Families: []FamilySettings{{Name: "session", Weight: new(math.NaN())}}}, Run{}},
		{"origins.mars", Settings{Origins: map[string]OriginSettings{"mars": {}}}, Run{}},
		{"origins.stratz.p99", Settings{Origins: map[string]OriginSettings{"stratz": {Latency: units.Duration(time.Second), P99: units.Duration(time.Millisecond)}}}, Run{}},
		{"origins.steam.error_rate", Settings{Origins: map[string]OriginSettings{"steam": {ErrorRate: 1.5}}}, Run{}},
		{"origins.steam.latency", Settings{Origins: map[string]OriginSettings{"steam": {Latency: -1}}}, Run{}},
		{"instances", Settings{Instances: MaxInstances + 1}, Run{}},
		{"catalogue", Settings{Catalogue: "dota"}, Run{}},
		{"features.cas", Settings{Catalogue: CatalogueNone, Features: writtenFeatures(Features{CAS: true}), Families: []FamilySettings{{Name: "a", Key: "a:{id}", Keys: 5, Tier: "api", MeanSize: 10, Weight: new(1.0)}}}, Run{}},
		{"families", Settings{Catalogue: CatalogueNone}, Run{}},
		{"families[0].type", Settings{Families: []FamilySettings{{Name: "a", Key: "a:{id}", Keys: 5, Tier: "api", MeanSize: 10, Weight: new(1.0), Type: "list"}}}, Run{}},
		{"families[0].fields", Settings{Families: []FamilySettings{{Name: "a", Key: "a:{id}", Keys: 5, Tier: "api", MeanSize: 10, Weight: new(1.0), Type: TypeHash}}}, Run{}},
		{"families[0].key", Settings{Families: []FamilySettings{{Name: "a", Key: "a:{discordID}", Tier: "api", MeanSize: 10, Weight: new(1.0)}}}, Run{}},
		{"families[0].ttl", Settings{Families: []FamilySettings{{Name: "a", Key: "a:{id}", Keys: 5, Tier: "api", TTL: units.Duration(time.Minute), MeanSize: 10, Weight: new(1.0)}}}, Run{}},
		{"families[1].key", Settings{Families: []FamilySettings{{Name: "session"}, {Name: "a", Key: "session:{id}", Keys: 5, Tier: "api", MeanSize: 10, Weight: new(1.0)}}}, Run{}},
		{"rate_limit.hits", Settings{RateLimit: RateLimitSettings{Hits: -1}}, Run{}},
		{"shards", Settings{}, Run{Shards: -2}},
		{"shard", Settings{}, Run{Shard: 3, Shards: 3}},
		{"active_users", Settings{Population: 1000, ActiveUsers: 1000}, Run{Shards: 3}},
	}
	for _, b := range bad {
		err := validateResolved(b.set, b.run)
		if err == nil {
			t.Errorf("%s: Validate accepted %+v %+v", b.field, b.set, b.run)
			continue
		}
		var l field.List
		if !errors.As(err, &l) || !slices.ContainsFunc(l, func(e *field.Error) bool { return e.Path == b.field }) {
			t.Errorf("%s: error %v does not name the field", b.field, err)
		}
		if !strings.Contains(err.Error(), b.field) {
			t.Errorf("%s: message %q lacks the field", b.field, err)
		}
		if _, err := newResolved(b.set, b.run); err == nil {
			t.Errorf("%s: New accepted an invalid config", b.field)
		}
	}
}

func TestFamilyOverridesApply(t *testing.T) {
	hot := Popularity{Kind: PopHotspot, HotFraction: 0.1, HotShare: 0.9}
	m, err := newResolved(Settings{Population: 10_000, ActiveUsers: 100, Zipf: 1.3, Families: []FamilySettings{
		{Name: "stratz_matches", MeanSize: 9000, Popularity: &PopularitySettings{Kind: hot.Kind, HotFraction: hot.HotFraction, HotShare: hot.HotShare}, Weight: new(50.0)},
		{Name: "meta_items", Weight: new(0.0)},
	}}, Run{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	f := m.Family("stratz_matches")
	if f.MeanSize != 9000 || f.Popularity != hot || f.Weight != 50 {
		t.Errorf("override not applied: %+v", f)
	}
	if w := m.Family("meta_items").Weight; w != 0 {
		t.Errorf("negative weight should disable: got %v", w)
	}
	if e := m.Family("stratz_profile").Popularity.Exponent; e != 1.3 {
		t.Errorf("zipf family exponent %v, want Config.Zipf 1.3", e)
	}
	if m.Family("nope") != nil {
		t.Error("unknown family found")
	}
	s := m.Schedule(steady(time.Minute, 100))
	for c, ok := s.Next(); ok; c, ok = s.Next() {
		if c.Name == "items" {
			t.Fatal("disabled command issued")
		}
	}
	var allOff Settings
	for _, f := range DefaultFamilies() {
		allOff.Families = append(allOff.Families, FamilySettings{Name: f.Name, Weight: new(0.0)})
	}
	if _, err := newResolved(allOff, Run{}); err == nil {
		t.Error("New accepted a mix with no command")
	}
}

func TestUserIDsAreRealisticAndUnique(t *testing.T) {
	m, err := newResolved(Settings{Population: 200_000}, Run{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	snow := regexp.MustCompile(`^[1-9][0-9]{17}$`)
	discord := make(map[uint64]bool, 200_000)
	steam := make(map[uint64]bool, 200_000)
	for id := range UserID(200_000) {
		u := m.User(id)
		if discord[u.DiscordID] || steam[u.SteamID] {
			t.Fatalf("user %d reuses an id: %+v", id, u)
		}
		discord[u.DiscordID], steam[u.SteamID] = true, true
		if id%997 == 0 {
			for _, k := range []string{m.Key(m.Family("session"), u.DiscordID), m.Key(m.Family("guild_locale"), u.GuildID)} {
				i := strings.LastIndexByte(k, ':')
				if !snow.MatchString(k[i+1:]) {
					t.Fatalf("key %q is not an 18-digit snowflake key", k)
				}
			}
			if k := m.Key(m.Family("stratz_profile"), u.SteamID); !regexp.MustCompile(`^stratz:profile:765611980[0-9]{8}$`).MatchString(k) {
				t.Fatalf("steam key %q", k)
			}
		}
		if u.Guild < 0 || u.Guild >= m.Config().Guilds {
			t.Fatalf("guild %d out of range", u.Guild)
		}
	}
	if m.User(42) != m.User(42) {
		t.Error("User is not a pure function")
	}
	if k := m.Key(m.Family("meta_heroes"), 7); k != "meta:heroes" {
		t.Errorf("meta key %q", k)
	}
}

func TestGuildSizesAreSkewed(t *testing.T) {
	const pop, guilds = 100_000, 2_000
	m, err := newResolved(Settings{Population: pop, ActiveUsers: 100, Guilds: guilds}, Run{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	size := make([]int, guilds)
	for id := range UserID(pop) {
		size[m.User(id).Guild]++
	}
	largest, empty := 0, 0
	for _, n := range size {
		largest = max(largest, n)
		if n == 0 {
			empty++
		}
	}
	// Mean guild size is 50; zipf 1.1 over 2,000 guilds gives the largest
	// about 1/H(2000,1.1) = 14 % of users.
	if largest < 20*pop/guilds {
		t.Errorf("largest guild has %d users, want a skewed size far above the mean %d", largest, pop/guilds)
	}
	if empty == 0 {
		t.Error("every guild has members: no tail")
	}
}

func TestValueSizesAroundTheMean(t *testing.T) {
	m, err := newResolved(Settings{Population: 100_000}, Run{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"stratz_matches", "session", "guild_locale"} {
		f := m.Family(name)
		sum, lo, hi := 0.0, math.MaxInt, 0
		const n = 50_000
		for id := range uint64(n) {
			sz := m.Size(f, m.Key(f, steamMin+id))
			sum += float64(sz)
			lo, hi = min(lo, sz), max(hi, sz)
			if sz != m.Size(f, m.Key(f, steamMin+id)) {
				t.Fatal("size is not a function of the key")
			}
		}
		mean := sum / n
		if math.Abs(mean-float64(f.MeanSize))/float64(f.MeanSize) > 0.05 {
			t.Errorf("%s: mean size %.0f, want %d within 5%%", name, mean, f.MeanSize)
		}
		if lo < max(f.MeanSize/8, MinValueSize) || hi > f.MeanSize*8 || hi-lo < f.MeanSize {
			t.Errorf("%s: sizes in [%d, %d]: not bounded around mean %d or not spread", name, lo, hi, f.MeanSize)
		}
	}
	if sz := m.Size(m.Family("meta_heroes"), "meta:heroes"); sz != 50*1024 {
		t.Errorf("single-key family size %d", sz)
	}
}
