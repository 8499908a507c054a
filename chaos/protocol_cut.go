package chaos

import "context"

func init() {
	Register("protocol-cut", func() Kind { return &protocolCut{Cut: "truncate", Fraction: 1} })
}

// protocolCut breaks, for for:, the connection of a share of the commands
// sent to a node in the middle of their reply: the command runs in Redis,
// the client receives the first half of the reply, then the connection is
// closed (cut: truncate) or reset (cut: reset, a TCP RST). The client sees
// a connection error on a command whose effect it cannot know, the case
// where a write is applied but not acknowledged, and reconnects. The
// acknowledged writes are tracked through it.
type protocolCut struct {
	Cut      string   `param:"cut" values:"truncate,reset"`
	Fraction float64  `param:"fraction"`
	Commands []string `param:"commands"`
}

var _ Kind = (*protocolCut)(nil)

func (*protocolCut) Traits() Traits {
	return Traits{For: ForRequired, Proxy: true, Protocol: true, TrackWrites: true}
}

func (k *protocolCut) Validate(v *Validation) { validateMatch(v, k.Fraction, k.Commands) }

func (k *protocolCut) Inject(_ context.Context, t *Target) (func(context.Context) error, error) {
	action, what := ActTruncate, "replies cut half-way and the connection closed"
	if k.Cut == "reset" {
		action, what = ActReset, "replies cut half-way and the connection reset"
	}
	return injectRule(t, &Rule{Action: action, Fraction: k.Fraction, Commands: upperAll(k.Commands)}, what)
}
