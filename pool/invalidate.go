package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint per SCAN step: large enough to walk a million
// keys in a few thousand round trips, small enough not to block Redis.
const scanCount = 1000

// invalidationMsg is what Invalidate publishes: the sender's id (so it can
// skip its own message) and the keys or patterns, without KeyPrefix.
type invalidationMsg struct {
	From string   `json:"from"`
	Keys []string `json:"keys"`
}

// isPattern reports whether s uses Redis glob syntax.
func isPattern(s string) bool { return strings.ContainsAny(s, "*?[") }

// Invalidate deletes keys, and every key matching a glob pattern, found by
// SCAN (never KEYS) on the primary or on every cluster master. It returns
// how many keys were deleted, then publishes the keys and patterns on the
// InvalidationChannel so other managers learn of it.
func (m *Manager) Invalidate(ctx context.Context, keysOrPattern ...string) (int64, error) {
	var plain []string
	var total int64
	var errs []error
	for _, p := range keysOrPattern {
		if !isPattern(p) {
			plain = append(plain, p)
			continue
		}
		n, err := m.invalidatePattern(ctx, m.key(p))
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("pool: invalidate pattern %q: %w", p, err))
		}
	}
	if len(plain) > 0 {
		n, err := m.Del(ctx, plain...)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("pool: invalidate: %w", err))
		}
	}
	if len(keysOrPattern) > 0 {
		if err := m.publish(ctx, keysOrPattern); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		m.met.errors.Add(1)
	}
	return total, errors.Join(errs...)
}

// Broadcast tells the other managers that keys changed, without deleting
// them: the update-in-place pattern, where this instance has just written
// the new value and the others must drop what they hold locally (their
// near caches) rather than the shared copy. Without an InvalidationChannel
// it does nothing.
func (m *Manager) Broadcast(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := m.publish(ctx, keys); err != nil {
		m.met.errors.Add(1)
		return err
	}
	return nil
}

// publish sends one invalidation message on the InvalidationChannel.
func (m *Manager) publish(ctx context.Context, keys []string) error {
	if m.cfg.InvalidationChannel == "" {
		return nil
	}
	msg, _ := json.Marshal(invalidationMsg{From: m.id, Keys: keys})
	if err := m.cur.Load().client.Publish(ctx, m.cfg.InvalidationChannel, msg).Err(); err != nil {
		return fmt.Errorf("pool: publish invalidation on %q: %w", m.cfg.InvalidationChannel, err)
	}
	m.met.invalSent.Add(1)
	return nil
}

// invalidatePattern scans every primary for the (prefixed) pattern.
func (m *Manager) invalidatePattern(ctx context.Context, pattern string) (int64, error) {
	b := m.cur.Load()
	if cc, ok := b.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		var total int64
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			n, err := scanUnlink(ctx, node, pattern)
			mu.Lock()
			total += n
			mu.Unlock()
			return err
		})
		return total, err
	}
	return scanUnlink(ctx, b.client, pattern)
}

// scanUnlink walks one node with SCAN MATCH and unlinks each batch with a
// pipeline of single-key UNLINKs (keys of one node may still span cluster
// slots, so a multi-key UNLINK could fail with CROSSSLOT).
func scanUnlink(ctx context.Context, c redis.UniversalClient, pattern string) (int64, error) {
	var total int64
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, scanCount).Result()
		if err != nil {
			return total, fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			cmds := make([]*redis.IntCmd, len(keys))
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.Unlink(ctx, k)
				}
				return nil
			})
			for _, cmd := range cmds {
				total += cmd.Val()
			}
			if err != nil {
				return total, fmt.Errorf("unlink: %w", err)
			}
		}
		if next == 0 {
			return total, nil
		}
		cursor = next
	}
}

// subscriber owns the invalidation subscription and its reader goroutine.
type subscriber struct {
	mu     sync.Mutex
	ps     *redis.PubSub
	done   chan struct{} // closed when the reader goroutine exits
	closed bool          // set by close: a late rebind must not resubscribe
}

// start subscribes on client and waits for Redis to confirm, so a
// broadcast published after New returns is never missed.
func (s *subscriber) start(ctx context.Context, m *Manager, client redis.UniversalClient) error {
	ps := client.Subscribe(ctx, m.cfg.InvalidationChannel)
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return err
	}
	done := make(chan struct{})
	ch := ps.Channel()
	go func() {
		defer close(done)
		for msg := range ch {
			m.receive(msg.Payload)
		}
	}()
	s.mu.Lock()
	if s.closed { // Shutdown won the race with a primary switch
		s.mu.Unlock()
		err := ps.Close()
		<-done
		return err
	}
	s.ps, s.done = ps, done
	s.mu.Unlock()
	return nil
}

// rebind moves the subscription to a new client after a primary switch.
func (s *subscriber) rebind(m *Manager, client redis.UniversalClient) {
	if m.cfg.InvalidationChannel == "" {
		return
	}
	_ = s.stop()
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.ConnectionTimeout)
	defer cancel()
	_ = s.start(ctx, m, client) // on failure the old node's broadcasts are lost; counted nowhere else
}

// close stops the subscription for good (Shutdown).
func (s *subscriber) close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.stop()
}

// stop closes the subscription and waits for the reader to exit.
func (s *subscriber) stop() error {
	s.mu.Lock()
	ps, done := s.ps, s.done
	s.ps, s.done = nil, nil
	s.mu.Unlock()
	if ps == nil {
		return nil
	}
	err := ps.Close()
	<-done
	return err
}

// receive handles one broadcast: others' messages are counted and passed
// to the OnInvalidate handler; our own are ignored.
func (m *Manager) receive(payload string) {
	var msg invalidationMsg
	if err := json.Unmarshal([]byte(payload), &msg); err != nil || msg.From == m.id {
		return
	}
	m.met.invalReceived.Add(1)
	if fn := m.onInvalidate.Load(); fn != nil {
		(*fn)(msg.Keys)
	}
}
