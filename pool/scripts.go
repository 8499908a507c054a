package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The seed's "Lua scripts for atomic operations", made real. Each is loaded
// once at New (SCRIPT LOAD, on every cluster master) and run by EVALSHA;
// go-redis's Script.Run falls back to EVAL on NOSCRIPT, which also re-caches
// the script, so a restart or SCRIPT FLUSH costs one EVAL per script.

// sessionTouchLua reads a session and extends its TTL in one step, so an
// active session can never expire between the read and the refresh.
// KEYS[1] session key; ARGV[1] TTL in milliseconds. Returns the value or nil.
const sessionTouchLua = `
local v = redis.call('GET', KEYS[1])
if v then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v`

// casLua is compare-and-set by version on a hash {v = version, d = data}.
// KEYS[1] key; ARGV[1] expected version (0 = key must not exist); ARGV[2]
// new data; ARGV[3] TTL in ms (0 = persist). Returns {1, newVersion} on
// success, {0, currentVersion} on a conflict.
const casLua = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur ~= tonumber(ARGV[1]) then return {0, cur} end
local nv = cur + 1
redis.call('HSET', KEYS[1], 'v', nv, 'd', ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return {1, nv}`

// rateLimitLua is a fixed-window counter: the first hit of a window sets
// its expiry, so the window resets exactly window ms after it opened. A
// counter left without TTL (e.g. by a crash between INCR and PEXPIRE in an
// older version) is repaired rather than blocking forever.
// KEYS[1] counter key; ARGV[1] window ms. Returns {count, ms until reset}.
const rateLimitLua = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}`

type scripts struct {
	sessionTouch, cas, rateLimit *redis.Script
}

func (s *scripts) all() []*redis.Script { return []*redis.Script{s.sessionTouch, s.cas, s.rateLimit} }

// load creates the scripts and SCRIPT LOADs them (go-redis broadcasts
// SCRIPT LOAD to every cluster master).
func (s *scripts) load(ctx context.Context, c redis.UniversalClient) error {
	s.sessionTouch = redis.NewScript(sessionTouchLua)
	s.cas = redis.NewScript(casLua)
	s.rateLimit = redis.NewScript(rateLimitLua)
	for _, sc := range s.all() {
		if err := sc.Load(ctx, c).Err(); err != nil {
			return err
		}
	}
	return nil
}

// run executes a script by SHA (EVAL on NOSCRIPT), following a primary
// switch once on READONLY like the other writes.
func (m *Manager) run(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	b := m.cur.Load()
	cmd := s.Run(ctx, b.client, keys, args...)
	if err := cmd.Err(); err != nil && m.follow != nil && redis.IsReadOnlyError(err) {
		if nb := m.follow.refresh(ctx, b); nb != nil {
			cmd = s.Run(ctx, nb.client, keys, args...)
		}
	}
	return cmd
}

// SessionGet reads a session-tier key and, when present, extends its TTL to
// the session tier's in the same atomic step. It counts as a session-tier
// hit or miss.
func (m *Manager) SessionGet(ctx context.Context, key string) (string, bool, error) {
	ttl := m.ttl[TierSession.index()]
	v, err := m.run(ctx, m.scripts.sessionTouch, []string{m.key(key)}, ttl.Milliseconds()).Text()
	switch {
	case err == nil:
		m.met.hits.Add(1)
		m.met.tierHits[TierSession.index()].Add(1)
		return v, true, nil
	case errors.Is(err, redis.Nil):
		m.met.misses.Add(1)
		m.met.tierMisses[TierSession.index()].Add(1)
		return "", false, nil
	}
	m.met.errors.Add(1)
	return "", false, fmt.Errorf("pool: session get %q: %w", key, err)
}

// Versioned is a value written by CompareAndSet.
type Versioned struct {
	Value   string
	Version int64 // 0 when the key does not exist
}

// GetVersioned reads a key written by CompareAndSet.
func (m *Manager) GetVersioned(ctx context.Context, key string) (Versioned, error) {
	res, err := m.cur.Load().cmd.HMGet(ctx, m.key(key), "v", "d").Result()
	if err != nil {
		m.met.errors.Add(1)
		return Versioned{}, fmt.Errorf("pool: get versioned %q: %w", key, err)
	}
	var out Versioned
	if s, ok := res[0].(string); ok {
		if _, err := fmt.Sscan(s, &out.Version); err != nil {
			return Versioned{}, fmt.Errorf("pool: get versioned %q: bad version %q", key, s)
		}
	}
	if s, ok := res[1].(string); ok {
		out.Value = s
	}
	return out, nil
}

// CompareAndSet writes val to key only if its current version is expected
// (0: the key must not exist yet), atomically, with the tier's TTL. It
// returns the version after the call: the new one when ok, the current one
// on a conflict.
func (m *Manager) CompareAndSet(ctx context.Context, key string, expected int64, val string, tier Tier) (version int64, ok bool, err error) {
	ti, err := tierIndex(tier)
	if err != nil {
		return 0, false, err
	}
	res, err := m.run(ctx, m.scripts.cas, []string{m.key(key)}, expected, val, m.ttl[ti].Milliseconds()).Int64Slice()
	if err != nil {
		m.met.errors.Add(1)
		return 0, false, fmt.Errorf("pool: compare-and-set %q: %w", key, err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("pool: compare-and-set %q: unexpected reply %v", key, res)
	}
	if res[0] == 1 {
		m.met.sets.Add(1)
	}
	return res[1], res[0] == 1, nil
}

// RateResult is the outcome of one RateLimit call.
type RateResult struct {
	Allowed   bool
	Count     int64         // hits in the current window, this one included
	Remaining int64         // hits left in the window (0 when over)
	ResetIn   time.Duration // until the window ends
}

// RateLimit counts one hit against key in a fixed window and allows it
// while the window's count is at most limit.
func (m *Manager) RateLimit(ctx context.Context, key string, limit int64, window time.Duration) (RateResult, error) {
	if limit < 1 || window < time.Millisecond {
		return RateResult{}, fmt.Errorf("pool: rate limit %q: want limit >= 1 and window >= 1ms, got %d per %v", key, limit, window)
	}
	res, err := m.run(ctx, m.scripts.rateLimit, []string{m.key(key)}, window.Milliseconds()).Int64Slice()
	if err != nil {
		m.met.errors.Add(1)
		return RateResult{}, fmt.Errorf("pool: rate limit %q: %w", key, err)
	}
	if len(res) != 2 {
		return RateResult{}, fmt.Errorf("pool: rate limit %q: unexpected reply %v", key, res)
	}
	r := RateResult{Count: res[0], Allowed: res[0] <= limit, ResetIn: time.Duration(res[1]) * time.Millisecond}
	if r.Allowed {
		r.Remaining = limit - res[0]
	}
	return r, nil
}
