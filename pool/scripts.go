package pool

import (
	"context"
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

// casLua is compare-and-swap by value on the family's ordinary string: the
// key the bot reads with GET and MGET, so the swap and every other read
// agree on its type. Values carry their own version and checksum, so
// comparing whole values is exact.
// KEYS[1] key; ARGV[1] "1" when a value was read (it must still be there),
// "0" when the key was absent (it must still be); ARGV[2] the value read;
// ARGV[3] the new value; ARGV[4] TTL in ms (0: none, clearing any).
// Returns 1 when swapped, 0 on a conflict.
const casLua = `
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif cur then
  return 0
end
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl) else redis.call('SET', KEYS[1], ARGV[3]) end
return 1`

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
	found, err := m.countLookup(err, TierSession.index())
	if err != nil {
		return "", false, fmt.Errorf("pool: session get %q: %w", key, err)
	}
	return v, found, nil
}

// CompareAndSwap writes val to key only if the key still holds old (found:
// the value a GET returned) or is still absent (!found), atomically, with
// the TTL Set would give it (its family's, else its tier's; none for the
// persistent tier). It reports whether it swapped; false is a conflict
// (another writer got there first: read again and retry).
func (m *Manager) CompareAndSwap(ctx context.Context, key, old string, found bool, val string, tier Tier) (bool, error) {
	ti, err := tierIndex(tier)
	if err != nil {
		return false, err
	}
	k := m.key(key)
	had := "0"
	if found {
		had = "1"
	}
	n, err := m.run(ctx, m.scripts.cas, []string{k}, had, old, val, m.ttlFor(k, ti).Milliseconds()).Int64()
	if err != nil {
		m.met.errors.Add(1)
		return false, fmt.Errorf("pool: compare-and-swap %q: %w", key, err)
	}
	if n == 1 {
		m.met.sets.Add(1)
	}
	return n == 1, nil
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
