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

// Limits reports whether the operation counts a hit against a fixed-window
// rate-limit counter (its family's RateLimit hits per TTL window, the
// window opened by the first hit): once over the limit the bot refuses the
// command, and the command's later operations are never issued. The
// counter keeps the expiry its window opened with, and harness's prefill
// leaves counters out (they live one window).
func (k OpKind) Limits() bool { return k == OpRateLimit }
