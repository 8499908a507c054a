package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// shardsDoneKey is the counter the shards of one sharded run on an
// external Redis share, under the run's key prefix (so the last cleanup
// deletes it too): one run is one scenario name and seed.
func shardsDoneKey(prefix, name string, seed int64) string {
	return fmt.Sprintf("%sshards-done:%s:%d", prefix, name, seed)
}

// shardsDoneTTL bounds how long a counter outlives its run: the spread of
// the shards' ends (containers and pods start seconds apart) is well under
// the run's length plus ten minutes, and a counter a crashed run left
// behind stops counting for a later run of the same scenario and seed.
func shardsDoneTTL(total time.Duration) time.Duration { return total + 10*time.Minute }

// lastShardToEnd counts this shard as ended and reports whether it was the
// last of shards to end. A sharded run on an external Redis deletes the
// run's keys once, by its last shard: shards end at different times, and
// a shard deleting them as it ended would wipe keys the others still read
// (a compose run, its containers started a second or two apart, saw those
// misses as evictions, 114 of 406, and a hit rate 5 points low).
func lastShardToEnd(ctx context.Context, c redis.UniversalClient, key string, shards int, ttl time.Duration) (bool, int64, error) {
	var n *redis.IntCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, key)
		p.Expire(ctx, key, ttl)
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("count the ended shards in %s: %w", key, err)
	}
	return n.Val() >= int64(shards), n.Val(), nil
}
