package result

import "sort"

// LayerParts are the parts of the seed's layer beyond GET and SET a run
// used: reports show those and leave out the rest, so a cache that has no
// compare-and-swap, no invalidation and no near cache is not shown "cas:
// conflicts 0" and "near cache: hits 0" as if they had been measured. A
// part counts as used when its commands ran or its figures moved.
type LayerParts struct {
	RateLimit    bool
	CAS          bool
	Invalidation bool
	NearCache    bool
	// Warming are the warmings that loaded or tried to load something: a
	// warming of no keys (no meta keys, nothing read yet) says nothing.
	Warming []WarmingReport
}

// Parts says which parts of the layer the run used; byOp is the run's
// latency by operation (Latency.ByOp), whose counts say which commands ran.
func (l *LayerReport) Parts(byOp map[string]Summary) LayerParts {
	if l == nil {
		return LayerParts{}
	}
	ran := func(op string) bool { return byOp[op].Count > 0 }
	p := LayerParts{
		RateLimit:    l.RateLimit.Allowed+l.RateLimit.Denied > 0 || ran("rate_limit"),
		CAS:          l.CAS.Conflicts+l.CAS.GaveUp > 0 || ran("cas"),
		Invalidation: l.Invalidate.Published+l.Invalidate.Received > 0 || ran("update"),
		NearCache:    len(l.NearCache.Families) > 0 || l.NearCache.Hits+l.NearCache.Misses > 0,
	}
	for _, w := range l.Warming {
		if w.Keys+w.OriginLoads+w.OriginErrors+w.WriteErrors > 0 {
			p.Warming = append(p.Warming, w)
		}
	}
	return p
}

// OriginsUsed are the simulated upstreams the run called, by name: a
// cache whose families fetch from their own origin is not shown the seed's
// opendota, steam and stratz with zero calls.
func (r *Result) OriginsUsed() []string {
	var out []string
	for name, o := range r.Origin {
		if o.Calls+o.Errors > 0 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
