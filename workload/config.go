package workload

import (
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
)

// Defaults, from the seed's targets: 10,000 users active at once out of a
// population of 1,000,000 (the seed's "0.1 %" is really 1 %: 10,000/1,000,000).
const (
	DefaultPopulation  = 1_000_000
	DefaultActiveUsers = 10_000
	DefaultCPM         = 6.0
	DefaultSessionMean = 10 * time.Minute
	DefaultZipf        = 1.1
	// DefaultInstances is how many bot instances share the cache. Discord
	// makes a bot shard at 2,500 guilds; the default 20,000 guilds need at
	// least eight shards, which a bot of this size runs as a few processes
	// of several shards each. Four processes, each with its own cache
	// manager, pool and invalidation subscription, make cross-instance
	// invalidation observable without multiplying connections by the shard
	// count.
	DefaultInstances = 4
	// MaxInstances bounds instances: each has its own pool of connections.
	MaxInstances = 64
)

// Catalogues: the key families a workload starts from.
const (
	// CatalogueSeed is the seed's ten families and the bot's commands over
	// them (the default).
	CatalogueSeed = "seed"
	// CatalogueNone starts from no family: the scenario defines its own.
	CatalogueNone = "none"
)

// Features switches the parts of the seed's cache layer the schedule
// exercises beyond GET, SET, EXPIRE and DEL. Each changes the operations of
// the seed's commands as the bot would make them (see Schedule):
type Features struct {
	// RateLimit: every command first counts a hit against the user's
	// per-command counter through the seed's Lua script (OpRateLimit on
	// the built-in rate_limit family).
	RateLimit bool
	// SessionGetAndExtend: the session read and its TTL refresh are one
	// atomic get-and-extend (OpSessionGet) instead of GET then EXPIRE.
	SessionGetAndExtend bool
	// CAS: a guild's settings change is a compare-and-swap of the value read
	// (OpCAS) instead of a blind SET.
	CAS bool
	// MGet: the settings every command reads (user_connected and
	// guild_locale) are one MGET, and so are the hero and item meta of a
	// matches command (OpMGet).
	MGet bool
	// Invalidation: linking an account is an update that drops the user's
	// cached profiles on every instance through pub/sub (OpUpdate); a
	// scenario family's string writes are updates too.
	Invalidation bool
}

// AllFeatures is every feature on: the seed's bot uses each of them.
func AllFeatures() Features {
	return Features{RateLimit: true, SessionGetAndExtend: true, CAS: true, MGet: true, Invalidation: true}
}

// Arrival processes.
const (
	ArrivalPoisson  = "poisson"
	ArrivalConstant = "constant"
)

// OriginConfig describes one simulated upstream: a lognormal latency with the
// given median and 99th percentile, and a probability that a call fails.
// P99 == 0 means no spread (every call takes Latency).
type OriginConfig struct {
	Latency   time.Duration // median
	P99       time.Duration
	ErrorRate float64 // in [0, 1]
}

// DefaultOrigins are the upstreams' behaviour when a scenario does not say:
// Stratz's GraphQL API is slowish with a long tail, OpenDota slower, Steam's
// avatar CDN quick, and internal reads (database, computed meta) fast.
func DefaultOrigins() map[string]OriginConfig {
	return map[string]OriginConfig{
		SourceStratz:   {Latency: 80 * time.Millisecond, P99: 400 * time.Millisecond, ErrorRate: 0.005},
		SourceOpenDota: {Latency: 120 * time.Millisecond, P99: 600 * time.Millisecond, ErrorRate: 0.01},
		SourceSteam:    {Latency: 60 * time.Millisecond, P99: 250 * time.Millisecond, ErrorRate: 0.002},
		SourceInternal: {Latency: 5 * time.Millisecond, P99: 20 * time.Millisecond, ErrorRate: 0},
	}
}

// FamilyOverride changes one default family. Zero fields keep the default:
// MeanSize 0 keeps the mean, a nil Popularity keeps the popularity, and
// Weight 0 keeps the command weight. A negative Weight turns the family's
// command off (weight 0), since 0 already means "not set".
type FamilyOverride struct {
	Name       string
	MeanSize   int
	Popularity *Popularity
	Weight     float64
	// SizeDist, when set, replaces the lognormal spread of sizes (see
	// Family.SizeDist); MinSize and MaxSize bound SizeUniform's.
	SizeDist         string
	MinSize, MaxSize int
}

// Config is the model's resolved configuration: what New builds the model
// from, made only by Settings.Config from settings that Settings.Defaults
// resolved (every default applied there, once) and the run's seed and
// shard. There is no way back from a Config to Settings: a scenario's
// settings are validated as settings, before the model exists. The
// comments give the defaults Settings.Defaults applies.
type Config struct {
	Population               int           // default 1,000,000
	ActiveUsers              int           // default 10,000; the phases' user counts are what the schedule runs
	CommandsPerUserPerMinute float64       // default 6
	SessionMean              time.Duration // default 10m; session lengths are exponential
	Arrival                  string        // "poisson" (default) | "constant"
	Zipf                     float64       // default 1.1: skew of users (who is active) and guild sizes, and the default exponent of zipf families
	Guilds                   int           // default Population/50; sizes are zipf-skewed
	Families                 []FamilyOverride
	// Catalogue is CatalogueSeed ("", the default) or CatalogueNone.
	Catalogue string
	// Defined are the scenario's own families (Family.Defined), after the
	// catalogue's: name, pattern, tier or TTL, sizes, popularity, weight,
	// mix and type. Index is assigned by New.
	Defined []Family
	// Features are the switches resolved (by default every feature on
	// with the seed's catalogue, whose bot uses them all, off without it).
	Features *Features
	// Instances is the number of simulated bot instances (0 = 4); a
	// command goes to instance (guildId >> 22) % Instances, as Discord
	// assigns a guild to a shard, so a user's commands stay on one.
	Instances int
	// RateLimitHits and RateLimitWindow are the rate-limit counters' limit
	// (0 = 5 hits) and window, which is also their TTL (0 = 1m).
	RateLimitHits   int64
	RateLimitWindow time.Duration
	Origins         map[string]OriginConfig // by source; sources the settings leave out are DefaultOrigins
	Seed            int64
	// Shard and Shards split the population between processes (see Run):
	// only users with id % Shards == Shard become active (Shards 1 = all).
	// Config.ActiveUsers is the total over all shards; the phases given to
	// each shard's Schedule carry that shard's share. Users' ids and keys are
	// the same in every shard; arrival times differ, so shards are not in
	// lock-step.
	Shard, Shards int
}

// Run is what a run adds to a scenario's workload settings: the seed and
// the shard this process runs.
type Run struct {
	Seed int64
	// Shard and Shards split the population between processes: only users
	// with id % Shards == Shard become active (Shards 0 or 1 = all).
	// Settings.ActiveUsers is the total over all shards; the phases given
	// to each shard's Schedule carry that shard's share.
	Shard, Shards int
}

// validate checks the shard split against the settings' users (paths as a
// scenario spells them); shards is r.Shards with 0 read as 1.
func (r Run) validate(l *field.List, s Settings) {
	shards := r.Shards
	if shards == 0 {
		shards = 1
	}
	if shards < 1 {
		l.Add("shards", "%d must not be negative", shards)
	} else if r.Shard < 0 || r.Shard >= shards {
		l.Add("shard", "%d must be in [0, shards=%d)", r.Shard, shards)
	}
	if shards > 1 {
		// ActiveUsers is the total over all shards; each runs its share.
		if per, room := (s.ActiveUsers+shards-1)/shards, s.Population/shards; per > room {
			l.Add("active_users", "%d over %d shards is %d a shard, more than the %d users of a shard", s.ActiveUsers, shards, per, room)
		}
	}
}

// Validate checks resolved settings (see Settings.Defaults) and the run's
// shard split, every problem as a field.List with paths as a scenario
// spells them ("active_users", "families[2].popularity"). New calls it.
func Validate(s Settings, r Run) error {
	var l field.List
	l.Merge("", s.Validate())
	r.validate(&l, s)
	return l.Err()
}

// OwnTTLs returns, by key pattern, the TTL of each family that has its own
// outside the tiers (Tier ""): the scenario's families written with ttl:,
// whose keys the manager must expire by pattern (pool.Config.KeyTTL), as
// it does for the seed's own TTLs. Only defined families have one (the
// catalogue's are in tiers; the rate-limit counters' script sets their
// window), and New keeps their TTLs as given, so the configuration says it
// without building a model. Validation keeps the patterns disjoint (no key
// matches two).
func (c Config) OwnTTLs() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, f := range c.Defined {
		if f.Tier == "" && f.RateLimit == 0 && f.TTL > 0 {
			out[f.KeyPattern] = f.TTL
		}
	}
	return out
}

// popularityIgnored says why a family's popularity cannot be overridden, or
// "" if it can: an override that would silently do nothing is an error.
func popularityIgnored(name string) string {
	switch name {
	case "session", "user_connected":
		return "its keys follow the active users, who are drawn by zipf"
	case "meta_heroes", "meta_items", "meta_current_patch":
		return "it has a single key"
	}
	return ""
}
