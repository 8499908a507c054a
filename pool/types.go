package pool

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The hash and sorted-set commands a key family of those types uses (the
// seed's bot keeps a guild's settings as one value, but an SRE describing
// their own cache may keep profiles as hashes and leaderboards as sorted
// sets). They follow the string commands' rules: KeyPrefix applied, the
// tier's TTL (or the key family's) set on every write, hits and misses
// counted, errors wrapped with the key and counted, and a write that met
// READONLY retried once on the new primary.

// ZMember is one member of a sorted set and its score.
type ZMember struct {
	Member string
	Score  float64
}

// HGet reads field of the hash at key. found is false when the key or the
// field is absent.
func (m *Manager) HGet(ctx context.Context, key, field string) (val string, found bool, err error) {
	val, err = m.cur.Load().cmd.HGet(ctx, m.key(key), field).Result()
	if found, err = m.countLookup(err, noTier); err != nil {
		return "", false, fmt.Errorf("pool: hget %q %q: %w", key, field, err)
	}
	return val, found, nil
}

// HSet writes field of the hash at key and sets the key's TTL to its
// tier's (persistent: no expiry) in one round trip: a hash written without
// its TTL would outlive its tier.
func (m *Manager) HSet(ctx context.Context, key, field, val string, tier Tier) error {
	ti, err := tierIndex(tier)
	if err != nil {
		return err
	}
	k := m.key(key)
	ttl := m.ttlFor(k, ti)
	err = m.writeFollowing(ctx, func(b *binding) error {
		_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, k, field, val)
			expireOrPersist(ctx, p, k, ttl)
			return nil
		})
		return err
	})
	if err != nil {
		m.met.errors.Add(1)
		return fmt.Errorf("pool: hset %q %q (%s): %w", key, field, tier, err)
	}
	m.met.sets.Add(1)
	return nil
}

// ZRange reads the top n members of the sorted set at key, highest score
// first (ZRANGE ... REV). found is false when the set is absent (or empty,
// which Redis does not keep).
func (m *Manager) ZRange(ctx context.Context, key string, n int) ([]string, bool, error) {
	if n < 1 {
		n = 1
	}
	members, err := m.cur.Load().cmd.ZRangeArgs(ctx, redis.ZRangeArgs{Key: m.key(key), Start: 0, Stop: n - 1, Rev: true}).Result()
	if err != nil {
		m.met.errors.Add(1)
		return nil, false, fmt.Errorf("pool: zrange %q: %w", key, err)
	}
	if len(members) == 0 {
		m.met.misses.Add(1)
		return nil, false, nil
	}
	m.met.hits.Add(1)
	return members, true, nil
}

// ZAdd adds (or rescores) members of the sorted set at key and sets the
// key's TTL to its tier's, in one round trip.
func (m *Manager) ZAdd(ctx context.Context, key string, tier Tier, members ...ZMember) error {
	if len(members) == 0 {
		return nil
	}
	ti, err := tierIndex(tier)
	if err != nil {
		return err
	}
	k := m.key(key)
	ttl := m.ttlFor(k, ti)
	zs := make([]redis.Z, len(members))
	for i, mb := range members {
		zs[i] = redis.Z{Score: mb.Score, Member: mb.Member}
	}
	err = m.writeFollowing(ctx, func(b *binding) error {
		_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, k, zs...)
			expireOrPersist(ctx, p, k, ttl)
			return nil
		})
		return err
	})
	if err != nil {
		m.met.errors.Add(1)
		return fmt.Errorf("pool: zadd %q %d members (%s): %w", key, len(members), tier, err)
	}
	m.met.sets.Add(1)
	return nil
}

// Replace is how a whole-value write (HSetAll, ZAddAll) treats what the key
// held: the scenario's family chooses (workload.Family.Write).
type Replace uint8

const (
	// Overwrite writes the new fields or members over the old (HSET or
	// ZADD of all of them): names the new value lacks stay.
	Overwrite Replace = iota
	// ReplaceMulti deletes the key and writes the new value in one
	// MULTI/EXEC transaction: a reader sees the old value or the new one.
	ReplaceMulti
	// ReplacePipeline deletes the key and writes the new value in one
	// pipeline without MULTI: one round trip too, but a reader served
	// between the DEL and the write misses.
	ReplacePipeline
)

// String names the mode as scenarios spell it.
func (r Replace) String() string {
	switch r {
	case ReplaceMulti:
		return "replace_multi"
	case ReplacePipeline:
		return "replace_pipeline"
	}
	return "whole"
}

// HSetAll writes the hash at key whole: fields[i] = vals[i] in one HSET,
// with the key's TTL, replacing the old hash as how says; one round trip.
func (m *Manager) HSetAll(ctx context.Context, key string, fields, vals []string, tier Tier, how Replace) error {
	if len(fields) == 0 || len(fields) != len(vals) {
		return fmt.Errorf("pool: hset %q: %d fields, %d values", key, len(fields), len(vals))
	}
	args := make([]any, 0, 2*len(fields))
	for i, f := range fields {
		args = append(args, f, vals[i])
	}
	err := m.writeWhole(ctx, key, tier, how, func(p redis.Pipeliner, k string) { p.HSet(ctx, k, args...) })
	if err != nil {
		return fmt.Errorf("pool: hset %q %d fields (%s, %s): %w", key, len(fields), tier, how, err)
	}
	return nil
}

// ZAddAll writes the sorted set at key whole: members in one ZADD, with the
// key's TTL, replacing the old set as how says; one round trip.
func (m *Manager) ZAddAll(ctx context.Context, key string, tier Tier, how Replace, members ...ZMember) error {
	if len(members) == 0 {
		return fmt.Errorf("pool: zadd %q: no members", key)
	}
	zs := make([]redis.Z, len(members))
	for i, mb := range members {
		zs[i] = redis.Z{Score: mb.Score, Member: mb.Member}
	}
	err := m.writeWhole(ctx, key, tier, how, func(p redis.Pipeliner, k string) { p.ZAdd(ctx, k, zs...) })
	if err != nil {
		return fmt.Errorf("pool: zadd %q %d members (%s, %s): %w", key, len(members), tier, how, err)
	}
	return nil
}

// writeWhole runs one whole-value write: DEL first unless how is Overwrite,
// then write, then the TTL, in a MULTI/EXEC (ReplaceMulti) or a plain
// pipeline, counted as one set.
func (m *Manager) writeWhole(ctx context.Context, key string, tier Tier, how Replace, write func(redis.Pipeliner, string)) error {
	ti, err := tierIndex(tier)
	if err != nil {
		return err
	}
	k := m.key(key)
	ttl := m.ttlFor(k, ti)
	queue := func(p redis.Pipeliner) error {
		if how != Overwrite {
			p.Del(ctx, k)
		}
		write(p, k)
		expireOrPersist(ctx, p, k, ttl)
		return nil
	}
	err = m.writeFollowing(ctx, func(b *binding) error {
		var err error
		if how == ReplaceMulti {
			_, err = b.client.TxPipelined(ctx, queue)
		} else {
			_, err = b.client.Pipelined(ctx, queue)
		}
		return err
	})
	if err != nil {
		m.met.errors.Add(1)
		return err
	}
	m.met.sets.Add(1)
	return nil
}

// expireOrPersist queues the TTL a write leaves on k: ttl, or none.
func expireOrPersist(ctx context.Context, p redis.Pipeliner, k string, ttl time.Duration) {
	if ttl > 0 {
		p.PExpire(ctx, k, ttl)
	} else {
		p.Persist(ctx, k)
	}
}

// writeFollowing runs a write on the current binding and, when it met
// READONLY in the standalone/replica shapes and the primary moved, once
// more on the new one (the write was refused, so repeating it is safe).
func (m *Manager) writeFollowing(ctx context.Context, do func(*binding) error) error {
	b := m.cur.Load()
	err := do(b)
	if err != nil && m.follow != nil && redis.IsReadOnlyError(err) {
		if nb := m.follow.refresh(ctx, b); nb != nil {
			err = do(nb)
		}
	}
	return err
}
