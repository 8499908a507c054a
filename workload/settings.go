package workload

import (
	"math"
	"sort"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/units"
)

// Settings is the workload: section of a scenario: the simulated users and
// what they do. workload owns these settings: Defaults fills what the file
// left out, Validate checks what it wrote (and, through Config.Validate,
// what a Config built in Go says), and Config turns them into the model's
// configuration.
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
	Prefill  units.Duration            `yaml:"prefill,omitempty" json:"prefill"`
	Families []FamilySettings          `yaml:"families,omitempty" json:"families,omitempty"`
	Origins  map[string]OriginSettings `yaml:"origins,omitempty" json:"origins,omitempty"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// FamilySettings changes one key family of the seed's catalogue. Unwritten
// mean_size and weight are the catalogue's; weight: 0 turns the family's
// command off.
type FamilySettings struct {
	Name       string              `yaml:"name" json:"name"`
	MeanSize   units.Size          `yaml:"mean_size,omitempty" json:"mean_size"`
	Popularity *PopularitySettings `yaml:"popularity,omitempty" json:"popularity,omitempty"`
	Weight     *float64            `yaml:"weight,omitempty" json:"weight,omitempty"`

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
)

// Arrivals, PopularityKinds and Sources list the values the settings accept.
var (
	Arrivals        = []string{ArrivalPoisson, ArrivalConstant}
	PopularityKinds = []string{PopZipf, PopUniform, PopHotspot}
	Sources         = []string{SourceStratz, SourceOpenDota, SourceSteam, SourceInternal}
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
	catalogue := catalogueByName()
	for i := range s.Families {
		f := &s.Families[i]
		if c, ok := catalogue[f.Name]; ok {
			field.Default(&f.MeanSize, f.Wrote, "mean_size", units.Size(c.MeanSize))
			if f.Weight == nil {
				w := c.Weight
				f.Weight = &w
			}
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
	s.validateFamilies(&l)
	s.validateOrigins(&l)
	return l.Err()
}

func (s Settings) validateFamilies(l *field.List) {
	catalogue := catalogueByName()
	weights := map[string]float64{}
	var known []string
	for _, f := range DefaultFamilies() {
		known = append(known, f.Name)
		weights[f.Name] = f.Weight
	}
	seen := map[string]bool{}
	for i, f := range s.Families {
		p := field.Index("families", i)
		l.OneOf(p+".name", f.Name, known)
		if seen[f.Name] {
			l.Add(p+".name", "%q listed twice", f.Name)
		}
		seen[f.Name] = true
		if field.Given(f.Wrote, "mean_size", f.MeanSize) && (f.MeanSize < 1 || f.MeanSize > MaxMeanSize) {
			l.Add(p+".mean_size", "%s out of range, expected 1b to %s", f.MeanSize, MaxMeanSize)
		}
		if w := f.Weight; w != nil {
			switch {
			case math.IsNaN(*w) || math.IsInf(*w, 0):
				l.Add(p+".weight", "must be a finite number")
			case *w < 0:
				l.Add(p+".weight", "must not be negative")
			}
			if _, ok := catalogue[f.Name]; ok {
				weights[f.Name] = *w
			}
		}
		if pp := f.Popularity; pp != nil {
			if why := popularityIgnored(f.Name); why != "" {
				l.Add(p+".popularity", "has no effect on %s: %s", f.Name, why)
			}
			validatePopularity(l, p+".popularity", *pp)
		}
	}
	total := 0.0
	for _, w := range weights {
		if w > 0 {
			total += w
		}
	}
	if total == 0 {
		l.Add("families", "every command weight is zero: nothing to issue")
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
// Defaults). The caller adds what a scenario does not say here: the seed
// and the shard.
func (s Settings) Config() Config {
	cfg := Config{
		Population:               s.Population,
		ActiveUsers:              s.ActiveUsers,
		CommandsPerUserPerMinute: s.CommandsPerUserPerMinute,
		SessionMean:              s.SessionMean.D(),
		Arrival:                  s.Arrival,
		Zipf:                     s.Zipf,
		Guilds:                   s.Guilds,
		Origins:                  map[string]OriginConfig{},
	}
	for _, f := range s.Families {
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
		cfg.Families = append(cfg.Families, fo)
	}
	for name, o := range s.Origins {
		cfg.Origins[name] = OriginConfig{Latency: o.Latency.D(), P99: o.P99.D(), ErrorRate: o.ErrorRate}
	}
	return cfg
}

// settings is c (with defaults applied) as the settings it stands for, so
// that Config.Validate holds a Config to the same rules as a scenario: a
// zero MeanSize or Weight is left out (the catalogue's), a negative Weight
// is 0 (off).
func (c Config) settings() Settings {
	s := Settings{
		Population:               c.Population,
		ActiveUsers:              c.ActiveUsers,
		CommandsPerUserPerMinute: c.CommandsPerUserPerMinute,
		SessionMean:              units.Duration(c.SessionMean),
		Arrival:                  c.Arrival,
		Zipf:                     c.Zipf,
		Guilds:                   c.Guilds,
		Origins:                  map[string]OriginSettings{},
	}
	for _, o := range c.Families {
		f := FamilySettings{Name: o.Name, MeanSize: units.Size(o.MeanSize)}
		if p := o.Popularity; p != nil {
			f.Popularity = &PopularitySettings{Kind: p.Kind, Exponent: p.Exponent, HotFraction: p.HotFraction, HotShare: p.HotShare}
		}
		switch w := o.Weight; {
		case w < 0:
			f.Weight = new(float64)
		case w != 0:
			f.Weight = &w
		}
		s.Families = append(s.Families, f)
	}
	for name, o := range c.Origins {
		s.Origins[name] = OriginSettings{Latency: units.Duration(o.Latency), P99: units.Duration(o.P99), ErrorRate: o.ErrorRate}
	}
	return s
}

func catalogueByName() map[string]Family {
	out := map[string]Family{}
	for _, f := range DefaultFamilies() {
		out[f.Name] = f
	}
	return out
}
