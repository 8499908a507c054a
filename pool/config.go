package pool

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/keypattern"
	"github.com/cacheproof/cacheproof/internal/redistext"
)

// Config is the seed's RedisOptimizationConfig done right, plus what go-redis
// needs. Build one with ProfileConfig and override fields from the
// scenario's pool: section (Settings.Config, the seed's REDIS_* variables
// already applied to it as scenario values); New validates it.
//
// The deployment shape follows from the fields: EnableSentinel selects a
// sentinel-backed failover client, Cluster a cluster client, otherwise a
// single-primary client on Addrs[0] that follows a promoted replica among
// Addrs after a demotion.
type Config struct {
	// Profile names the seed profile the values started from
	// ("development" or "production"); "" means hand-built.
	Profile string

	// Addrs: standalone one address; replica shape the primary first, then
	// replicas (the manager fails over to whichever of them becomes primary);
	// cluster the seed nodes; sentinel the data nodes (informational only).
	Addrs []string
	// SentinelAddrs and MasterName select the sentinel shape (with EnableSentinel).
	SentinelAddrs []string
	MasterName    string
	// Cluster selects the cluster client (Addrs are seed nodes).
	Cluster bool

	Username, Password string
	TLS                *tls.Config
	// DialAddrs, when set, maps an address the client is told to reach (a
	// seed, a node a cluster or a sentinel announces, a MOVED target) to
	// the address it dials instead: an in-process proxy that stands for
	// the node (the harness's protocol proxy). Not with TLS, which the
	// proxy could not read.
	DialAddrs map[string]string
	// WrapConn, when set, wraps every connection the client dials, after
	// the manager's own wrapping: how raw mode times each request on the
	// wire as redis-benchmark does (pool/replytimer.go). nil leaves them as
	// they are.
	WrapConn func(net.Conn) net.Conn

	MinConnections    int           // go-redis MinIdleConns
	MaxConnections    int           // go-redis PoolSize and MaxActiveConns
	ConnectionTimeout time.Duration // go-redis DialTimeout
	CommandTimeout    time.Duration // go-redis ReadTimeout and WriteTimeout
	// PoolTimeout is how long a command waits for a free connection before it
	// fails with ErrPoolTimeout (kind "pool_timeout"); 0 keeps go-redis's
	// default of CommandTimeout+1s.
	PoolTimeout     time.Duration
	MaxRetries      int // -1 disables retries, 0 keeps go-redis's default of 3
	MinRetryBackoff time.Duration
	MaxRetryBackoff time.Duration

	// MaxMemory in bytes and MaxMemoryPolicy are applied to the server by
	// ApplyServerConfig, never by New (an external Redis is not ours to
	// reconfigure unless the caller allows it). 0 and "" leave the server's.
	MaxMemory       int64
	MaxMemoryPolicy string

	// TTL per tier. Every tier must be present; persistent must be 0 (no
	// expiry), the others positive.
	TTL map[Tier]time.Duration
	// KeyTTL overrides the tier TTL for the keys a key pattern matches
	// whole ("steam:avatar:{steamId}" -> 24h, "driver:{id}:loc" -> 30s;
	// internal/keypattern, a placeholder standing for digits): the seed's
	// catalogue gives some families of one tier their own TTL. 0 means no
	// expiry. No key may match two patterns (Validate).
	KeyTTL map[string]time.Duration

	// HealthCheckInterval is how often the background INFO health check runs;
	// 0 disables the loop (Health can still be called directly).
	HealthCheckInterval time.Duration
	EnableSentinel      bool

	// AutoPipeline routes data commands through go-redis's blocking
	// autopipeliner (batching concurrent callers into pipelines), so its
	// effect can be measured against plain pooled commands.
	AutoPipeline bool

	// Protocol is the RESP version the manager's connections speak: 2 (the
	// default, what the seed's ioredis speaks and what redis-benchmark and
	// memtier_benchmark send) or 3 (go-redis's own default). Under 3 go-redis
	// checks every reply for push notifications before reading it, a cost
	// per command the seed's manager never pays (docs/performance.md).
	Protocol int

	// KeyPrefix is prepended to every key the manager touches ("" = none).
	KeyPrefix string

	// InvalidationChannel is the pub/sub channel Invalidate publishes on and
	// every manager subscribes to; "" disables the broadcast.
	InvalidationChannel string

	// WarmOnStart asks the bot to pre-warm the cache at start and after
	// every restart or failover of Redis (the seed: "pre-warm cache on
	// startup"); WarmKeys is how many recently read keys each bot instance
	// re-warms beside the meta keys. The manager only carries them: the
	// caller knows the origin and the hot set, and warms through Warm or
	// SetBatch.
	WarmOnStart bool
	WarmKeys    int
	// NearCache names the key families each bot instance keeps in its own
	// memory, NearCacheTTL how long it serves a copy: the seed's bot reads
	// the user's and guild's settings on every command and profiles on
	// most. Like warming, carried for the caller, which keeps the copies.
	NearCache    []string
	NearCacheTTL time.Duration

	// ProtectServer makes ApplyServerConfig refuse to CONFIG SET anything:
	// set it for external deployments the user did not allow us to change
	// (no --allow-destructive).
	ProtectServer bool

	// ClientName is sent with CLIENT SETNAME so the manager's connections can
	// be told apart in CLIENT LIST; "" uses "cacheproof".
	ClientName string
}

// Profile names.
const (
	ProfileDevelopment = "development"
	ProfileProduction  = "production"
)

// DefaultNearCache are the families a bot would keep in process if it kept
// any: the user's and the guild's settings (read on every command) and the
// player profiles. The seed's manager has no in-process cache, so neither
// profile turns it on: its hit-rate target and its memory are Redis's, and
// a near cache in front would lower the hit rate Redis sees and hide load
// from it. A scenario turns it on (pool.near_cache) to measure what pub/sub
// invalidation across instances is for: stale local copies.
var DefaultNearCache = []string{"user_connected", "guild_locale", "stratz_profile", "opendota_profile"}

// DefaultWarmKeys is how many recently read keys each bot instance re-warms
// in both profiles.
const DefaultWarmKeys = 2000

// DefaultInvalidationChannel is the channel the profiles use.
const DefaultInvalidationChannel = "cacheproof:invalidate"

// ProfileConfig returns the seed's development or production values. The
// seed leaves pool timeout, retries and addresses open; those are ours:
// a 1 s pool timeout (exhaustion must show as errors, not as 6 s stalls),
// and the seed's ioredis retry settings (3 retries, 100 ms to 3 s backoff).
// Addrs defaults to 127.0.0.1:6379; production keeps the seed's
// enableSentinel=true, so a caller targeting another shape must clear it.
func ProfileConfig(name string) (Config, error) {
	c := Config{
		Profile:           name,
		Addrs:             []string{"127.0.0.1:6379"},
		ConnectionTimeout: 5 * time.Second,
		CommandTimeout:    5 * time.Second,
		PoolTimeout:       time.Second,
		MaxRetries:        3,
		MinRetryBackoff:   100 * time.Millisecond,
		MaxRetryBackoff:   3 * time.Second,
		MaxMemoryPolicy:   "allkeys-lru",
		Protocol:          2,
		TTL: map[Tier]time.Duration{
			TierAPI:        300 * time.Second,
			TierSession:    1800 * time.Second,
			TierMeta:       3600 * time.Second,
			TierPersistent: 0,
		},
		InvalidationChannel: DefaultInvalidationChannel,
		// Both profiles warm, as the seed prescribes; the hot set is a few
		// thousand keys, what a shard process could remember serving.
		WarmOnStart:  true,
		WarmKeys:     DefaultWarmKeys,
		NearCacheTTL: 60 * time.Second,
	}
	switch name {
	case ProfileDevelopment:
		c.MinConnections, c.MaxConnections = 5, 20
		c.MaxMemory = 128 << 20
		c.HealthCheckInterval = 60 * time.Second
		c.EnableSentinel = false
	case ProfileProduction:
		c.MinConnections, c.MaxConnections = 10, 50
		c.MaxMemory = 256 << 20
		c.HealthCheckInterval = 30 * time.Second
		c.EnableSentinel = true
	default:
		return Config{}, fmt.Errorf("unknown pool profile %q: valid profiles are %s", name, profileList())
	}
	return c, nil
}

// clone deep-copies the slices and the TTL map so a derived Config never
// aliases its parent.
func (c Config) clone() Config {
	c.Addrs = slices.Clone(c.Addrs)
	c.SentinelAddrs = slices.Clone(c.SentinelAddrs)
	c.TTL = maps.Clone(c.TTL)
	c.DialAddrs = maps.Clone(c.DialAddrs)
	c.KeyTTL = maps.Clone(c.KeyTTL)
	c.NearCache = slices.Clone(c.NearCache)
	return c
}

// Redacted returns a copy safe to put in a report: the password becomes "***".
func (c Config) Redacted() Config {
	c = c.clone()
	if c.Password != "" {
		c.Password = "***"
	}
	return c
}

// Shape names the deployment shape the config selects: "sentinel",
// "cluster", "replica" (several Addrs, one primary) or "standalone".
func (c Config) Shape() string {
	switch {
	case c.EnableSentinel:
		return "sentinel"
	case c.Cluster:
		return "cluster"
	case len(c.Addrs) > 1:
		return "replica"
	default:
		return "standalone"
	}
}

// ttl returns the configured TTL of a known tier.
func (c Config) ttl(t Tier) time.Duration { return c.TTL[t] }

// Validate checks every field and names the first bad one.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("pool config %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Profile != "" && !slices.Contains(Profiles, c.Profile) {
		bad("Profile", "unknown profile %q (valid: %s)", c.Profile, profileList())
	}
	if c.WarmKeys < 0 {
		bad("WarmKeys", "must not be negative, got %d", c.WarmKeys)
	}
	if c.EnableSentinel {
		if len(c.SentinelAddrs) == 0 {
			bad("SentinelAddrs", "required when EnableSentinel is set")
		}
		if c.MasterName == "" {
			bad("MasterName", "required when EnableSentinel is set")
		}
		if c.Cluster {
			bad("Cluster", "cannot be combined with EnableSentinel")
		}
		for i, a := range c.SentinelAddrs {
			if err := checkAddr(a); err != nil {
				bad(fmt.Sprintf("SentinelAddrs[%d]", i), "%v", err)
			}
		}
	} else if len(c.Addrs) == 0 {
		bad("Addrs", "at least one address is required")
	}
	for i, a := range c.Addrs {
		if err := checkAddr(a); err != nil {
			bad(fmt.Sprintf("Addrs[%d]", i), "%v", err)
		}
	}
	if len(c.DialAddrs) > 0 && c.TLS != nil {
		bad("DialAddrs", "cannot be combined with TLS: a proxy in between would have to read the encrypted stream")
	}
	if c.MinConnections < 0 {
		bad("MinConnections", "must be >= 0, got %d", c.MinConnections)
	}
	if c.MaxConnections < 1 {
		bad("MaxConnections", "must be >= 1, got %d", c.MaxConnections)
	}
	if c.MinConnections > c.MaxConnections && c.MaxConnections >= 1 {
		bad("MinConnections", "%d exceeds MaxConnections %d", c.MinConnections, c.MaxConnections)
	}
	if c.ConnectionTimeout <= 0 {
		bad("ConnectionTimeout", "must be > 0, got %v", c.ConnectionTimeout)
	}
	if c.CommandTimeout <= 0 {
		bad("CommandTimeout", "must be > 0, got %v", c.CommandTimeout)
	}
	if c.PoolTimeout < 0 {
		bad("PoolTimeout", "must be >= 0, got %v", c.PoolTimeout)
	}
	if c.Protocol != 0 && c.Protocol != 2 && c.Protocol != 3 {
		bad("Protocol", "must be 2 or 3 (0: 2), got %d", c.Protocol)
	}
	if c.MaxRetries < -1 {
		bad("MaxRetries", "must be >= -1 (-1 disables retries), got %d", c.MaxRetries)
	}
	if c.MinRetryBackoff < 0 {
		bad("MinRetryBackoff", "must be >= 0, got %v", c.MinRetryBackoff)
	}
	if c.MaxRetryBackoff < 0 {
		bad("MaxRetryBackoff", "must be >= 0, got %v", c.MaxRetryBackoff)
	}
	if c.MaxRetryBackoff > 0 && c.MinRetryBackoff > c.MaxRetryBackoff {
		bad("MinRetryBackoff", "%v exceeds MaxRetryBackoff %v", c.MinRetryBackoff, c.MaxRetryBackoff)
	}
	if c.MaxMemory < 0 {
		bad("MaxMemory", "must be >= 0 bytes, got %d", c.MaxMemory)
	}
	if c.MaxMemoryPolicy != "" && !redistext.IsPolicy(c.MaxMemoryPolicy) {
		bad("MaxMemoryPolicy", "unknown policy %q (valid: %s)", c.MaxMemoryPolicy, strings.Join(redistext.Policies, ", "))
	}
	for _, t := range Tiers {
		d, ok := c.TTL[t]
		switch {
		case !ok:
			bad("TTL."+string(t), "missing")
		case t == TierPersistent && d != 0:
			bad("TTL.persistent", "must be 0 (no expiry), got %v", d)
		case t != TierPersistent && d < time.Millisecond:
			bad("TTL."+string(t), "must be >= 1ms, got %v", d)
		}
	}
	for t := range c.TTL {
		if t.index() < 0 {
			bad("TTL", "unknown tier %q (valid: %s)", t, tierList())
		}
	}
	var pats keypattern.Set
	for _, p := range slices.Sorted(maps.Keys(c.KeyTTL)) {
		if d := c.KeyTTL[p]; d < 0 {
			bad("KeyTTL", "pattern %q: needs a TTL >= 0 (0 = no expiry), got %v", p, d)
		}
		pat, err := keypattern.Parse(p)
		if err == nil {
			_, err = pats.Add(pat)
		}
		if err != nil {
			bad("KeyTTL", "%v", err)
		}
	}
	if c.HealthCheckInterval < 0 {
		bad("HealthCheckInterval", "must be >= 0 (0 disables), got %v", c.HealthCheckInterval)
	}
	return errors.Join(errs...)
}

// checkAddr accepts host:port with a numeric port in 1..65535.
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", a, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", a)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q has port %q, want 1..65535", a, port)
	}
	return nil
}

// configJSON is the report form of Config: snake_case, durations in
// seconds, the password always redacted, TLS reduced to on/off.
type configJSON struct {
	Profile             string             `json:"profile,omitempty"`
	Shape               string             `json:"shape"`
	Addrs               []string           `json:"addrs,omitempty"`
	SentinelAddrs       []string           `json:"sentinel_addrs,omitempty"`
	MasterName          string             `json:"master_name,omitempty"`
	Username            string             `json:"username,omitempty"`
	Password            string             `json:"password,omitempty"`
	TLS                 bool               `json:"tls"`
	MinConnections      int                `json:"min_connections"`
	MaxConnections      int                `json:"max_connections"`
	ConnectionTimeoutS  float64            `json:"connection_timeout_s"`
	CommandTimeoutS     float64            `json:"command_timeout_s"`
	PoolTimeoutS        float64            `json:"pool_timeout_s"`
	MaxRetries          int                `json:"max_retries"`
	MinRetryBackoffS    float64            `json:"min_retry_backoff_s"`
	MaxRetryBackoffS    float64            `json:"max_retry_backoff_s"`
	MaxMemory           int64              `json:"max_memory"`
	MaxMemoryPolicy     string             `json:"max_memory_policy,omitempty"`
	TTLS                map[string]float64 `json:"ttl_s"`
	KeyTTLS             map[string]float64 `json:"key_ttl_s,omitempty"`
	HealthCheckInterval float64            `json:"health_check_interval_s"`
	EnableSentinel      bool               `json:"enable_sentinel"`
	AutoPipeline        bool               `json:"auto_pipeline"`
	Protocol            int                `json:"protocol"`
	KeyPrefix           string             `json:"key_prefix,omitempty"`
	InvalidationChannel string             `json:"invalidation_channel,omitempty"`
	ProtectServer       bool               `json:"protect_server"`
	WarmOnStart         bool               `json:"warm_on_start"`
	WarmKeys            int                `json:"warm_keys"`
	NearCache           []string           `json:"near_cache"`
	NearCacheTTLS       float64            `json:"near_cache_ttl_s"`
}

// protocol is the RESP version the connections speak (0 is 2).
func (c Config) protocol() int {
	if c.Protocol == 0 {
		return 2
	}
	return c.Protocol
}

// MarshalJSON writes the report form (see configJSON). It always redacts
// the password, so a Config can never leak one into a report by accident.
func (c Config) MarshalJSON() ([]byte, error) {
	r := c.Redacted()
	ttl := make(map[string]float64, len(r.TTL))
	for t, d := range r.TTL {
		ttl[string(t)] = d.Seconds()
	}
	var keyTTL map[string]float64
	for p, d := range r.KeyTTL {
		if keyTTL == nil {
			keyTTL = map[string]float64{}
		}
		keyTTL[p] = d.Seconds()
	}
	return json.Marshal(configJSON{
		Profile: r.Profile, Shape: r.Shape(), Addrs: r.Addrs, SentinelAddrs: r.SentinelAddrs,
		MasterName: r.MasterName, Username: r.Username, Password: r.Password, TLS: r.TLS != nil,
		MinConnections: r.MinConnections, MaxConnections: r.MaxConnections,
		ConnectionTimeoutS: r.ConnectionTimeout.Seconds(), CommandTimeoutS: r.CommandTimeout.Seconds(),
		PoolTimeoutS: r.PoolTimeout.Seconds(), MaxRetries: r.MaxRetries,
		MinRetryBackoffS: r.MinRetryBackoff.Seconds(), MaxRetryBackoffS: r.MaxRetryBackoff.Seconds(),
		MaxMemory: r.MaxMemory, MaxMemoryPolicy: r.MaxMemoryPolicy, TTLS: ttl, KeyTTLS: keyTTL,
		HealthCheckInterval: r.HealthCheckInterval.Seconds(), EnableSentinel: r.EnableSentinel,
		AutoPipeline: r.AutoPipeline, Protocol: r.protocol(), KeyPrefix: r.KeyPrefix, InvalidationChannel: r.InvalidationChannel,
		ProtectServer: r.ProtectServer, WarmOnStart: r.WarmOnStart, WarmKeys: r.WarmKeys,
		NearCache: r.NearCache, NearCacheTTLS: r.NearCacheTTL.Seconds(),
	})
}

// ConnReadBufferBytes and ConnWriteBufferBytes are the read and write
// buffers of every connection the manager opens (go-redis's ReadBufferSize
// and WriteBufferSize), reported in the client section
// (client.conn_read_buffer_bytes, conn_write_buffer_bytes). go-redis's 32
// KiB each were 11.4 MB of the tool's 64 MB live heap at 10,000 users
// (the baseline's four instances hold up to 50 connections each); half
// that buffers every value the seed's families write (100 B to a few kB)
// and its largest MGET replies, and a larger one still passes through.
const (
	ConnReadBufferBytes  = 16 << 10
	ConnWriteBufferBytes = 16 << 10
)
