package workload

import (
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// expand rewrites a command's operations in the forms of the features back
// to the operations they replace: no rate-limit hit, GET and EXPIRE for a
// session get-and-extend, one GET-or-fetch per key of an MGET, a SET for a
// CAS, a SET and a DEL per invalidated key for an update.
func expand(ops []Op) []Op {
	var out []Op
	for _, o := range ops {
		switch o.Kind {
		case OpRateLimit:
		case OpSessionGet:
			out = append(out, Op{Kind: OpGet, Family: o.Family, Key: o.Key, Size: o.Size}, Op{Kind: OpTouch, Family: o.Family, Key: o.Key, Size: o.Size})
		case OpMGet:
			for i, k := range o.Keys {
				f := o.Family
				if o.Families != nil {
					f = o.Families[i]
				}
				out = append(out, Op{Kind: OpGetOrFetch, Family: f, Key: k, Size: o.Sizes[i]})
			}
		case OpCAS:
			out = append(out, Op{Kind: OpSet, Family: o.Family, Key: o.Key, Size: o.Size})
		case OpUpdate:
			out = append(out, Op{Kind: OpSet, Family: o.Family, Key: o.Key, Size: o.Size})
			for i, k := range o.Keys {
				out = append(out, Op{Kind: OpDel, Family: o.Families[i], Key: k, Size: int(sizeOfKey(o.Families[i], k))})
			}
		default:
			out = append(out, o)
		}
	}
	return out
}

// sizeOfKey is what an OpDel of the user's own key carried before the
// features: the slot's size of it (set by the caller's model).
var sizeOfKey func(*Family, string) int32

// Each feature only replaces operations by the forms the bot uses (checked
// by expanding them back: the same commands, users and times, and the same
// operations otherwise), and with all on every new kind the seed's layer
// offers is issued.
func TestFeaturesReplaceOperations(t *testing.T) {
	base := Settings{Population: 20_000, ActiveUsers: 500, CommandsPerUserPerMinute: 60, Instances: 1}
	phases := steady(20*time.Second, 500)
	offSet := base
	offSet.Features = featuresOff()
	off := collect(mustNew(t, offSet, Run{Seed: 5}).Schedule(phases), 20_000)
	for name, f := range map[string]Features{
		"rate_limit":             {RateLimit: true},
		"session_get_and_extend": {SessionGetAndExtend: true},
		"cas":                    {CAS: true},
		"mget":                   {MGet: true},
		"invalidation":           {Invalidation: true},
		"all":                    AllFeatures(),
	} {
		t.Run(name, func(t *testing.T) {
			set := base
			set.Features = writtenFeatures(f)
			m := mustNew(t, set, Run{Seed: 5})
			sizeOfKey = func(fam *Family, k string) int32 { return int32(m.Size(fam, k)) }
			on := collect(m.Schedule(phases), 20_000)
			if len(on) != len(off) {
				t.Fatalf("%d commands, %d with the feature off", len(on), len(off))
			}
			var kinds [NumOpKinds]int
			for i := range on {
				a, b := on[i], off[i]
				if a.At != b.At || a.User != b.User || a.Name != b.Name {
					t.Fatalf("command %d: %v %d %s, off: %v %d %s", i, a.At, a.User, a.Name, b.At, b.User, b.Name)
				}
				if got, want := stripFamilies([]Command{{Ops: expand(a.Ops)}}), stripFamilies([]Command{{Ops: b.Ops}}); !reflect.DeepEqual(got, want) {
					t.Fatalf("command %d (%s): expanded %+v\nwant %+v", i, a.Name, got, want)
				}
				for _, o := range a.Ops {
					kinds[o.Kind]++
				}
				if f.RateLimit {
					o := a.Ops[0]
					want := "ratelimit:" + strconv.FormatUint(m.User(a.User).DiscordID, 10) + ":" + a.Name
					if o.Kind != OpRateLimit || o.Key != want || o.Family.RateLimit != DefaultRateLimitHits || o.Family.TTL != DefaultRateLimitWindow || o.Family.Tier != "" {
						t.Fatalf("command %d does not start with its rate-limit hit on %s: %+v %+v", i, want, o, o.Family)
					}
				}
			}
			want := map[string][]OpKind{
				"rate_limit": {OpRateLimit}, "session_get_and_extend": {OpSessionGet}, "cas": {OpCAS}, "mget": {OpMGet}, "invalidation": {OpUpdate},
				"all": {OpRateLimit, OpSessionGet, OpCAS, OpMGet, OpUpdate},
			}[name]
			for _, k := range want {
				if kinds[k] == 0 {
					t.Errorf("no %s operation in %d commands", k, len(on))
				}
			}
			// Replaced kinds are gone.
			gone := map[string][]OpKind{"session_get_and_extend": {OpGet, OpTouch}, "invalidation": {OpDel}}[name]
			for _, k := range gone {
				if kinds[k] != 0 {
					t.Errorf("%d %s operations left", kinds[k], k)
				}
			}
		})
	}
}

// The forms in detail: the settings MGET reads user_connected and
// guild_locale, a matches command's meta MGET heroes and items, and
// link_account's update invalidates the user's own stratz and opendota
// profiles (the keys other instances read through their shared lookups).
func TestFeatureOperationShapes(t *testing.T) {
	m := mustNew(t, Settings{Population: 20_000, ActiveUsers: 500, CommandsPerUserPerMinute: 60,
		Families: []FamilySettings{{Name: "user_connected", Weight: new(20.0)}, {Name: "guild_locale", Weight: new(20.0)}}}, Run{Seed: 6})
	seen := map[string]bool{}
	for _, c := range collect(m.Schedule(steady(10*time.Second, 500)), 5_000) {
		u := m.User(c.User)
		mg := c.Ops[2]
		if mg.Kind != OpMGet || len(mg.Keys) != 2 || mg.Keys[0] != m.Key(m.Family("user_connected"), u.DiscordID) || mg.Keys[1] != m.Key(m.Family("guild_locale"), u.GuildID) ||
			mg.Key != mg.Keys[0] || mg.Families[0].Name != "user_connected" || mg.Families[1].Name != "guild_locale" || mg.Family != mg.Families[0] || len(mg.Sizes) != 2 {
			t.Fatalf("%s: settings read %+v", c.Name, mg)
		}
		last := c.Ops[len(c.Ops)-1]
		switch c.Name {
		case "matches":
			if last.Kind != OpMGet || !reflect.DeepEqual(last.Keys, []string{"meta:heroes", "meta:items"}) || last.Sizes[0] != 50*kib || last.Families[1].Name != "meta_items" {
				t.Fatalf("matches meta read %+v", last)
			}
		case "settings_update":
			if last.Kind != OpCAS || last.Key != mg.Keys[1] {
				t.Fatalf("settings_update %+v", last)
			}
		case "link_account":
			want := []string{m.Key(m.Family("stratz_profile"), u.SteamID), m.Key(m.Family("opendota_profile"), u.SteamID)}
			if last.Kind != OpUpdate || last.Key != mg.Keys[0] || !reflect.DeepEqual(last.Keys, want) || last.Sizes != nil || last.Size < MinValueSize {
				t.Fatalf("link_account %+v, want an update of %s invalidating %v", last, mg.Keys[0], want)
			}
		}
		seen[c.Name] = true
	}
	for _, n := range []string{"matches", "settings_update", "link_account"} {
		if !seen[n] {
			t.Errorf("no %s command", n)
		}
	}
}

// Commands go to the instance Discord would shard their guild to, so a
// user's commands all reach one instance, every instance gets a share, and
// the shared lookups read other instances' users' profiles: what makes an
// update's invalidation observable elsewhere.
func TestInstancesShardByGuild(t *testing.T) {
	m := mustNew(t, Settings{Population: 50_000, ActiveUsers: 2000, CommandsPerUserPerMinute: 60}, Run{Seed: 8})
	if m.Instances() != DefaultInstances {
		t.Fatalf("instances %d, want the default %d", m.Instances(), DefaultInstances)
	}
	per := make([]int, m.Instances())
	byUser := map[UserID]int{}
	cross, lookups := 0, 0
	cmds := collect(m.Schedule(steady(10*time.Second, 2000)), math.MaxInt)
	for _, c := range cmds {
		u := m.User(c.User)
		if c.Instance != int((u.GuildID>>22)%uint64(m.Instances())) {
			t.Fatalf("user %d of guild %d on instance %d", c.User, u.GuildID, c.Instance)
		}
		if i, ok := byUser[c.User]; ok && i != c.Instance {
			t.Fatalf("user %d on instances %d and %d", c.User, i, c.Instance)
		}
		byUser[c.User] = c.Instance
		per[c.Instance]++
		for _, o := range c.Ops {
			if o.Family.Name == "stratz_profile" && o.Kind == OpGetOrFetch {
				lookups++
				if id, err := strconv.ParseUint(o.Key[len("stratz:profile:"):], 10, 64); err == nil && id != u.SteamID {
					other := m.User(UserID(id - steamMin))
					if m.Instance(other.GuildID) != c.Instance {
						cross++
					}
				}
			}
		}
	}
	for i, n := range per {
		if n < len(cmds)/(4*len(per)) {
			t.Errorf("instance %d handled %d of %d commands", i, n, len(cmds))
		}
	}
	// A shared lookup is for a player on another instance about 3/4 of the
	// time with four instances: 0.3 shared x 0.75.
	if share := float64(cross) / float64(lookups); math.Abs(share-0.3*0.75) > 0.05 {
		t.Errorf("profile lookups of another instance's player: %.3f, want about %.3f", share, 0.3*0.75)
	}
	one := mustNew(t, Settings{Population: 50_000, ActiveUsers: 200, Instances: 1}, Run{Seed: 8})
	for _, c := range collect(one.Schedule(steady(5*time.Second, 200)), 1000) {
		if c.Instance != 0 {
			t.Fatalf("one instance, command on %d", c.Instance)
		}
	}
}
