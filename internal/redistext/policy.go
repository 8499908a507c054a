package redistext

import "slices"

// Policies are the maxmemory-policy values Redis 7 accepts, in the order
// redis.conf documents them.
var Policies = []string{
	"noeviction",
	"allkeys-lru", "allkeys-lfu", "allkeys-random",
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
}

// IsPolicy reports whether p is a maxmemory-policy Redis accepts.
func IsPolicy(p string) bool { return slices.Contains(Policies, p) }
