package harness

import (
	"context"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/scenarios"
)

// Shards of one run on an external Redis end at different times; only the
// last to end deletes the run's keys, so the first one's cleanup cannot
// wipe keys the others still read (a compose run saw those as evictions).
// Shard 0/2 runs and ends: the keys stay, the counter says 1 of 2. Shard
// 1/2 runs, ends, and deletes them all, the counter too.
func TestShardedExternalRunCleansUpOnce(t *testing.T) {
	needRedis(t)
	dep := startDeployment(t)
	sc, err := scenarios.LoadBytes("shards.yaml", []byte(`
name: shard-cleanup
seed: 5
target: {backend: external, addrs: ["`+dep.Endpoints().Addrs[0]+`"]}
pool: {profile: development}
workload: {population: 400, active_users: 20, commands_per_user_per_minute: 240, instances: 1}
phases:
  - {name: steady, duration: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dbsize := func() int64 {
		n, err := dep.Do(ctx, "primary-0", "DBSIZE")
		if err != nil {
			t.Fatal(err)
		}
		return n.(int64)
	}
	for shard, want := range []string{"ended 1 of 2; the last shard to end deletes", "as the last of 2 shards to end"} {
		res, err := Run(ctx, Options{Scenario: sc, Shard: shard, Shards: 2})
		if err != nil {
			t.Fatalf("shard %d/2: %v", shard, err)
		}
		if !strings.Contains(strings.Join(res.Notes, "\n"), want) {
			t.Errorf("shard %d/2's notes lack %q:\n%s", shard, want, strings.Join(res.Notes, "\n"))
		}
		left := dbsize()
		t.Logf("after shard %d/2: %d keys", shard, left)
		if last := shard == 1; last != (left == 0) {
			t.Errorf("after shard %d/2 Redis holds %d keys; only the last shard to end deletes them", shard, left)
		}
	}
}
