package topology

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/cacheproof/cacheproof/internal/units"
)

// Backend says who runs the Redis nodes.
type Backend string

// Shape says how the Redis nodes are arranged.
type Shape string

// The backends.
const (
	BackendProcess   Backend = "process"
	BackendContainer Backend = "container"
	BackendExternal  Backend = "external"
)

// The shapes.
const (
	ShapeStandalone Shape = "standalone"
	ShapeReplica    Shape = "replica"
	ShapeSentinel   Shape = "sentinel"
	ShapeCluster    Shape = "cluster"
)

// Backends lists every backend, in the order the documentation names them.
var Backends = []Backend{BackendProcess, BackendContainer, BackendExternal}

// Shapes lists every shape, in the order the documentation names them.
var Shapes = []Shape{ShapeStandalone, ShapeReplica, ShapeSentinel, ShapeCluster}

// TLSSpec names the files of a TLS connection to an external deployment.
type TLSSpec struct {
	CAFile, CertFile, KeyFile, ServerName string
	InsecureSkipVerify                    bool
}

// ExternalSpec says how to reach a deployment that the tool does not run.
type ExternalSpec struct {
	Addrs              []string // data nodes (standalone: one; cluster: seed nodes)
	SentinelAddrs      []string // sentinel shape
	MasterName         string
	Username, Password string
	TLS                *TLSSpec
}

// Spec says what to start (or reach). Zero values get sensible defaults.
type Spec struct {
	Backend         Backend
	Shape           Shape
	RedisServer     string     // process backend: path to redis-server; "" = FindRedisServer("")
	Image           string     // container backend; default "redis:7-alpine"
	MaxMemory       units.Size // 0 = no limit (Redis's default); written to redis.conf as "256mb"
	MaxMemoryPolicy string     // e.g. "allkeys-lru"
	Persistence     bool       // false: save "" and appendonly no
	Replicas        int        // replicas per primary (replica/sentinel default 1; cluster fixed 3 primaries + 1 replica each)
	MasterName      string     // sentinel; default "mymaster"
	Dir             string     // base folder for node dirs; "" = os.MkdirTemp
	LogDir          string     // where node logs are copied when KeepLogs() is called (run failed)
	ExtraConfig     map[string]string
	External        ExternalSpec
	// NodeLinks routes every connection between nodes (replication, the
	// sentinels' links, the cluster bus), and the clients' connections,
	// through a gate of the tool's in front of each node, so a fault can
	// cut a given direction of a given link (Partitioner). On the process
	// backend each node announces its gate (replica-announce-port,
	// sentinel announce-port, cluster-announce-port and -bus-port), and a
	// gate tells which node opened a connection from the owner of its
	// socket. The container backend needs nothing set up: its Cut enters
	// iptables rules in the containers' network namespaces (root only).
	// The external backend cannot cut links.
	NodeLinks bool
	// AllowDestructive permits, on the external backend, controls that change
	// or stop the server. The tool does not own an external server, so it
	// refuses by default rather than break someone's cache.
	AllowDestructive bool
	Logf             func(format string, args ...any) // optional progress logging
}

// DefaultImage is the container image used when Spec.Image is empty.
const DefaultImage = "redis:7-alpine"

// DefaultMasterName is the sentinel master name used when none is given.
const DefaultMasterName = "mymaster"

// withDefaults fills the zero values of s and validates what it can without
// touching the machine.
func (s Spec) withDefaults() (Spec, error) {
	if s.Backend == "" {
		s.Backend = BackendProcess
	}
	if s.Shape == "" {
		s.Shape = ShapeStandalone
	}
	switch s.Backend {
	case BackendProcess, BackendContainer, BackendExternal:
	default:
		return s, fmt.Errorf("topology: unknown backend %q (want process, container or external)", s.Backend)
	}
	switch s.Shape {
	case ShapeStandalone, ShapeReplica, ShapeSentinel, ShapeCluster:
	default:
		return s, fmt.Errorf("topology: unknown shape %q (want standalone, replica, sentinel or cluster)", s.Shape)
	}
	if (s.Shape == ShapeReplica || s.Shape == ShapeSentinel) && s.Replicas < 0 {
		return s, fmt.Errorf("topology: replicas must not be negative, got %d", s.Replicas)
	}
	s.Replicas = defaultReplicas(s.Shape, s.Replicas)
	if s.MasterName == "" {
		s.MasterName = s.External.MasterName
	}
	if s.MasterName == "" {
		s.MasterName = DefaultMasterName
	}
	if s.Image == "" {
		s.Image = DefaultImage
	}
	if s.Logf == nil {
		s.Logf = func(string, ...any) {}
	}
	if s.NodeLinks && s.Backend == BackendExternal {
		return s, fmt.Errorf("topology: node links (partitions between nodes) need a deployment the tool runs (process or container backend), not external: %w", ErrUnsupported)
	}
	return s, nil
}

// Role is what a node does in the deployment right now.
type Role string

// The roles.
const (
	RolePrimary  Role = "primary"
	RoleReplica  Role = "replica"
	RoleSentinel Role = "sentinel"
)

// Node is one Redis server (or sentinel) of a deployment. Name is stable for
// the deployment's life ("primary-0", "replica-1", "sentinel-0", "node-3");
// Role may change through failover.
type Node struct {
	Name string
	Addr string
	Role Role
}

// Endpoints is how a client reaches the deployment.
type Endpoints struct {
	Shape              Shape
	Addrs              []string // standalone: [primary]; replica: [primary, replicas...]; cluster: all data nodes; sentinel: data nodes
	SentinelAddrs      []string
	MasterName         string
	Username, Password string
	TLS                *tls.Config
}

// A running deployment is split by what its callers need, so each takes the
// smallest part (as vegeta's Pacer or go-redis's hooks are small): the cache
// manager needs an EndpointSource, the sampler an InfoSource, faults a
// Controller, and only the one who started the deployment a Closer.
// Deployment is all of them.

// EndpointSource is how a client finds the deployment.
type EndpointSource interface {
	// Endpoints is resolved again on every call, because a container's mapped
	// port changes when it restarts.
	Endpoints() Endpoints
}

// NodeLister lists the deployment's nodes.
type NodeLister interface {
	// Nodes lists every node with its role as of now (a node that does not
	// answer keeps its last known role).
	Nodes() []Node
}

// InfoSource reads Redis INFO from every node: what a sampler needs.
type InfoSource interface {
	// InfoAll reads INFO from every node that is up, by node name. Nodes that
	// are stopped or paused on purpose are left out; nodes that should answer
	// but do not are named in the returned error, next to the partial map.
	InfoAll(ctx context.Context, section string) (map[string]map[string]string, error)
}

// TimedPauser is a pause that ends by itself after dur. Every backend has it
// (the checks below): on the external backend it is the only way to choose
// a pause's length (see ExternalPauseWindow); elsewhere it saves the caller a
// timer, and Resume may still end the pause early.
type TimedPauser interface {
	PauseFor(ctx context.Context, node string, dur time.Duration) error
}

// Controller is what faults act through. Node arguments are node names as
// listed by Nodes.
type Controller interface {
	NodeLister
	TimedPauser
	Spec() Spec
	// Primary is the current primary (cluster: the primary serving slot 0).
	Primary(ctx context.Context) (Node, error)
	Stop(ctx context.Context, node string) error   // SHUTDOWN NOSAVE, wait for exit
	Kill(ctx context.Context, node string) error   // SIGKILL
	Start(ctx context.Context, node string) error  // start again on the same address, wait ready
	Pause(ctx context.Context, node string) error  // SIGSTOP
	Resume(ctx context.Context, node string) error // SIGCONT
	// Do runs one command on one node and returns its reply.
	Do(ctx context.Context, node string, args ...any) (any, error)
	// Info reads one INFO section ("" = default sections) as key/value pairs.
	Info(ctx context.Context, node, section string) (map[string]string, error)
}

// Closer ends a deployment: what only its starter calls.
type Closer interface {
	// KeepLogs copies every node's log into dir (called when a run fails).
	KeepLogs(dir string) error
	// Close stops everything and removes temporary folders; it is idempotent.
	Close(ctx context.Context) error
}

// Deployment is a running Redis deployment: every part above.
type Deployment interface {
	EndpointSource
	InfoSource
	Controller
	Closer
}

// Every backend is a whole Deployment, pauses included.
var (
	_ Deployment = (*procDeployment)(nil)
	_ Deployment = (*contDeployment)(nil)
	_ Deployment = (*extDeployment)(nil)
)

// ErrRedisServerNotFound is wrapped by FindRedisServer when no redis-server
// binary can be found.
var ErrRedisServerNotFound = errors.New("redis-server not found: install it with `apt-get install redis-server`, or name it with --redis-server or $CACHEPROOF_REDIS_SERVER")

// ErrDestructive is wrapped when the external backend refuses a control that
// would change or stop a server the tool does not own.
var ErrDestructive = errors.New("refused on an external deployment (rerun with --allow-destructive to permit it)")

// ErrUnsupported is wrapped when a backend cannot do what was asked, such as a
// shape the container backend cannot build.
var ErrUnsupported = errors.New("not supported")

// ErrUnknownNode is wrapped when a control names a node the deployment lacks.
var ErrUnknownNode = errors.New("unknown node")

// EnvError marks failures of the environment (binary missing, port taken,
// docker absent, node would not start), so the command can map them to exit
// code 3: errors.As(err, new(*EnvError)).
type EnvError struct {
	Op  string
	Err error
}

func (e *EnvError) Error() string { return "topology: " + e.Op + ": " + e.Err.Error() }

// Unwrap gives errors.Is access to the cause.
func (e *EnvError) Unwrap() error { return e.Err }

func envErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var ee *EnvError
	if errors.As(err, &ee) {
		return err
	}
	return &EnvError{Op: op, Err: err}
}

// Start starts (or, for the external backend, reaches and checks) the
// deployment that spec describes and returns once it is ready: every node
// answers, replication links are up, sentinels agree on the primary and a
// cluster reports cluster_state:ok with one slot map on every node. On error
// nothing is left running.
func Start(ctx context.Context, spec Spec) (Deployment, error) {
	s, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	switch s.Backend {
	case BackendProcess:
		return startProcess(ctx, s)
	case BackendContainer:
		return startContainer(ctx, s)
	default:
		return startExternal(ctx, s)
	}
}
