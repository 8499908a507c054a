package chaos

import (
	"context"

	"github.com/cacheproof/cacheproof/workload"
)

func init() { Register("penetration", func() Kind { return &penetration{} }) }

// penetration sends a fraction of one family's lookups to keys that never
// exist for for: (ids no user, guild or key space has, a new one each
// lookup, as a scraper or a bug asks for): each misses, and goes to the
// origin. It proves what a cache without negative caching or a filter in
// front of it lets through: origin calls per second and their peak, and
// the hit-rate drop. The manager fills each fetched value as it would any
// miss; no later lookup reads it.
type penetration struct {
	Family   string  `param:"family"`
	Fraction float64 `param:"fraction"`
}

var _ Kind = (*penetration)(nil)
var _ Perturber = (*penetration)(nil)

func (*penetration) Traits() Traits { return Traits{For: ForRequired, Workload: true} }

func (k *penetration) Validate(v *Validation) {
	v.redirect(k.Family, k.Fraction, "penetration needs fraction: the share of the family's lookups for keys that never exist (e.g. 0.2)")
}

func (k *penetration) Perturbation() workload.Perturbation {
	return workload.Perturbation{Mode: workload.PerturbPenetration, Family: k.Family, Share: k.Fraction}
}

func (k *penetration) Inject(_ context.Context, t *Target) (func(context.Context) error, error) {
	return watchPerturbation(t, k.Perturbation(), "penetration")
}
