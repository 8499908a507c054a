package topology

import (
	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/redistext"
	"github.com/cacheproof/cacheproof/internal/units"
)

// Settings is the target: section of a scenario: which Redis deployment a
// run uses and how it is reached. topology owns these settings: Defaults
// fills what the file left out, Validate checks what it wrote, and Spec
// turns them into what Start needs.
type Settings struct {
	Backend    string        `yaml:"backend,omitempty" json:"backend"`   // process | container | external
	Topology   string        `yaml:"topology,omitempty" json:"topology"` // standalone | replica | sentinel | cluster
	Image      string        `yaml:"image,omitempty" json:"image,omitempty"`
	Redis      RedisSettings `yaml:"redis,omitempty" json:"redis"`
	Replicas   int           `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	MasterName string        `yaml:"master_name,omitempty" json:"master_name,omitempty"`

	// External backend only.
	Addrs         []string     `yaml:"addrs,omitempty" json:"addrs,omitempty"`
	SentinelAddrs []string     `yaml:"sentinel_addrs,omitempty" json:"sentinel_addrs,omitempty"`
	Username      string       `yaml:"username,omitempty" json:"username,omitempty"`
	Password      string       `yaml:"password,omitempty" json:"password,omitempty"`
	TLS           *TLSSettings `yaml:"tls,omitempty" json:"tls,omitempty"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// RedisSettings is the server configuration the tool applies to the Redis
// nodes it starts (and, when allowed, to external ones).
type RedisSettings struct {
	MaxMemory       units.Size        `yaml:"maxmemory,omitempty" json:"maxmemory"`
	MaxMemoryPolicy string            `yaml:"maxmemory_policy,omitempty" json:"maxmemory_policy"`
	Persistence     bool              `yaml:"persistence,omitempty" json:"persistence"`
	Config          map[string]string `yaml:"config,omitempty" json:"config,omitempty"`

	// Wrote is the set of keys the file wrote (see field.Keys).
	Wrote field.Keys `yaml:"-" json:"-"`
}

// TLSSettings names the files of a TLS connection to an external Redis.
type TLSSettings struct {
	CAFile             string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	CertFile           string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile            string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	ServerName         string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
}

// The server configuration of a Redis the tool starts, unless the scenario
// says otherwise: the seed's production values.
const (
	DefaultMaxMemory       = units.Size(256 << 20)
	DefaultMaxMemoryPolicy = "allkeys-lru"
)

// OwnsNodes reports whether the tool starts and stops the Redis nodes
// itself (process and container backends), rather than reaching nodes
// someone else runs (external). What the tool may do to Redis without
// --allow-destructive, which server settings it applies and whether it
// can reset Redis's statistics follow from it; callers ask this instead of
// comparing backend names.
func (s Settings) OwnsNodes() bool { return Backend(s.Backend) != BackendExternal }

// maxReplicas bounds replicas per primary: more is a typo on one machine.
const maxReplicas = 5

// minMaxMemory is the smallest limit Redis can live with: below 1mb it
// cannot hold even its own overhead.
const minMaxMemory = units.Size(1 << 20)

// Defaults fills what the file left out, never a key it wrote. An external
// deployment keeps its own server configuration, so it gets no maxmemory
// or policy.
func (s *Settings) Defaults() {
	field.Default(&s.Backend, s.Wrote, "backend", string(BackendProcess))
	field.Default(&s.Topology, s.Wrote, "topology", string(ShapeStandalone))
	if s.OwnsNodes() {
		field.Default(&s.Redis.MaxMemory, s.Redis.Wrote, "maxmemory", DefaultMaxMemory)
		field.Default(&s.Redis.MaxMemoryPolicy, s.Redis.Wrote, "maxmemory_policy", DefaultMaxMemoryPolicy)
	}
	if s.Backend == string(BackendContainer) {
		field.Default(&s.Image, s.Wrote, "image", DefaultImage)
	}
	if shape := Shape(s.Topology); shape == ShapeReplica || shape == ShapeSentinel {
		field.Default(&s.Replicas, s.Wrote, "replicas", defaultReplicas(shape, 0))
	}
	if s.Topology == string(ShapeSentinel) {
		field.Default(&s.MasterName, s.Wrote, "master_name", DefaultMasterName)
	}
}

// Validate checks the section as resolved by Defaults and returns every
// problem as a field.List, paths as the YAML spells them ("backend",
// "redis.maxmemory").
func (s Settings) Validate() error {
	var l field.List
	backend, shape := Backend(s.Backend), Shape(s.Topology)
	l.OneOf("backend", s.Backend, names(Backends))
	l.OneOf("topology", s.Topology, names(Shapes))
	if field.Given(s.Redis.Wrote, "maxmemory_policy", s.Redis.MaxMemoryPolicy) {
		l.OneOf("redis.maxmemory_policy", s.Redis.MaxMemoryPolicy, redistext.Policies)
	}
	// maxmemory: 0 is Redis's "no limit", a legitimate deployment.
	if m := s.Redis.MaxMemory; m < 0 {
		l.Add("redis.maxmemory", "must not be negative")
	} else if m > 0 && m < minMaxMemory {
		l.Add("redis.maxmemory", "%s is below %s; Redis cannot hold even its own overhead", m, minMaxMemory)
	}
	if s.Replicas < 0 || s.Replicas > maxReplicas {
		l.Add("replicas", "%d out of range, expected 0 to %d", s.Replicas, maxReplicas)
	}
	// Start would quietly run 1 replica for a written 0, and the cluster
	// shape always runs 1 per primary: say so instead.
	switch {
	case (shape == ShapeReplica || shape == ShapeSentinel) && s.Replicas < 1:
		l.Add("replicas", "the %s topology needs at least 1", shape)
	case shape == ShapeCluster && s.Wrote["replicas"] && s.Replicas != 1:
		l.Add("replicas", "a cluster runs %d primaries with exactly 1 replica each; leave replicas out", ClusterPrimaries)
	case shape == ShapeStandalone && s.Replicas != 0:
		l.Add("replicas", "a standalone deployment has none; use topology: replica")
	}
	if s.MasterName == "" && s.Wrote["master_name"] {
		l.Add("master_name", "empty; name the sentinel master, or leave master_name out for %s", DefaultMasterName)
	}
	if backend != BackendExternal {
		for _, f := range []struct {
			set  bool
			path string
		}{{len(s.Addrs) > 0, "addrs"}, {len(s.SentinelAddrs) > 0, "sentinel_addrs"}, {s.TLS != nil, "tls"}} {
			if f.set {
				l.Add(f.path, "only for backend: external (the %s backend starts its own Redis)", backend)
			}
		}
	}
	if backend == BackendContainer && (shape == ShapeSentinel || shape == ShapeCluster) {
		l.Add("topology", "%s is not supported on the container backend (its nodes announce container-internal addresses the host cannot reach); use backend: process, or external", shape)
	}
	if backend == BackendExternal && shape == ShapeSentinel && len(s.SentinelAddrs) == 0 {
		l.Add("sentinel_addrs", "required for an external sentinel deployment")
	}
	switch {
	case field.Given(s.Wrote, "image", s.Image) && backend != BackendContainer:
		l.Add("image", "only for backend: container")
	case s.Image == "" && backend == BackendContainer:
		l.Add("image", "empty; name an image such as %s, or leave image out for that one", DefaultImage)
	}
	return l.Err()
}

// Spec is what Start needs for these settings. The caller adds what a
// scenario does not say: the redis-server binary or image chosen on the
// command line, whether destructive controls are allowed, logging.
func (s Settings) Spec() Spec {
	spec := Spec{
		Backend:         Backend(s.Backend),
		Shape:           Shape(s.Topology),
		Image:           s.Image,
		MaxMemory:       s.Redis.MaxMemory,
		MaxMemoryPolicy: s.Redis.MaxMemoryPolicy,
		Persistence:     s.Redis.Persistence,
		Replicas:        s.Replicas,
		MasterName:      s.MasterName,
		ExtraConfig:     s.Redis.Config,
	}
	if spec.Backend == BackendExternal {
		spec.External = ExternalSpec{
			Addrs:         s.Addrs,
			SentinelAddrs: s.SentinelAddrs,
			MasterName:    s.MasterName,
			Username:      s.Username,
			Password:      s.Password,
		}
		if t := s.TLS; t != nil {
			spec.External.TLS = &TLSSpec{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
		}
	}
	return spec
}

// names turns a list of Backends or Shapes into their strings.
func names[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
