package topology

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/internal/redistext"
)

// Timeouts of the process backend. They bound waits on our own children, so
// a node that hangs turns into an error instead of a stuck run.
const (
	nodeReadyTimeout = 20 * time.Second
	nodeStopTimeout  = 10 * time.Second
	pollInterval     = 25 * time.Millisecond
	startAttempts    = 5 // fresh ports tried when a new node loses a bind race
)

// procNode is one redis-server child process.
type procNode struct {
	name     string
	initRole Role
	sentinel bool
	dir      string
	confPath string
	logPath  string // redis' own logfile
	outPath  string // stdout and stderr of the process (config errors land here)
	// genConf renders the node's config for a port. It is kept so a node that
	// lost a bind race can be started again on another port.
	genConf func(port int) string

	mu       sync.Mutex
	port     int
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current process has been reaped
	paused   bool
	lastRole Role
	client   *redis.Client
	// resume ends a PauseFor; stopped by Resume, Kill, Stop and Close.
	resume *time.Timer
	// gate and busGate stand in front of the node's port and cluster bus
	// port when the deployment has node links (Spec.NodeLinks): the node
	// announces them, so every other node and every client reaches it
	// through them.
	gate, busGate *gate
}

// stopResumeLocked cancels a pending PauseFor timer.
func (n *procNode) stopResumeLocked() {
	if n.resume != nil {
		n.resume.Stop()
		n.resume = nil
	}
}

// addr is the address the node is known by: what it announces to the other
// nodes and clients (its gate, with node links), else its own port.
func (n *procNode) addr() string {
	if n.gate != nil {
		return n.gate.addr()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return addrOf(n.port)
}

// announceConf is the config that makes a node announce its gates: every
// other node, and every client, then reaches it through them. Empty without
// node links.
func (n *procNode) announceConf() string {
	switch {
	case n.gate == nil:
		return ""
	case n.sentinel:
		return fmt.Sprintf("sentinel announce-ip 127.0.0.1\nsentinel announce-port %d\n", n.gate.port())
	case n.busGate != nil:
		return fmt.Sprintf("cluster-announce-ip 127.0.0.1\ncluster-announce-port %d\ncluster-announce-bus-port %d\n", n.gate.port(), n.busGate.port())
	}
	return fmt.Sprintf("replica-announce-ip 127.0.0.1\nreplica-announce-port %d\n", n.gate.port())
}

// announcedPort is the port of addr.
func (n *procNode) announcedPort() int {
	if n.gate != nil {
		return n.gate.port()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.port
}

// pid is the node's process id while it runs (0 when it does not).
func (n *procNode) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.runningLocked() {
		return 0
	}
	return n.cmd.Process.Pid
}

func addrOf(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// running reports whether the node's process is alive (it may be paused).
func (n *procNode) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runningLocked()
}

func (n *procNode) runningLocked() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// procDeployment is a Deployment of redis-server child processes.
type procDeployment struct {
	spec    Spec
	bin     string
	base    string
	ownBase bool
	l       *launcher
	// links holds the node link gates (Spec.NodeLinks); nil without.
	links *links
	// linked is the nodes as the gates see them: a copy published after
	// each node is added, since gates ask for sockets' owners while later
	// nodes are still being added.
	linked atomic.Pointer[[]*procNode]
	nodes  []*procNode
	byName map[string]*procNode

	closeOnce sync.Once
	closeErr  error
}

func startProcess(ctx context.Context, spec Spec) (_ Deployment, err error) {
	bin, err := FindRedisServer(spec.RedisServer)
	if err != nil {
		return nil, err
	}
	spec.RedisServer = bin
	d := &procDeployment{spec: spec, bin: bin, byName: map[string]*procNode{}}
	if spec.Dir == "" {
		d.base, err = os.MkdirTemp("", "cacheproof-redis-")
		d.ownBase = true
	} else {
		if err = os.MkdirAll(spec.Dir, 0o755); err == nil {
			d.base, err = os.MkdirTemp(spec.Dir, "redis-")
		}
	}
	if err != nil {
		return nil, envErr("create node folder", err)
	}
	d.l = newLauncher()
	if spec.NodeLinks {
		d.links = newLinks(d.socketOwner)
	}
	defer func() {
		if err != nil {
			if spec.LogDir != "" {
				_ = d.KeepLogs(spec.LogDir)
			}
			_ = d.Close(context.WithoutCancel(ctx))
		}
	}()
	switch spec.Shape {
	case ShapeStandalone:
		err = d.buildReplicated(ctx, false)
	case ShapeReplica:
		err = d.buildReplicated(ctx, false)
	case ShapeSentinel:
		err = d.buildReplicated(ctx, true)
	case ShapeCluster:
		err = d.buildCluster(ctx)
	default:
		err = fmt.Errorf("topology: shape %q: %w", spec.Shape, ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	spec.Logf("topology: %s on process backend ready: %s", spec.Shape, d.describe())
	return d, nil
}

func (d *procDeployment) describe() string {
	var b strings.Builder
	for i, n := range d.nodes {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", n.name, n.addr())
	}
	return b.String()
}

// newNode creates the node's folder and registers it; it does not start it.
func (d *procDeployment) newNode(name string, role Role, genConf func(port int) string) (*procNode, error) {
	dir := filepath.Join(d.base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, envErr("create node folder", err)
	}
	logName := "redis.log"
	if role == RoleSentinel {
		logName = "sentinel.log"
	}
	n := &procNode{
		name: name, initRole: role, lastRole: role, sentinel: role == RoleSentinel,
		dir: dir, confPath: filepath.Join(dir, "redis.conf"),
		logPath: filepath.Join(dir, logName), outPath: filepath.Join(dir, "output.log"),
		genConf: genConf,
	}
	if d.links != nil {
		var err error
		if n.gate, err = d.links.open(name); err != nil {
			return nil, err
		}
		if d.spec.Shape == ShapeCluster {
			if n.busGate, err = d.links.open(name); err != nil {
				return nil, err
			}
		}
	}
	d.nodes = append(d.nodes, n)
	d.byName[name] = n
	nodes := append([]*procNode(nil), d.nodes...)
	d.linked.Store(&nodes)
	return n, nil
}

// baseConf is the part of every data node's config that the spec decides.
func (d *procDeployment) baseConf(n *procNode, port int) string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s %s\n", k, v) }
	line("port", strconv.Itoa(port))
	line("bind", "127.0.0.1")
	// Protected mode only guards non-loopback interfaces; the node listens on
	// loopback alone, so turning it off loses nothing and lets tests connect
	// without a password.
	line("protected-mode", "no")
	line("enable-debug-command", "local")
	line("daemonize", "no")
	line("dir", quoteConf(n.dir))
	line("logfile", quoteConf(n.logPath))
	// Redis waits 5 s by default before a diskless full sync, hoping more
	// replicas join; here that only delays every replica's first sync and
	// every resync after a fault.
	line("repl-diskless-sync-delay", "0")
	b.WriteString(n.announceConf())
	if d.spec.Persistence {
		line("appendonly", "yes")
	} else {
		line("save", `""`)
		line("appendonly", "no")
	}
	if pw := d.password(); pw != "" {
		line("masterauth", quoteConf(pw))
	}
	if d.spec.MaxMemory > 0 {
		line("maxmemory", d.spec.MaxMemory.String())
	}
	if d.spec.MaxMemoryPolicy != "" {
		line("maxmemory-policy", d.spec.MaxMemoryPolicy)
	}
	return b.String()
}

// password is the requirepass of Spec.ExtraConfig, if any: control clients,
// replicas (masterauth) and sentinels (auth-pass) need it, and Endpoints
// hands it to the pool under test.
func (d *procDeployment) password() string { return d.spec.ExtraConfig["requirepass"] }

// extraConf renders Spec.ExtraConfig; it comes last so it overrides.
func (d *procDeployment) extraConf() string {
	var b strings.Builder
	for _, k := range sortedKeys(d.spec.ExtraConfig) {
		fmt.Fprintf(&b, "%s %s\n", k, d.spec.ExtraConfig[k])
	}
	return b.String()
}

// quoteConf quotes a value for redis.conf, which understands Go-style
// double-quoted strings for plain characters.
func quoteConf(s string) string { return strconv.Quote(s) }

// launch starts n for the first time. A new node may lose a race for its port
// against another test binary; then it gets a fresh port and tries again.
func (d *procDeployment) launch(ctx context.Context, n *procNode) error {
	var last error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := pickPortFunc()
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.port = port
		n.mu.Unlock()
		if n.gate != nil {
			n.gate.route(addrOf(port))
		}
		if n.busGate != nil {
			n.busGate.route(addrOf(port + busOffset))
		}
		if err := os.WriteFile(n.confPath, []byte(n.genConf(port)), 0o644); err != nil {
			return envErr("write config of "+n.name, err)
		}
		err = d.run(ctx, n)
		if err == nil {
			return nil
		}
		last = err
		if !errors.Is(err, errPortInUse) {
			return err
		}
		d.spec.Logf("topology: %s lost port %d to someone else, trying another", n.name, port)
		releasePort(port)
		// The control client is bound to the lost address; the next run
		// makes one for the new port.
		n.mu.Lock()
		if n.client != nil {
			_ = n.client.Close()
			n.client = nil
		}
		n.mu.Unlock()
	}
	return last
}

var errPortInUse = errors.New("address already in use")

// reapHook runs after a node's process was reaped and before the node is
// marked as exited. Tests widen that gap (a process that is gone but not yet
// reaped, as under load) to check Start does not take it for a live node.
var reapHook = func() {}

// run starts n's process with its current config and waits until it answers.
func (d *procDeployment) run(ctx context.Context, n *procNode) error {
	out, err := os.OpenFile(n.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return envErr("open output of "+n.name, err)
	}
	// The log is truncated per start only by redis itself (it appends); mark
	// where this start begins so a bind failure is read from this run only.
	logStart := fileSize(n.logPath)
	args := []string{n.confPath}
	if n.sentinel {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command(d.bin, args...)
	cmd.Dir = n.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Die with the tool, even when the tool is SIGKILLed.
		Pdeathsig: syscall.SIGKILL,
		// Own process group: a Ctrl-C in the terminal reaches the tool, which
		// then shuts the nodes down after writing its report, instead of
		// killing Redis under a run that is still measuring.
		Setpgid: true,
	}
	if err := d.l.start(cmd); err != nil {
		_ = out.Close()
		return envErr("start "+n.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		reapHook()
		close(exited)
	}()
	n.mu.Lock()
	n.cmd, n.exited, n.paused = cmd, exited, false
	if n.client == nil {
		pw := d.password()
		if n.sentinel {
			pw = ""
		}
		n.client = newNodeClient(addrOf(n.port), pw)
	}
	client := n.client
	n.mu.Unlock()

	err = waitPing(ctx, client, exited, nodeReadyTimeout)
	if err == nil {
		return nil
	}
	_ = cmd.Process.Kill()
	<-exited
	tail := tailFrom(n.logPath, logStart) + tailFrom(n.outPath, 0)
	if strings.Contains(tail, "Address already in use") {
		return fmt.Errorf("%s: %w", n.name, errPortInUse)
	}
	return envErr("start "+n.name, fmt.Errorf("%w; log tail:\n%s", err, lastLines(tail, 15)))
}

// newNodeClient is a small client for control traffic to one node. Retries
// are off so a control command (FAILOVER, SHUTDOWN) runs at most once; RESP2
// keeps replies in the plain shapes Do documents.
func newNodeClient(addr, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  addr,
		Password:              password,
		Protocol:              2,
		DialTimeout:           time.Second,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		PoolSize:              4,
		MaxRetries:            -1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	})
}

// waitPing polls PING until it answers, the process exits or time runs out.
func waitPing(ctx context.Context, c *redis.Client, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		last = c.Ping(pctx).Err()
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("process exited before answering PING")
		case <-ctx.Done():
			return fmt.Errorf("no PONG within %s: %w", timeout, last)
		case <-time.After(pollInterval):
		}
	}
}

func (d *procDeployment) node(name string) (*procNode, error) {
	n, ok := d.byName[name]
	if !ok {
		return nil, fmt.Errorf("topology: %q: %w (have %s)", name, ErrUnknownNode, strings.Join(d.names(), ", "))
	}
	return n, nil
}

func (d *procDeployment) names() []string {
	out := make([]string, len(d.nodes))
	for i, n := range d.nodes {
		out[i] = n.name
	}
	return out
}

// socketOwner names the node whose process holds the socket inode, "" for
// none (a client of the deployment).
func (d *procDeployment) socketOwner(inode uint64) string {
	nodes := d.linked.Load()
	if nodes == nil {
		return ""
	}
	for _, n := range *nodes {
		if pid := n.pid(); pid > 0 && holdsSocket(pid, inode) {
			return n.name
		}
	}
	return ""
}

// Cut implements Partitioner when the deployment has node links.
func (d *procDeployment) Cut(from, to string) (func(), error) {
	if d.links == nil {
		return nil, fmt.Errorf("topology: cut %s -> %s: the deployment was started without node links (Spec.NodeLinks): %w", from, to, ErrUnsupported)
	}
	for _, end := range []string{from, to} {
		if _, err := d.node(end); err != nil && end != Clients {
			return nil, err
		}
	}
	return d.links.Cut(from, to)
}

// Spec returns the spec with defaults filled in.
func (d *procDeployment) Spec() Spec { return d.spec }

// Endpoints lists the node addresses; process ports never change.
func (d *procDeployment) Endpoints() Endpoints {
	e := Endpoints{Shape: d.spec.Shape, Password: d.password()}
	for _, n := range d.nodes {
		if n.sentinel {
			e.SentinelAddrs = append(e.SentinelAddrs, n.addr())
		} else {
			e.Addrs = append(e.Addrs, n.addr())
		}
	}
	if d.spec.Shape == ShapeSentinel {
		e.MasterName = d.spec.MasterName
	}
	return e
}

// Nodes lists the nodes with their roles as of now.
func (d *procDeployment) Nodes() []Node {
	return nodesAtOnce(d.nodes, time.Second, func(ctx context.Context, n *procNode) Node {
		return Node{Name: n.name, Addr: n.addr(), Role: d.currentRole(ctx, n)}
	})
}

// currentRole asks a data node for its role, falling back to the last known.
func (d *procDeployment) currentRole(ctx context.Context, n *procNode) Role {
	if n.sentinel {
		return RoleSentinel
	}
	n.mu.Lock()
	up, client, last := n.runningLocked() && !n.paused, n.client, n.lastRole
	n.mu.Unlock()
	if !up || client == nil {
		return last
	}
	r, err := roleOf(ctx, client)
	if err != nil {
		return last
	}
	n.mu.Lock()
	n.lastRole = r
	n.mu.Unlock()
	return r
}

// Primary finds the current primary.
func (d *procDeployment) Primary(ctx context.Context) (Node, error) {
	var data []*procNode
	var sentinels []*procNode
	for _, n := range d.nodes {
		if n.sentinel {
			sentinels = append(sentinels, n)
		} else if n.running() {
			data = append(data, n)
		}
	}
	var addr string
	var err error
	switch d.spec.Shape {
	case ShapeSentinel:
		addr, err = primaryBySentinel(ctx, clientsOf(sentinels), d.spec.MasterName)
	case ShapeCluster:
		addr, err = primaryByCluster(ctx, clientsOf(data))
	default:
		addr, err = primaryByRole(ctx, clientsOf(data))
	}
	if err != nil {
		return Node{}, fmt.Errorf("topology: find primary of %s: %w", d.spec.Shape, err)
	}
	for _, n := range d.nodes {
		if n.addr() == addr {
			return Node{Name: n.name, Addr: addr, Role: RolePrimary}, nil
		}
	}
	return Node{}, fmt.Errorf("topology: primary %s is not a node of this deployment", addr)
}

func clientsOf(ns []*procNode) []*redis.Client {
	out := make([]*redis.Client, 0, len(ns))
	for _, n := range ns {
		n.mu.Lock()
		if n.client != nil && !n.paused {
			out = append(out, n.client)
		}
		n.mu.Unlock()
	}
	return out
}

// Stop shuts a node down with SHUTDOWN NOSAVE and waits for it to exit. A
// stopped node is left as is.
func (d *procDeployment) Stop(ctx context.Context, name string) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if !n.runningLocked() {
		n.mu.Unlock()
		return nil
	}
	cmd, exited, paused, client := n.cmd, n.exited, n.paused, n.client
	n.stopResumeLocked()
	n.mu.Unlock()
	if paused {
		// A stopped process cannot read SHUTDOWN; wake it first.
		_ = cmd.Process.Signal(syscall.SIGCONT)
		n.mu.Lock()
		n.paused = false
		n.mu.Unlock()
	}
	sctx, cancel := context.WithTimeout(ctx, nodeStopTimeout)
	defer cancel()
	err = client.Do(sctx, "SHUTDOWN", "NOSAVE").Err()
	if err != nil && isRedisError(err) {
		// Not every server (older sentinels) accepts SHUTDOWN; SIGTERM is the
		// same graceful path from the outside.
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
		return nil
	case <-sctx.Done():
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("topology: stop %s: did not exit after SHUTDOWN NOSAVE, killed it: %w", name, sctx.Err())
	}
}

// isRedisError tells a reply error (the server said no) from a broken link.
func isRedisError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, io.EOF)
}

// Kill sends SIGKILL and waits until the process is reaped.
func (d *procDeployment) Kill(ctx context.Context, name string) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if !n.runningLocked() {
		n.mu.Unlock()
		return nil
	}
	cmd, exited := n.cmd, n.exited
	n.paused = false
	n.stopResumeLocked()
	n.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("topology: kill %s: %w", name, err)
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("topology: kill %s: %w", name, ctx.Err())
	}
}

// Start starts a stopped or killed node again on its address and waits until
// it answers PING. A node that is running and answers (or is paused) is left
// as is.
//
// A node stopped from outside (SHUTDOWN sent by another client, a crash) is
// gone before this process has reaped it, so "not reaped yet" does not mean
// "running": a node that does not answer is waited for until it exits and
// then started, instead of being reported as up when nothing listens on its
// port. A restart that cannot bind its old port fails with an error naming
// the port and what holds it; it never moves the node to another address
// behind the clients' back.
func (d *procDeployment) Start(ctx context.Context, name string) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	up, paused, client, exited := n.runningLocked(), n.paused, n.client, n.exited
	n.mu.Unlock()
	if up && paused {
		return nil
	}
	if up {
		err := waitPing(ctx, client, exited, nodeStopTimeout)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
		default:
			return envErr("start "+name, fmt.Errorf("the process on port %d is alive but does not answer PING (%w); not starting a second one", n.port, err))
		}
	}
	if err := d.run(ctx, n); err != nil {
		if errors.Is(err, errPortInUse) {
			who := portHolders(n.port)
			if bus := n.port + busOffset; strings.Contains(n.genConf(n.port), "cluster-enabled yes") {
				who += fmt.Sprintf("; its cluster bus port %d: %s", bus, portHolders(bus))
			}
			return envErr("start "+name, fmt.Errorf("cannot listen on its port %d again, taken while the node was down: %s: %w", n.port, who, err))
		}
		return err
	}
	return nil
}

// Pause freezes a node with SIGSTOP: clients see stalls, not errors.
func (d *procDeployment) Pause(ctx context.Context, name string) error {
	return d.signal(name, syscall.SIGSTOP, true)
}

// Resume thaws a paused node with SIGCONT.
func (d *procDeployment) Resume(ctx context.Context, name string) error {
	return d.signal(name, syscall.SIGCONT, false)
}

// PauseFor freezes a node with SIGSTOP and thaws it after dur.
func (d *procDeployment) PauseFor(ctx context.Context, name string, dur time.Duration) error {
	if err := d.signal(name, syscall.SIGSTOP, true); err != nil {
		return err
	}
	n := d.byName[name]
	n.mu.Lock()
	n.resume = time.AfterFunc(dur, func() { _ = d.signal(name, syscall.SIGCONT, false) })
	n.mu.Unlock()
	return nil
}

func (d *procDeployment) signal(name string, sig syscall.Signal, paused bool) error {
	n, err := d.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopResumeLocked()
	if !n.runningLocked() {
		return fmt.Errorf("topology: %s %s: node is not running", sig, name)
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("topology: %s %s: %w", sig, name, err)
	}
	n.paused = paused
	return nil
}

// Do runs one command on one node. A nil reply is returned as (nil, nil).
func (d *procDeployment) Do(ctx context.Context, name string, args ...any) (any, error) {
	n, err := d.node(name)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	client := n.client
	n.mu.Unlock()
	return doOn(ctx, client, name, args...)
}

func doOn(ctx context.Context, c *redis.Client, name string, args ...any) (any, error) {
	if c == nil {
		return nil, fmt.Errorf("topology: %s: node was never started", name)
	}
	v, err := c.Do(ctx, args...).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("topology: %s on %s: %w", cmdName(args), name, err)
	}
	return v, nil
}

func cmdName(args []any) string {
	var parts []string
	for i, a := range args {
		if i == 2 {
			break
		}
		parts = append(parts, strings.ToUpper(fmt.Sprint(a)))
	}
	return strings.Join(parts, " ")
}

// Info reads one INFO section of one node.
func (d *procDeployment) Info(ctx context.Context, name, section string) (map[string]string, error) {
	n, err := d.node(name)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	client := n.client
	n.mu.Unlock()
	return infoOn(ctx, client, name, section)
}

func infoOn(ctx context.Context, c *redis.Client, name, section string) (map[string]string, error) {
	args := []any{"INFO"}
	if section != "" {
		args = append(args, section)
	}
	v, err := doOn(ctx, c, name, args...)
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("topology: INFO on %s: unexpected reply %T", name, v)
	}
	return redistext.ParseInfo(s), nil
}

// InfoAll reads INFO from every node that is up.
func (d *procDeployment) InfoAll(ctx context.Context, section string) (map[string]map[string]string, error) {
	return infoAll(ctx, d.nodes, func(n *procNode) (string, bool) {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.name, n.runningLocked() && !n.paused
	}, section, d.Info)
}

// KeepLogs copies every node's log (and its stdout/stderr, if any) into dir;
// dir "" means Spec.LogDir.
func (d *procDeployment) KeepLogs(dir string) error {
	return keepLogs(dir, d.spec, time.Second, d.nodes, func(_ context.Context, dir string, n *procNode) error {
		var errs []error
		if err := copyFile(n.logPath, filepath.Join(dir, n.name+".log")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if fileSize(n.outPath) > 0 {
			errs = append(errs, copyFile(n.outPath, filepath.Join(dir, n.name+".output.log")))
		}
		return errors.Join(errs...)
	})
}

// Close terminates every node (SIGTERM, then SIGKILL after a grace period),
// ends the launcher thread and removes the temporary folder.
func (d *procDeployment) Close(ctx context.Context) error {
	d.closeOnce.Do(func() { d.closeErr = d.close(ctx) })
	return d.closeErr
}

func (d *procDeployment) close(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, n := range d.nodes {
		n.mu.Lock()
		cmd, exited, up := n.cmd, n.exited, n.runningLocked()
		n.stopResumeLocked()
		n.mu.Unlock()
		if !up {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			t := time.NewTimer(5 * time.Second)
			defer t.Stop()
			select {
			case <-exited:
			case <-t.C:
				_ = cmd.Process.Kill()
				<-exited
			case <-ctx.Done():
				_ = cmd.Process.Kill()
				<-exited
			}
		}()
	}
	wg.Wait()
	if d.links != nil {
		d.links.close()
	}
	var errs []error
	for _, n := range d.nodes {
		if n.client != nil {
			_ = n.client.Close()
		}
		releasePort(n.port)
	}
	d.l.close()
	if d.ownBase {
		if err := os.RemoveAll(d.base); err != nil {
			errs = append(errs, fmt.Errorf("topology: remove %s: %w", d.base, err))
		}
	}
	return errors.Join(errs...)
}
