package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/topology"
)

func init() { Register("failover", func() Kind { return &failover{} }) }

// failover promotes a replica: SENTINEL FAILOVER on the sentinel shape,
// CLUSTER FAILOVER on a replica of the slot-0 primary (or on the node:
// named) on the cluster shape. It is instantaneous: the fault ends the
// moment a different node serves as primary. Clients see READONLY or MOVED
// and reconnect; acknowledged writes are tracked through it.
type failover struct {
	// Warm overrides the pool's warm_on_start for this fault, as
	// restart's does.
	Warm string `param:"warm" values:"on,off"`
	// Graceful (sentinel only) makes the switch lossless: writes on the
	// primary are paused (CLIENT PAUSE WRITE), the failover waits until
	// every replica has the primary's replication offset, and the pause
	// ends only once the old primary is a replica, so a paused write is
	// refused (READONLY) instead of acknowledged and discarded. Without
	// it SENTINEL FAILOVER is forced: it promotes the replica at once, and
	// what the old primary acknowledges until the sentinels demote it is
	// lost. CLUSTER FAILOVER is always coordinated.
	Graceful string `param:"graceful" values:"on,off"`
}

var _ Kind = (*failover)(nil)

// failoverTimeout bounds the wait for a new primary after a failover.
const failoverTimeout = 30 * time.Second

func (*failover) Traits() Traits {
	return Traits{For: ForNone, OwnNode: true, TrackWrites: true, Rewarms: true}
}

func (*failover) Validate(v *Validation) {
	shape := v.Site.Shape
	if shape != "" && shape != topology.ShapeSentinel && shape != topology.ShapeCluster {
		v.Add("kind", "fault failover needs topology sentinel or cluster (this scenario's is %s); use readonly to demote a standalone primary", shape)
	}
	if g, _ := v.Spec.Params["graceful"].(string); g == "on" && shape == topology.ShapeCluster {
		v.Add("graceful", "fault failover on cluster: CLUSTER FAILOVER is always coordinated; graceful applies to sentinel")
	}
	if field.Given(v.Spec.Wrote, "node", v.Spec.Node) && shape == topology.ShapeSentinel {
		v.Add("node", "fault failover on sentinel: the sentinels choose the new primary; node does not apply")
	}
}

func (f *failover) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	dep := t.Deployment
	old, err := dep.Primary(ctx)
	if err != nil {
		return nil, fmt.Errorf("find the primary: %w", err)
	}
	switch shape := dep.Spec().Shape; shape {
	case topology.ShapeSentinel:
		sentinel := ""
		for _, n := range dep.Nodes() {
			if n.Role == topology.RoleSentinel {
				sentinel = n.Name
				break
			}
		}
		if sentinel == "" {
			return nil, errors.New("no sentinel node")
		}
		if f.Graceful == "on" {
			if err := pauseUntilInSync(ctx, t, old); err != nil {
				return nil, err
			}
			defer unpauseWhenDemoted(t, old)
		}
		if _, err := dep.Do(ctx, sentinel, "SENTINEL", "FAILOVER", dep.Spec().MasterName); err != nil {
			return nil, err
		}
		t.Notef("SENTINEL FAILOVER %s via %s; old primary %s", dep.Spec().MasterName, sentinel, old.Name)
	case topology.ShapeCluster:
		replica := t.Fault.Node
		if replica == "" || replica == NodePrimary {
			if replica, err = replicaOf(ctx, dep, old); err != nil {
				return nil, err
			}
		}
		if _, err := dep.Do(ctx, replica, "CLUSTER", "FAILOVER"); err != nil {
			return nil, err
		}
		t.Notef("CLUSTER FAILOVER on %s; old primary %s", replica, old.Name)
	default:
		return nil, fmt.Errorf("failover needs the sentinel or cluster shape, not %s", shape)
	}
	wctx, cancel := context.WithTimeout(ctx, failoverTimeout)
	defer cancel()
	for {
		p, err := dep.Primary(wctx)
		if err == nil && p.Name != old.Name {
			t.Notef("new primary %s", p.Name)
			return nil, nil
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("no new primary within %s (still %s)", failoverTimeout, old.Name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pauseUntilInSync pauses writes on primary p and waits until every
// replica has p's replication offset, so a failover now loses nothing.
func pauseUntilInSync(ctx context.Context, t *Target, p topology.Node) error {
	dep := t.Deployment
	if _, err := dep.Do(ctx, p.Name, "CLIENT", "PAUSE", strconv.Itoa(int(failoverTimeout.Milliseconds())), "WRITE"); err != nil {
		return fmt.Errorf("pause writes on %s: %w", p.Name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, failoverTimeout)
	defer cancel()
	for {
		inf, err := dep.Info(wctx, p.Name, "replication")
		if err == nil && replicasCaughtUp(inf) {
			t.Notef("graceful: writes paused on %s; %s replica(s) at its offset %s", p.Name, inf["connected_slaves"], inf["master_repl_offset"])
			return nil
		}
		select {
		case <-wctx.Done():
			_, _ = dep.Do(context.Background(), p.Name, "CLIENT", "UNPAUSE")
			return fmt.Errorf("graceful: replicas of %s never caught up within %s: %v", p.Name, failoverTimeout, inf)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// replicasCaughtUp reports whether INFO replication of a primary shows at
// least one replica and every one at the primary's offset.
func replicasCaughtUp(inf map[string]string) bool {
	n, _ := strconv.Atoi(inf["connected_slaves"])
	if n == 0 {
		return false
	}
	for i := range n {
		var off string
		for _, kv := range strings.Split(inf[fmt.Sprintf("slave%d", i)], ",") {
			if v, ok := strings.CutPrefix(kv, "offset="); ok {
				off = v
			}
		}
		if off != inf["master_repl_offset"] {
			return false
		}
	}
	return true
}

// unpauseWhenDemoted ends the pause of a graceful switch once the old
// primary p serves as a replica (or the wait times out): a write the pause
// held is then refused, never acknowledged by a node about to resync.
func unpauseWhenDemoted(t *Target, p topology.Node) {
	dep := t.Deployment
	ctx, cancel := context.WithTimeout(context.Background(), failoverTimeout)
	defer cancel()
	// The sentinels demote the old primary only once its pause ends (their
	// reconfiguration is a transaction the pause holds), so demote it here,
	// under the new primary they chose, as they would.
	if np, err := dep.Primary(ctx); err == nil && np.Name != p.Name {
		if host, port, err := net.SplitHostPort(np.Addr); err == nil {
			if _, err := dep.Do(ctx, p.Name, "REPLICAOF", host, port); err != nil {
				t.Notef("graceful: demote %s under %s: %v", p.Name, np.Name, err)
			}
		}
	}
	for {
		inf, err := dep.Info(ctx, p.Name, "replication")
		if err == nil && inf["role"] == "slave" {
			break
		}
		if ctx.Err() != nil {
			t.Notef("graceful: %s still not a replica after %s; unpausing anyway", p.Name, failoverTimeout)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := dep.Do(context.Background(), p.Name, "CLIENT", "UNPAUSE"); err != nil {
		t.Notef("graceful: unpause %s: %v", p.Name, err)
	}
}

// replicaOf finds a replica whose primary is p.
func replicaOf(ctx context.Context, dep topology.Controller, p topology.Node) (string, error) {
	_, pport, _ := net.SplitHostPort(p.Addr)
	for _, n := range dep.Nodes() {
		if n.Role != topology.RoleReplica {
			continue
		}
		inf, err := dep.Info(ctx, n.Name, "replication")
		if err != nil {
			continue
		}
		if inf["master_port"] == pport && inf["master_link_status"] == "up" {
			return n.Name, nil
		}
	}
	return "", fmt.Errorf("no replica of %s with its link up", p.Name)
}
