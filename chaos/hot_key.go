package chaos

import (
	"context"

	"github.com/cacheproof/cacheproof/workload"
)

func init() { Register("hot-key", func() Kind { return &hotKey{} }) }

// hotKey sends a fraction of one family's lookups to one key for for: (a
// celebrity's profile, a key every command reads): the users' schedule is
// redirected, not Redis changed. It proves what one key's traffic does to
// the node that holds it (Redis's CPU, the other keys' latency beside the
// hot key's) and whether a near cache or single-flight absorbs it.
type hotKey struct {
	Family   string  `param:"family"`
	Fraction float64 `param:"fraction"`
	// Key is the hot key; left out, the family's key of number 1.
	Key string `param:"key"`
}

var _ Kind = (*hotKey)(nil)
var _ Perturber = (*hotKey)(nil)

func (*hotKey) Traits() Traits { return Traits{For: ForRequired, Workload: true} }

func (k *hotKey) Validate(v *Validation) {
	v.redirect(k.Family, k.Fraction, "hot-key needs fraction: the share of the family's lookups that go to the hot key (e.g. 0.5)")
}

func (k *hotKey) Perturbation() workload.Perturbation {
	return workload.Perturbation{Mode: workload.PerturbHotKey, Family: k.Family, Share: k.Fraction, Key: k.Key}
}

func (k *hotKey) Inject(_ context.Context, t *Target) (func(context.Context) error, error) {
	end, err := watchPerturbation(t, k.Perturbation(), "hot key")
	if err == nil {
		t.cacheMode().Keys = 1
	}
	return end, err
}
