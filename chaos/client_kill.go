package chaos

import "context"

func init() { Register("client-kill", func() Kind { return &clientKill{} }) }

// clientKill breaks every client connection of a node at once, the whole
// pool, with CLIENT KILL TYPE normal. It is instantaneous.
type clientKill struct{}

var _ Kind = (*clientKill)(nil)

func (*clientKill) Traits() Traits { return Traits{For: ForNone} }

func (*clientKill) Validate(*Validation) {}

func (*clientKill) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	v, err := t.Deployment.Do(ctx, t.Node.Name, "CLIENT", "KILL", "TYPE", "normal")
	if err != nil {
		return nil, err
	}
	t.Notef("CLIENT KILL TYPE normal on %s closed %v connections", t.Node.Name, v)
	return nil, nil
}
