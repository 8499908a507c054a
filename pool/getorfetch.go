package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Outcome says what a get-or-fetch did: Hit (served from Redis), Fetched
// (this call ran fetch), Shared (joined another caller's in-flight fetch),
// FillErr (fetch ok but the cache fill failed; value still returned).
//
// GetDur and FillDur are the time spent in the Redis GET and in the SET
// fill; FetchDur is time in fetch (the origin), or waiting for another
// caller's fetch when Shared. The harness records cache latency from
// GetDur/FillDur so origin time never pollutes the cache-latency target.
type Outcome struct {
	Hit, Fetched, Shared bool
	FillErr              error
	// GetErr is set when the Redis GET failed (not a miss): the call then
	// fell back to the origin, as a cache-aside service degrades, and the
	// failure is reported here instead of being hidden.
	GetErr                    error
	GetDur, FetchDur, FillDur time.Duration
}

// maxFlightRetries bounds how often a joiner whose leader gave up (its
// context ended) starts over; the joiner's own context still bounds it.
const maxFlightRetries = 3

// GetOrFetchRaw returns key's cached value, or on a miss calls fetch once
// for all concurrent callers of the same key, writes the result with the
// tier's TTL and returns it. Fetch errors are returned wrapped in
// *FetchError and never cached. If the GET itself fails the value is
// fetched anyway (Outcome.GetErr says why); a failed fill is reported in
// Outcome.FillErr with the fetched value.
func (m *Manager) GetOrFetchRaw(ctx context.Context, key string, tier Tier, fetch func(context.Context) (string, error)) (string, Outcome, error) {
	var out Outcome
	ti, err := tierIndex(tier)
	if err != nil {
		return "", out, err
	}
	k := m.key(key)
	start := time.Now()
	val, err := m.cur.Load().cmd.Get(ctx, k).Result()
	out.GetDur = time.Since(start)
	found, err := m.countLookup(err, ti)
	switch {
	case found:
		out.Hit = true
		return val, out, nil
	case err != nil:
		out.GetErr = fmt.Errorf("pool: get %q: %w", key, err)
		if ctx.Err() != nil {
			return "", out, out.GetErr
		}
	}
	val, err = m.fetchShared(ctx, key, k, ti, fetch, &out)
	return val, out, err
}

// fetchShared runs or joins the in-flight fetch for prefixed key k.
func (m *Manager) fetchShared(ctx context.Context, key, k string, ti int, fetch func(context.Context) (string, error), out *Outcome) (string, error) {
	for attempt := 0; ; attempt++ {
		c, leader := m.flight.join(k)
		if leader {
			out.Shared = false
			return m.lead(ctx, key, k, ti, c, fetch, out)
		}
		if !out.Shared {
			m.met.sharedFetches.Add(1)
		}
		out.Shared = true
		start := time.Now()
		select {
		case <-c.done:
		case <-ctx.Done():
			out.FetchDur += time.Since(start)
			return "", fmt.Errorf("pool: waiting for the fetch of %q: %w", key, ctx.Err())
		}
		out.FetchDur += time.Since(start)
		if c.err != nil && ctx.Err() == nil && attempt < maxFlightRetries &&
			(errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)) {
			continue // the leader's context ended, not ours: fetch ourselves
		}
		return c.val, c.err
	}
}

// lead runs fetch as the flight leader, fills the cache before releasing
// the joiners (so a caller arriving meanwhile finds the value instead of
// fetching again), and publishes the result.
func (m *Manager) lead(ctx context.Context, key, k string, ti int, c *flightCall, fetch func(context.Context) (string, error), out *Outcome) (val string, err error) {
	finished := false
	defer func() {
		if !finished { // fetch panicked: release the joiners, then re-panic
			m.flight.finish(k, c, "", &FetchError{Key: key, Err: errors.New("fetch panicked")})
		}
	}()
	out.Fetched = true
	m.met.fetches.Add(1)
	m.met.tierFetches[ti].Add(1)
	start := time.Now()
	val, err = fetch(ctx)
	out.FetchDur = time.Since(start)
	if err != nil {
		m.met.fetchErrors.Add(1)
		err = &FetchError{Key: key, Err: err}
		finished = true
		m.flight.finish(k, c, "", err)
		return "", err
	}
	start = time.Now()
	if ferr := m.set(ctx, k, val, ti); ferr != nil {
		m.met.errors.Add(1)
		m.met.fillErrors.Add(1)
		out.FillErr = fmt.Errorf("pool: fill %q: %w", key, ferr)
	} else {
		m.met.sets.Add(1)
	}
	out.FillDur = time.Since(start)
	finished = true
	m.flight.finish(k, c, val, nil)
	return val, nil
}

// GetOrFetch is GetOrFetchRaw for any JSON-encodable T. A cached value that
// no longer decodes as T is treated as a miss and overwritten with a fresh
// fetch (the seed logged and fell through; we also repair the entry).
func GetOrFetch[T any](ctx context.Context, m *Manager, key string, tier Tier, fetch func(context.Context) (T, error)) (T, Outcome, error) {
	var zero, fetched T
	have := false
	raw := func(ctx context.Context) (string, error) {
		v, err := fetch(ctx)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("encode %T as JSON: %w", v, err)
		}
		fetched, have = v, true // runs on this goroutine only when it leads
		return string(b), nil
	}
	s, out, err := m.GetOrFetchRaw(ctx, key, tier, raw)
	if err != nil {
		return zero, out, err
	}
	if have {
		return fetched, out, nil
	}
	var v T
	derr := json.Unmarshal([]byte(s), &v)
	if derr == nil {
		return v, out, nil
	}
	if !out.Hit {
		return zero, out, fmt.Errorf("pool: decode %q as %T: %w", key, v, derr)
	}
	// Corrupt or foreign cache entry: count it as a miss and refetch.
	ti := tier.index()
	m.met.hits.Add(^uint64(0))
	m.met.tierHits[ti].Add(^uint64(0))
	m.met.misses.Add(1)
	m.met.tierMisses[ti].Add(1)
	out.Hit = false
	s, err = m.fetchShared(ctx, key, m.key(key), ti, raw, &out)
	if err != nil {
		return zero, out, err
	}
	if have {
		return fetched, out, nil
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return zero, out, fmt.Errorf("pool: decode %q as %T: %w", key, v, err)
	}
	return v, out, nil
}
