package bots

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/topology/topologytest"
)

// TestMain fails the package if a manager, a subscriber or a warming
// goroutine outlives its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/HdrHistogram/hdrhistogram-go.init"))
}

// standaloneRedis starts a redis-server for the test and returns it with a
// development-profile manager config pointed at it: no sentinel, no
// background health check, no invalidation channel (a test that wants one
// sets it).
func standaloneRedis(t testing.TB) (topology.Deployment, pool.Config) {
	dep := topologytest.Standalone(t)
	cfg, _ := pool.ProfileConfig(pool.ProfileDevelopment)
	cfg.Addrs, cfg.EnableSentinel, cfg.HealthCheckInterval, cfg.InvalidationChannel = dep.Endpoints().Addrs, false, 0, ""
	return dep, cfg
}
