package workload

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/cacheproof/cacheproof/internal/keypattern"
)

// UserID indexes the population: [0, Config.Population).
type UserID uint32

// User is one member of the population with the ids the bot keys its cache
// by. All fields are a pure function of the model's seed and the UserID.
type User struct {
	ID        UserID
	DiscordID uint64 // 18-digit snowflake
	SteamID   uint64 // SteamID64, 7656119800000xxxx
	GuildID   uint64 // 18-digit snowflake of the user's guild (guild sizes are skewed)
	Guild     int    // guild index in [0, Config.Guilds)
}

// sizeSigma is the spread of lognormal value sizes around a family's mean:
// about two thirds of values fall within x0.6..x1.6 of the mean.
const sizeSigma = 0.5

// Model is a workload built from a Config: the population, the families with
// their overrides applied, the samplers, and the origin simulator. It is
// immutable after New and safe for concurrent use; Schedules drawn from it
// are not.
type Model struct {
	cfg    Config
	seed   uint64
	fams   []Family
	prefix []string  // per family, the key before its placeholder
	suffix []string  // per family, the key after its placeholder
	sizeMu []float64 // per family, mu of the lognormal size
	cum    []float64 // cumulative command weights by family
	origin *Origin

	users      *Sampler // who becomes active: Config.Zipf over the population
	userPerm   permutation
	guilds     *Sampler // guild sizes: guild_locale's popularity over Config.Guilds
	guildPerm  permutation
	lookups    []*Sampler // per family keyed by steamId: other players looked up
	lookupPerm permutation

	feat      Features
	instances uint64
	hasSeed   bool // the seed's catalogue is fams[:numFamilies]
	rl        int  // index of the rate-limit family, -1 when off
	own       int  // index of the first defined family (len(fams) when none)
	// Per family: the placeholder its pattern holds, the rate-limit key's
	// tail (":"+command), and for a defined family its key sampler and
	// permutation ({id}); its hash fields or sorted-set members are
	// Family.Names.
	ph      []uint8
	rlTail  []string
	keyPerm []permutation
	keySamp []*Sampler
	// Shared, read-only Keys/Sizes/Families of multi-key operations.
	metaKeys     []string // meta:heroes, meta:items
	metaSizes    []int
	metaFams     []*Family
	settingsFams []*Family // user_connected, guild_locale
	profileFams  []*Family // stratz_profile, opendota_profile
}

// Placeholder bindings of a pattern (Model.ph): what its one placeholder
// stands for (see Placeholders).
const (
	phNone    uint8 = iota
	phID            // an id range: Family.Keys keys drawn by popularity
	phDiscord       // the user's discordId
	phSteam         // the user's steamId
	phGuild         // the user's guildId
	phUser          // the user's number in the population (any other name)
	phCommand       // the rate-limit counters' {discordId}:{command}
)

// fixedBindings is the binding of each placeholder with a fixed meaning
// (Placeholders).
var fixedBindings = map[string]uint8{PlaceholderID: phID, PlaceholderDiscordID: phDiscord, PlaceholderSteamID: phSteam, PlaceholderGuildID: phGuild}

// rateLimitPattern is the rate-limit counters' key pattern, whose
// {command} is a word (the command's name).
var rateLimitPattern = keypattern.MustParse("ratelimit:{discordId}:{command}", "command")

// bindPattern returns the literal parts of a pattern around its one
// placeholder and the placeholder's binding (phNone, prefix = pattern, when
// it has none or does not parse: validation reports that). ranged says the
// family gives keys: N, which binds any name but the user's seed ids to an
// id range.
func bindPattern(pattern string, ranged bool) (prefix, suffix string, ph uint8) {
	p, err := keypattern.Parse(pattern)
	if err != nil || p.NumPlaceholders() == 0 {
		return pattern, "", phNone
	}
	prefix, suffix = p.Literal(0), p.Literal(p.NumPlaceholders())
	if ph, ok := fixedBindings["{"+p.Names()[0]+"}"]; ok {
		return prefix, suffix, ph
	}
	if ranged {
		return prefix, suffix, phID
	}
	return prefix, suffix, phUser
}

// New builds a model from s, the workload settings as Settings.Defaults
// resolved them (a scenario's are, at load), and the run's seed and shard.
// It checks them (Validate: a model is never built from settings that
// break a rule) and converts them once (Settings.Config).
func New(s Settings, r Run) (*Model, error) {
	if err := Validate(s, r); err != nil {
		return nil, err
	}
	cfg := s.Config(r)
	m := &Model{cfg: cfg, seed: splitmix64(uint64(cfg.Seed) ^ 0x636163686570726f), feat: *cfg.Features, instances: uint64(cfg.Instances), rl: -1}
	m.hasSeed = cfg.Catalogue == CatalogueSeed
	if m.hasSeed {
		m.fams = DefaultFamilies()
	}
	for i := range m.fams {
		if p := &m.fams[i].Popularity; p.Kind == PopZipf {
			p.Exponent = cfg.Zipf
		}
	}
	for _, o := range cfg.Families {
		for i := range m.fams {
			f := &m.fams[i]
			if f.Name != o.Name {
				continue
			}
			if o.MeanSize > 0 {
				f.MeanSize = o.MeanSize
			}
			if o.Popularity != nil {
				f.Popularity = *o.Popularity
			}
			switch {
			case o.Weight > 0:
				f.Weight = o.Weight
			case o.Weight < 0:
				f.Weight = 0
			}
			if o.SizeDist != "" {
				f.SizeDist, f.MinSize, f.MaxSize = o.SizeDist, o.MinSize, o.MaxSize
				if o.SizeDist == SizeUniform {
					f.MeanSize = (o.MinSize + o.MaxSize) / 2
				}
			}
		}
	}
	if m.feat.RateLimit {
		m.rl = len(m.fams)
		m.fams = append(m.fams, rateLimitFamily(cfg.RateLimitHits, cfg.RateLimitWindow))
	}
	m.own = len(m.fams)
	for _, f := range cfg.Defined {
		// Settings.Defaults gave the family its type, source, command and
		// a zipf exponent (Validate rejects any left out); a family whose
		// keys are not an id range has no popularity of its own and draws
		// its users at the workload's zipf.
		f.Defined = true
		if f.Popularity.Kind == "" {
			f.Popularity = Popularity{Kind: PopZipf, Exponent: cfg.Zipf}
		}
		if f.SizeDist == SizeUniform {
			f.MeanSize = (f.MinSize + f.MaxSize) / 2
		}
		m.fams = append(m.fams, f)
	}
	n := len(m.fams)
	total := 0.0
	m.prefix = make([]string, n)
	m.suffix = make([]string, n)
	m.ph = make([]uint8, n)
	m.rlTail = make([]string, n)
	m.sizeMu = make([]float64, n)
	m.cum = make([]float64, n)
	m.keyPerm = make([]permutation, n)
	m.keySamp = make([]*Sampler, n)
	var err error
	for i := range m.fams {
		f := &m.fams[i]
		f.Index = i
		m.prefix[i], m.suffix[i], m.ph[i] = bindPattern(f.KeyPattern, f.Keys > 0)
		if i == m.rl {
			m.prefix[i], m.suffix[i], m.ph[i] = "ratelimit:", "", phCommand
		}
		if f.Command != "" {
			m.rlTail[i] = ":" + f.Command
		}
		m.sizeMu[i] = math.Log(float64(max(f.MeanSize, 1))) - sizeSigma*sizeSigma/2
		total += f.Weight
		m.cum[i] = total
		if !f.Defined {
			continue
		}
		if m.ph[i] == phID {
			if m.keySamp[i], err = NewSampler(f.Popularity, f.Keys); err != nil {
				return nil, fmt.Errorf("workload: family %s: %w", f.Name, err)
			}
			m.keyPerm[i] = newPermutation(f.Keys, m.seed^splitmix64(uint64(i)+0x6b657973))
		}
		switch f.Type {
		case TypeHash:
			f.Names = names("f", f.Fields)
		case TypeZSet:
			f.Names = names("m", f.Members)
		}
	}
	if m.users, err = NewSampler(Popularity{Kind: PopZipf, Exponent: cfg.Zipf}, cfg.Population); err != nil {
		return nil, fmt.Errorf("workload: users: %w", err)
	}
	guildPop := Popularity{Kind: PopZipf, Exponent: cfg.Zipf}
	if m.hasSeed {
		guildPop = m.fams[famGuildLocale].Popularity
	}
	if m.guilds, err = NewSampler(guildPop, cfg.Guilds); err != nil {
		return nil, fmt.Errorf("workload: guilds: %w", err)
	}
	m.lookups = make([]*Sampler, n)
	if m.hasSeed {
		for i := famStratzProfile; i <= famSteamAvatar; i++ {
			if m.lookups[i], err = NewSampler(m.fams[i].Popularity, cfg.Population); err != nil {
				return nil, fmt.Errorf("workload: family %s: %w", m.fams[i].Name, err)
			}
		}
		fam := func(i int) *Family { return &m.fams[i] }
		m.metaKeys = []string{m.prefix[famMetaHeroes], m.prefix[famMetaItems]}
		m.metaSizes = []int{max(fam(famMetaHeroes).MeanSize, MinValueSize), max(fam(famMetaItems).MeanSize, MinValueSize)}
		m.metaFams = []*Family{fam(famMetaHeroes), fam(famMetaItems)}
		m.settingsFams = []*Family{fam(famUserConnected), fam(famGuildLocale)}
		m.profileFams = []*Family{fam(famStratzProfile), fam(famOpenDotaProfile)}
	}
	m.userPerm = newPermutation(cfg.Population, m.seed^1)
	m.guildPerm = newPermutation(cfg.Guilds, m.seed^2)
	m.lookupPerm = newPermutation(cfg.Population, m.seed^3)
	m.origin = NewOrigin(cfg.Origins, int64(m.seed^4))
	return m, nil
}

// names returns prefix+"0" .. prefix+(n-1), a hash's fields or a sorted
// set's members, formatted once so the schedule picks one without
// formatting.
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// OwnTTLs returns, by key pattern, the TTL of each family that has its own
// outside the tiers: Config.OwnTTLs of the model's configuration.
func (m *Model) OwnTTLs() map[string]time.Duration { return m.cfg.OwnTTLs() }

// Features returns the features the model's schedules exercise.
func (m *Model) Features() Features { return m.feat }

// Instances returns the number of simulated bot instances.
func (m *Model) Instances() int { return int(m.instances) }

// Instance returns the bot instance that handles guild guildID's commands:
// (guildID >> 22) % instances, the shard Discord assigns the guild to.
func (m *Model) Instance(guildID uint64) int { return int((guildID >> 22) % m.instances) }

// Families returns a copy of the model's families (overrides applied).
func (m *Model) Families() []Family { return append([]Family(nil), m.fams...) }

// Family returns the model's family by name, or nil. The pointer is the one
// Ops carry, so it may be compared by identity.
func (m *Model) Family(name string) *Family {
	for i := range m.fams {
		if m.fams[i].Name == name {
			return &m.fams[i]
		}
	}
	return nil
}

// Config returns the configuration with defaults applied.
func (m *Model) Config() Config { return m.cfg }

// Origin returns the model's upstream simulator.
func (m *Model) Origin() *Origin { return m.origin }

// Snowflake layout: (ms since the Discord epoch) << 22 | 22 low bits. Ids
// whose timestamp lies in [snowMin, snowMin+snowSpan) ms have exactly 18
// digits (>= 1e17 and < 1e18).
const (
	snowMin  = 30_000_000_000
	snowSpan = 200_000_000_000
	steamMin = 76561198000000000
)

func snowflake(i, n int, salt uint64) uint64 {
	spacing := uint64(snowSpan / max(n, 1))
	h := splitmix64(uint64(i) ^ salt)
	ts := snowMin + uint64(i)*spacing + h%spacing
	return ts<<22 | (h>>32)&(1<<22-1)
}

// User returns the ids of user id.
func (m *Model) User(id UserID) User {
	g := m.guildOf(id)
	return User{
		ID:        id,
		DiscordID: snowflake(int(id), m.cfg.Population, m.seed^0xd15c0bd),
		SteamID:   steamMin + uint64(id),
		GuildID:   snowflake(g, m.cfg.Guilds, m.seed^0x6e11d),
		Guild:     g,
	}
}

// guildOf draws user id's guild from the guild-size distribution with a
// random stream that is a pure function of the id.
func (m *Model) guildOf(id UserID) int {
	r := mixRand{state: m.seed ^ splitmix64(uint64(id)^0x9111d)}
	return m.guildPerm.at(m.guilds.Draw(&r))
}

// Size returns the value size of key in family fam: lognormal around the
// family's mean (sigma 0.5, bounded to [mean/8, mean*8]), a pure function of
// the key so that a key keeps its size across fetches. A family with a
// single key (meta:*) always has its mean size.
func (m *Model) Size(fam *Family, key string) int {
	mean := max(fam.MeanSize, 1)
	if len(key) == len(fam.KeyPattern) && key == fam.KeyPattern {
		return max(mean, MinValueSize)
	}
	switch fam.SizeDist {
	case SizeFixed:
		return max(mean, MinValueSize)
	case SizeUniform:
		span := uint64(max(fam.MaxSize-fam.MinSize, 0)) + 1
		return max(fam.MinSize+int(splitmix64(xxhash.Sum64String(key)^m.seed)%span), MinValueSize)
	}
	x := splitmix64(xxhash.Sum64String(key) ^ m.seed)
	u1 := unit(x) + 1.0/(1<<54)
	u2 := unit(splitmix64(x))
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	mu := math.Log(float64(mean)) - sizeSigma*sizeSigma/2
	size := int(math.Exp(mu + sizeSigma*z))
	size = min(max(size, mean/8, 1), mean*8)
	return max(size, MinValueSize)
}

// Key formats family fam's key for a user or guild id number (the steamId,
// discordId or guildId its pattern names, the user's number for another
// user-bound name, or the key's number in an id range's key space).
// Single-key families ignore id.
func (m *Model) Key(fam *Family, id uint64) string {
	prefix, suffix, ph := bindPattern(fam.KeyPattern, fam.Keys > 0)
	if ph == phNone {
		return fam.KeyPattern
	}
	return joinKey(prefix, id, suffix)
}

// joinKey is prefix, id and suffix with one allocation (the string).
func joinKey(prefix string, id uint64, suffix string) string {
	var buf [96]byte
	b := append(buf[:0], prefix...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, suffix...)
	return string(b)
}

func (m *Model) keyFor(fi int, id uint64) string {
	return formatKey(m.prefix[fi], len(m.fams[fi].KeyPattern), id)
}

// formatKey appends id to prefix with one allocation (the string itself).
func formatKey(prefix string, patternLen int, id uint64) string {
	if len(prefix) == patternLen {
		return prefix
	}
	var buf [64]byte
	b := append(buf[:0], prefix...)
	b = strconv.AppendUint(b, id, 10)
	return string(b)
}

// inShard reports whether user id belongs to this model's shard.
func (m *Model) inShard(id int) bool {
	return m.cfg.Shards <= 1 || id%m.cfg.Shards == m.cfg.Shard
}

// shardSize is the number of users in this model's shard.
func (m *Model) shardSize() int {
	if m.cfg.Shards <= 1 {
		return m.cfg.Population
	}
	return (m.cfg.Population - m.cfg.Shard + m.cfg.Shards - 1) / m.cfg.Shards
}
