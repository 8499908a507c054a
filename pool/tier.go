package pool

import (
	"fmt"
	"strings"
)

// Tier is a cache tier from the seed's three-tier strategy plus the
// persistent settings tier. A tier decides the TTL a write gets.
type Tier string

// The four tiers. Their TTLs live in Config.TTL.
//
// pool is the one source of tier names: the workload's catalogue files each
// family under one of them by name (harness checks it is one), harness
// indexes its per-tier counters by TierNames, and the per-tier targets
// (hit_rate.session) are checked against them when a scenario is loaded.
const (
	TierAPI        Tier = "api"
	TierSession    Tier = "session"
	TierMeta       Tier = "meta"
	TierPersistent Tier = "persistent"
)

// Tiers lists every tier, in a stable order used for reports.
var Tiers = []Tier{TierAPI, TierSession, TierMeta, TierPersistent}

// NumTiers sizes fixed per-tier arrays (no map on the hot path); a tier's
// slot is its position in Tiers.
const NumTiers = 4

// TierNames returns the tiers' names, in the order of Tiers.
func TierNames() []string {
	names := make([]string, len(Tiers))
	for i, t := range Tiers {
		names[i] = string(t)
	}
	return names
}

// index returns the tier's slot in per-tier arrays, or -1 when unknown.
func (t Tier) index() int {
	switch t {
	case TierAPI:
		return 0
	case TierSession:
		return 1
	case TierMeta:
		return 2
	case TierPersistent:
		return 3
	}
	return -1
}

// tierList is the tier names as a sentence part ("api, session, meta, persistent").
func tierList() string { return strings.Join(TierNames(), ", ") }

// ParseTier maps a tier name (case-insensitive) to a Tier. The error names
// the valid tiers so a scenario author can fix the typo.
func ParseTier(s string) (Tier, error) {
	t := Tier(strings.ToLower(strings.TrimSpace(s)))
	if t.index() < 0 {
		return "", fmt.Errorf("unknown tier %q: valid tiers are %s", s, tierList())
	}
	return t, nil
}
