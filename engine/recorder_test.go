package engine

import (
	"slices"
	"testing"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// pool is the one source of tier names; workload, which may not import it,
// files each family of its catalogue under a tier by name. This is where the
// two meet: every family's tier must be one of pool's, or its keys would get
// no TTL and its counters would land in the wrong slot.
func TestConfigCatalogueTiersArePoolTiers(t *testing.T) {
	for _, f := range workload.DefaultFamilies() {
		if !slices.Contains(pool.TierNames(), f.Tier) {
			t.Errorf("family %s: tier %q is not one of pool's %v", f.Name, f.Tier, pool.TierNames())
		}
	}
	for i, name := range TierNames {
		if TierIndex(name) != i || i >= pool.NumTiers {
			t.Errorf("tier %s: slot %d of %d", name, TierIndex(name), pool.NumTiers)
		}
	}
}
