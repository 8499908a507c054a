package pool

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Item is one key of a bulk write.
type Item struct {
	Key, Val string
	// TTL is the key's remaining life; 0 means no expiry.
	TTL time.Duration
	// Field makes the item a hash field (HSET Key Field Val); Members a
	// sorted set (ZADD Key, Val unused). Neither: a string.
	Field   string
	Members []ZMember
}

// SetBatch writes items in pipelines of batch commands (cluster: go-redis
// routes each command to its slot's master). It is the cache-warming path:
// loading a known state quickly, with each key's own remaining TTL, rather
// than a tier's. Keys get the manager's prefix like every other write.
func (m *Manager) SetBatch(ctx context.Context, items []Item, batch int) error {
	if batch < 1 {
		batch = 500
	}
	client := m.cur.Load().client
	for start := 0; start < len(items); start += batch {
		end := min(start+batch, len(items))
		pipe := client.Pipeline()
		for _, it := range items[start:end] {
			k := m.key(it.Key)
			switch {
			case it.Field != "":
				pipe.HSet(ctx, k, it.Field, it.Val)
				expireOrPersist(ctx, pipe, k, it.TTL)
			case len(it.Members) > 0:
				zs := make([]redis.Z, len(it.Members))
				for i, mb := range it.Members {
					zs[i] = redis.Z{Score: mb.Score, Member: mb.Member}
				}
				pipe.ZAdd(ctx, k, zs...)
				expireOrPersist(ctx, pipe, k, it.TTL)
			default:
				pipe.Set(ctx, k, it.Val, it.TTL)
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			m.met.errors.Add(1)
			return fmt.Errorf("pool: bulk write of %d keys (at %d of %d): %w", end-start, start, len(items), err)
		}
		m.met.sets.Add(uint64(end - start))
	}
	return nil
}
