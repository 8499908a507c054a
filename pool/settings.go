package pool

import (
	"cmp"
	"slices"
	"sort"
	"strings"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/units"
)

// Settings is the pool: section of a scenario: a profile (the seed's
// development or production RedisOptimizationConfig) and the values that
// override it. pool owns these settings: Defaults fills what the file left
// out, Validate checks what it wrote, and Config builds the manager's
// configuration from them.
//
// A nil override means "as the profile says"; a written value, 0 included,
// replaces the profile's: min_idle: 0 keeps no idle connections,
// max_retries: 0 retries nothing, health_check_interval: 0s turns the
// background health check off.
type Settings struct {
	Profile             string          `yaml:"profile,omitempty" json:"profile"`
	MinIdle             *int            `yaml:"min_idle,omitempty" json:"min_idle,omitempty"`
	MaxConns            *int            `yaml:"max_conns,omitempty" json:"max_conns,omitempty"`
	PoolTimeout         *units.Duration `yaml:"pool_timeout,omitempty" json:"pool_timeout,omitempty"`
	ConnectTimeout      *units.Duration `yaml:"connect_timeout,omitempty" json:"connect_timeout,omitempty"`
	CommandTimeout      *units.Duration `yaml:"command_timeout,omitempty" json:"command_timeout,omitempty"`
	MaxRetries          *int            `yaml:"max_retries,omitempty" json:"max_retries,omitempty"`
	HealthCheckInterval *units.Duration `yaml:"health_check_interval,omitempty" json:"health_check_interval,omitempty"`
	AutoPipeline        *bool           `yaml:"auto_pipeline,omitempty" json:"auto_pipeline,omitempty"`
	// Protocol is the RESP version: 2 (the seed's ioredis) or 3 (go-redis's
	// default, with its per-reply push-notification check).
	Protocol  *int                      `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	KeyPrefix *string                   `yaml:"key_prefix,omitempty" json:"key_prefix,omitempty"`
	TTL       map[string]units.Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`
	// WarmOnStart pre-warms the cache when the bot starts and again after
	// every restart or failover of Redis (the seed's "pre-warm cache on
	// startup"); WarmKeys is how many of its most recently read keys each
	// bot instance remembers and re-warms, beside the meta keys (0: the
	// meta keys only).
	WarmOnStart *bool `yaml:"warm_on_start,omitempty" json:"warm_on_start,omitempty"`
	WarmKeys    *int  `yaml:"warm_keys,omitempty" json:"warm_keys,omitempty"`
	// NearCache names the key families each bot instance keeps in process
	// memory (pub/sub invalidation clears them); [] keeps none.
	// NearCacheTTL is how long a local copy is served.
	NearCache    *[]string       `yaml:"near_cache,omitempty" json:"near_cache,omitempty"`
	NearCacheTTL *units.Duration `yaml:"near_cache_ttl,omitempty" json:"near_cache_ttl,omitempty"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// DefaultProfile is the profile a scenario that names none runs with: the
// seed's production values.
const DefaultProfile = ProfileProduction

// Profiles lists the profile names, in the order the documentation names them.
var Profiles = []string{ProfileDevelopment, ProfileProduction}

// Defaults fills what the file left out. Only the profile has a default;
// every other setting left out is the profile's value, which Config applies.
func (s *Settings) Defaults() {
	field.Default(&s.Profile, s.Wrote, "profile", DefaultProfile)
}

// maxRetriesLimit bounds max_retries: more than 100 retries is a typo, not a
// retry policy.
const maxRetriesLimit = 100

// maxWarmKeys bounds warm_keys: each instance keeps that many recently read
// keys in memory and loads each from the origin when it warms; a million is
// a bulk load, not a warm-up.
const maxWarmKeys = 1_000_000

// Validate checks the section as resolved by Defaults and returns every
// problem as a field.List, paths as the YAML spells them ("max_conns",
// "ttl.warm").
func (s Settings) Validate() error {
	var l field.List
	l.OneOf("profile", s.Profile, Profiles)
	if s.MinIdle != nil && *s.MinIdle < 0 {
		l.Add("min_idle", "must not be negative")
	}
	if s.MaxConns != nil && *s.MaxConns < 1 {
		l.Add("max_conns", "must be at least 1")
	}
	if s.MinIdle != nil && s.MaxConns != nil && *s.MinIdle > *s.MaxConns {
		l.Add("min_idle", "%d is larger than max_conns (%d)", *s.MinIdle, *s.MaxConns)
	}
	// A max_conns below the profile's idle connections, with min_idle left
	// to the profile, would pass here and be refused by the manager's
	// config at run time, without a line to point at.
	if s.MinIdle == nil && s.MaxConns != nil && *s.MaxConns >= 1 {
		if cfg, err := ProfileConfig(cmp.Or(s.Profile, DefaultProfile)); err == nil && cfg.MinConnections > *s.MaxConns {
			l.Add("max_conns", "%d is below the %s profile's %d idle connections: set min_idle too (at most %d)", *s.MaxConns, cmp.Or(s.Profile, DefaultProfile), cfg.MinConnections, *s.MaxConns)
		}
	}
	if s.WarmKeys != nil && (*s.WarmKeys < 0 || *s.WarmKeys > maxWarmKeys) {
		l.Add("warm_keys", "%d out of range, expected 0 (meta keys only) to %d", *s.WarmKeys, maxWarmKeys)
	}
	if d := s.NearCacheTTL; d != nil && *d <= 0 {
		l.Add("near_cache_ttl", "must be positive (near_cache: [] turns the near cache off)")
	}
	if s.Protocol != nil && *s.Protocol != 2 && *s.Protocol != 3 {
		l.Add("protocol", "%d is not a RESP version, expected 2 (as the seed's ioredis) or 3", *s.Protocol)
	}
	if s.MaxRetries != nil && (*s.MaxRetries < -1 || *s.MaxRetries > maxRetriesLimit) {
		l.Add("max_retries", "%d out of range, expected -1 (none) to %d", *s.MaxRetries, maxRetriesLimit)
	}
	for _, d := range []struct {
		key string
		v   *units.Duration
	}{{"pool_timeout", s.PoolTimeout}, {"connect_timeout", s.ConnectTimeout}, {"command_timeout", s.CommandTimeout}} {
		if d.v != nil && *d.v <= 0 {
			l.Add(d.key, "must be positive")
		}
	}
	if d := s.HealthCheckInterval; d != nil && *d < 0 {
		l.Add("health_check_interval", "must not be negative (0s turns the health check off)")
	}
	var names []string
	for _, t := range ExpiringTiers() {
		names = append(names, string(t))
	}
	keys := make([]string, 0, len(s.TTL))
	for k := range s.TTL {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := "ttl." + k
		if k == string(TierPersistent) {
			l.Add(path, "the persistent tier never expires; it has no TTL to set")
			continue
		}
		l.OneOf(path, k, names)
		if s.TTL[k] <= 0 {
			l.Add(path, "must be positive")
		}
	}
	return l.Err()
}

// ExpiringTiers are the tiers whose keys get a TTL: every tier but
// persistent.
func ExpiringTiers() []Tier {
	return slices.DeleteFunc(slices.Clone(Tiers), func(t Tier) bool { return t == TierPersistent })
}

// Config is the manager's configuration for these settings: the profile's
// values with the written overrides applied. The caller adds what a scenario
// does not say here (addresses, the server's maxmemory, environment
// variables) and New validates the whole.
func (s Settings) Config() (Config, error) {
	profile := s.Profile
	if profile == "" {
		profile = DefaultProfile
	}
	cfg, err := ProfileConfig(profile)
	if err != nil {
		return cfg, err
	}
	if s.MinIdle != nil {
		cfg.MinConnections = *s.MinIdle
	}
	if s.MaxConns != nil {
		cfg.MaxConnections = *s.MaxConns
	}
	if s.PoolTimeout != nil {
		cfg.PoolTimeout = s.PoolTimeout.D()
	}
	if s.ConnectTimeout != nil {
		cfg.ConnectionTimeout = s.ConnectTimeout.D()
	}
	if s.CommandTimeout != nil {
		cfg.CommandTimeout = s.CommandTimeout.D()
	}
	if s.MaxRetries != nil {
		cfg.MaxRetries = *s.MaxRetries
		if cfg.MaxRetries == 0 {
			cfg.MaxRetries = -1 // Config (as go-redis): 0 is "the default of 3", -1 none
		}
	}
	if s.HealthCheckInterval != nil {
		cfg.HealthCheckInterval = s.HealthCheckInterval.D()
	}
	if s.AutoPipeline != nil {
		cfg.AutoPipeline = *s.AutoPipeline
	}
	if s.Protocol != nil {
		cfg.Protocol = *s.Protocol
	}
	if s.KeyPrefix != nil {
		cfg.KeyPrefix = *s.KeyPrefix
	}
	if s.WarmOnStart != nil {
		cfg.WarmOnStart = *s.WarmOnStart
	}
	if s.WarmKeys != nil {
		cfg.WarmKeys = *s.WarmKeys
	}
	if s.NearCache != nil {
		cfg.NearCache = slices.Clone(*s.NearCache)
	}
	if s.NearCacheTTL != nil {
		cfg.NearCacheTTL = s.NearCacheTTL.D()
	}
	for tier, d := range s.TTL {
		cfg.TTL[Tier(tier)] = d.D() // an unknown tier fails Config.Validate
	}
	return cfg, nil
}

// profileList is the profile names as a sentence part ("development, production").
func profileList() string { return strings.Join(Profiles, ", ") }
