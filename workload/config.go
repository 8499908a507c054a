package workload

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults, from the seed's targets: 10,000 users active at once out of a
// population of 1,000,000 (the seed's "0.1 %" is really 1 %: 10,000/1,000,000).
const (
	DefaultPopulation  = 1_000_000
	DefaultActiveUsers = 10_000
	DefaultCPM         = 6.0
	DefaultSessionMean = 10 * time.Minute
	defaultZipf        = 1.1
	// maxPopulation keeps user ids inside uint32, discord snowflakes inside
	// 18 digits, and a Schedule's active-user bitset at most 12.5 MB.
	maxPopulation = 100_000_000
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
		c.ActiveUsers = min(DefaultActiveUsers, max(c.Population, 1))
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
		c.Zipf = defaultZipf
	}
	if c.Guilds == 0 {
		c.Guilds = max(1, c.Population/50)
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

// FieldError is a Config error that names the offending field, so that the
// scenario loader can point at the YAML line it came from.
type FieldError struct {
	Field string // e.g. "ActiveUsers", "Families[2].Popularity", "Origins[stratz].P99"
	Msg   string
}

func (e *FieldError) Error() string { return "workload: config " + e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks c after applying WithDefaults, so zero fields are fine and
// only explicit bad values are reported. All problems are joined; each is a
// *FieldError naming its field.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if c.Population < 1 || c.Population > maxPopulation {
		errs = append(errs, fieldErr("Population", "%d must be in [1, %d]", c.Population, maxPopulation))
	}
	if c.ActiveUsers < 1 || c.ActiveUsers > c.Population {
		errs = append(errs, fieldErr("ActiveUsers", "%d must be in [1, Population=%d]", c.ActiveUsers, c.Population))
	}
	if !(c.CommandsPerUserPerMinute > 0) || math.IsInf(c.CommandsPerUserPerMinute, 0) {
		errs = append(errs, fieldErr("CommandsPerUserPerMinute", "%v must be a positive number", c.CommandsPerUserPerMinute))
	}
	if c.SessionMean <= 0 {
		errs = append(errs, fieldErr("SessionMean", "%v must be positive", c.SessionMean))
	}
	if c.Arrival != ArrivalPoisson && c.Arrival != ArrivalConstant {
		errs = append(errs, fieldErr("Arrival", "%q is not one of poisson, constant", c.Arrival))
	}
	if err := (Popularity{Kind: PopZipf, Exponent: c.Zipf}).Validate(); err != nil {
		errs = append(errs, fieldErr("Zipf", "%v", err))
	}
	if c.Guilds < 1 || c.Guilds > max(c.Population, 1) {
		errs = append(errs, fieldErr("Guilds", "%d must be in [1, Population=%d]", c.Guilds, c.Population))
	}
	known := map[string]bool{}
	for _, f := range DefaultFamilies() {
		known[f.Name] = true
	}
	seen := map[string]bool{}
	for i, o := range c.Families {
		field := fmt.Sprintf("Families[%d]", i)
		switch {
		case !known[o.Name]:
			errs = append(errs, fieldErr(field+".Name", "%q is not a known family", o.Name))
		case seen[o.Name]:
			errs = append(errs, fieldErr(field+".Name", "%q is overridden twice", o.Name))
		}
		seen[o.Name] = true
		if o.MeanSize < 0 || o.MeanSize > 64<<20 {
			errs = append(errs, fieldErr(field+".MeanSize", "%d must be in [0, 64 MiB]", o.MeanSize))
		}
		if o.Popularity != nil {
			if why := popularityIgnored(o.Name); why != "" {
				errs = append(errs, fieldErr(field+".Popularity", "has no effect on %s: %s", o.Name, why))
			} else if err := o.Popularity.Validate(); err != nil {
				errs = append(errs, fieldErr(field+".Popularity", "%v", err))
			}
		}
		if math.IsNaN(o.Weight) || math.IsInf(o.Weight, 0) {
			errs = append(errs, fieldErr(field+".Weight", "%v must be a finite number", o.Weight))
		}
	}
	for src, oc := range c.Origins {
		field := "Origins[" + src + "]"
		if _, ok := DefaultOrigins()[src]; !ok {
			errs = append(errs, fieldErr(field, "%q is not a known source (stratz, opendota, steam, internal)", src))
			continue
		}
		if oc.Latency < 0 {
			errs = append(errs, fieldErr(field+".Latency", "%v must not be negative", oc.Latency))
		}
		if oc.P99 != 0 && oc.P99 < oc.Latency {
			errs = append(errs, fieldErr(field+".P99", "%v must be 0 or at least Latency %v", oc.P99, oc.Latency))
		}
		if !(oc.ErrorRate >= 0 && oc.ErrorRate <= 1) {
			errs = append(errs, fieldErr(field+".ErrorRate", "%v must be in [0, 1]", oc.ErrorRate))
		}
	}
	if c.Shards < 1 {
		errs = append(errs, fieldErr("Shards", "%d must not be negative", c.Shards))
	} else if c.Shard < 0 || c.Shard >= c.Shards {
		errs = append(errs, fieldErr("Shard", "%d must be in [0, Shards=%d)", c.Shard, c.Shards))
	}
	if c.Shards > 1 {
		// ActiveUsers is the total over all shards; each runs its share.
		if per, room := (c.ActiveUsers+c.Shards-1)/c.Shards, c.Population/c.Shards; per > room {
			errs = append(errs, fieldErr("ActiveUsers", "%d over %d shards is %d a shard, more than the %d users of a shard", c.ActiveUsers, c.Shards, per, room))
		}
	}
	return errors.Join(errs...)
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
