package chaos

import "context"

func init() { Register("restart", func() Kind { return &restart{Mode: "graceful"} }) }

// restart stops a node, with SHUTDOWN NOSAVE (mode graceful, the default)
// or SIGKILL (mode kill), and starts it again on the same address once for:
// has passed (left out or 0s: at once). Clients see connection errors, then
// an empty cache unless the deployment persists.
type restart struct {
	Mode string `param:"mode" values:"graceful,kill"`
	// Warm overrides the pool's warm_on_start for this fault: whether the
	// bot re-warms once the node is back (the harness acts on it; left
	// out, the pool setting decides).
	Warm string `param:"warm" values:"on,off"`
}

var _ Kind = (*restart)(nil)

func (*restart) Traits() Traits {
	return Traits{For: ForOptional, Sentinels: true, EmptiesNode: true, Rewarms: true}
}

func (*restart) Validate(*Validation) {}

func (k *restart) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	node, dep := t.Node.Name, t.Deployment
	stop := dep.Stop
	if k.Mode == "kill" {
		stop = dep.Kill
	}
	err := stop(ctx, node)
	// Started again even when stopping failed part-way: a node half shut
	// down must not stay down.
	return func(ctx context.Context) error {
		// Back without its data unless the deployment persists: the
		// runner tells its subscribers (NodeEmptied, Traits.EmptiesNode).
		return dep.Start(ctx, node)
	}, err
}
