package topology

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ExternalPauseWindow is how long Pause freezes an external server with
// CLIENT PAUSE ... ALL. Redis 7.0 queues every command behind such a pause,
// CLIENT UNPAUSE included, so the pause cannot be lifted early; bounding it
// also means a server unfreezes by itself if the tool dies meanwhile. Use
// PauseFor (TimedPauser) to choose the length per fault.
const ExternalPauseWindow = 10 * time.Second

// extNode is one server of an external deployment.
type extNode struct {
	name   string
	addr   string
	role   Role
	client *redis.Client

	mu          sync.Mutex
	lastRole    Role
	paused      bool
	pausedUntil time.Time
}

// extDeployment reaches a deployment someone else runs. It never changes it
// unless Spec.AllowDestructive says so.
type extDeployment struct {
	spec   Spec
	tls    *tls.Config
	nodes  []*extNode
	byName map[string]*extNode
	once   sync.Once
}

// TLSConfig builds the client TLS configuration a TLSSpec describes.
func (t *TLSSpec) TLSConfig() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("topology: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("topology: TLS CA %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("topology: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func startExternal(ctx context.Context, spec Spec) (_ Deployment, err error) {
	e := spec.External
	tcfg, err := e.TLS.TLSConfig()
	if err != nil {
		return nil, err
	}
	d := &extDeployment{spec: spec, tls: tcfg, byName: map[string]*extNode{}}
	defer func() {
		if err != nil {
			_ = d.Close(context.WithoutCancel(ctx))
		}
	}()
	switch spec.Shape {
	case ShapeStandalone, ShapeReplica:
		if len(e.Addrs) == 0 {
			return nil, errors.New("topology: external " + string(spec.Shape) + ": no address (set target.addrs, or REDIS_HOST and REDIS_PORT)")
		}
		for i, a := range e.Addrs {
			if i == 0 {
				d.add(PrimaryName, a, RolePrimary)
			} else {
				d.add(ReplicaName(i), a, RoleReplica)
			}
		}
	case ShapeSentinel:
		if len(e.SentinelAddrs) == 0 {
			return nil, errors.New("topology: external sentinel: no sentinel address (set target.external.sentinel_addrs)")
		}
		if err := d.discoverSentinel(ctx); err != nil {
			return nil, err
		}
	case ShapeCluster:
		if len(e.Addrs) == 0 {
			return nil, errors.New("topology: external cluster: no seed address (set target.addrs, or REDIS_HOST and REDIS_PORT)")
		}
		if err := d.discoverCluster(ctx); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("topology: external shape %q: %w", spec.Shape, ErrUnsupported)
	}
	for _, n := range d.nodes {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := n.client.Ping(pctx).Err()
		cancel()
		if err != nil {
			return nil, envErr("reach external "+n.name+" at "+n.addr, err)
		}
	}
	spec.Logf("topology: external %s reached: %d nodes", spec.Shape, len(d.nodes))
	return d, nil
}

func (d *extDeployment) add(name, addr string, role Role) *extNode {
	n := &extNode{name: name, addr: addr, role: role, lastRole: role, client: d.newClient(addr)}
	d.nodes = append(d.nodes, n)
	d.byName[name] = n
	return n
}

func (d *extDeployment) newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  addr,
		Username:              d.spec.External.Username,
		Password:              d.spec.External.Password,
		TLSConfig:             d.tls,
		Protocol:              2,
		DialTimeout:           3 * time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		PoolSize:              2,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	})
}

// discoverSentinel names the sentinels, then asks them for the primary and
// its replicas.
func (d *extDeployment) discoverSentinel(ctx context.Context) error {
	var clients []*redis.Client
	for i, a := range d.spec.External.SentinelAddrs {
		clients = append(clients, d.add(SentinelName(i), a, RoleSentinel).client)
	}
	primary, err := primaryBySentinel(ctx, clients, d.spec.MasterName)
	if err != nil {
		return envErr("ask sentinels for "+d.spec.MasterName, err)
	}
	d.add(PrimaryName, primary, RolePrimary)
	var reps []string
	for _, c := range clients {
		v, err := c.Do(ctx, "SENTINEL", "REPLICAS", d.spec.MasterName).Slice()
		if err != nil {
			continue
		}
		for _, r := range v {
			f, _ := r.([]any)
			m := map[string]string{}
			for i := 0; i+1 < len(f); i += 2 {
				m[fmt.Sprint(f[i])] = fmt.Sprint(f[i+1])
			}
			if m["ip"] != "" && !strings.Contains(m["flags"], "s_down") {
				reps = append(reps, net.JoinHostPort(m["ip"], m["port"]))
			}
		}
		break
	}
	sort.Strings(reps)
	for i, r := range reps {
		d.add(ReplicaName(i+1), r, RoleReplica)
	}
	return nil
}

// discoverCluster lists every node a seed knows, primaries first, as node-N.
func (d *extDeployment) discoverCluster(ctx context.Context) error {
	var errs []error
	for _, seed := range d.spec.External.Addrs {
		c := d.newClient(seed)
		txt, err := c.Do(ctx, "CLUSTER", "NODES").Text()
		_ = c.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("CLUSTER NODES on %s: %w", seed, err))
			continue
		}
		type cn struct {
			addr    string
			primary bool
		}
		var nodes []cn
		for _, l := range strings.Split(strings.TrimSpace(txt), "\n") {
			f := strings.Fields(l)
			if len(f) < 3 || strings.Contains(f[2], "noaddr") || strings.Contains(f[2], "handshake") {
				continue
			}
			addr, _, _ := strings.Cut(f[1], "@")
			if strings.HasPrefix(addr, ":") { // myself before it knows its address
				host, _, _ := net.SplitHostPort(seed)
				addr = host + addr
			}
			nodes = append(nodes, cn{addr, strings.Contains(f[2], "master")})
		}
		sort.Slice(nodes, func(i, j int) bool {
			if nodes[i].primary != nodes[j].primary {
				return nodes[i].primary
			}
			return nodes[i].addr < nodes[j].addr
		})
		for i, n := range nodes {
			role := RoleReplica
			if n.primary {
				role = RolePrimary
			}
			d.add(ClusterNodeName(i), n.addr, role)
		}
		return nil
	}
	return envErr("discover external cluster", errors.Join(errs...))
}

func (d *extDeployment) node(name string) (*extNode, error) {
	n, ok := d.byName[name]
	if !ok {
		names := make([]string, len(d.nodes))
		for i, x := range d.nodes {
			names[i] = x.name
		}
		return nil, fmt.Errorf("topology: %q: %w (have %s)", name, ErrUnknownNode, strings.Join(names, ", "))
	}
	return n, nil
}

// refuse returns ErrDestructive naming the control unless the run allows it.
func (d *extDeployment) refuse(control, node string) error {
	if d.spec.AllowDestructive {
		return nil
	}
	return fmt.Errorf("topology: %s on external node %s: it would change or stop a server this tool does not own: %w", control, node, ErrDestructive)
}

func (d *extDeployment) Spec() Spec { return d.spec }

func (d *extDeployment) Endpoints() Endpoints {
	e := Endpoints{
		Shape: d.spec.Shape, Username: d.spec.External.Username, Password: d.spec.External.Password, TLS: d.tls,
	}
	for _, n := range d.nodes {
		if n.role == RoleSentinel {
			e.SentinelAddrs = append(e.SentinelAddrs, n.addr)
		} else {
			e.Addrs = append(e.Addrs, n.addr)
		}
	}
	if d.spec.Shape == ShapeSentinel {
		e.MasterName = d.spec.MasterName
	}
	return e
}

func (d *extDeployment) Nodes() []Node {
	return nodesAtOnce(d.nodes, 2*time.Second, func(ctx context.Context, n *extNode) Node {
		r := n.role
		if r != RoleSentinel {
			n.mu.Lock()
			r = n.lastRole
			n.mu.Unlock()
			if got, err := roleOf(ctx, n.client); err == nil {
				r = got
				n.mu.Lock()
				n.lastRole = got
				n.mu.Unlock()
			}
		}
		return Node{Name: n.name, Addr: n.addr, Role: r}
	})
}

func (d *extDeployment) Primary(ctx context.Context) (Node, error) {
	var data, sentinels []*redis.Client
	for _, n := range d.nodes {
		if n.role == RoleSentinel {
			sentinels = append(sentinels, n.client)
		} else {
			data = append(data, n.client)
		}
	}
	var addr string
	var err error
	switch d.spec.Shape {
	case ShapeSentinel:
		addr, err = primaryBySentinel(ctx, sentinels, d.spec.MasterName)
	case ShapeCluster:
		addr, err = primaryByCluster(ctx, data)
	default:
		addr, err = primaryByRole(ctx, data)
	}
	if err != nil {
		return Node{}, fmt.Errorf("topology: find primary of external %s: %w", d.spec.Shape, err)
	}
	for _, n := range d.nodes {
		if n.addr == addr {
			return Node{Name: n.name, Addr: addr, Role: RolePrimary}, nil
		}
	}
	return Node{Name: addr, Addr: addr, Role: RolePrimary}, nil
}

// Stop sends SHUTDOWN NOSAVE, only when destructive controls are allowed.
func (d *extDeployment) Stop(ctx context.Context, name string) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	if err := d.refuse("stop (SHUTDOWN NOSAVE)", name); err != nil {
		return err
	}
	if err := n.client.Do(ctx, "SHUTDOWN", "NOSAVE").Err(); err != nil && isRedisError(err) {
		return fmt.Errorf("topology: SHUTDOWN NOSAVE on external %s: %w", name, err)
	}
	return nil
}

// Kill is impossible: the tool has no process of an external server.
func (d *extDeployment) Kill(ctx context.Context, name string) error {
	if _, err := d.node(name); err != nil {
		return err
	}
	if err := d.refuse("kill", name); err != nil {
		return err
	}
	return fmt.Errorf("topology: kill %s: the external backend has no process to SIGKILL (use stop): %w", name, ErrUnsupported)
}

// Start cannot start an external server; it waits until whatever supervises
// the server (systemd, Kubernetes) has it answering again.
func (d *extDeployment) Start(ctx context.Context, name string) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	if err := waitPing(ctx, n.client, nil, 60*time.Second); err != nil {
		return fmt.Errorf("topology: external %s did not come back (the tool cannot start it; its supervisor must): %w", name, err)
	}
	return nil
}

// Pause freezes all clients with CLIENT PAUSE for ExternalPauseWindow.
func (d *extDeployment) Pause(ctx context.Context, name string) error {
	return d.PauseFor(ctx, name, ExternalPauseWindow)
}

// PauseFor freezes all clients with CLIENT PAUSE <dur> ALL.
func (d *extDeployment) PauseFor(ctx context.Context, name string, dur time.Duration) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	if err := d.refuse("pause (CLIENT PAUSE)", name); err != nil {
		return err
	}
	if err := n.client.Do(ctx, "CLIENT", "PAUSE", max(dur.Milliseconds(), 1), "ALL").Err(); err != nil {
		return fmt.Errorf("topology: CLIENT PAUSE on external %s: %w", name, err)
	}
	n.mu.Lock()
	n.paused, n.pausedUntil = true, time.Now().Add(dur)
	n.mu.Unlock()
	return nil
}

// Resume sends CLIENT UNPAUSE. Redis runs it only once the pause window has
// ended (see ExternalPauseWindow), so Resume returns when the server answers
// again. Undoing a pause is never refused.
func (d *extDeployment) Resume(ctx context.Context, name string) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	until := n.pausedUntil
	n.mu.Unlock()
	rctx, cancel := context.WithDeadline(ctx, laterOf(until, time.Now()).Add(5*time.Second))
	defer cancel()
	if err := n.client.Do(rctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		return fmt.Errorf("topology: CLIENT UNPAUSE on external %s: %w", name, err)
	}
	n.mu.Lock()
	n.paused = false
	n.mu.Unlock()
	return nil
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// readOnlyCommands may run on an external server without --allow-destructive.
// Anything not listed (CONFIG SET, REPLICAOF, CLIENT KILL, FAILOVER, writes,
// FLUSHALL, DEBUG, ...) is refused, so a new command defaults to safe.
var readOnlyCommands = map[string]bool{
	"PING": true, "ECHO": true, "INFO": true, "TIME": true, "DBSIZE": true, "ROLE": true, "LASTSAVE": true,
	"GET": true, "MGET": true, "EXISTS": true, "TTL": true, "PTTL": true, "TYPE": true, "STRLEN": true,
	"SCAN": true, "HGET": true, "HGETALL": true, "HLEN": true, "LLEN": true, "SCARD": true, "ZCARD": true,
	"READONLY": true, "LOLWUT": true,
	"CONFIG GET": true, "CLIENT LIST": true, "CLIENT INFO": true, "CLIENT GETNAME": true, "CLIENT ID": true,
	"MEMORY USAGE": true, "MEMORY STATS": true, "MEMORY DOCTOR": true,
	"SLOWLOG GET": true, "SLOWLOG LEN": true, "LATENCY LATEST": true, "LATENCY HISTORY": true,
	"COMMAND COUNT": true, "COMMAND INFO": true, "COMMAND DOCS": true,
	"CLUSTER INFO": true, "CLUSTER NODES": true, "CLUSTER SLOTS": true, "CLUSTER SHARDS": true,
	"CLUSTER MYID": true, "CLUSTER KEYSLOT": true, "CLUSTER COUNTKEYSINSLOT": true,
	"SENTINEL MASTERS": true, "SENTINEL MASTER": true, "SENTINEL REPLICAS": true, "SENTINEL SLAVES": true,
	"SENTINEL SENTINELS": true, "SENTINEL GET-MASTER-ADDR-BY-NAME": true, "SENTINEL CKQUORUM": true,
	"SENTINEL MYID": true,
}

// commandKey is the command name, with the subcommand for container commands.
func commandKey(args []any) string {
	if len(args) == 0 {
		return ""
	}
	first := strings.ToUpper(fmt.Sprint(args[0]))
	if len(args) > 1 {
		if two := first + " " + strings.ToUpper(fmt.Sprint(args[1])); readOnlyCommands[two] {
			return two
		}
	}
	return first
}

func (d *extDeployment) Do(ctx context.Context, name string, args ...any) (any, error) {
	n, err := d.node(name)
	if err != nil {
		return nil, err
	}
	if key := commandKey(args); !readOnlyCommands[key] {
		if err := d.refuse(cmdName(args), name); err != nil {
			return nil, err
		}
	}
	return doOn(ctx, n.client, name, args...)
}

func (d *extDeployment) Info(ctx context.Context, name, section string) (map[string]string, error) {
	n, err := d.node(name)
	if err != nil {
		return nil, err
	}
	return infoOn(ctx, n.client, name, section)
}

// InfoAll reads INFO from every node that is not paused (an external node
// is never stopped by the tool).
func (d *extDeployment) InfoAll(ctx context.Context, section string) (map[string]map[string]string, error) {
	return infoAll(ctx, d.nodes, func(n *extNode) (string, bool) {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.name, !n.paused
	}, section, d.Info)
}

// KeepLogs cannot copy an external server's log; it saves each node's INFO
// instead, which is what a failed run's reader needs most.
func (d *extDeployment) KeepLogs(dir string) error {
	return keepLogs(dir, d.spec, 5*time.Second, d.nodes, func(ctx context.Context, dir string, n *extNode) error {
		txt, err := n.client.Info(ctx, "everything").Result()
		if err != nil {
			txt = "INFO failed: " + err.Error() + "\n"
		}
		return os.WriteFile(filepath.Join(dir, n.name+".info.txt"), []byte(txt), 0o644)
	})
}

// Close closes the tool's connections; the servers are left running (a
// pause the tool set ends by itself with its window).
func (d *extDeployment) Close(ctx context.Context) error {
	d.once.Do(func() {
		for _, n := range d.nodes {
			_ = n.client.Close()
		}
	})
	return nil
}
