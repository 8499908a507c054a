package workload

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/units"
)

// shop is a workload of the scenario's own families only: a hash over a
// key space, a sorted set per guild, a string per user with fixed sizes and
// a string over a key space with uniform sizes.
func shop(t *testing.T, feat Features) *Model {
	t.Helper()
	return mustNew(t, Settings{Population: 20_000, ActiveUsers: 500, CommandsPerUserPerMinute: 60, Catalogue: CatalogueNone, Features: writtenFeatures(feat), Instances: 2,
		Families: []FamilySettings{
			{Name: "product", Key: "product:{id}", Keys: 1000, Type: TypeHash, Fields: 20, Tier: "api", MeanSize: 256, Weight: new(40.0), Writes: 0.1,
				Popularity: &PopularitySettings{Kind: PopZipf, Exponent: 1.2}},
			{Name: "leaderboard", Key: "top:{guildId}", Type: TypeZSet, Members: 50, Tier: "meta", MeanSize: 64, Weight: new(20.0), Writes: 0.25},
			{Name: "cart", Key: "cart:{discordId}:items", TTL: units.Duration(30 * time.Minute), SizeDist: SizeFixed, MeanSize: 512, Weight: new(20.0), Writes: 0.5},
			{Name: "category", Key: "category:{id}", Keys: 50, SizeDist: SizeUniform, MinSize: 2048, MaxSize: 4096, Tier: "meta", Weight: new(20.0),
				Popularity: &PopularitySettings{Kind: PopUniform}},
		}}, Run{Seed: 11})
}

// A defined family's commands are one read or write of its type on a key
// of its pattern, in its share of the mix and its read/write split, with
// fields and members of its own, sizes of its distribution, and no seed
// family anywhere.
func TestDefinedFamiliesIssueTheirOwnCommands(t *testing.T) {
	m := shop(t, Features{})
	if len(m.Families()) != 4 || m.Family("session") != nil {
		t.Fatalf("catalogue none has %d families: %v", len(m.Families()), m.Families())
	}
	if ttls := m.OwnTTLs(); len(ttls) != 1 || ttls["cart:{discordId}:items"] != 30*time.Minute {
		t.Errorf("own TTLs %v, want cart:{discordId}:items 30m only", ttls)
	}
	cmds := collect(m.Schedule(steady(60*time.Second, 500)), math.MaxInt)
	byName := map[string]int{}
	writes := map[string]int{}
	productKeys := map[string]int{}
	for _, c := range cmds {
		if len(c.Ops) != 1 {
			t.Fatalf("%s: %d ops, want one: %+v", c.Name, len(c.Ops), c.Ops)
		}
		o := c.Ops[0]
		u := m.User(c.User)
		byName[c.Name]++
		if o.Family.Name != c.Name || !o.Family.Defined {
			t.Fatalf("command %s on family %s", c.Name, o.Family.Name)
		}
		if o.Kind.Writes() {
			writes[c.Name]++
		}
		switch c.Name {
		case "product":
			id, err := strconv.Atoi(strings.TrimPrefix(o.Key, "product:"))
			if err != nil || id < 0 || id >= 1000 || (o.Kind != OpHGet && o.Kind != OpHSet) || !strings.HasPrefix(o.Field, "f") {
				t.Fatalf("product op %+v", o)
			}
			if f, _ := strconv.Atoi(o.Field[1:]); f >= 20 {
				t.Fatalf("field %s of 20", o.Field)
			}
			productKeys[o.Key]++
		case "leaderboard":
			want := "top:" + strconv.FormatUint(u.GuildID, 10)
			if o.Key != want || (o.Kind == OpZRange) != (o.Field == "") || (o.Kind != OpZRange && o.Kind != OpZAdd) {
				t.Fatalf("leaderboard op %+v, want key %s", o, want)
			}
		case "cart":
			want := "cart:" + strconv.FormatUint(u.DiscordID, 10) + ":items"
			if o.Key != want || o.Size != 512 || (o.Kind != OpGetOrFetch && o.Kind != OpSet) || o.Family.TTL != 30*time.Minute || o.Family.Tier != "" {
				t.Fatalf("cart op %+v, want key %s of 512 B", o, want)
			}
		case "category":
			if o.Size < 2048 || o.Size > 4096 || o.Kind != OpGetOrFetch {
				t.Fatalf("category op %+v", o)
			}
		}
	}
	total := float64(len(cmds))
	for name, want := range map[string]float64{"product": 0.4, "leaderboard": 0.2, "cart": 0.2, "category": 0.2} {
		if got := float64(byName[name]) / total; math.Abs(got-want) > 0.02 {
			t.Errorf("%s: share %.3f, want %.2f", name, got, want)
		}
	}
	for name, want := range map[string]float64{"product": 0.1, "leaderboard": 0.25, "cart": 0.5, "category": 0} {
		if got := float64(writes[name]) / float64(byName[name]); math.Abs(got-want) > 0.03 {
			t.Errorf("%s: write share %.3f, want %.2f", name, got, want)
		}
	}
	// zipf 1.2 over 1,000 products: the most popular key takes far more
	// than its uniform share (1/1000).
	top := 0
	for _, n := range productKeys {
		top = max(top, n)
	}
	if share := float64(top) / float64(byName["product"]); share < 0.1 {
		t.Errorf("most popular product has %.3f of lookups; zipf 1.2 gives the head far more", share)
	}
}

// With invalidation and the rate limit on, a defined string family's
// writes are updates and every command first counts its rate-limit hit; the
// seed's other features have nothing to act on.
func TestDefinedFamiliesWithFeatures(t *testing.T) {
	m := shop(t, Features{RateLimit: true, Invalidation: true})
	var kinds [NumOpKinds]int
	for _, c := range collect(m.Schedule(steady(20*time.Second, 500)), math.MaxInt) {
		if c.Ops[0].Kind != OpRateLimit || c.Ops[0].Key != "ratelimit:"+strconv.FormatUint(m.User(c.User).DiscordID, 10)+":"+c.Name || len(c.Ops) != 2 {
			t.Fatalf("%s: %+v", c.Name, c.Ops)
		}
		kinds[c.Ops[1].Kind]++
	}
	for _, k := range []OpKind{OpHGet, OpHSet, OpZRange, OpZAdd, OpGetOrFetch, OpUpdate} {
		if kinds[k] == 0 {
			t.Errorf("no %s", k)
		}
	}
	if kinds[OpSet] != 0 {
		t.Errorf("%d plain sets with invalidation on", kinds[OpSet])
	}
}

// The seed's catalogue and a defined family together: the seed's commands
// keep their structure, the defined family's are its own, and the defined
// family's weight takes its share of the whole mix.
func TestDefinedFamilyBesideTheSeed(t *testing.T) {
	m := mustNew(t, Settings{Population: 20_000, ActiveUsers: 500, CommandsPerUserPerMinute: 60,
		Families: []FamilySettings{{Name: "clips", Key: "clips:{steamId}", Tier: "api", MeanSize: 3000, Weight: new(100.0)}}}, Run{Seed: 12})
	clips := 0
	cmds := collect(m.Schedule(steady(20*time.Second, 500)), math.MaxInt)
	for _, c := range cmds {
		if c.Name != "clips" {
			continue
		}
		clips++
		if len(c.Ops) != 2 || c.Ops[1].Key != "clips:"+strconv.FormatUint(m.User(c.User).SteamID, 10) || c.Ops[1].Kind != OpGetOrFetch {
			t.Fatalf("clips command %+v", c.Ops)
		}
	}
	// The seed's weights sum to 100, so clips is half the mix.
	if share := float64(clips) / float64(len(cmds)); math.Abs(share-0.5) > 0.03 {
		t.Errorf("clips share %.3f, want 0.5", share)
	}
}

// A defined family's delete share: that share of its commands are DELs of
// one of its keys (drawn by the same popularity), beside its writes and
// reads; a family without one issues the same commands, draw for draw, as
// before deletes existed (the schedule golden holds that).
func TestDefinedFamilyDeletes(t *testing.T) {
	fam := FamilySettings{Name: "page", Key: "page:{id}", Keys: 2000, Tier: "api", MeanSize: 1000, Weight: new(1.0), Writes: 0.1, Deletes: 0.2,
		Popularity: &PopularitySettings{Kind: PopZipf, Exponent: 0.9}}
	m := mustNew(t, Settings{Population: 20_000, ActiveUsers: 500, CommandsPerUserPerMinute: 60, Catalogue: CatalogueNone, Instances: 1,
		Families: []FamilySettings{fam}}, Run{Seed: 3})
	var kinds [NumOpKinds]int
	cmds := collect(m.Schedule(steady(20*time.Second, 500)), math.MaxInt)
	for _, c := range cmds {
		o := c.Ops[0]
		kinds[o.Kind]++
		if o.Kind == OpDel {
			id, err := strconv.Atoi(strings.TrimPrefix(o.Key, "page:"))
			if err != nil || id < 0 || id >= 2000 || o.Family.Name != "page" {
				t.Fatalf("delete %+v", o)
			}
		}
	}
	n := float64(len(cmds))
	for _, c := range []struct {
		k    OpKind
		want float64
	}{{OpDel, 0.2}, {OpSet, 0.1}, {OpGetOrFetch, 0.7}} {
		// 10,000 commands: a share's standard error is under 0.005.
		if got := float64(kinds[c.k]) / n; math.Abs(got-c.want) > 0.02 {
			t.Errorf("%s: %.3f of %d commands, want %.2f", c.k, got, len(cmds), c.want)
		}
	}
	if !OpDel.Deletes() || OpDel.Writes() || OpDel.Reads() {
		t.Error("OpDel must count as a delete only (prefill and sizing remove the key)")
	}
}
