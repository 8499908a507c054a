package workload

import (
	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/units"
)

// fromConfig is a test's Config literal, whose zero fields mean their
// defaults (the short way the model's tests spell a workload), as the
// settings and run it stands for, resolved by Settings.Defaults as a
// scenario's are at load. Only tests go this way: the program's one
// conversion is Settings.Config. An origin's fields count as written (0s is
// no spread, as OriginConfig says), a zero MeanSize or Weight of an
// override is the catalogue's, and a negative Weight is 0 (off).
func fromConfig(c Config) (Settings, Run) {
	s := Settings{
		Population:               c.Population,
		ActiveUsers:              c.ActiveUsers,
		CommandsPerUserPerMinute: c.CommandsPerUserPerMinute,
		SessionMean:              units.Duration(c.SessionMean),
		Arrival:                  c.Arrival,
		Zipf:                     c.Zipf,
		Guilds:                   c.Guilds,
		Instances:                c.Instances,
		Catalogue:                c.Catalogue,
		RateLimit:                RateLimitSettings{Hits: int(c.RateLimitHits), Window: units.Duration(c.RateLimitWindow)},
	}
	if ft := c.Features; ft != nil {
		f := *ft
		s.Features = FeatureSettings{RateLimit: &f.RateLimit, SessionGetAndExtend: &f.SessionGetAndExtend, CAS: &f.CAS, MGet: &f.MGet, Invalidation: &f.Invalidation}
	}
	for _, o := range c.Families {
		f := FamilySettings{Name: o.Name, MeanSize: units.Size(o.MeanSize), SizeDist: o.SizeDist, MinSize: units.Size(o.MinSize), MaxSize: units.Size(o.MaxSize)}
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
	for _, d := range c.Defined {
		w := d.Weight
		f := FamilySettings{Name: d.Name, Key: d.KeyPattern, Keys: d.Keys, Tier: d.Tier, TTL: units.Duration(d.TTL), Type: d.Type,
			Fields: d.Fields, Members: d.Members, SizeDist: d.SizeDist, MinSize: units.Size(d.MinSize), MaxSize: units.Size(d.MaxSize),
			Weight: &w, Writes: d.Writes, Deletes: d.Deletes, Source: d.Source, Command: d.Command, Write: d.Write}
		if pr := d.Producer; pr != nil {
			f.Producer = &ProducerSettings{Every: units.Duration(pr.Every), Jitter: units.Duration(pr.Jitter), Rate: pr.Rate}
		}
		if d.SizeDist != SizeUniform {
			f.MeanSize = units.Size(d.MeanSize)
		}
		if p := d.Popularity; p.Kind != "" {
			f.Popularity = &PopularitySettings{Kind: p.Kind, Exponent: p.Exponent, HotFraction: p.HotFraction, HotShare: p.HotShare}
		}
		s.Families = append(s.Families, f)
	}
	if c.Origins != nil {
		s.Origins = map[string]OriginSettings{}
	}
	for name, o := range c.Origins {
		s.Origins[name] = OriginSettings{Latency: units.Duration(o.Latency), P99: units.Duration(o.P99), ErrorRate: o.ErrorRate,
			Wrote: field.Keys{"latency": true, "p99": true, "error_rate": true}}
	}
	s.Defaults()
	return s, Run{Seed: c.Seed, Shard: c.Shard, Shards: c.Shards}
}

// newModel is New for a test's Config literal (see fromConfig).
func newModel(c Config) (*Model, error) { return New(fromConfig(c)) }

// validateConfig is Validate for a test's Config literal (see fromConfig).
func validateConfig(c Config) error { return Validate(fromConfig(c)) }
