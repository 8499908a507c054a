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
)

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
}

// Config sets the shape of the workload. The zero value of every field means
// its default (see WithDefaults).
type Config struct {
	Population               int           // default 1,000,000
	ActiveUsers              int           // default 10,000; the phases' user counts are what the schedule runs
	CommandsPerUserPerMinute float64       // default 6
	SessionMean              time.Duration // default 10m; session lengths are exponential
	Arrival                  string        // "poisson" (default) | "constant"
	Zipf                     float64       // default 1.1: skew of users (who is active) and guild sizes, and the default exponent of zipf families
	Guilds                   int           // default Population/50; sizes are zipf-skewed
	Families                 []FamilyOverride
	Origins                  map[string]OriginConfig // by source; missing sources get DefaultOrigins
	Seed                     int64
	// Shard and Shards split the population between processes: only users
	// with id % Shards == Shard become active (Shards 0 or 1 = all).
	// Config.ActiveUsers is the total over all shards; the phases given to
	// each shard's Schedule carry that shard's share. Users' ids and keys are
	// the same in every shard; arrival times differ, so shards are not in
	// lock-step.
	Shard, Shards int
}

// WithDefaults returns c with every zero field replaced by its default. The
// Origins map is copied, so the result never aliases the caller's map.
func (c Config) WithDefaults() Config {
	if c.Population == 0 {
		c.Population = DefaultPopulation
	}
	if c.ActiveUsers == 0 {
		c.ActiveUsers = defaultActiveUsers(c.Population)
	}
	if c.CommandsPerUserPerMinute == 0 {
		c.CommandsPerUserPerMinute = DefaultCPM
	}
	if c.SessionMean == 0 {
		c.SessionMean = DefaultSessionMean
	}
	if c.Arrival == "" {
		c.Arrival = ArrivalPoisson
	}
	if c.Zipf == 0 {
		c.Zipf = DefaultZipf
	}
	if c.Guilds == 0 {
		c.Guilds = defaultGuilds(c.Population)
	}
	origins := DefaultOrigins()
	for k, v := range c.Origins {
		origins[k] = v
	}
	c.Origins = origins
	if c.Shards == 0 {
		c.Shards = 1
	}
	return c
}

// Validate checks c after applying WithDefaults, so zero fields are fine and
// only explicit bad values are reported. The rules are the settings' (c is
// checked as the Settings it stands for, see Settings.Validate), plus the
// shard split; every problem is returned, as a field.List with paths as a
// scenario spells them ("active_users", "families[2].popularity").
func (c Config) Validate() error {
	c = c.WithDefaults()
	var l field.List
	l.Merge("", c.settings().Validate())
	if c.Shards < 1 {
		l.Add("shards", "%d must not be negative", c.Shards)
	} else if c.Shard < 0 || c.Shard >= c.Shards {
		l.Add("shard", "%d must be in [0, shards=%d)", c.Shard, c.Shards)
	}
	if c.Shards > 1 {
		// ActiveUsers is the total over all shards; each runs its share.
		if per, room := (c.ActiveUsers+c.Shards-1)/c.Shards, c.Population/c.Shards; per > room {
			l.Add("active_users", "%d over %d shards is %d a shard, more than the %d users of a shard", c.ActiveUsers, c.Shards, per, room)
		}
	}
	return l.Err()
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
