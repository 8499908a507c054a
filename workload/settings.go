package workload

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/keypattern"
	"github.com/cacheproof/cacheproof/internal/textdist"
	"github.com/cacheproof/cacheproof/internal/units"
)

// Settings is the workload: section of a scenario: the simulated users and
// what they do. workload owns these settings: Defaults fills what the file
// left out (the one place workload's defaults are applied), Validate checks
// what it wrote, and Config turns them into the model's configuration (one
// way: New builds the model from resolved settings and the Run).
type Settings struct {
	Population               int            `yaml:"population,omitempty" json:"population"`
	ActiveUsers              int            `yaml:"active_users,omitempty" json:"active_users"`
	CommandsPerUserPerMinute float64        `yaml:"commands_per_user_per_minute,omitempty" json:"commands_per_user_per_minute"`
	SessionMean              units.Duration `yaml:"session_mean,omitempty" json:"session_mean"`
	Arrival                  string         `yaml:"arrival,omitempty" json:"arrival"`
	Zipf                     float64        `yaml:"zipf,omitempty" json:"zipf"`
	Guilds                   int            `yaml:"guilds,omitempty" json:"guilds"`
	// Prefill replays this much of the workload's history in simulation
	// before the run and writes the cache state it leaves (each key with its
	// remaining TTL), so a run starts from steady state instead of cold.
	// 0s (the default) starts cold.
	Prefill units.Duration `yaml:"prefill,omitempty" json:"prefill"`
	// Instances is the number of simulated bot instances, each with its
	// own cache manager (DefaultInstances says why 4).
	Instances int `yaml:"instances,omitempty" json:"instances"`
	// Catalogue is the families the workload starts from: "seed" (the
	// default: the seed's ten and its bot's commands) or "none" (only the
	// families listed below).
	Catalogue string `yaml:"catalogue,omitempty" json:"catalogue"`
	// Features switches the parts of the seed's layer the commands use.
	Features FeatureSettings `yaml:"features,omitempty" json:"features"`
	// RateLimit is the per-command limit features.rate_limit applies.
	RateLimit RateLimitSettings `yaml:"rate_limit,omitempty" json:"rate_limit"`
	// Families changes the catalogue's families (an entry named after one)
	// and defines the scenario's own (any other name).
	Families []FamilySettings          `yaml:"families,omitempty" json:"families,omitempty"`
	Origins  map[string]OriginSettings `yaml:"origins,omitempty" json:"origins,omitempty"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// FamilySettings changes one key family of the seed's catalogue (an entry
// named after one, with catalogue: seed) or defines one of the scenario's
// own (any other name). A change may set mean_size, the size spread,
// popularity and weight; unwritten mean_size and weight are the
// catalogue's, and weight: 0 turns the family's command off. A definition
// gives everything else too: its key pattern, tier or ttl, type, mix and
// source (see Family).
type FamilySettings struct {
	Name string `yaml:"name" json:"name"`
	// Key is a defined family's key pattern, with at most one placeholder
	// of any name, anywhere in it (see Placeholders for the bindings):
	// "product:{id}" or "driver:{driverId}:loc" over keys: N,
	// "cart:{discordId}", "profile:{userId}", or none for a single key.
	// Keys belong to a family by the whole pattern.
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// Keys is the key space of a pattern bound to an id range: {id}, or
	// any name but the user's seed ids.
	Keys int `yaml:"keys,omitempty" json:"keys,omitempty"`
	// Tier (one of pool's tiers) or TTL (the family's own expiry), not
	// both.
	Tier string         `yaml:"tier,omitempty" json:"tier,omitempty"`
	TTL  units.Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	// Type is string (the default), hash (with fields: N) or zset (with
	// members: N).
	Type    string `yaml:"type,omitempty" json:"type,omitempty"`
	Fields  int    `yaml:"fields,omitempty" json:"fields,omitempty"`
	Members int    `yaml:"members,omitempty" json:"members,omitempty"`
	// MeanSize and SizeDist: lognormal (the default) or fixed around
	// mean_size, or uniform between min_size and max_size.
	MeanSize units.Size `yaml:"mean_size,omitempty" json:"mean_size"`
	SizeDist string     `yaml:"size_dist,omitempty" json:"size_dist,omitempty"`
	MinSize  units.Size `yaml:"min_size,omitempty" json:"min_size,omitempty"`
	MaxSize  units.Size `yaml:"max_size,omitempty" json:"max_size,omitempty"`
	// Popularity is how an {id} family's keys are drawn (the default:
	// zipf at the workload's exponent).
	Popularity *PopularitySettings `yaml:"popularity,omitempty" json:"popularity,omitempty"`
	Weight     *float64            `yaml:"weight,omitempty" json:"weight,omitempty"`
	// Writes is a defined family's share of commands that write (0 to 1).
	Writes float64 `yaml:"writes,omitempty" json:"writes,omitempty"`
	// Deletes is a defined family's share of commands that delete their
	// key (DEL: an invalidation), 0 to 1 with Writes at most 1 together.
	Deletes float64 `yaml:"deletes,omitempty" json:"deletes,omitempty"`
	// Write is how a hash or sorted-set family's writes (its users' and its
	// producer's) write: field (the default: one field or member),
	// whole (every field in one HSET, or every member in one ZADD, over
	// what is there), replace_multi (DEL then the whole value, in
	// MULTI/EXEC) or replace_pipeline (the same in one pipeline, not
	// atomic: a reader between them misses).
	Write string `yaml:"write,omitempty" json:"write,omitempty"`
	// Producer writes the family at its own rate, whatever the users do
	// (a device fleet, a background job); nil: only users write it.
	Producer *ProducerSettings `yaml:"producer,omitempty" json:"producer,omitempty"`
	// Source is the upstream a defined family's misses fall through to
	// (default internal); Command names its commands (default its name).
	Source  string `yaml:"source,omitempty" json:"source,omitempty"`
	Command string `yaml:"command,omitempty" json:"command,omitempty"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// FeatureSettings switches each part of the seed's layer (see Features).
// Unwritten, a switch is on with catalogue: seed (the seed's bot uses every
// one) and off with catalogue: none.
type FeatureSettings struct {
	RateLimit           *bool `yaml:"rate_limit,omitempty" json:"rate_limit"`
	SessionGetAndExtend *bool `yaml:"session_get_and_extend,omitempty" json:"session_get_and_extend"`
	CAS                 *bool `yaml:"cas,omitempty" json:"cas"`
	MGet                *bool `yaml:"mget,omitempty" json:"mget"`
	Invalidation        *bool `yaml:"invalidation,omitempty" json:"invalidation"`
}

// ProducerSettings is a family's producer: writers that are not the users,
// each write one command of its own in the run's load. Either every key is
// rewritten every Every (each key at its own phase, each interval off by a
// uniform draw within ±Jitter), as a fleet of devices reports, or Rate
// writes a second go to keys drawn by the family's popularity, as a job
// refreshing the hot ones does.
type ProducerSettings struct {
	Every  units.Duration `yaml:"every,omitempty" json:"every,omitempty"`
	Jitter units.Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	Rate   float64        `yaml:"rate,omitempty" json:"rate,omitempty"`
}

// RateLimitSettings is the rate limit each user's commands count against:
// hits allowed per window, each command its own counter.
type RateLimitSettings struct {
	Hits   int            `yaml:"hits,omitempty" json:"hits"`
	Window units.Duration `yaml:"window,omitempty" json:"window"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// PopularitySettings is how keys of a family are chosen (see Popularity). A
// zipf popularity without an exponent takes the workload's zipf.
type PopularitySettings struct {
	Kind        string  `yaml:"kind" json:"kind"` // zipf | uniform | hotspot
	Exponent    float64 `yaml:"exponent,omitempty" json:"exponent,omitempty"`
	HotFraction float64 `yaml:"hot_fraction,omitempty" json:"hot_fraction,omitempty"`
	HotShare    float64 `yaml:"hot_share,omitempty" json:"hot_share,omitempty"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// OriginSettings is one simulated upstream (stratz, opendota, steam,
// internal). Unwritten fields are the upstream's defaults (DefaultOrigins),
// except that a written latency without a p99 keeps the default tail's
// shape (p99 scaled with the latency). Every 0 is meaningful: latency: 0s
// is an instant upstream, p99: 0s one without spread, error_rate: 0 one that
// never fails.
type OriginSettings struct {
	Latency   units.Duration `yaml:"latency,omitempty" json:"latency"`
	P99       units.Duration `yaml:"p99,omitempty" json:"p99"`
	ErrorRate float64        `yaml:"error_rate,omitempty" json:"error_rate"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// The bounds Validate holds settings to.
const (
	// MaxPopulation keeps user ids inside uint32, discord snowflakes inside
	// 18 digits, and a Schedule's active-user bitset at most 12.5 MB.
	MaxPopulation = 100_000_000
	// MaxCPM bounds commands per user per minute (100 a second).
	MaxCPM = 6000
	// MaxZipf bounds a zipf exponent: real cache traces show 1.0 to 1.5.
	MaxZipf = 5.0
	// MaxMeanSize bounds a family's mean value size.
	MaxMeanSize = units.Size(64 << 20)
	// MaxPrefill bounds the history prefill replays.
	MaxPrefill = 24 * time.Hour
	// MaxFields bounds a hash's fields and a sorted set's members: the
	// model formats their names once, per family.
	MaxFields = 100_000
	// MaxTTL bounds a defined family's own TTL.
	MaxTTL = 365 * 24 * time.Hour
	// MaxRateLimitHits bounds the rate limit's hits per window.
	MaxRateLimitHits = 1_000_000
	// MinProducerEvery and MaxProducerEvery bound a producer's interval
	// per key; MaxProducerRate bounds its writes a second (one run's
	// driver issues a few hundred thousand operations a second at most).
	MinProducerEvery = 10 * time.Millisecond
	MaxProducerEvery = 24 * time.Hour
	MaxProducerRate  = 1_000_000
)

// Arrivals, PopularityKinds and Sources list the values the settings accept.
var (
	Arrivals        = []string{ArrivalPoisson, ArrivalConstant}
	PopularityKinds = []string{PopZipf, PopUniform, PopHotspot}
	Sources         = []string{SourceStratz, SourceOpenDota, SourceSteam, SourceInternal}
	Catalogues      = []string{CatalogueSeed, CatalogueNone}
	Types           = []string{TypeString, TypeHash, TypeZSet}
	SizeDists       = []string{SizeLognormal, SizeFixed, SizeUniform}
	WriteModes      = []string{WriteField, WriteWhole, WriteReplaceMulti, WriteReplacePipeline}
)

// defaultActiveUsers and defaultGuilds are the defaults that depend on the
// population: 10,000 users (fewer in a smaller population) and a guild per
// 50 users.
func defaultActiveUsers(population int) int { return min(DefaultActiveUsers, max(population, 1)) }
func defaultGuilds(population int) int      { return max(1, population/50) }

// Defaults fills every value the file left out, so the resolved scenario
// shows what the run used, and never replaces a value it wrote: a written
// 0, 0s or "" stays, for Validate to accept where it means something
// (prefill: 0s) and reject where it cannot (active_users: 0).
func (s *Settings) Defaults() {
	field.Default(&s.Population, s.Wrote, "population", DefaultPopulation)
	field.Default(&s.ActiveUsers, s.Wrote, "active_users", defaultActiveUsers(s.Population))
	field.Default(&s.CommandsPerUserPerMinute, s.Wrote, "commands_per_user_per_minute", DefaultCPM)
	field.Default(&s.SessionMean, s.Wrote, "session_mean", units.Duration(DefaultSessionMean))
	field.Default(&s.Arrival, s.Wrote, "arrival", ArrivalPoisson)
	field.Default(&s.Zipf, s.Wrote, "zipf", DefaultZipf)
	field.Default(&s.Guilds, s.Wrote, "guilds", defaultGuilds(s.Population))
	field.Default(&s.Instances, s.Wrote, "instances", DefaultInstances)
	field.Default(&s.Catalogue, s.Wrote, "catalogue", CatalogueSeed)
	on := s.Catalogue == CatalogueSeed
	for _, b := range []**bool{&s.Features.RateLimit, &s.Features.SessionGetAndExtend, &s.Features.CAS, &s.Features.MGet, &s.Features.Invalidation} {
		if *b == nil {
			v := on
			*b = &v
		}
	}
	field.Default(&s.RateLimit.Hits, s.RateLimit.Wrote, "hits", DefaultRateLimitHits)
	field.Default(&s.RateLimit.Window, s.RateLimit.Wrote, "window", units.Duration(DefaultRateLimitWindow))
	catalogue := catalogueByName()
	for i := range s.Families {
		f := &s.Families[i]
		if c, ok := catalogue[f.Name]; ok && s.Catalogue == CatalogueSeed {
			if f.SizeDist != SizeUniform {
				field.Default(&f.MeanSize, f.Wrote, "mean_size", units.Size(c.MeanSize))
			}
			if f.Weight == nil {
				w := c.Weight
				f.Weight = &w
			}
		} else {
			s.defaultDefined(f)
		}
		if p := f.Popularity; p != nil && p.Kind == PopZipf {
			field.Default(&p.Exponent, p.Wrote, "exponent", s.Zipf)
		}
	}
	defaults := DefaultOrigins()
	for name, o := range s.Origins {
		d, ok := defaults[name]
		if !ok {
			continue
		}
		if o.Wrote["latency"] && !o.Wrote["p99"] && d.Latency > 0 {
			// Keep the default tail's shape around the written median.
			d.P99 = time.Duration(float64(o.Latency) * float64(d.P99) / float64(d.Latency)).Round(time.Millisecond)
		}
		field.Default(&o.Latency, o.Wrote, "latency", units.Duration(d.Latency))
		field.Default(&o.P99, o.Wrote, "p99", units.Duration(d.P99))
		field.Default(&o.ErrorRate, o.Wrote, "error_rate", d.ErrorRate)
		s.Origins[name] = o
	}
}

// Validate checks the section as resolved by Defaults and returns every
// problem as a field.List, paths as the YAML spells them ("active_users",
// "families[1].popularity.exponent", "origins.stratz.p99").
func (s Settings) Validate() error {
	var l field.List
	if s.Population < 1 {
		l.Add("population", "must be at least 1")
	} else if s.Population > MaxPopulation {
		l.Add("population", "%d is beyond what one run can address (max 100,000,000)", s.Population)
	}
	if s.ActiveUsers < 1 {
		l.Add("active_users", "must be at least 1")
	} else if s.ActiveUsers > s.Population && s.Population >= 1 {
		l.Add("active_users", "%d exceeds population (%d)", s.ActiveUsers, s.Population)
	}
	if c := s.CommandsPerUserPerMinute; !(c > 0 && c <= MaxCPM) {
		l.Add("commands_per_user_per_minute", "%g out of range, expected more than 0 and at most %d", c, MaxCPM)
	}
	if s.SessionMean <= 0 {
		l.Add("session_mean", "must be positive")
	}
	l.OneOf("arrival", s.Arrival, Arrivals)
	if !(s.Zipf > 0 && s.Zipf <= MaxZipf) {
		l.Add("zipf", "%g out of range, expected an exponent above 0 and at most %g (real cache traces: 1.0 to 1.5)", s.Zipf, MaxZipf)
	}
	if s.Prefill < 0 || s.Prefill.D() > MaxPrefill {
		l.Add("prefill", "%s out of range, expected 0 to 24h of history to replay", s.Prefill.D())
	}
	if s.Guilds < 1 {
		l.Add("guilds", "must be at least 1")
	} else if s.Guilds > max(s.Population, 1) {
		l.Add("guilds", "%d exceeds population (%d)", s.Guilds, s.Population)
	}
	if s.Instances < 1 || s.Instances > MaxInstances {
		l.Add("instances", "%d out of range, expected 1 to %d bot instances (each has its own cache manager and pool)", s.Instances, MaxInstances)
	}
	l.OneOf("catalogue", s.Catalogue, Catalogues)
	s.validateFeatures(&l)
	s.validateFamilies(&l)
	s.validateOrigins(&l)
	return l.Err()
}

// override reports whether f changes a family of the seed's catalogue
// (rather than defining one).
func (s Settings) override(f FamilySettings) bool {
	_, ok := catalogueByName()[f.Name]
	return ok && s.seedCatalogue()
}

// seedCatalogue reports whether the seed's families are in the workload
// (an unknown catalogue, an error of its own, counts as the seed's so that
// it is the one error reported).
func (s Settings) seedCatalogue() bool { return s.Catalogue != CatalogueNone }

func (s Settings) validateFamilies(l *field.List) {
	catalogue := catalogueByName()
	weights := map[string]float64{}
	if s.seedCatalogue() {
		for _, f := range DefaultFamilies() {
			weights[f.Name] = f.Weight
		}
	}
	// Each family's key pattern, to find overlaps: TTLs and per-family
	// figures go by the pattern a key matches, so no key may match two.
	type owner struct {
		name, path string
		pat        keypattern.Pattern
	}
	var pats []owner
	if s.seedCatalogue() {
		for _, f := range DefaultFamilies() {
			pats = append(pats, owner{f.Name, "", keypattern.MustParse(f.KeyPattern)})
		}
	}
	if s.Features.RateLimit != nil && *s.Features.RateLimit {
		pats = append(pats, owner{RateLimitFamily, "", rateLimitPattern})
	}
	seen := map[string]bool{}
	for i, f := range s.Families {
		p := field.Index("families", i)
		switch {
		case f.Name == "":
			l.Add(p+".name", "required: a family is named (it names its report rows)")
		case seen[f.Name]:
			l.Add(p+".name", "%q listed twice", f.Name)
		case f.Name == RateLimitFamily:
			l.Add(p+".name", "%q is the built-in rate-limit counters' family; set workload.rate_limit to change them", f.Name)
		}
		seen[f.Name] = true
		if w := f.Weight; w != nil {
			switch {
			case math.IsNaN(*w) || math.IsInf(*w, 0):
				l.Add(p+".weight", "must be a finite number")
			case *w < 0:
				l.Add(p+".weight", "must not be negative")
			}
			weights[f.Name] = *w
		}
		if !s.override(f) && s.seedCatalogue() && !field.Given(f.Wrote, "key", f.Key) {
			// Neither one of the seed's families nor a definition (which
			// gives a key pattern): most likely a misspelt seed family.
			msg := fmt.Sprintf("unknown value %q, expected one of the seed's families %s, or a family of your own with its key:", f.Name, strings.Join(seedNames(), ", "))
			if sug := textdist.Suggest(f.Name, seedNames()); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			l.Add(p+".name", "%s", msg)
			continue
		}
		s.validateSizes(l, p, f)
		if s.override(f) {
			validateOverride(l, p, f)
		} else {
			if f.Name != "" && !nameRE.MatchString(f.Name) {
				l.Add(p+".name", "%q must be lower-case letters, digits and '_', starting with a letter", f.Name)
			}
			if f.Weight == nil {
				if _, seed := catalogue[f.Name]; seed {
					l.Add(p+".weight", "required: with catalogue: none, %s is a family you define, and its weight is its share of the command mix", f.Name)
				} else {
					l.Add(p+".weight", "required: a family you define needs its share of the command mix (relative to the other families' weights)")
				}
			}
			s.validateDefined(l, p, f)
			if pat, err := keypattern.Parse(f.Key); err == nil {
				pats = append(pats, owner{f.Name, p + ".key", pat})
			}
		}
		if pp := f.Popularity; pp != nil {
			if why := s.popularityIgnored(f); why != "" {
				l.Add(p+".popularity", "has no effect on %s: %s", f.Name, why)
			}
			validatePopularity(l, p+".popularity", *pp)
		}
	}
	for i, a := range pats {
		if a.path == "" {
			continue
		}
		for j, b := range pats {
			if i == j || a.name == b.name || (j > i && b.path != "") {
				continue // each defined pair once, from the later one
			}
			if ex, ok := keypattern.Overlap(a.pat, b.pat); ok {
				l.Add(a.path, "key pattern %q overlaps family %s's %q: a key such as %q matches both, and TTLs and per-family figures go by the pattern a key matches", a.pat, b.name, b.pat, ex)
				break
			}
		}
	}
	total := 0.0
	for _, w := range weights {
		if w > 0 {
			total += w
		}
	}
	switch {
	case s.Catalogue == CatalogueNone && len(s.Families) == 0:
		l.Add("families", "catalogue: none needs at least one family of your own")
	case total == 0:
		l.Add("families", "every command weight is zero: nothing to issue")
	}
}

// nameRE is the form of a defined family's name.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// validateOverride holds a change of a seed family to the keys a change may
// set: its pattern, tier, type and command structure are the bot's.
func validateOverride(l *field.List, p string, f FamilySettings) {
	for _, k := range []struct {
		key   string
		given bool
	}{
		{"key", field.Given(f.Wrote, "key", f.Key)},
		{"keys", field.Given(f.Wrote, "keys", f.Keys)},
		{"tier", field.Given(f.Wrote, "tier", f.Tier)},
		{"ttl", field.Given(f.Wrote, "ttl", f.TTL)},
		{"type", field.Given(f.Wrote, "type", f.Type)},
		{"fields", field.Given(f.Wrote, "fields", f.Fields)},
		{"members", field.Given(f.Wrote, "members", f.Members)},
		{"writes", field.Given(f.Wrote, "writes", f.Writes)},
		{"deletes", field.Given(f.Wrote, "deletes", f.Deletes)},
		{"write", field.Given(f.Wrote, "write", f.Write)},
		{"producer", f.Producer != nil},
		{"source", field.Given(f.Wrote, "source", f.Source)},
		{"command", field.Given(f.Wrote, "command", f.Command)},
	} {
		if k.given {
			l.Add(p+"."+k.key, "applies only to a family you define: %s is the seed's, whose key, tier, type and commands are its bot's (pool.ttl changes a tier's TTL; name a new family to define one)", f.Name)
		}
	}
}

// validateSizes checks a family's size distribution: lognormal and fixed
// go by mean_size, uniform by min_size and max_size.
func (s Settings) validateSizes(l *field.List, p string, f FamilySettings) {
	dist := f.SizeDist
	if field.Given(f.Wrote, "size_dist", dist) {
		l.OneOf(p+".size_dist", dist, SizeDists)
	}
	inRange := func(key string, v units.Size) {
		if v < 1 || v > MaxMeanSize {
			l.Add(p+"."+key, "%s out of range, expected 1b to %s", v, MaxMeanSize)
		}
	}
	minGiven, maxGiven := field.Given(f.Wrote, "min_size", f.MinSize), field.Given(f.Wrote, "max_size", f.MaxSize)
	if dist == SizeUniform {
		if field.Given(f.Wrote, "mean_size", f.MeanSize) {
			l.Add(p+".mean_size", "does not apply to size_dist uniform, whose mean is the midpoint of min_size and max_size")
		}
		if !minGiven || !maxGiven {
			l.Add(p+".size_dist", "uniform needs min_size and max_size")
			return
		}
		inRange("min_size", f.MinSize)
		inRange("max_size", f.MaxSize)
		if f.MinSize > f.MaxSize {
			l.Add(p+".max_size", "%s is below min_size (%s)", f.MaxSize, f.MinSize)
		}
		return
	}
	if minGiven || maxGiven {
		key := "min_size"
		if !minGiven {
			key = "max_size"
		}
		l.Add(p+"."+key, "applies only to size_dist uniform")
	}
	if field.Given(f.Wrote, "mean_size", f.MeanSize) {
		inRange("mean_size", f.MeanSize)
	} else if !s.override(f) {
		l.Add(p+".mean_size", "required: a family you define needs its mean value size (or size_dist: uniform with min_size and max_size)")
	}
}

// validateDefined checks a family the scenario defines.
func (s Settings) validateDefined(l *field.List, p string, f FamilySettings) {
	if f.Key == "" {
		l.Add(p+".key", "required: a family you define needs its key pattern, e.g. key: \"product:{id}\" (any {name}: %s are the user's ids, {id} or a name with keys: N an id range, another name the user's number)", strings.Join(Placeholders[1:], ", "))
	} else if why := checkPattern(f.Key); why != "" {
		l.Add(p+".key", "%s", why)
	}
	keysGiven := field.Given(f.Wrote, "keys", f.Keys)
	_, _, ph := bindPattern(f.Key, keysGiven)
	switch {
	case ph == phID && !keysGiven:
		l.Add(p+".keys", "required: a pattern with {id} ranges over keys: N keys")
	case ph == phID && (f.Keys < 1 || f.Keys > MaxPopulation):
		l.Add(p+".keys", "%d out of range, expected 1 to 100,000,000", f.Keys)
	case ph != phID && keysGiven:
		l.Add(p+".keys", "applies only to a pattern whose placeholder is an id range (this one's keys are %s)", patternKeys(ph))
	}
	tier, ttl := field.Given(f.Wrote, "tier", f.Tier), field.Given(f.Wrote, "ttl", f.TTL)
	switch {
	case tier && ttl:
		l.Add(p+".ttl", "set tier or ttl, not both (a tier gives its keys the tier's TTL)")
	case !tier && !ttl:
		l.Add(p, "family %s needs tier (one of the pool's tiers) or ttl (its own)", f.Name)
	case ttl && (f.TTL <= 0 || f.TTL.D() > MaxTTL):
		l.Add(p+".ttl", "%s out of range, expected more than 0s and at most 8760h (tier: persistent for keys that never expire)", f.TTL.D())
	}
	l.OneOf(p+".type", f.Type, Types)
	for _, c := range []struct {
		key, typ string
		v        int
	}{{"fields", TypeHash, f.Fields}, {"members", TypeZSet, f.Members}} {
		given := field.Given(f.Wrote, c.key, c.v)
		switch {
		case given && f.Type != c.typ:
			l.Add(p+"."+c.key, "applies only to type %s (this family's type is %s)", c.typ, f.Type)
		case f.Type == c.typ && !given:
			l.Add(p+"."+c.key, "required: a %s family says how many %s a key holds", c.typ, c.key)
		case f.Type == c.typ && (c.v < 1 || c.v > MaxFields):
			l.Add(p+"."+c.key, "%d out of range, expected 1 to 100,000", c.v)
		}
	}
	if !(f.Writes >= 0 && f.Writes <= 1) {
		l.Add(p+".writes", "%g out of range, expected the share of commands that write, 0 to 1", f.Writes)
	}
	switch {
	case !(f.Deletes >= 0 && f.Deletes <= 1):
		l.Add(p+".deletes", "%g out of range, expected the share of commands that delete, 0 to 1", f.Deletes)
	case f.Writes >= 0 && f.Writes+f.Deletes > 1+1e-9:
		l.Add(p+".deletes", "%g with writes %g is more than every command: writes and deletes are shares of the same commands, at most 1 together", f.Deletes, f.Writes)
	}
	if field.Given(f.Wrote, "write", f.Write) {
		if f.Type != TypeHash && f.Type != TypeZSet {
			l.Add(p+".write", "applies only to type hash or zset (this family's type is %s): a string is always written whole", f.Type)
		} else {
			l.OneOf(p+".write", f.Write, WriteModes)
		}
	}
	if f.Producer != nil {
		validateProducer(l, p+".producer", *f.Producer, ph, f.Keys)
	}
	l.OneOf(p+".source", f.Source, Sources)
	if f.Command == "" || strings.ContainsAny(f.Command, " \t\n{}") {
		l.Add(p+".command", "%q must be a non-empty name without spaces or braces (it names the command in reports and its rate-limit key)", f.Command)
	}
}

// validateProducer checks a family's producer: every (with its jitter) or
// rate, not both, on keys of the family's own (an id range or a single
// key: users' own keys are written by their users), at a rate one run can
// issue.
func validateProducer(l *field.List, p string, pr ProducerSettings, ph uint8, keys int) {
	every, rate := pr.Every > 0, pr.Rate != 0
	switch {
	case every && rate:
		l.Add(p, "set every (each key rewritten every D) or rate (writes a second over the family by its popularity), not both")
		return
	case !every && !rate:
		l.Add(p, "needs every (each key rewritten every D, e.g. every: 4s) or rate (writes a second over the family, e.g. rate: 5)")
		return
	}
	if ph != phID && ph != phNone {
		l.Add(p, "writes keys of the family's own, and this family's keys are %s: give it an id range ({id} or a name with keys: N) or a single key", patternKeys(ph))
	}
	n := 1
	if ph == phID {
		n = max(keys, 1)
	}
	if every && n > MaxProducerKeys {
		l.Add(p+".every", "a per-key producer follows at most 1,000,000 keys (this family has %d): use rate for a larger family", n)
	}
	if every {
		if pr.Every.D() < MinProducerEvery || pr.Every.D() > MaxProducerEvery {
			l.Add(p+".every", "%s out of range, expected %s to %s", pr.Every.D(), MinProducerEvery, MaxProducerEvery)
		} else if r := float64(n) / pr.Every.D().Seconds(); r > MaxProducerRate {
			l.Add(p+".every", "%d keys every %s is %.0f writes a second, beyond %d", n, pr.Every.D(), r, MaxProducerRate)
		}
		if pr.Jitter < 0 || pr.Jitter >= pr.Every {
			l.Add(p+".jitter", "%s out of range, expected 0s up to (not including) every (%s)", pr.Jitter.D(), pr.Every.D())
		}
		return
	}
	if pr.Jitter != 0 {
		l.Add(p+".jitter", "applies only with every: rate's writes arrive as a Poisson stream")
	}
	if !(pr.Rate > 0 && pr.Rate <= MaxProducerRate) {
		l.Add(p+".rate", "%g out of range, expected more than 0 and at most %d writes a second", pr.Rate, MaxProducerRate)
	}
}

// checkPattern says what is wrong with a defined family's key pattern, or
// "": one that does not parse, more than one placeholder, or a placeholder
// spelt like one of the user's ids in another case ({discordID}), which
// would otherwise quietly bind to the user's number.
func checkPattern(pattern string) string {
	pat, err := keypattern.Parse(pattern)
	if err != nil {
		return err.Error()
	}
	if n := pat.NumPlaceholders(); n > 1 {
		return fmt.Sprintf("key pattern %q has %d placeholders; a family's keys vary by one", pattern, n)
	}
	for _, name := range pat.Names() {
		ph := "{" + name + "}"
		for _, known := range Placeholders {
			if ph != known && strings.EqualFold(ph, known) {
				return fmt.Sprintf("placeholder %s is spelt like %s (did you mean %s? names are case-sensitive, and any other name is the user's number or, with keys: N, an id range)", ph, known, known)
			}
		}
	}
	return ""
}

// patternKeys says which keys a pattern not bound to an id range has.
func patternKeys(ph uint8) string {
	switch ph {
	case phDiscord, phSteam, phGuild:
		return "the issuing user's own"
	}
	return "a single key"
}

// defaultDefined fills a defined family's unwritten type, size
// distribution, source, command and popularity.
func (s Settings) defaultDefined(f *FamilySettings) {
	field.Default(&f.Type, f.Wrote, "type", TypeString)
	field.Default(&f.SizeDist, f.Wrote, "size_dist", SizeLognormal)
	field.Default(&f.Source, f.Wrote, "source", SourceInternal)
	field.Default(&f.Command, f.Wrote, "command", f.Name)
	if f.Type == TypeHash || f.Type == TypeZSet {
		field.Default(&f.Write, f.Wrote, "write", WriteField)
	}
	if _, _, ph := bindPattern(f.Key, field.Given(f.Wrote, "keys", f.Keys)); ph == phID && f.Popularity == nil && !f.Wrote["popularity"] {
		f.Popularity = &PopularitySettings{Kind: PopZipf, Exponent: s.Zipf}
	}
}

// popularityIgnored says why a family's popularity cannot be set, or "" if
// it can: a popularity that would silently do nothing is an error.
func (s Settings) popularityIgnored(f FamilySettings) string {
	if s.override(f) {
		return popularityIgnored(f.Name)
	}
	switch _, _, ph := bindPattern(f.Key, field.Given(f.Wrote, "keys", f.Keys)); ph {
	case phID:
		return ""
	case phNone:
		return "it has a single key"
	}
	return "its keys are the issuing user's own, and users are drawn by zipf"
}

// CheckTiers reports a defined family whose tier is not one of tiers (the
// pool's, which workload does not import: the scenario loader passes
// pool.TierNames()).
func (s Settings) CheckTiers(tiers []string) error {
	var l field.List
	for i, f := range s.Families {
		if !s.override(f) && field.Given(f.Wrote, "tier", f.Tier) {
			l.OneOf(field.Index("families", i)+".tier", f.Tier, tiers)
		}
	}
	return l.Err()
}

func (s Settings) validateFeatures(l *field.List) {
	if s.Catalogue == CatalogueNone {
		for _, f := range []struct {
			key string
			on  *bool
			on_ string
		}{
			{"session_get_and_extend", s.Features.SessionGetAndExtend, "the seed's sessions"},
			{"cas", s.Features.CAS, "the seed's guild settings"},
			{"mget", s.Features.MGet, "the seed's settings and meta reads"},
		} {
			if f.on != nil && *f.on {
				l.Add("features."+f.key, "acts on %s, and catalogue: none has none", f.on_)
			}
		}
	}
	rl := s.RateLimit
	if s.Features.RateLimit != nil && !*s.Features.RateLimit && len(rl.Wrote) > 0 {
		l.Add("rate_limit", "has no effect: features.rate_limit is off")
	}
	if rl.Hits < 1 || rl.Hits > MaxRateLimitHits {
		l.Add("rate_limit.hits", "%d out of range, expected 1 to 1,000,000 hits a window", rl.Hits)
	}
	if rl.Window.D() < time.Second || rl.Window.D() > 24*time.Hour {
		l.Add("rate_limit.window", "%s out of range, expected 1s to 24h", rl.Window.D())
	}
}

func validatePopularity(l *field.List, p string, pp PopularitySettings) {
	l.OneOf(p+".kind", pp.Kind, PopularityKinds)
	switch {
	case pp.Kind == PopZipf && !(pp.Exponent > 0 && pp.Exponent <= MaxZipf):
		l.Add(p+".exponent", "%g out of range, expected above 0 and at most %g (leave it out for the workload's zipf)", pp.Exponent, MaxZipf)
	case pp.Kind != PopZipf && field.Given(pp.Wrote, "exponent", pp.Exponent):
		l.Add(p+".exponent", "applies only to kind zipf")
	}
	if pp.Kind != PopHotspot && (field.Given(pp.Wrote, "hot_fraction", pp.HotFraction) || field.Given(pp.Wrote, "hot_share", pp.HotShare)) {
		l.Add(p, "hot_fraction and hot_share apply only to kind hotspot")
	}
	if pp.Kind == PopHotspot && !(pp.HotFraction > 0 && pp.HotFraction < 1 && pp.HotShare > 0 && pp.HotShare <= 1) {
		l.Add(p, "hotspot needs hot_fraction in (0,1) and hot_share in (0,1]")
	}
}

func (s Settings) validateOrigins(l *field.List) {
	names := make([]string, 0, len(s.Origins))
	for k := range s.Origins {
		names = append(names, k)
	}
	sort.Strings(names)
	defaults := DefaultOrigins()
	for _, k := range names {
		o, p := s.Origins[k], "origins."+k
		l.OneOf(p, k, Sources)
		if !(o.ErrorRate >= 0 && o.ErrorRate <= 1) {
			l.Add(p+".error_rate", "%g out of range, expected 0 to 1", o.ErrorRate)
		}
		if o.Latency < 0 {
			l.Add(p+".latency", "must not be negative")
		}
		if o.P99 < 0 {
			l.Add(p+".p99", "must not be negative")
		}
		if o.P99 > 0 && o.Latency >= 0 && o.P99 < o.Latency {
			lat := o.Latency.D().String()
			if d, ok := defaults[k]; ok && !o.Wrote["latency"] && o.Latency.D() == d.Latency {
				lat += ", " + k + "'s default"
			}
			l.Add(p+".p99", "%s is below the median latency (%s)", o.P99.D(), lat)
		}
	}
}

// Config is the model's configuration for these settings (resolved by
// Defaults, checked by Validate) and the run's seed and shard: the one
// conversion between the two types, in this direction only. Sources the
// settings leave out are DefaultOrigins.
func (s Settings) Config(r Run) Config {
	cfg := Config{
		Seed:                     r.Seed,
		Shard:                    r.Shard,
		Shards:                   max(r.Shards, 1),
		Population:               s.Population,
		ActiveUsers:              s.ActiveUsers,
		CommandsPerUserPerMinute: s.CommandsPerUserPerMinute,
		SessionMean:              s.SessionMean.D(),
		Arrival:                  s.Arrival,
		Zipf:                     s.Zipf,
		Guilds:                   s.Guilds,
		Origins:                  DefaultOrigins(),
	}
	cfg.Instances, cfg.Catalogue = s.Instances, s.Catalogue
	cfg.RateLimitHits, cfg.RateLimitWindow = int64(s.RateLimit.Hits), s.RateLimit.Window.D()
	b := func(p *bool) bool { return p != nil && *p }
	ft := s.Features
	cfg.Features = &Features{RateLimit: b(ft.RateLimit), SessionGetAndExtend: b(ft.SessionGetAndExtend), CAS: b(ft.CAS), MGet: b(ft.MGet), Invalidation: b(ft.Invalidation)}
	for _, f := range s.Families {
		if !s.override(f) {
			cfg.Defined = append(cfg.Defined, f.family())
			continue
		}
		fo := FamilyOverride{Name: f.Name, MeanSize: int(f.MeanSize)}
		if p := f.Popularity; p != nil {
			fo.Popularity = &Popularity{Kind: p.Kind, Exponent: p.Exponent, HotFraction: p.HotFraction, HotShare: p.HotShare}
		}
		if f.Weight != nil {
			fo.Weight = *f.Weight
			if fo.Weight == 0 {
				fo.Weight = -1 // FamilyOverride: negative turns the command off
			}
		}
		if f.SizeDist != "" && f.SizeDist != SizeLognormal {
			fo.SizeDist, fo.MinSize, fo.MaxSize = f.SizeDist, int(f.MinSize), int(f.MaxSize)
		}
		cfg.Families = append(cfg.Families, fo)
	}
	for name, o := range s.Origins {
		cfg.Origins[name] = OriginConfig{Latency: o.Latency.D(), P99: o.P99.D(), ErrorRate: o.ErrorRate}
	}
	return cfg
}

// seedNames lists the seed's families' names, in the catalogue's order.
func seedNames() []string {
	var out []string
	for _, f := range DefaultFamilies() {
		out = append(out, f.Name)
	}
	return out
}

func catalogueByName() map[string]Family {
	out := map[string]Family{}
	for _, f := range DefaultFamilies() {
		out[f.Name] = f
	}
	return out
}

// family is a defined family's settings as the model's Family (resolved by
// Defaults).
func (f FamilySettings) family() Family {
	fam := Family{Name: f.Name, KeyPattern: f.Key, Tier: f.Tier, Type: f.Type, TTL: f.TTL.D(), MeanSize: int(f.MeanSize),
		Source: f.Source, Command: f.Command, Keys: f.Keys, Writes: f.Writes, Deletes: f.Deletes, Fields: f.Fields, Members: f.Members,
		SizeDist: f.SizeDist, MinSize: int(f.MinSize), MaxSize: int(f.MaxSize), Defined: true, Write: f.Write}
	if pr := f.Producer; pr != nil {
		fam.Producer = &Producer{Every: pr.Every.D(), Jitter: pr.Jitter.D(), Rate: pr.Rate}
	}
	if p := f.Popularity; p != nil {
		fam.Popularity = Popularity{Kind: p.Kind, Exponent: p.Exponent, HotFraction: p.HotFraction, HotShare: p.HotShare}
	}
	if f.Weight != nil {
		fam.Weight = *f.Weight
	}
	return fam
}
