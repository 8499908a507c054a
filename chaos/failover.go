package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
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
}

var _ Kind = (*failover)(nil)

// failoverTimeout bounds the wait for a new primary after a failover.
const failoverTimeout = 30 * time.Second

func (*failover) Traits() Traits { return Traits{For: ForNone, OwnNode: true, TrackWrites: true} }

func (*failover) Validate(v *Validation) {
	shape := v.Site.Shape
	if shape != "" && shape != topology.ShapeSentinel && shape != topology.ShapeCluster {
		v.Add("kind", "fault failover needs topology sentinel or cluster (this scenario's is %s); use readonly to demote a standalone primary", shape)
	}
	if field.Given(v.Spec.Wrote, "node", v.Spec.Node) && shape == topology.ShapeSentinel {
		v.Add("node", "fault failover on sentinel: the sentinels choose the new primary; node does not apply")
	}
}

func (*failover) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
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
