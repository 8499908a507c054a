package bots

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/topology/topologytest"
	"github.com/cacheproof/cacheproof/workload"
)

// metaFamily is one meta key, what the bot warms whatever it served.
var metaFamily = workload.Family{Name: "patch", KeyPattern: "meta:patch", Keys: 1, Tier: string(pool.TierMeta), MeanSize: 64, Source: workload.SourceInternal, Defined: true}

// warmsAfterFault plays one fault (spec, with warm: on) against a real
// deployment with a layer of two instances subscribed to the runner, and
// returns the warmings the layer ran and the fault's event. Nothing polls
// the runner: a warming can only start from its Ended notice.
func warmsAfterFault(t *testing.T, dep topology.Deployment, cfg pool.Config, spec chaos.Spec, total time.Duration) ([]warmRun, chaos.Event) {
	t.Helper()
	ctx := context.Background()
	mgr, err := pool.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Shutdown(ctx)
	fams := []workload.Family{metaFamily}
	l := New(Options{
		Cache:  mgr,
		Origin: workload.NewOrigin(map[string]workload.OriginConfig{workload.SourceInternal: {Latency: 100 * time.Microsecond}}, 1),
		Ledger: workload.NewLedger(),
		TTL:    map[string]time.Duration{metaFamily.Name: cfg.TTL[pool.TierMeta]},
	})
	if i, err := l.Connect(ctx, mgr, cfg, 2, fams); err != nil {
		t.Fatalf("connect instance %d: %v", i, err)
	}
	defer l.Close()
	spec.Params = map[string]any{"warm": "on"}
	faults, err := chaos.New([]chaos.Spec{spec}, chaos.Site{Shape: dep.Spec().Shape, Total: total})
	if err != nil {
		t.Fatal(err)
	}
	rn := chaos.NewRunner(faults, chaos.Options{Deployment: dep, Total: total, Logf: t.Logf, Subscribers: []chaos.Subscriber{l}})
	start := time.Now()
	l.SetStart(start)
	l.WatchFaults()
	rn.Start(start)
	time.Sleep(time.Until(start.Add(total)))
	rn.Stop()
	l.StopWarming(30 * time.Second)
	l.stats.mu.Lock()
	defer l.stats.mu.Unlock()
	return append([]warmRun(nil), l.stats.warms...), rn.Events()[0]
}

// checkWarmed says whether every instance warmed once after ev, named
// after it, and the meta key is in Redis again.
func checkWarmed(t *testing.T, warms []warmRun, ev chaos.Event, kind string, exists func() int64) {
	t.Helper()
	if !ev.Injected || !ev.Ended {
		t.Fatalf("the %s did not take effect: %+v", kind, ev)
	}
	if len(warms) != 2 {
		t.Fatalf("%d warmings after the %s, want one per instance (2): %+v", len(warms), kind, warms)
	}
	for _, w := range warms {
		if w.fault != ev.Fault.Index<<16|ev.N || !strings.HasPrefix(w.trigger, kind+" @") {
			t.Errorf("warming %+v is not the %s's (fault id %d)", w, kind, ev.Fault.Index<<16|ev.N)
		}
		if w.at < ev.End {
			t.Errorf("instance %d warmed at %s, before the %s ended at %s", w.instance, w.at, kind, ev.End)
		}
		if w.metaKeys != 1 || w.keys != 1 || w.loadErrs != 0 || w.writeErrs != 0 {
			t.Errorf("instance %d: meta %d keys %d load errors %d write errors %d; want the meta key written", w.instance, w.metaKeys, w.keys, w.loadErrs, w.writeErrs)
		}
	}
	if n := exists(); n != 1 {
		t.Errorf("after warming: EXISTS %s = %d, want 1", metaFamily.KeyPattern, n)
	}
}

// A restart empties a real redis-server; its Ended notice makes every
// instance warm again, named after the occurrence.
func TestRestartNoticeWarms(t *testing.T) {
	dep, cfg := standaloneRedis(t)
	cfg.MaxRetries = 3 // the pool's connections died with the node
	warms, ev := warmsAfterFault(t, dep, cfg, chaos.Spec{Kind: "restart", At: 200 * time.Millisecond, Node: chaos.NodePrimary}, 1500*time.Millisecond)
	checkWarmed(t, warms, ev, "restart", func() int64 {
		n, _ := dep.Do(context.Background(), "primary-0", "EXISTS", metaFamily.KeyPattern)
		i, _ := n.(int64)
		return i
	})
}

// A failover on a real sentinel deployment moves the primary; its Ended
// notice makes every instance warm again through the new primary.
func TestFailoverNoticeWarms(t *testing.T) {
	dep := topologytest.Start(t, topology.ShapeSentinel)
	ep := dep.Endpoints()
	cfg, _ := pool.ProfileConfig(pool.ProfileDevelopment)
	cfg.Addrs, cfg.HealthCheckInterval, cfg.InvalidationChannel = ep.Addrs, 0, ""
	cfg.EnableSentinel, cfg.SentinelAddrs, cfg.MasterName = true, ep.SentinelAddrs, ep.MasterName
	cfg.MaxRetries = 3
	warms, ev := warmsAfterFault(t, dep, cfg, chaos.Spec{Kind: "failover", At: 200 * time.Millisecond}, 6*time.Second)
	checkWarmed(t, warms, ev, "failover", func() int64 {
		ctx := context.Background()
		p, err := dep.Primary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := dep.Do(ctx, p.Name, "EXISTS", metaFamily.KeyPattern)
		i, _ := n.(int64)
		return i
	})
}
