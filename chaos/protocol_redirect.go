package chaos

import (
	"context"
	"strings"
)

func init() {
	Register("protocol-redirect", func() Kind { return &protocolRedirect{Redirect: "moved", Fraction: 1} })
}

// protocolRedirect answers, for for:, a share of the keyed commands sent to
// a node with a cluster redirect naming that same node and the key's slot:
// -MOVED (the slot moved: a cluster client refreshes its slot map and
// retries) or -ASK (the slot is migrating: it sends ASKING and retries once
// there). The command is not sent. On a cluster this is the redirect storm
// of a resharding, without moving a slot: the client follows each redirect,
// and the figures show what following costs (latency, retries, errors once
// it gives up after its redirect limit). On another shape the client does
// not follow redirects and sees them as errors (moved_ask).
type protocolRedirect struct {
	Redirect string   `param:"redirect" values:"moved,ask"`
	Fraction float64  `param:"fraction"`
	Commands []string `param:"commands"`
}

var _ Kind = (*protocolRedirect)(nil)

func (*protocolRedirect) Traits() Traits {
	return Traits{For: ForRequired, Proxy: true, Protocol: true}
}

func (k *protocolRedirect) Validate(v *Validation) { validateMatch(v, k.Fraction, k.Commands) }

func (k *protocolRedirect) Inject(_ context.Context, t *Target) (func(context.Context) error, error) {
	r := strings.ToUpper(k.Redirect)
	return injectRule(t, &Rule{Action: ActRedirect, Redirect: r, Fraction: k.Fraction, Commands: upperAll(k.Commands)}, "-"+r+" redirects")
}
