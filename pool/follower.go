package pool

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// follower keeps the standalone/replica client on the node that is primary.
// go-redis already drops a connection that answered READONLY, but it would
// redial the same, demoted node, and reads would keep flowing to it. So on
// READONLY (or a refused/reset connection) the follower asks every
// configured address for its ROLE and, when another one is primary, binds a
// new client to it and retires the old one: connections to the demoted node
// are closed. With a single address (standalone demoted by REPLICAOF) there
// is nowhere to go: writes keep failing with "readonly" until the node is
// promoted again, and every failure reaches the caller.
type follower struct {
	m     *Manager
	addrs []string

	mu      sync.Mutex   // serializes discoveries (failure path only)
	last    atomic.Int64 // unix nanos of the last discovery
	running atomic.Bool  // an asynchronous discovery is in flight
}

// minRediscover rate-limits discoveries: under a storm of READONLY errors
// the nodes are asked at most this often.
const minRediscover = 250 * time.Millisecond

// suspect starts an asynchronous discovery unless one ran recently or is
// running. Called from the go-redis hook, so it must not block.
func (f *follower) suspect() {
	if time.Since(time.Unix(0, f.last.Load())) < minRediscover || !f.running.CompareAndSwap(false, true) {
		return
	}
	f.m.mu.Lock()
	if f.m.closed {
		f.m.mu.Unlock()
		f.running.Store(false)
		return
	}
	f.m.wg.Add(1)
	f.m.mu.Unlock()
	go func() {
		defer f.m.wg.Done()
		defer f.running.Store(false)
		ctx, cancel := context.WithTimeout(f.m.ctx, f.m.cfg.ConnectionTimeout)
		defer cancel()
		f.discover(ctx)
	}()
}

// refresh is the synchronous form used by a write that just got READONLY on
// binding b: it returns the new binding when the primary moved away from b,
// nil otherwise (then the caller reports its error).
func (f *follower) refresh(ctx context.Context, b *binding) *binding {
	if cur := f.m.cur.Load(); cur != b {
		return cur // someone switched already
	}
	if time.Since(time.Unix(0, f.last.Load())) >= minRediscover {
		f.discover(ctx)
	}
	if cur := f.m.cur.Load(); cur != b {
		return cur
	}
	return nil
}

// discover asks each address for its role and switches to a primary when
// the current node is not one.
func (f *follower) discover(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(time.Unix(0, f.last.Load())) < minRediscover {
		return
	}
	defer func() { f.last.Store(time.Now().UnixNano()) }()
	cur := f.m.cur.Load()
	if role, err := f.role(ctx, cur.addr); err == nil && role == "master" {
		return
	}
	for _, a := range f.addrs {
		if a == cur.addr {
			continue
		}
		if role, err := f.role(ctx, a); err == nil && role == "master" {
			f.switchTo(a)
			return
		}
	}
}

// role asks one node for ROLE on a one-off connection.
func (f *follower) role(ctx context.Context, addr string) (string, error) {
	c := f.m.cfg
	probe := redis.NewClient(&redis.Options{
		Addr: addr, Username: c.Username, Password: c.Password, TLSConfig: c.TLS,
		DialTimeout: c.ConnectionTimeout, ReadTimeout: c.CommandTimeout, WriteTimeout: c.CommandTimeout,
		MaxRetries: -1, PoolSize: 1, DisableIdentity: true, ContextTimeoutEnabled: true, Protocol: 2,
	})
	defer probe.Close()
	res, err := probe.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", err
	}
	if len(res) == 0 {
		return "", nil
	}
	s, _ := res[0].(string)
	return s, nil
}

// switchTo binds a new client to addr and retires the old one after a grace
// period, so commands in flight on it can finish.
func (f *follower) switchTo(addr string) {
	m := f.m
	addrs := append([]string{addr}, f.addrs...)
	nb, err := m.newBinding(addrs)
	if err != nil {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		_ = nb.client.Close()
		return
	}
	old := m.cur.Swap(nb)
	m.met.primarySwitches.Add(1)
	m.wg.Add(1)
	m.mu.Unlock()
	m.sub.rebind(m, nb.client)
	go func() {
		defer m.wg.Done()
		grace := time.NewTimer(m.cfg.CommandTimeout)
		defer grace.Stop()
		select {
		case <-grace.C:
		case <-m.ctx.Done():
		}
		stats := old.client.PoolStats()
		_ = old.client.Close()
		var ps PoolStats
		ps.addPool(stats)
		ps.TotalConns, ps.IdleConns = 0, 0 // gone with the client
		m.mu.Lock()
		m.retired.Add(ps)
		m.mu.Unlock()
	}()
}
