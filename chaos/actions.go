package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

// action is one fault's effect on the deployment: inject starts it, revert
// ends it. revert is called even when inject failed part-way, so it must
// undo only what inject did. notes collects what a reader of the report
// should know (what was changed, what went wrong).
type action interface {
	inject(ctx context.Context) error
	revert(ctx context.Context) error
}

// notes is embedded by actions to collect report notes.
type notes struct {
	mu sync.Mutex
	ns []string
}

func (n *notes) notef(format string, args ...any) {
	n.mu.Lock()
	n.ns = append(n.ns, fmt.Sprintf(format, args...))
	n.mu.Unlock()
}

func (n *notes) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.ns
	n.ns = nil
	return out
}

// env is what actions act on.
type env struct {
	dep topology.Controller
	net *Network
	*notes
	// lastPrimary remembers the primary last found, for faults that overlap
	// one that leaves no primary (a demoted or stopped standalone node).
	lastPrimary *primaryMemo
	// onRestart is told when a restarted node serves again (empty, unless
	// the deployment persists), so the caller can forget what it wrote.
	onRestart func(node string)
}

type primaryMemo struct {
	mu   sync.Mutex
	node topology.Node
}

func (m *primaryMemo) set(n topology.Node) {
	m.mu.Lock()
	m.node = n
	m.mu.Unlock()
}

func (m *primaryMemo) get() (topology.Node, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.node, m.node.Name != ""
}

// resolveNode turns "primary" into the current primary's node name. When no
// node is primary right now because another fault demoted or stopped it, the
// primary last seen is the one meant.
func (e env) resolveNode(ctx context.Context, name string) (topology.Node, error) {
	if name == "" || name == NodePrimary {
		p, err := e.dep.Primary(ctx)
		if err == nil {
			if e.lastPrimary != nil {
				e.lastPrimary.set(p)
			}
			return p, nil
		}
		if e.lastPrimary != nil {
			if last, ok := e.lastPrimary.get(); ok {
				e.notef("no node is primary now (%v); acting on %s, the primary last seen", err, last.Name)
				return last, nil
			}
		}
		return topology.Node{}, fmt.Errorf("find the primary: %w", err)
	}
	for _, n := range e.dep.Nodes() {
		if n.Name == name {
			return n, nil
		}
	}
	return topology.Node{}, fmt.Errorf("node %q: %w", name, topology.ErrUnknownNode)
}

// newAction builds the action of f on the node it names.
func newAction(f Fault, e env, node topology.Node) (action, error) {
	switch f.Kind {
	case KindRestart:
		return &restartAction{env: e, node: node.Name, kill: f.Mode == ModeKill}, nil
	case KindPause:
		return &pauseAction{env: e, node: node.Name, mode: f.Mode, dur: f.For}, nil
	case KindMemoryPressure:
		return &memoryAction{env: e, node: node.Name, f: f}, nil
	case KindReadOnly:
		return &readonlyAction{env: e, node: node.Name}, nil
	case KindFailover:
		return &failoverAction{env: e, node: f.Node}, nil
	case KindClientKill:
		return &clientKillAction{env: e, node: node.Name}, nil
	case KindNetwork:
		if e.net == nil {
			return nil, errors.New("network fault without a proxy: the cache manager does not go through one")
		}
		return &networkAction{env: e, addr: node.Addr, t: Toxic{
			Type: f.Toxic, Latency: f.Latency, Jitter: f.Jitter, RateKBps: f.RateKBps, Timeout: f.Timeout, Direction: f.Direction,
		}}, nil
	}
	return nil, fmt.Errorf("unknown fault kind %q", f.Kind)
}

// restartAction: SHUTDOWN NOSAVE (graceful) or SIGKILL, then start again on
// the same address once the fault's for: has passed.
type restartAction struct {
	env
	node string
	kill bool
}

func (a *restartAction) inject(ctx context.Context) error {
	if a.kill {
		return a.dep.Kill(ctx, a.node)
	}
	return a.dep.Stop(ctx, a.node)
}

func (a *restartAction) revert(ctx context.Context) error {
	if err := a.dep.Start(ctx, a.node); err != nil {
		return err
	}
	if a.onRestart != nil && !a.dep.Spec().Persistence {
		a.onRestart(a.node)
	}
	return nil
}

// pauseAction: SIGSTOP/SIGCONT, or CLIENT PAUSE WRITE|ALL for the fault's
// duration (Redis lifts the pause by itself when the timeout passes, so a
// tool that dies mid-fault does not leave Redis paused).
type pauseAction struct {
	env
	node   string
	mode   string
	dur    time.Duration
	paused bool
}

func (a *pauseAction) inject(ctx context.Context) error {
	switch a.mode {
	case ModeClientPauseWrite, ModeClientPauseAll:
		what := "WRITE"
		if a.mode == ModeClientPauseAll {
			what = "ALL"
		}
		ms := max(a.dur.Milliseconds(), 1)
		if _, err := a.dep.Do(ctx, a.node, "CLIENT", "PAUSE", ms, what); err != nil {
			return err
		}
		a.paused = true
		return nil
	default:
		if err := a.dep.Pause(ctx, a.node); err != nil {
			return err
		}
		a.paused = true
		return nil
	}
}

func (a *pauseAction) revert(ctx context.Context) error {
	if !a.paused {
		return nil
	}
	if a.mode == ModeClientPauseWrite || a.mode == ModeClientPauseAll {
		_, err := a.dep.Do(ctx, a.node, "CLIENT", "UNPAUSE")
		return err
	}
	return a.dep.Resume(ctx, a.node)
}

// BallastPrefix is the prefix of the keys a memory-pressure fault writes to
// take memory away from the cache; they are deleted when the fault ends.
const BallastPrefix = "cacheproof:ballast:"

const ballastChunk = 512 << 10

// memoryAction lowers maxmemory to a size or a fraction of used_memory,
// after writing ballast keys when asked, and restores both at the end.
type memoryAction struct {
	env
	node      string
	f         Fault
	orig      string // maxmemory before the fault, as CONFIG GET said
	changed   bool
	ballastN  int
	ballastOK int64
}

func (a *memoryAction) inject(ctx context.Context) error {
	mem, err := a.dep.Info(ctx, a.node, "memory")
	if err != nil {
		return err
	}
	used, _ := strconv.ParseInt(mem["used_memory"], 10, 64)
	v, err := a.dep.Do(ctx, a.node, "CONFIG", "GET", "maxmemory")
	if err != nil {
		return err
	}
	orig, err := configValue(v, "maxmemory")
	if err != nil {
		return err
	}
	a.orig = orig
	if a.f.Ballast > 0 {
		payload := strings.Repeat("b", ballastChunk)
		for written := int64(0); written < a.f.Ballast; written += ballastChunk {
			chunk := payload
			if rest := a.f.Ballast - written; rest < ballastChunk {
				chunk = payload[:rest]
			}
			key := BallastPrefix + strconv.Itoa(a.ballastN)
			a.ballastN++
			if _, err := a.dep.Do(ctx, a.node, "SET", key, chunk); err != nil {
				a.notef("ballast stopped after %s: %v", fmtBytes(a.ballastOK), err)
				break
			}
			a.ballastOK += int64(len(chunk))
		}
		if a.ballastOK > 0 {
			a.notef("wrote %s of ballast in %d keys under %s", fmtBytes(a.ballastOK), a.ballastN, BallastPrefix)
		}
	}
	limit := a.f.MaxMemory
	if a.f.Fraction > 0 {
		limit = int64(float64(used) * a.f.Fraction)
	}
	// maxmemory 0 means "no limit" to Redis; the smallest real limit is 1.
	limit = max(limit, 1<<20)
	if _, err := a.dep.Do(ctx, a.node, "CONFIG", "SET", "maxmemory", strconv.FormatInt(limit, 10)); err != nil {
		return err
	}
	a.changed = true
	a.notef("maxmemory %s -> %s (used_memory was %s)", fmtBytesStr(orig), fmtBytes(limit), fmtBytes(used))
	return nil
}

func (a *memoryAction) revert(ctx context.Context) error {
	var errs []error
	for i := 0; i < a.ballastN; {
		args := []any{"UNLINK"}
		for ; i < a.ballastN && len(args) < 257; i++ {
			args = append(args, BallastPrefix+strconv.Itoa(i))
		}
		if _, err := a.dep.Do(ctx, a.node, args...); err != nil {
			errs = append(errs, fmt.Errorf("delete ballast: %w", err))
			break
		}
	}
	if a.changed {
		if _, err := a.dep.Do(ctx, a.node, "CONFIG", "SET", "maxmemory", a.orig); err != nil {
			errs = append(errs, fmt.Errorf("restore maxmemory %s: %w", a.orig, err))
		}
	}
	return errors.Join(errs...)
}

// configValue picks one value out of a CONFIG GET reply (RESP2: a flat
// list of name, value).
func configValue(v any, name string) (string, error) {
	list, ok := v.([]any)
	if !ok {
		return "", fmt.Errorf("CONFIG GET %s: unexpected reply %T", name, v)
	}
	for i := 0; i+1 < len(list); i += 2 {
		if fmt.Sprint(list[i]) == name {
			return fmt.Sprint(list[i+1]), nil
		}
	}
	return "", fmt.Errorf("CONFIG GET %s: not in reply", name)
}

// readonlyAction demotes a node with REPLICAOF towards an address this
// process holds open but that never completes a handshake: it accepts and
// closes every connection. A Redis 7 replica keeps its dataset until a full
// sync from its new primary succeeds, so nothing is lost, no other process
// can take the port meanwhile, and writes get READONLY. REPLICAOF NO ONE (or
// back to its former primary, for a node that was a replica) ends it.
type readonlyAction struct {
	env
	node       string
	ln         net.Listener
	wg         sync.WaitGroup
	demoted    bool
	origMaster string // host port, when the node was a replica
}

func (a *readonlyAction) inject(ctx context.Context) error {
	inf, err := a.dep.Info(ctx, a.node, "replication")
	if err != nil {
		return err
	}
	if inf["role"] == "slave" {
		a.origMaster = inf["master_host"] + " " + inf["master_port"]
	}
	a.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the throwaway primary: %w", err)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := a.ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	host, port, _ := net.SplitHostPort(a.ln.Addr().String())
	if _, err := a.dep.Do(ctx, a.node, "REPLICAOF", host, port); err != nil {
		return err
	}
	a.demoted = true
	a.notef("REPLICAOF %s %s on %s (an address that never completes a sync)", host, port, a.node)
	return nil
}

func (a *readonlyAction) revert(ctx context.Context) error {
	var err error
	if a.demoted {
		if a.origMaster != "" {
			host, port, _ := strings.Cut(a.origMaster, " ")
			_, err = a.dep.Do(ctx, a.node, "REPLICAOF", host, port)
		} else {
			_, err = a.dep.Do(ctx, a.node, "REPLICAOF", "NO", "ONE")
		}
	}
	if a.ln != nil {
		_ = a.ln.Close()
		a.wg.Wait()
	}
	return err
}

// failoverTimeout bounds the wait for a new primary after a failover.
const failoverTimeout = 30 * time.Second

// failoverAction: SENTINEL FAILOVER (sentinel shape) or CLUSTER FAILOVER on
// a replica of the primary (cluster shape). inject returns once a different
// node is primary, so the fault's end is the moment the new primary serves.
type failoverAction struct {
	env
	node string // cluster: the replica to promote ("" = a replica of the slot-0 primary)
}

func (a *failoverAction) inject(ctx context.Context) error {
	old, err := a.dep.Primary(ctx)
	if err != nil {
		return fmt.Errorf("find the primary: %w", err)
	}
	switch shape := a.dep.Spec().Shape; shape {
	case topology.ShapeSentinel:
		sentinel := ""
		for _, n := range a.dep.Nodes() {
			if n.Role == topology.RoleSentinel {
				sentinel = n.Name
				break
			}
		}
		if sentinel == "" {
			return errors.New("no sentinel node")
		}
		if _, err := a.dep.Do(ctx, sentinel, "SENTINEL", "FAILOVER", a.dep.Spec().MasterName); err != nil {
			return err
		}
		a.notef("SENTINEL FAILOVER %s via %s; old primary %s", a.dep.Spec().MasterName, sentinel, old.Name)
	case topology.ShapeCluster:
		replica := a.node
		if replica == "" || replica == NodePrimary {
			if replica, err = a.replicaOf(ctx, old); err != nil {
				return err
			}
		}
		if _, err := a.dep.Do(ctx, replica, "CLUSTER", "FAILOVER"); err != nil {
			return err
		}
		a.notef("CLUSTER FAILOVER on %s; old primary %s", replica, old.Name)
	default:
		return fmt.Errorf("failover needs the sentinel or cluster shape, not %s", shape)
	}
	wctx, cancel := context.WithTimeout(ctx, failoverTimeout)
	defer cancel()
	for {
		p, err := a.dep.Primary(wctx)
		if err == nil && p.Name != old.Name {
			a.notef("new primary %s", p.Name)
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("no new primary within %s (still %s)", failoverTimeout, old.Name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// replicaOf finds a replica whose primary is p.
func (a *failoverAction) replicaOf(ctx context.Context, p topology.Node) (string, error) {
	_, pport, _ := net.SplitHostPort(p.Addr)
	for _, n := range a.dep.Nodes() {
		if n.Role != topology.RoleReplica {
			continue
		}
		inf, err := a.dep.Info(ctx, n.Name, "replication")
		if err != nil {
			continue
		}
		if inf["master_port"] == pport && inf["master_link_status"] == "up" {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("no replica of %s with its link up", p.Name)
}

func (a *failoverAction) revert(context.Context) error { return nil }

// clientKillAction: CLIENT KILL TYPE normal breaks every client connection
// (the whole pool) at once.
type clientKillAction struct {
	env
	node string
}

func (a *clientKillAction) inject(ctx context.Context) error {
	v, err := a.dep.Do(ctx, a.node, "CLIENT", "KILL", "TYPE", "normal")
	if err != nil {
		return err
	}
	a.notef("CLIENT KILL TYPE normal on %s closed %v connections", a.node, v)
	return nil
}

func (a *clientKillAction) revert(context.Context) error { return nil }

// networkAction adds a toxic to the proxy in front of a node.
type networkAction struct {
	env
	addr string
	t    Toxic
	undo func() error
}

func (a *networkAction) inject(context.Context) error {
	undo, err := a.net.Apply(a.addr, a.t)
	if err != nil {
		return err
	}
	a.undo = undo
	a.notef("toxic %s on the proxy in front of %s", a.t.Type, a.addr)
	return nil
}

func (a *networkAction) revert(context.Context) error {
	if a.undo == nil {
		return nil
	}
	return a.undo()
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fgb", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fmb", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkb", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%db", n)
}

func fmtBytesStr(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return s
	}
	if n == 0 {
		return "0 (no limit)"
	}
	return fmtBytes(n)
}
