package topology

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	mnetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// redisPort is the port Redis listens on inside every container.
const redisPort = "6379/tcp"

// ReaperEnv is the testcontainers variable that turns its reaper (Ryuk) off,
// for machines that cannot pull the reaper image; Close still removes every
// container this backend started.
const ReaperEnv = "TESTCONTAINERS_RYUK_DISABLED"

// contNode is one Redis container.
type contNode struct {
	name  string
	alias string // name on the deployment's network, used by replicas
	role  Role
	c     *testcontainers.DockerContainer

	// op serialises controls on the node, so a PauseFor timer firing cannot
	// interleave with a Stop or Kill that reads the paused state.
	op       sync.Mutex
	mu       sync.Mutex
	addr     string // host address of the mapped port; changes on restart
	client   *redis.Client
	running  bool
	paused   bool
	lastRole Role
	resume   *time.Timer
}

// contDeployment is a Deployment of Redis containers.
type contDeployment struct {
	spec   Spec
	docker *testcontainers.DockerClient
	net    *testcontainers.DockerNetwork
	nodes  []*contNode
	byName map[string]*contNode
	once   sync.Once
	err    error
}

func startContainer(ctx context.Context, spec Spec) (_ Deployment, err error) {
	switch spec.Shape {
	case ShapeStandalone, ShapeReplica:
	case ShapeSentinel:
		return nil, fmt.Errorf("topology: sentinel on the container backend: %w: sentinels announce container-internal addresses that clients on the host cannot reach; use the process backend or an external deployment", ErrUnsupported)
	case ShapeCluster:
		return nil, fmt.Errorf("topology: cluster on the container backend: %w: cluster redirects (MOVED) name container-internal addresses that clients on the host cannot reach; use the process backend or an external deployment", ErrUnsupported)
	default:
		return nil, fmt.Errorf("topology: shape %q on the container backend: %w", spec.Shape, ErrUnsupported)
	}
	docker, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, envErr("container backend", fmt.Errorf("no Docker engine answers: %w", err))
	}
	d := &contDeployment{spec: spec, docker: docker, byName: map[string]*contNode{}}
	defer func() {
		if err != nil {
			if spec.LogDir != "" {
				_ = d.KeepLogs(spec.LogDir)
			}
			_ = d.Close(context.WithoutCancel(ctx))
		}
	}()
	if spec.Shape == ShapeReplica {
		d.net, err = tcnetwork.New(ctx)
		if err != nil {
			return nil, envErr("create docker network", err)
		}
	}
	if err := d.addNode(ctx, PrimaryName, RolePrimary, nil); err != nil {
		return nil, err
	}
	for i := 1; i <= spec.Replicas; i++ {
		if err := d.addNode(ctx, ReplicaName(i), RoleReplica, []string{"--replicaof", PrimaryName, "6379"}); err != nil {
			return nil, err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	for _, n := range d.nodes {
		if n.role == RoleReplica {
			if err := waitReplicaUp(sctx, n.client); err != nil {
				return nil, envErr("replication of "+n.name, err)
			}
		}
	}
	spec.Logf("topology: %s on container backend (%s) ready: %s", spec.Shape, spec.Image, d.describe())
	return d, nil
}

func (d *contDeployment) describe() string {
	var parts []string
	for _, n := range d.nodes {
		parts = append(parts, n.name+"="+n.hostAddr())
	}
	return strings.Join(parts, ", ")
}

// redisArgs is the container command: the spec's config as flags.
func (d *contDeployment) redisArgs(extra []string) []string {
	args := []string{"redis-server", "--port", "6379", "--bind", "0.0.0.0",
		// The port is published on the host's 127.0.0.1 only (see addNode),
		// so neither protected mode nor the DEBUG restriction guards anything
		// that loopback does not; connections arrive through Docker's NAT and
		// never look local to Redis.
		"--protected-mode", "no", "--enable-debug-command", "yes",
		"--repl-diskless-sync-delay", "0"}
	if d.spec.Persistence {
		args = append(args, "--appendonly", "yes")
	} else {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	if d.spec.MaxMemory > 0 {
		args = append(args, "--maxmemory", d.spec.MaxMemory.String())
	}
	if d.spec.MaxMemoryPolicy != "" {
		args = append(args, "--maxmemory-policy", d.spec.MaxMemoryPolicy)
	}
	if pw := d.password(); pw != "" {
		args = append(args, "--masterauth", pw)
	}
	args = append(args, extra...)
	for _, k := range sortedKeys(d.spec.ExtraConfig) {
		args = append(args, "--"+k)
		args = append(args, strings.Fields(d.spec.ExtraConfig[k])...)
	}
	return args
}

// logfLogger sends testcontainers' progress lines to Spec.Logf instead of
// the process-wide log, which would interleave with the tool's own output.
type logfLogger func(format string, args ...any)

var _ tclog.Logger = logfLogger(nil)

func (l logfLogger) Printf(format string, args ...any) { l(format, args...) }

func (d *contDeployment) password() string { return d.spec.ExtraConfig["requirepass"] }

func (d *contDeployment) addNode(ctx context.Context, name string, role Role, extra []string) error {
	req := testcontainers.ContainerRequest{
		Image:        d.spec.Image,
		Cmd:          d.redisArgs(extra),
		ExposedPorts: []string{redisPort},
		Labels:       map[string]string{"org.cacheproof.node": name},
		// A log line, not a port probe: the port probe runs a shell inside
		// the container, and the FROM-scratch CI image has none.
		WaitingFor: wait.ForLog("Ready to accept connections").WithStartupTimeout(nodeReadyTimeout),
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = mnetwork.PortMap{
				mnetwork.MustParsePort(redisPort): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "0"}},
			}
		},
	}
	if d.net != nil {
		// Replicas reach the primary by its node name on this network.
		req.Networks = []string{d.net.Name}
		req.NetworkAliases = map[string][]string{d.net.Name: {name}}
	}
	gc, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req, Started: true, Logger: logfLogger(d.spec.Logf),
	})
	n := &contNode{name: name, alias: name, role: role, lastRole: role}
	if dc, ok := gc.(*testcontainers.DockerContainer); ok && dc != nil {
		n.c = dc
	}
	d.nodes = append(d.nodes, n)
	d.byName[name] = n
	if err != nil {
		return envErr("start container "+name+" from "+d.spec.Image, err)
	}
	if n.c == nil {
		return envErr("start container "+name, fmt.Errorf("unexpected container type %T", gc))
	}
	return d.connect(ctx, n)
}

// connect resolves the node's mapped port (new after every restart), points
// a fresh client at it and waits for PING.
func (d *contDeployment) connect(ctx context.Context, n *contNode) error {
	port, err := n.c.MappedPort(ctx, redisPort)
	if err != nil {
		return envErr("mapped port of "+n.name, err)
	}
	addr := "127.0.0.1:" + port.Port()
	n.mu.Lock()
	old := n.client
	n.addr, n.client, n.running, n.paused = addr, newNodeClient(addr, d.password()), true, false
	c := n.client
	n.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if err := waitPing(ctx, c, nil, nodeReadyTimeout); err != nil {
		return envErr("start "+n.name, err)
	}
	return nil
}

func (n *contNode) hostAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

func (n *contNode) clientOf() *redis.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.client
}

func (d *contDeployment) node(name string) (*contNode, error) {
	n, ok := d.byName[name]
	if !ok {
		var names []string
		for _, x := range d.nodes {
			names = append(names, x.name)
		}
		return nil, fmt.Errorf("topology: %q: %w (have %s)", name, ErrUnknownNode, strings.Join(names, ", "))
	}
	return n, nil
}

func (d *contDeployment) Spec() Spec { return d.spec }

// Endpoints reads the mapped ports again from Docker, since a restarted
// container gets a new one.
func (d *contDeployment) Endpoints() Endpoints {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e := Endpoints{Shape: d.spec.Shape, Password: d.password()}
	for _, n := range d.nodes {
		addr := n.hostAddr()
		if n.c != nil {
			if p, err := n.c.MappedPort(ctx, redisPort); err == nil {
				addr = "127.0.0.1:" + p.Port()
			}
		}
		e.Addrs = append(e.Addrs, addr)
	}
	return e
}

func (d *contDeployment) Nodes() []Node {
	return nodesAtOnce(d.nodes, time.Second, func(ctx context.Context, n *contNode) Node {
		n.mu.Lock()
		up, c, r := n.running && !n.paused, n.client, n.lastRole
		n.mu.Unlock()
		if up && c != nil {
			if got, err := roleOf(ctx, c); err == nil {
				r = got
				n.mu.Lock()
				n.lastRole = got
				n.mu.Unlock()
			}
		}
		return Node{Name: n.name, Addr: n.hostAddr(), Role: r}
	})
}

func (d *contDeployment) Primary(ctx context.Context) (Node, error) {
	var clients []*redis.Client
	for _, n := range d.nodes {
		n.mu.Lock()
		if n.running && !n.paused && n.client != nil {
			clients = append(clients, n.client)
		}
		n.mu.Unlock()
	}
	addr, err := primaryByRole(ctx, clients)
	if err != nil {
		return Node{}, fmt.Errorf("topology: find primary of %s: %w", d.spec.Shape, err)
	}
	for _, n := range d.nodes {
		if n.hostAddr() == addr {
			return Node{Name: n.name, Addr: addr, Role: RolePrimary}, nil
		}
	}
	return Node{}, fmt.Errorf("topology: primary %s is not a node of this deployment", addr)
}

// waitExited polls Docker until the container no longer runs.
func (d *contDeployment) waitExited(ctx context.Context, n *contNode) error {
	return poll(ctx, func() error {
		st, err := n.c.State(ctx)
		if err != nil {
			return err
		}
		if st.Running {
			return errors.New("container still running")
		}
		return nil
	})
}

func (d *contDeployment) markDown(n *contNode) {
	n.mu.Lock()
	n.running, n.paused = false, false
	if n.resume != nil {
		n.resume.Stop()
		n.resume = nil
	}
	n.mu.Unlock()
}

// Stop sends SHUTDOWN NOSAVE; the container exits with its Redis.
func (d *contDeployment) Stop(ctx context.Context, name string) error {
	return d.halt(ctx, name, "stop", nodeStopTimeout, func(ctx context.Context, n *contNode) error {
		if err := n.clientOf().Do(ctx, "SHUTDOWN", "NOSAVE").Err(); err != nil && isRedisError(err) {
			return fmt.Errorf("topology: SHUTDOWN NOSAVE on %s: %w", name, err)
		}
		return nil
	})
}

// Kill sends SIGKILL to the container.
func (d *contDeployment) Kill(ctx context.Context, name string) error {
	return d.halt(ctx, name, "kill", 0, func(ctx context.Context, n *contNode) error {
		if _, err := d.docker.ContainerKill(ctx, n.c.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
			return fmt.Errorf("topology: kill container %s: %w", name, err)
		}
		return nil
	})
}

// halt takes a running container down with act (SHUTDOWN or SIGKILL), then
// waits for it to exit and marks the node down. A stopped container is
// left as it is; a paused one is resumed first: a paused Redis cannot
// answer SHUTDOWN and Docker refuses to kill a paused container. timeout
// > 0 bounds act and the wait together.
func (d *contDeployment) halt(ctx context.Context, name, verb string, timeout time.Duration, act func(context.Context, *contNode) error) error {
	return d.withOp(name, func(n *contNode) error {
		n.mu.Lock()
		running, paused := n.running, n.paused
		n.mu.Unlock()
		if !running {
			return nil
		}
		if paused {
			if err := d.resumeLocked(ctx, n); err != nil {
				return err
			}
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if err := act(ctx, n); err != nil {
			return err
		}
		if err := d.waitExited(ctx, n); err != nil {
			return fmt.Errorf("topology: %s %s: %w", verb, name, err)
		}
		d.markDown(n)
		return nil
	})
}

// withOp runs fn on the named node holding the node's operation lock, so
// that stop, start, pause and resume of one container never interleave.
func (d *contDeployment) withOp(name string, fn func(*contNode) error) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	n.op.Lock()
	defer n.op.Unlock()
	return fn(n)
}

// Start starts the container again; Docker maps a new host port, which
// Endpoints and Nodes report from then on.
func (d *contDeployment) Start(ctx context.Context, name string) error {
	return d.withOp(name, func(n *contNode) error {
		n.mu.Lock()
		running := n.running
		n.mu.Unlock()
		if running {
			return nil
		}
		if err := n.c.Start(ctx); err != nil {
			return envErr("restart container "+name, err)
		}
		return d.connect(ctx, n)
	})
}

// Pause freezes the container's processes (docker pause, the cgroup freezer).
func (d *contDeployment) Pause(ctx context.Context, name string) error {
	return d.withOp(name, func(n *contNode) error { return d.pauseLocked(ctx, n) })
}

func (d *contDeployment) pauseLocked(ctx context.Context, n *contNode) error {
	name := n.name
	if _, err := d.docker.ContainerPause(ctx, n.c.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("topology: pause container %s: %w", name, err)
	}
	n.mu.Lock()
	n.paused = true
	n.mu.Unlock()
	return nil
}

// PauseFor pauses the container and unpauses it after dur.
func (d *contDeployment) PauseFor(ctx context.Context, name string, dur time.Duration) error {
	return d.withOp(name, func(n *contNode) error {
		if err := d.pauseLocked(ctx, n); err != nil {
			return err
		}
		n.mu.Lock()
		n.resume = time.AfterFunc(dur, func() { _ = d.Resume(context.Background(), name) })
		n.mu.Unlock()
		return nil
	})
}

// Resume unpauses the container.
func (d *contDeployment) Resume(ctx context.Context, name string) error {
	return d.withOp(name, func(n *contNode) error { return d.resumeLocked(ctx, n) })
}

func (d *contDeployment) resumeLocked(ctx context.Context, n *contNode) error {
	name := n.name
	n.mu.Lock()
	if n.resume != nil {
		n.resume.Stop()
		n.resume = nil
	}
	paused := n.paused
	n.mu.Unlock()
	if !paused {
		return nil
	}
	if _, err := d.docker.ContainerUnpause(ctx, n.c.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("topology: unpause container %s: %w", name, err)
	}
	n.mu.Lock()
	n.paused = false
	n.mu.Unlock()
	return nil
}

func (d *contDeployment) Do(ctx context.Context, name string, args ...any) (any, error) {
	n, err := d.node(name)
	if err != nil {
		return nil, err
	}
	return doOn(ctx, n.clientOf(), name, args...)
}

func (d *contDeployment) Info(ctx context.Context, name, section string) (map[string]string, error) {
	n, err := d.node(name)
	if err != nil {
		return nil, err
	}
	return infoOn(ctx, n.clientOf(), name, section)
}

// InfoAll reads INFO from every container that is running and not paused.
func (d *contDeployment) InfoAll(ctx context.Context, section string) (map[string]map[string]string, error) {
	return infoAll(ctx, d.nodes, func(n *contNode) (string, bool) {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.name, n.running && !n.paused
	}, section, d.Info)
}

// KeepLogs writes each container's output (Redis logs to stdout there).
func (d *contDeployment) KeepLogs(dir string) error {
	return keepLogs(dir, d.spec, 10*time.Second, d.nodes, func(ctx context.Context, dir string, n *contNode) error {
		if n.c == nil {
			return nil
		}
		if err := saveLogs(ctx, n.c, filepath.Join(dir, n.name+".log")); err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		return nil
	})
}

func saveLogs(ctx context.Context, c *testcontainers.DockerContainer, path string) error {
	rc, err := c.Logs(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// Close removes every container and the network.
func (d *contDeployment) Close(ctx context.Context) error {
	d.once.Do(func() {
		var errs []error
		for _, n := range d.nodes {
			n.mu.Lock()
			if n.resume != nil {
				n.resume.Stop()
				n.resume = nil
			}
			if n.client != nil {
				_ = n.client.Close()
			}
			n.mu.Unlock()
			if n.c != nil {
				if err := n.c.Terminate(ctx); err != nil {
					errs = append(errs, fmt.Errorf("topology: remove container %s: %w", n.name, err))
				}
			}
		}
		if d.net != nil {
			if err := d.net.Remove(ctx); err != nil {
				errs = append(errs, fmt.Errorf("topology: remove network: %w", err))
			}
		}
		if d.docker != nil {
			_ = d.docker.Close()
		}
		d.err = errors.Join(errs...)
	})
	return d.err
}
