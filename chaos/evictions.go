package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
)

// evictedChannel is the keyevent channel Redis publishes an evicted key's
// name on (notify-keyspace-events with E and e), in any database.
const evictedChannel = "__keyevent@*__:evicted"

// EvictionWatch tells the lost-write check which keys Redis evicted, by
// key and time, so a write evicted by maxmemory and then missed is counted
// as evicted, not as lost. It subscribes to the evicted keyevent on every
// data node (a replica promoted later evicts too) and feeds the tracker.
//
// Turning the notifications on is a CONFIG SET on every data node, undone
// by Close; the harness starts a watch only on a deployment it started. A
// node restarted by a fault comes back without the setting, and its
// evictions are no longer seen (go-redis resubscribes, but Redis publishes
// nothing): the check then says so only through EvictionsWatched of the
// windows, which stays true; restart faults do not track writes.
type EvictionWatch struct {
	dep     topology.Controller
	tr      *WriteTracker
	restore map[string]string // node -> its notify-keyspace-events before
	subs    []*redis.PubSub
	clients []*redis.Client
	wg      sync.WaitGroup
}

// WatchEvictions turns on eviction notifications on every data node of dep
// and feeds the keys evicted to tr until Close. eps gives the credentials
// and TLS of the nodes. On error nothing is left changed or open.
func WatchEvictions(ctx context.Context, dep topology.Controller, eps topology.Endpoints, tr *WriteTracker) (*EvictionWatch, error) {
	w := &EvictionWatch{dep: dep, tr: tr, restore: map[string]string{}}
	for _, n := range dep.Nodes() {
		if n.Role == topology.RoleSentinel {
			continue
		}
		old, err := configGet(ctx, dep, n.Name, "notify-keyspace-events")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("chaos: eviction watch on %s: %w", n.Name, err)
		}
		if _, err := dep.Do(ctx, n.Name, "CONFIG", "SET", "notify-keyspace-events", withFlags(old, "Ee")); err != nil {
			w.Close()
			return nil, fmt.Errorf("chaos: eviction watch on %s: turn on eviction notifications: %w", n.Name, err)
		}
		w.restore[n.Name] = old
		c := redis.NewClient(&redis.Options{Addr: n.Addr, Username: eps.Username, Password: eps.Password, TLSConfig: eps.TLS,
			DialTimeout: 2 * time.Second})
		sub := c.PSubscribe(ctx, evictedChannel)
		if _, err := sub.Receive(ctx); err != nil {
			_ = sub.Close()
			_ = c.Close()
			w.Close()
			return nil, fmt.Errorf("chaos: eviction watch on %s: subscribe: %w", n.Name, err)
		}
		w.clients = append(w.clients, c)
		w.subs = append(w.subs, sub)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for m := range sub.Channel(redis.WithChannelSize(4096)) {
				tr.ObserveEviction(m.Payload, time.Now())
			}
		}()
	}
	tr.evictionsWatched.Store(true)
	return w, nil
}

// Close unsubscribes and restores each node's notification setting (a node
// that is down keeps whatever it has).
func (w *EvictionWatch) Close() error {
	if w == nil {
		return nil
	}
	w.tr.evictionsWatched.Store(false)
	var errs []error
	for _, s := range w.subs {
		errs = append(errs, s.Close())
	}
	w.wg.Wait()
	for _, c := range w.clients {
		errs = append(errs, c.Close())
	}
	w.subs, w.clients = nil, nil
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for node, old := range w.restore {
		if _, err := w.dep.Do(ctx, node, "CONFIG", "SET", "notify-keyspace-events", old); err != nil {
			errs = append(errs, fmt.Errorf("chaos: restore notify-keyspace-events on %s: %w", node, err))
		}
	}
	w.restore = nil
	return errors.Join(errs...)
}

// configGet reads one CONFIG parameter (RESP2 list or RESP3 map reply).
func configGet(ctx context.Context, dep topology.Controller, node, param string) (string, error) {
	v, err := dep.Do(ctx, node, "CONFIG", "GET", param)
	if err != nil {
		return "", fmt.Errorf("CONFIG GET %s: %w", param, err)
	}
	switch r := v.(type) {
	case []any:
		if len(r) == 2 {
			if s, ok := r[1].(string); ok {
				return s, nil
			}
		}
	case map[any]any:
		if s, ok := r[param].(string); ok {
			return s, nil
		}
	case map[string]any:
		if s, ok := r[param].(string); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("CONFIG GET %s: unexpected reply %v", param, v)
}

// withFlags adds the notification classes in add to flags, keeping the
// ones already set (another subscriber may rely on them).
func withFlags(flags, add string) string {
	for _, c := range add {
		if !strings.ContainsRune(flags, c) {
			flags += string(c)
		}
	}
	return flags
}
