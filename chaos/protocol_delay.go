package chaos

import (
	"context"
	"time"
)

func init() { Register("protocol-delay", func() Kind { return &protocolDelay{Fraction: 1} }) }

// protocolDelay holds back, for for:, the replies to a share of the
// commands sent to a node (fraction, of those named in commands: only
// EVALSHA, say) until delay (plus up to jitter) after each command arrived.
// The commands run in Redis at once; only the client waits, and the replies
// pipelined behind a delayed one wait with it, as behind a slow command in
// Redis. Unlike the network kind's latency it slows the commands it names
// and no others: a slow script, a slow big-key read.
type protocolDelay struct {
	Delay    time.Duration `param:"delay"`
	Jitter   time.Duration `param:"jitter"`
	Fraction float64       `param:"fraction"`
	Commands []string      `param:"commands"`
}

var _ Kind = (*protocolDelay)(nil)

func (*protocolDelay) Traits() Traits { return Traits{For: ForRequired, Proxy: true, Protocol: true} }

func (k *protocolDelay) Validate(v *Validation) {
	if k.Delay <= 0 {
		v.Add("delay", "required: a positive delay such as 50ms")
	}
	if k.Jitter < 0 {
		v.Add("jitter", "must not be negative")
	}
	validateMatch(v, k.Fraction, k.Commands)
}

func (k *protocolDelay) Inject(_ context.Context, t *Target) (func(context.Context) error, error) {
	what := "replies delayed " + k.Delay.String()
	if k.Jitter > 0 {
		what += " (+ up to " + k.Jitter.String() + ")"
	}
	return injectRule(t, &Rule{Action: ActDelay, Delay: k.Delay, Jitter: k.Jitter, Fraction: k.Fraction, Commands: upperAll(k.Commands)}, what)
}
