package pool

import (
	"fmt"
	"strings"
)

// Tier is a cache tier from the seed's three-tier strategy plus the
// persistent settings tier. A tier decides the TTL a write gets.
type Tier string

// The four tiers. Their TTLs live in Config.TTL.
const (
	TierAPI        Tier = "api"
	TierSession    Tier = "session"
	TierMeta       Tier = "meta"
	TierPersistent Tier = "persistent"
)

// Tiers lists every tier, in a stable order used for reports.
var Tiers = []Tier{TierAPI, TierSession, TierMeta, TierPersistent}

// numTiers sizes the fixed per-tier counter arrays (no map on the hot path).
const numTiers = 4

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

// ParseTier maps a tier name (case-insensitive) to a Tier. The error names
// the valid tiers so a scenario author can fix the typo.
func ParseTier(s string) (Tier, error) {
	t := Tier(strings.ToLower(strings.TrimSpace(s)))
	if t.index() < 0 {
		return "", fmt.Errorf("unknown tier %q: valid tiers are api, session, meta, persistent", s)
	}
	return t, nil
}
