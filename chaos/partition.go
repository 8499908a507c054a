package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

func init() {
	Register("partition", func() Kind { return &partition{Direction: "both", Clients: "all"} })
}

// partition cuts node: (the primary by default) from peers (every other
// node by default: replicas, sentinels, the other cluster nodes) for for:,
// through the deployment's node links (topology.Partitioner: the tool's
// gates on the process backend, iptables in the containers' namespaces on
// the container backend). direction
// picks what is cut: both ways, inbound (the peers cannot reach the node,
// the node still reaches them) or outbound (the node cannot reach them).
// clients says where the cache manager stands: all (it reaches every node;
// only links between nodes are cut), node (on the node's side: it reaches
// the node and is cut from the peers, the classic split brain in which the
// clients keep writing to a primary the sentinels have replaced) or peers
// (on the peers' side: cut from the node).
//
// When node: is the primary and the peers promote another node during the
// cut, the fault follows the split to its end: after the heal it waits until
// the old primary is a replica with its link up, and tells the lost-write
// check the span in which two nodes may have served as primary, from the
// cut to the resync (Target.TwoPrimaries):
// a read in it that missed a write is a stale read, and what the old
// primary acknowledged after the promotion is lost when it resyncs.
type partition struct {
	Peers     []string `param:"peers"`
	Direction string   `param:"direction" values:"both,inbound,outbound"`
	Clients   string   `param:"clients" values:"all,node,peers"`
}

var _ Kind = (*partition)(nil)

func (*partition) Traits() Traits {
	return Traits{For: ForRequired, Sentinels: true, TrackWrites: true, LimitsNetwork: true, NodeLinks: true}
}

func (k *partition) Validate(v *Validation) {
	switch v.Site.Shape {
	case "", topology.ShapeReplica, topology.ShapeSentinel, topology.ShapeCluster:
	default:
		v.Add("kind", "fault partition cuts links between nodes; topology %s has one node (to cut the clients from it, use network with toxic: down)", v.Site.Shape)
	}
	if v.Site.Backend == topology.BackendExternal {
		v.Add("kind", "fault partition cuts links between nodes the tool runs (process backend: through its gates; container backend: iptables in the containers' namespaces); on an external deployment, use network with toxic: down on the manager's link")
	}
	if v.Has("peers") && len(k.Peers) == 0 {
		v.Add("peers", "empty; name the nodes to cut node from, or leave peers out for every other node")
	}
	seen := map[string]bool{}
	for i, p := range k.Peers {
		path := fmt.Sprintf("peers[%d]", i)
		switch {
		case p == v.Spec.Node || (p == topology.PrimaryName && v.Spec.Node == NodePrimary):
			v.Add(path, "%s is the node being cut off; peers are the nodes it is cut from", p)
		case p == NodePrimary || p == topology.Clients:
			v.Add(path, "%q is not a node here; peers names nodes (%s); where the clients stand is clients:", p, nodeHint(v.Site.Nodes))
		case seen[p]:
			v.Add(path, "%s listed twice", p)
		case v.Site.Nodes != nil:
			if _, ok := findNode(v.Site.Nodes, p); !ok {
				v.Add(path, "node %q does not exist in a %s deployment (expected %s)", p, v.Site.Shape, nodeHint(v.Site.Nodes))
			}
		}
		seen[p] = true
	}
}

// primaryWatch is how often the fault asks who is primary during the cut.
const primaryWatch = 100 * time.Millisecond

func (k *partition) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	p, ok := t.Deployment.(topology.Partitioner)
	if !ok {
		return nil, fmt.Errorf("partition: the %s backend has no node links", t.Deployment.Spec().Backend)
	}
	node := t.Node.Name
	peers := k.Peers
	if len(peers) == 0 {
		for _, n := range t.Deployment.Nodes() {
			if n.Name != node {
				peers = append(peers, n.Name)
			}
		}
	}
	var heals []func()
	healAll := func() {
		for _, h := range heals {
			h()
		}
		heals = nil
	}
	cut := func(from, to string) error {
		h, err := p.Cut(from, to)
		if err == nil {
			heals = append(heals, h)
		}
		return err
	}
	var errs []error
	for _, peer := range peers {
		if k.Direction != "inbound" {
			errs = append(errs, cut(node, peer))
		}
		if k.Direction != "outbound" {
			errs = append(errs, cut(peer, node))
		}
		if k.Clients == "node" {
			errs = append(errs, cut(topology.Clients, peer), cut(peer, topology.Clients))
		}
	}
	if k.Clients == "peers" {
		errs = append(errs, cut(topology.Clients, node), cut(node, topology.Clients))
	}
	if err := errors.Join(errs...); err != nil {
		healAll()
		return nil, err
	}
	start := time.Now()
	t.Notef("cut %s from %s (%s); clients: %s", node, strings.Join(peers, ", "), k.directionText(), k.clientsText(node))

	// Follow the primary while the cut holds: whether the peers promote
	// another node, and when.
	wasPrimary := t.Node.Role == topology.RolePrimary
	promoted := make(chan promotion, 1)
	wctx, stop := context.WithCancel(context.Background())
	if wasPrimary {
		go watchPromotion(wctx, t.Deployment, node, promoted)
	} else {
		close(promoted)
	}
	return func(ctx context.Context) error {
		stop()
		pr, ok := <-promoted
		if wasPrimary && (!ok || pr.node == "") {
			// The watcher polls: a promotion in its last interval is
			// looked for once more, while the cut still holds.
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			if p, err := t.Deployment.Primary(qctx); err == nil && p.Name != node {
				pr, ok = promotion{node: p.Name, at: time.Now()}, true
			}
			cancel()
		}
		healAll()
		healed := time.Now()
		t.Notef("healed after %s", healed.Sub(start).Round(time.Millisecond))
		if !ok || pr.node == "" {
			if wasPrimary {
				t.Notef("no other node was promoted during the cut: %s stayed the only primary", node)
			}
			return nil
		}
		t.Notef("%s was promoted, seen %s after the cut began", pr.node, pr.at.Sub(start).Round(time.Millisecond))
		// The old primary serves its own dataset until it is a replica
		// with its link up (full resync from the new one).
		// The promotion happened before anyone saw it, at some moment
		// after the cut: the span with two possible primaries runs from
		// the cut.
		synced, err := waitResynced(ctx, t.Deployment, node)
		if err != nil {
			t.TwoPrimaries(start, time.Now())
			return err
		}
		t.TwoPrimaries(start, synced)
		t.Notef("%s demoted and resynced %s after the heal: two primaries for %s at most (from the cut)", node, synced.Sub(healed).Round(time.Millisecond), synced.Sub(start).Round(time.Millisecond))
		return nil
	}, nil
}

func (k *partition) directionText() string {
	switch k.Direction {
	case "inbound":
		return "one way: the peers cannot reach it, it reaches them"
	case "outbound":
		return "one way: it cannot reach the peers, they reach it"
	}
	return "both ways"
}

func (k *partition) clientsText(node string) string {
	switch k.Clients {
	case "node":
		return "on " + node + "'s side, cut from the peers"
	case "peers":
		return "on the peers' side, cut from " + node
	}
	return "reach every node"
}

// promotion is the first node other than the old primary seen as primary.
type promotion struct {
	node string
	at   time.Time
}

// watchPromotion asks the deployment who is primary until ctx ends and
// sends the first node that is not old (nothing when none was).
func watchPromotion(ctx context.Context, dep topology.Controller, old string, out chan<- promotion) {
	defer close(out)
	tick := time.NewTicker(primaryWatch)
	defer tick.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		p, err := dep.Primary(qctx)
		cancel()
		if err == nil && p.Name != old {
			out <- promotion{node: p.Name, at: time.Now()}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// waitResynced waits until node is a replica whose link to its primary is
// up, and returns when it saw that.
func waitResynced(ctx context.Context, dep topology.Controller, node string) (time.Time, error) {
	wctx, cancel := context.WithTimeout(ctx, failoverTimeout)
	defer cancel()
	var last map[string]string
	for {
		inf, err := dep.Info(wctx, node, "replication")
		if err == nil {
			last = inf
			if inf["role"] == "slave" && inf["master_link_status"] == "up" {
				return time.Now(), nil
			}
		}
		select {
		case <-wctx.Done():
			return time.Time{}, fmt.Errorf("%s not resynced as a replica within %s after the heal (role %s, link %s)", node, failoverTimeout, last["role"], last["master_link_status"])
		case <-time.After(50 * time.Millisecond):
		}
	}
}
