// Package scenarios owns the Scenario type: what SREs write in YAML, how it is
// loaded strictly (unknown fields, wrong types and duplicate keys are errors
// with file:line:column), how it is validated, and the built-in scenario files.
// It knows nothing about how a run executes; harness turns a Scenario into
// topology, pool, workload and chaos settings.
package scenarios

import (
	"time"
)

// Scenario is one load-and-chaos experiment.
//
// A key the file leaves out gets its default from Defaults, the one place
// defaults live, so the resolved scenario in a report shows every value the
// run used. A key the file writes keeps the value written — 0, 0s and ""
// included — and validation judges it as written: "active_users: 0" is an
// error at its line, never a quiet 10,000. To tell the two apart without
// changing the plain field types the rest of the tool reads, each struct
// below that has defaults or kind-specific parameters carries wrote, the set
// of keys its YAML mapping gave a value (see keySet).
type Scenario struct {
	Name        string     `yaml:"name" json:"name"`
	Description string     `yaml:"description,omitempty" json:"description,omitempty"`
	Seed        int64      `yaml:"seed,omitempty" json:"seed"`
	Target      Deployment `yaml:"target,omitempty" json:"target"`
	Pool        Pool       `yaml:"pool,omitempty" json:"pool"`
	Workload    Workload   `yaml:"workload,omitempty" json:"workload"`
	Driver      Driver     `yaml:"driver,omitempty" json:"driver"`
	Phases      []Phase    `yaml:"phases,omitempty" json:"phases"`
	Faults      []Fault    `yaml:"faults,omitempty" json:"faults"`
	Targets     Targets    `yaml:"targets,omitempty" json:"targets"`

	// File is where the scenario was loaded from ("builtin:NAME" for an
	// embedded one); it is not part of the YAML.
	File string `yaml:"-" json:"file,omitempty"`

	wrote keySet
}

// keySet is the set of keys one YAML mapping of the file gave a value; a
// null value ("key: ~") counts as not written, as it does for the pointer
// fields. The loader fills it from the file; a scenario built in Go has none,
// and there only a zero value counts as unset.
type keySet map[string]bool

// Deployment is the scenario's target: section, which Redis deployment the
// run uses and how it is reached.
type Deployment struct {
	Backend    string    `yaml:"backend,omitempty" json:"backend"`   // process | container | external
	Topology   string    `yaml:"topology,omitempty" json:"topology"` // standalone | replica | sentinel | cluster
	Image      string    `yaml:"image,omitempty" json:"image,omitempty"`
	Redis      RedisConf `yaml:"redis,omitempty" json:"redis"`
	Replicas   int       `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	MasterName string    `yaml:"master_name,omitempty" json:"master_name,omitempty"`

	// External backend only.
	Addrs         []string `yaml:"addrs,omitempty" json:"addrs,omitempty"`
	SentinelAddrs []string `yaml:"sentinel_addrs,omitempty" json:"sentinel_addrs,omitempty"`
	Username      string   `yaml:"username,omitempty" json:"username,omitempty"`
	Password      string   `yaml:"password,omitempty" json:"password,omitempty"`
	TLS           *TLS     `yaml:"tls,omitempty" json:"tls,omitempty"`

	wrote keySet
}

// RedisConf is the server configuration the tool applies to Redis nodes it
// starts (and, with --allow-destructive, to external ones).
type RedisConf struct {
	MaxMemory       Size              `yaml:"maxmemory,omitempty" json:"maxmemory"`
	MaxMemoryPolicy string            `yaml:"maxmemory_policy,omitempty" json:"maxmemory_policy"`
	Persistence     bool              `yaml:"persistence,omitempty" json:"persistence"`
	Config          map[string]string `yaml:"config,omitempty" json:"config,omitempty"`

	wrote keySet
}

// TLS configures a TLS connection to an external Redis.
type TLS struct {
	CAFile             string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	ServerName         string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
}

// Pool overrides the cache manager's profile (the seed's development and
// production RedisOptimizationConfig). Nil means "as the profile says"; a
// written value, 0 included, replaces the profile's: min_idle: 0 keeps no
// idle connections, max_retries: 0 retries nothing, health_check_interval:
// 0s turns the background health check off.
type Pool struct {
	Profile             string              `yaml:"profile,omitempty" json:"profile"`
	MinIdle             *int                `yaml:"min_idle,omitempty" json:"min_idle,omitempty"`
	MaxConns            *int                `yaml:"max_conns,omitempty" json:"max_conns,omitempty"`
	PoolTimeout         *Duration           `yaml:"pool_timeout,omitempty" json:"pool_timeout,omitempty"`
	ConnectTimeout      *Duration           `yaml:"connect_timeout,omitempty" json:"connect_timeout,omitempty"`
	CommandTimeout      *Duration           `yaml:"command_timeout,omitempty" json:"command_timeout,omitempty"`
	MaxRetries          *int                `yaml:"max_retries,omitempty" json:"max_retries,omitempty"`
	HealthCheckInterval *Duration           `yaml:"health_check_interval,omitempty" json:"health_check_interval,omitempty"`
	AutoPipeline        *bool               `yaml:"auto_pipeline,omitempty" json:"auto_pipeline,omitempty"`
	KeyPrefix           *string             `yaml:"key_prefix,omitempty" json:"key_prefix,omitempty"`
	TTL                 map[string]Duration `yaml:"ttl,omitempty" json:"ttl,omitempty"`

	wrote keySet
}

// Workload describes the simulated users and what they do.
type Workload struct {
	Population               int      `yaml:"population,omitempty" json:"population"`
	ActiveUsers              int      `yaml:"active_users,omitempty" json:"active_users"`
	CommandsPerUserPerMinute float64  `yaml:"commands_per_user_per_minute,omitempty" json:"commands_per_user_per_minute"`
	SessionMean              Duration `yaml:"session_mean,omitempty" json:"session_mean"`
	Arrival                  string   `yaml:"arrival,omitempty" json:"arrival"`
	Zipf                     float64  `yaml:"zipf,omitempty" json:"zipf"`
	Guilds                   int      `yaml:"guilds,omitempty" json:"guilds"`
	// Prefill replays this much of the workload's history in simulation
	// before the run and writes the cache state it leaves (each key with its
	// remaining TTL), so a run starts from steady state instead of cold.
	// 0s (the default) starts cold.
	Prefill  Duration                `yaml:"prefill,omitempty" json:"prefill"`
	Families []FamilyOverride        `yaml:"families,omitempty" json:"families,omitempty"`
	Origins  map[string]OriginConfig `yaml:"origins,omitempty" json:"origins,omitempty"`

	wrote keySet
}

// FamilyOverride changes one key family of the seed's catalogue. Unwritten
// mean_size and weight are the catalogue's; weight: 0 turns the family's
// command off.
type FamilyOverride struct {
	Name       string      `yaml:"name" json:"name"`
	MeanSize   Size        `yaml:"mean_size,omitempty" json:"mean_size"`
	Popularity *Popularity `yaml:"popularity,omitempty" json:"popularity,omitempty"`
	Weight     *float64    `yaml:"weight,omitempty" json:"weight,omitempty"`

	wrote keySet
}

// Popularity is how keys of a family are chosen. A zipf popularity without
// an exponent takes the workload's zipf.
type Popularity struct {
	Kind        string  `yaml:"kind" json:"kind"` // zipf | uniform | hotspot
	Exponent    float64 `yaml:"exponent,omitempty" json:"exponent,omitempty"`
	HotFraction float64 `yaml:"hot_fraction,omitempty" json:"hot_fraction,omitempty"`
	HotShare    float64 `yaml:"hot_share,omitempty" json:"hot_share,omitempty"`

	wrote keySet
}

// OriginConfig is one simulated upstream (stratz, opendota, steam, internal).
// Unwritten fields are the upstream's defaults (workload.DefaultOrigins),
// except that a written latency without a p99 keeps the default tail's
// shape (p99 scaled with the latency). Every 0 is meaningful: latency: 0s
// is an instant upstream, p99: 0s one without spread, error_rate: 0 one that
// never fails.
type OriginConfig struct {
	Latency   Duration `yaml:"latency,omitempty" json:"latency"`
	P99       Duration `yaml:"p99,omitempty" json:"p99"`
	ErrorRate float64  `yaml:"error_rate,omitempty" json:"error_rate"`

	wrote keySet
}

// Driver tunes the open-loop driver.
type Driver struct {
	// DropAfter: a command that cannot start within this bound of its
	// intended time is dropped and counted, never silently skipped.
	DropAfter Duration `yaml:"drop_after,omitempty" json:"drop_after"`
	// MaxInflight bounds concurrently executing commands. Unwritten, it
	// stays 0 in the resolved scenario and the run uses its peak number of
	// users (a user runs one command at a time), which only the run knows:
	// --users and --shard change it. Written, it must be at least 1.
	MaxInflight int `yaml:"max_inflight,omitempty" json:"max_inflight"`
	// OpTimeout bounds one command (all its operations).
	OpTimeout Duration `yaml:"op_timeout,omitempty" json:"op_timeout"`

	wrote keySet
}

// Phase is one stretch of the run. Users rise or fall linearly from
// UsersFrom to UsersTo when both are set; otherwise Users (default: the
// workload's active_users) stay active throughout. users: 0 is an idle
// phase (no load, e.g. to watch keys expire); it is not "the default".
type Phase struct {
	Name      string   `yaml:"name" json:"name"`
	Duration  Duration `yaml:"duration" json:"duration"`
	Record    *bool    `yaml:"record,omitempty" json:"record"`
	Users     *int     `yaml:"users,omitempty" json:"users,omitempty"`
	UsersFrom *int     `yaml:"users_from,omitempty" json:"users_from,omitempty"`
	UsersTo   *int     `yaml:"users_to,omitempty" json:"users_to,omitempty"`

	wrote keySet
}

// Recorded reports whether the phase counts toward targets (warm-up does not).
func (p Phase) Recorded() bool { return p.Record == nil || *p.Record }

// Fault is one entry of the fault timeline. Which parameters apply depends on
// Kind; Validate rejects parameters that do not, whatever their value. Of the
// numeric ones, 0 is accepted where it means something — at: 0s (the run's
// start), for: 0s on restart (back at once), ballast: 0 (none), jitter: 0s,
// timeout: 0s (timeout toxic: hold data until the fault ends; reset_peer:
// reset at once) — and rejected where it cannot: for: 0s on a fault that
// lasts, maxmemory: 0 (would lift the limit), fraction: 0, latency: 0s on
// the latency toxic, rate_kbps: 0 (use toxic: down), every: 0s and count: 0.
type Fault struct {
	At   Duration `yaml:"at" json:"at"`
	For  Duration `yaml:"for,omitempty" json:"for,omitempty"`
	Kind string   `yaml:"kind" json:"kind"`
	Mode string   `yaml:"mode,omitempty" json:"mode,omitempty"`
	Node string   `yaml:"node,omitempty" json:"node,omitempty"`

	// memory-pressure
	MaxMemory Size    `yaml:"maxmemory,omitempty" json:"maxmemory,omitempty"`
	Fraction  float64 `yaml:"fraction,omitempty" json:"fraction,omitempty"`
	Ballast   Size    `yaml:"ballast,omitempty" json:"ballast,omitempty"`

	// network
	Toxic     string   `yaml:"toxic,omitempty" json:"toxic,omitempty"`
	Latency   Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	Jitter    Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	RateKBps  int      `yaml:"rate_kbps,omitempty" json:"rate_kbps,omitempty"`
	Timeout   Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Direction string   `yaml:"direction,omitempty" json:"direction,omitempty"`

	// Repeat: with Every > 0 the fault starts at At, At+Every, At+2*Every,
	// ..., Count times in all. An unwritten count repeats until the run ends
	// (Count 0 in the resolved scenario); a written one must be at least 1,
	// since "count: 0" reads as "never".
	Every Duration `yaml:"every,omitempty" json:"every,omitempty"`
	Count int      `yaml:"count,omitempty" json:"count,omitempty"`

	wrote keySet
}

// TotalDuration is the sum of all phases.
func (s *Scenario) TotalDuration() time.Duration {
	var d time.Duration
	for _, p := range s.Phases {
		d += p.Duration.D()
	}
	return d
}
