package pool

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/cacheproof/cacheproof/internal/keypattern"
)

// Manager is the pooled cache manager under test. It is safe for concurrent
// use; its data methods take no lock on the hit path.
type Manager struct {
	cfg    Config
	prefix string
	ttl    [NumTiers]time.Duration
	// keyTTL are the per-key-family TTLs that override the tier's, as the
	// seed's catalogue gives steam:avatar:{steamId} a day while its tier
	// (api) says five minutes: the patterns (unprefixed keys) in
	// keyTTLPats, their TTLs index for index in keyTTL.
	keyTTLPats keypattern.Set
	keyTTL     []time.Duration
	id         string // tells our own invalidation broadcasts from others'

	cur  atomic.Pointer[binding] // the client commands go to; swapped on a primary switch
	met  metrics
	hook *metricsHook

	flight  flightGroup
	scripts scripts
	follow  *follower // non-nil for the standalone and replica shapes

	sub          subscriber
	onInvalidate atomic.Pointer[func([]string)]
	lastHealth   atomic.Pointer[Health]

	ctx    context.Context // ends at Shutdown; background work derives from it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex // guards retired and closed (never on the hot path)
	retired  PoolStats  // counters of clients closed after a primary switch
	closed   bool
	shutOnce sync.Once
	shutErr  error
}

// binding is one go-redis client and the command surface data calls use:
// the client itself, or its autopipeliner when AutoPipeline is set.
type binding struct {
	client redis.UniversalClient
	cmd    redis.Cmdable
	addr   string // standalone/replica: the node this client talks to
}

// New validates cfg, connects, loads the Lua scripts, subscribes to the
// invalidation channel and starts the health loop. It fails when Redis does
// not answer PING within ConnectionTimeout. It does not touch the server's
// configuration (see ApplyServerConfig).
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.clone()
	if cfg.ClientName == "" {
		cfg.ClientName = "cacheproof"
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	m := &Manager{cfg: cfg, prefix: cfg.KeyPrefix, id: hex.EncodeToString(id)}
	for _, t := range Tiers {
		m.ttl[t.index()] = cfg.ttl(t)
	}
	for _, p := range slices.Sorted(maps.Keys(cfg.KeyTTL)) {
		pat, err := keypattern.Parse(p)
		if err == nil {
			_, err = m.keyTTLPats.Add(pat)
		}
		if err != nil {
			return nil, fmt.Errorf("pool: KeyTTL: %w", err) // Validate refused it already
		}
		m.keyTTL = append(m.keyTTL, cfg.KeyTTL[p])
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.hook = &metricsHook{met: &m.met}
	if !cfg.EnableSentinel && !cfg.Cluster {
		m.follow = &follower{m: m, addrs: cfg.Addrs}
		m.hook.onSwitch = func(error) { m.follow.suspect() }
	}

	b, err := m.newBinding(cfg.Addrs)
	if err != nil {
		m.cancel()
		return nil, err
	}
	m.cur.Store(b)

	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectionTimeout)
	defer cancel()
	if err := b.client.Ping(pctx).Err(); err != nil {
		m.cancel()
		_ = b.client.Close()
		return nil, fmt.Errorf("pool: connect to %s %v: %w", cfg.Shape(), m.endpoints(), err)
	}
	if err := m.scripts.load(pctx, b.client); err != nil {
		m.cancel()
		_ = b.client.Close()
		return nil, fmt.Errorf("pool: load Lua scripts: %w", err)
	}
	if cfg.InvalidationChannel != "" {
		if err := m.sub.start(pctx, m, b.client); err != nil {
			m.cancel()
			_ = b.client.Close()
			return nil, fmt.Errorf("pool: subscribe to %q: %w", cfg.InvalidationChannel, err)
		}
	}
	if cfg.HealthCheckInterval > 0 {
		m.wg.Add(1)
		go m.healthLoop()
	}
	return m, nil
}

func (m *Manager) endpoints() []string {
	if m.cfg.EnableSentinel {
		return m.cfg.SentinelAddrs
	}
	return m.cfg.Addrs
}

// newBinding builds the go-redis client for the configured shape. For the
// standalone and replica shapes addrs[0] is the node to bind to.
func (m *Manager) newBinding(addrs []string) (*binding, error) {
	c := m.cfg
	// One set of options for every shape; go-redis's own converters
	// (Failover, Cluster, Simple) carry them to each client type.
	o := &redis.UniversalOptions{
		Addrs:      addrs,
		MasterName: c.MasterName,
		ClientName: c.ClientName, Username: c.Username, Password: c.Password, TLSConfig: c.TLS,
		MaxRetries: c.MaxRetries, MinRetryBackoff: c.MinRetryBackoff, MaxRetryBackoff: c.MaxRetryBackoff,
		DialTimeout: c.ConnectionTimeout, ReadTimeout: c.CommandTimeout, WriteTimeout: c.CommandTimeout,
		ContextTimeoutEnabled: true,
		PoolSize:              c.MaxConnections, MaxActiveConns: c.MaxConnections, MinIdleConns: c.MinConnections,
		PoolTimeout: c.PoolTimeout, DisableIdentity: true, Protocol: c.protocol(),
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		// Pipelines (MGET batches, prefill, auto-pipelining) share the one
		// pool, as the seed's: go-redis v9.23 otherwise adds a dedicated
		// pipeline pool of up to 10 connections with 128 KiB buffers beside
		// it, so max_conns would no longer bound what the manager opens
		// (runs were seen holding 10-18 connections per instance at
		// max_conns 8), nor the pool exhaustion it is there to show.
		PipelinePoolSize: -1,
		// Each connection's read and write buffers (go-redis defaults to 32
		// KiB each; issue 28 item 5): the reply and command sizes the seed's
		// families use fit many times over, and a larger one still streams
		// through (bufio reads and writes past a full buffer).
		ReadBufferSize: ConnReadBufferBytes, WriteBufferSize: ConnWriteBufferBytes,
	}
	if c.TLS == nil {
		// Raw-syscall connections (conn.go); TLS keeps go-redis's dialer.
		o.Dialer = viaDialer(rawDialer(c.ConnectionTimeout), c.DialAddrs, c.ConnectionTimeout)
	}
	if c.WrapConn != nil {
		o.Dialer = wrappedDialer(o.Dialer, c.WrapConn, c.ConnectionTimeout, c.TLS)
	}
	var client redis.UniversalClient
	addr := ""
	switch {
	case c.EnableSentinel:
		o.Addrs = c.SentinelAddrs
		client = redis.NewFailoverClient(o.Failover())
	case c.Cluster:
		client = redis.NewClusterClient(o.Cluster())
	default:
		addr = addrs[0]
		o.Addrs = addrs[:1]
		client = redis.NewClient(o.Simple())
	}
	client.AddHook(m.hook)
	b := &binding{client: client, cmd: client, addr: addr}
	if c.AutoPipeline {
		ap, err := client.AutoPipeline()
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("pool: AutoPipeline is not available for the %s shape: %w", c.Shape(), err)
		}
		b.cmd = ap
	}
	return b, nil
}

// key applies KeyPrefix; without a prefix it returns key unchanged (no
// allocation).
func (m *Manager) key(k string) string {
	if m.prefix == "" {
		return k
	}
	return m.prefix + k
}

// Config returns the resolved configuration the manager runs with.
func (m *Manager) Config() Config { return m.cfg.clone() }

// Client returns the current go-redis client. For the replica shape it
// changes after a primary switch, so fetch it again rather than keeping it.
func (m *Manager) Client() redis.UniversalClient { return m.cur.Load().client }

// Primary returns the address the standalone/replica client is bound to,
// "" for the sentinel and cluster shapes (go-redis routes those itself).
func (m *Manager) Primary() string { return m.cur.Load().addr }

// tierIndex validates a tier; the error is built only for bad input.
func tierIndex(t Tier) (int, error) {
	i := t.index()
	if i < 0 {
		return -1, fmt.Errorf("pool: unknown tier %q (valid: api, session, meta, persistent)", t)
	}
	return i, nil
}

// Get reads key. found is false on a miss; err is set only when Redis
// failed (an empty value is a hit, unlike the seed's `if (value)`).
func (m *Manager) Get(ctx context.Context, key string) (val string, found bool, err error) {
	val, err = m.cur.Load().cmd.Get(ctx, m.key(key)).Result()
	if found, err = m.countLookup(err, noTier); err != nil {
		return "", false, fmt.Errorf("pool: get %q: %w", key, err)
	}
	return val, found, nil
}

// noTier is countLookup's tier for a read that counts in no tier.
const noTier = -1

// countLookup counts a read's outcome in the manager's hit, miss and error
// counters (and tier ti's, unless noTier): found on a reply, a miss on
// redis.Nil, and err returned as it came otherwise. The one rule of what a
// read counts as, for every read the manager offers.
func (m *Manager) countLookup(err error, ti int) (found bool, failed error) {
	switch {
	case err == nil:
		m.met.hits.Add(1)
		if ti != noTier {
			m.met.tierHits[ti].Add(1)
		}
		return true, nil
	case errors.Is(err, redis.Nil):
		m.met.misses.Add(1)
		if ti != noTier {
			m.met.tierMisses[ti].Add(1)
		}
		return false, nil
	}
	m.met.errors.Add(1)
	return false, err
}

// Set writes key with its tier's TTL (persistent: no expiry, clearing any
// TTL the key had). A failed write is always returned, never swallowed.
func (m *Manager) Set(ctx context.Context, key, val string, tier Tier) error {
	ti, err := tierIndex(tier)
	if err != nil {
		return err
	}
	if err := m.set(ctx, m.key(key), val, ti); err != nil {
		m.met.errors.Add(1)
		return fmt.Errorf("pool: set %q (%s): %w", key, tier, err)
	}
	m.met.sets.Add(1)
	return nil
}

// set writes an already prefixed key. On READONLY in the standalone/replica
// shapes it asks the follower for the current primary and, when that moved,
// retries once there: the write was refused, so repeating it is safe.
func (m *Manager) set(ctx context.Context, k, val string, ti int) error {
	b := m.cur.Load()
	ttl := m.ttlFor(k, ti)
	err := b.cmd.Set(ctx, k, val, ttl).Err()
	if err != nil && m.follow != nil && redis.IsReadOnlyError(err) {
		if nb := m.follow.refresh(ctx, b); nb != nil {
			err = nb.cmd.Set(ctx, k, val, ttl).Err()
		}
	}
	return err
}

// ttlFor is the TTL of prefixed key k: its family's when a pattern of
// Config.KeyTTL matches the whole key, else its tier's. A handful of
// patterns at most, each rejected at its first literal byte that differs:
// a linear scan is cheaper than any map here.
func (m *Manager) ttlFor(k string, ti int) time.Duration {
	if len(m.keyTTL) > 0 {
		if i := m.keyTTLPats.Lookup(strings.TrimPrefix(k, m.prefix)); i >= 0 {
			return m.keyTTL[i]
		}
	}
	return m.ttl[ti]
}

// MGet reads several keys; vals[i] is meaningful only when found[i]. On a
// cluster the keys may live in different slots, so it pipelines one GET per
// key instead of a cross-slot MGET.
func (m *Manager) MGet(ctx context.Context, keys ...string) ([]string, []bool, error) {
	vals := make([]string, len(keys))
	found := make([]bool, len(keys))
	if len(keys) == 0 {
		return vals, found, nil
	}
	b := m.cur.Load()
	if m.cfg.Cluster {
		cmds := make([]*redis.StringCmd, len(keys))
		_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Get(ctx, m.key(k))
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			m.met.errors.Add(1)
			return nil, nil, fmt.Errorf("pool: mget %d keys: %w", len(keys), err)
		}
		for i, c := range cmds {
			v, err := c.Result()
			if err == nil {
				vals[i], found[i] = v, true
			}
		}
	} else {
		pk := keys
		if m.prefix != "" {
			pk = make([]string, len(keys))
			for i, k := range keys {
				pk[i] = m.key(k)
			}
		}
		res, err := b.cmd.MGet(ctx, pk...).Result()
		if err != nil {
			m.met.errors.Add(1)
			return nil, nil, fmt.Errorf("pool: mget %d keys: %w", len(keys), err)
		}
		for i, v := range res {
			if s, ok := v.(string); ok {
				vals[i], found[i] = s, true
			}
		}
	}
	for _, f := range found {
		if f {
			m.met.hits.Add(1)
		} else {
			m.met.misses.Add(1)
		}
	}
	return vals, found, nil
}

// Del deletes keys and returns how many existed. On a cluster it pipelines
// one DEL per key (keys may hash to different slots).
func (m *Manager) Del(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	n, err := m.delPrefixed(ctx, m.cur.Load(), m.prefixAll(keys))
	if err != nil && m.follow != nil && redis.IsReadOnlyError(err) {
		if nb := m.follow.refresh(ctx, m.cur.Load()); nb != nil {
			n, err = m.delPrefixed(ctx, nb, m.prefixAll(keys))
		}
	}
	if err != nil {
		m.met.errors.Add(1)
		return n, fmt.Errorf("pool: del %d keys: %w", len(keys), err)
	}
	return n, nil
}

func (m *Manager) prefixAll(keys []string) []string {
	if m.prefix == "" {
		return keys
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = m.key(k)
	}
	return out
}

func (m *Manager) delPrefixed(ctx context.Context, b *binding, keys []string) (int64, error) {
	if !m.cfg.Cluster || len(keys) == 1 {
		return b.cmd.Del(ctx, keys...).Result()
	}
	cmds := make([]*redis.IntCmd, len(keys))
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Del(ctx, k)
		}
		return nil
	})
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, err
}

// Expire refreshes key's TTL to its tier's (persistent: removes any TTL).
// It reports whether the key exists.
func (m *Manager) Expire(ctx context.Context, key string, tier Tier) (bool, error) {
	ti, err := tierIndex(tier)
	if err != nil {
		return false, err
	}
	k := m.key(key)
	do := func(b *binding) (bool, error) {
		if ttl := m.ttlFor(k, ti); ttl > 0 {
			return b.cmd.Expire(ctx, k, ttl).Result()
		}
		ok, err := b.cmd.Persist(ctx, k).Result()
		if err != nil || ok {
			return ok, err
		}
		n, err := b.cmd.Exists(ctx, k).Result() // PERSIST is false for a key without TTL too
		return n == 1, err
	}
	b := m.cur.Load()
	ok, err := do(b)
	if err != nil && m.follow != nil && redis.IsReadOnlyError(err) {
		if nb := m.follow.refresh(ctx, b); nb != nil {
			ok, err = do(nb)
		}
	}
	if err != nil {
		m.met.errors.Add(1)
		return false, fmt.Errorf("pool: expire %q (%s): %w", key, tier, err)
	}
	return ok, nil
}

// Stats returns the counters since New and the pool statistics.
func (m *Manager) Stats() Stats {
	s := m.met.snapshot()
	m.mu.Lock()
	s.Pool = m.retired
	m.mu.Unlock()
	s.Pool.addPool(m.cur.Load().client.PoolStats())
	return s
}

// OnInvalidate registers fn to be called (from the subscriber goroutine)
// with the keys and patterns of every invalidation another manager
// broadcasts. Passing nil removes it.
func (m *Manager) OnInvalidate(fn func(keysOrPatterns []string)) {
	if fn == nil {
		m.onInvalidate.Store(nil)
		return
	}
	m.onInvalidate.Store(&fn)
}

// Shutdown stops the health loop and the subscriber, closes the clients,
// and waits for background work until ctx ends. Calling it again returns the
// first result.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.shutOnce.Do(func() {
		m.cancel()
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		var errs []error
		if err := m.sub.close(); err != nil {
			errs = append(errs, fmt.Errorf("pool: close subscription: %w", err))
		}
		done := make(chan struct{})
		go func() { m.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("pool: shutdown: background work still running: %w", ctx.Err()))
		}
		if err := m.cur.Load().client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			errs = append(errs, fmt.Errorf("pool: close client: %w", err))
		}
		m.shutErr = errors.Join(errs...)
	})
	return m.shutErr
}
