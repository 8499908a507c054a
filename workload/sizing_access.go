package workload

// This file holds what `cacheproof size` (package sizing) needs to replay a
// schedule key by key without listing op kinds itself, so a new kind is
// classified here, beside the kinds, by whoever adds it.

// Invalidates reports whether the operation's Keys are keys it makes
// stale (deleted in Redis and announced to every instance), not keys it
// reads or writes: an update writes Key and drops Keys.
func (k OpKind) Invalidates() bool { return k == OpUpdate }

// ServedNear reports whether the driver answers the operation from the
// instance's near cache when it holds a fresh copy of the key (a near
// family's), without asking Redis: such a read is neither a lookup of the
// hit rate nor an access Redis sees.
func (k OpKind) ServedNear() bool { return k == OpGetOrFetch || k == OpGet || k == OpMGet }
