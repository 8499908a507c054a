package chaos

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// Target is what one occurrence of a fault acts on, handed to Kind.Inject.
type Target struct {
	// Deployment is the deployment's controls.
	Deployment topology.Controller
	// Node is the node the entry names, resolved when the occurrence
	// starts ("primary": the primary then). For a kind that reads node:
	// itself (Traits.OwnNode) it is the primary then, named in the report.
	Node topology.Node
	// Fault is the entry being played (For, Node as written, ...).
	Fault Fault
	// Network is the proxy the cache manager goes through; nil unless the
	// run has a fault that acts on it (Traits.Proxy).
	Network *Network
	// Protocol is the RESP-aware proxy the cache manager goes through; nil
	// unless the run has a protocol fault (Traits.Protocol).
	Protocol *Protocol
	// Model is the run's workload model (its families, their keys, the bot
	// instances); nil in runs without one. Watch follows the lookups of
	// the keys a cache failure mode acts on; nil: not followed.
	Model *workload.Model
	Watch *KeyWatch
	// Ledger is the run's miss ledger (nil: none).
	Ledger *workload.Ledger
	// KeyPrefix is the manager's prefix of every key in Redis: the
	// workload's key k is KeyPrefix+k there.
	KeyPrefix string

	notes    *notes
	tracker  *WriteTracker
	mode     *result.CacheModeReport
	runStart time.Time
}

// doKey runs a command on the node that serves its key (args[1]): the
// target's node, or on a cluster the one a MOVED reply names. It returns
// the node's name.
func (t *Target) doKey(ctx context.Context, args ...any) (string, error) {
	node := t.Node.Name
	_, err := t.Deployment.Do(ctx, node, args...)
	if err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
		return node, err
	}
	f := strings.Fields(err.Error())
	if len(f) < 3 {
		return node, err
	}
	for _, n := range t.Deployment.Nodes() {
		if n.Addr == f[2] {
			_, err = t.Deployment.Do(ctx, n.Name, args...)
			return n.Name, err
		}
	}
	return node, fmt.Errorf("%w (no node of the deployment at %s)", err, f[2])
}

// cacheMode is the occurrence's cache failure mode section, made on first
// use; the runner puts it into the occurrence's Event.
func (t *Target) cacheMode() *result.CacheModeReport {
	if t.mode == nil {
		t.mode = &result.CacheModeReport{}
	}
	return t.mode
}

// TwoPrimaries tells the lost-write check that from to to two nodes may
// have served as primary at once (a split brain: the old primary not yet
// demoted and resynced while the new one serves), so a read in that span
// that missed an acknowledged write may have been served by the side
// without it: a stale read, not by itself a lost write. Only a look after
// the span can show the write lost.
func (t *Target) TwoPrimaries(from, to time.Time) {
	if t.tracker.Active() && to.After(from) {
		t.tracker.observeTwoPrimaries(Span{From: from, To: to})
	}
}

// Notef adds a note to the occurrence's report: what was changed, what went
// wrong.
func (t *Target) Notef(format string, args ...any) { t.notes.notef(format, args...) }

// notes collects an occurrence's report notes; the runner and the kind's
// end may add to them from different goroutines.
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

// primaryMemo remembers the primary last found, for faults that overlap one
// that leaves no primary (a demoted or stopped standalone node).
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

// resolveNode turns "primary" into the current primary's node. When no node
// is primary right now because another fault demoted or stopped it, the
// primary last seen is the one meant.
func resolveNode(ctx context.Context, dep topology.Controller, last *primaryMemo, ns *notes, name string) (topology.Node, error) {
	if name == "" || name == NodePrimary {
		p, err := dep.Primary(ctx)
		if err == nil {
			last.set(p)
			return p, nil
		}
		if n, ok := last.get(); ok {
			ns.notef("no node is primary now (%v); acting on %s, the primary last seen", err, n.Name)
			return n, nil
		}
		return topology.Node{}, fmt.Errorf("find the primary: %w", err)
	}
	for _, n := range dep.Nodes() {
		if n.Name == name {
			return n, nil
		}
	}
	return topology.Node{}, fmt.Errorf("node %q: %w", name, topology.ErrUnknownNode)
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
