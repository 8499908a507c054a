package pool

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

func TestSetGetTTLPerTier(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	want := map[Tier]time.Duration{TierAPI: 300 * time.Second, TierSession: 1800 * time.Second, TierMeta: 3600 * time.Second}
	for _, tier := range Tiers {
		key := "ttl:" + string(tier)
		if err := m.Set(ctx, key, "v-"+string(tier), tier); err != nil {
			t.Fatalf("Set %s: %v", tier, err)
		}
		// Ask the server directly, with the prefix, what TTL it holds.
		reply, err := d.Do(ctx, "primary-0", "TTL", "cacheproof:"+key)
		if err != nil {
			t.Fatal(err)
		}
		ttl := time.Duration(reply.(int64)) * time.Second
		if tier == TierPersistent {
			if reply.(int64) != -1 {
				t.Errorf("persistent key has TTL %v, want none (-1)", reply)
			}
			continue
		}
		if ttl > want[tier] || ttl < want[tier]-2*time.Second {
			t.Errorf("tier %s: TTL %v, want about %v", tier, ttl, want[tier])
		}
		v, found, err := m.Get(ctx, key)
		if err != nil || !found || v != "v-"+string(tier) {
			t.Errorf("Get %s = %q, %v, %v", key, v, found, err)
		}
	}
	// A persistent write clears a TTL the key had before.
	if err := m.Set(ctx, "flip", "x", TierAPI); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, "flip", "y", TierPersistent); err != nil {
		t.Fatal(err)
	}
	if reply, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:flip"); reply.(int64) != -1 {
		t.Errorf("TTL after persistent overwrite = %v, want -1", reply)
	}
	if err := m.Set(ctx, "bad", "x", Tier("hot")); err == nil {
		t.Error("Set with an unknown tier succeeded")
	}
	s := m.Stats()
	if s.Sets != 6 || s.Hits != 3 {
		t.Errorf("stats sets=%d hits=%d, want 6 and 3", s.Sets, s.Hits)
	}
}

func TestGetMissEmptyValueMGetDelExpire(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	if _, found, err := m.Get(ctx, "absent"); err != nil || found {
		t.Fatalf("Get absent: found=%v err=%v", found, err)
	}
	// An empty string is a value, not a miss (the seed's `if (value)` bug).
	if err := m.Set(ctx, "empty", "", TierAPI); err != nil {
		t.Fatal(err)
	}
	if v, found, err := m.Get(ctx, "empty"); err != nil || !found || v != "" {
		t.Fatalf("Get empty = %q %v %v, want a hit", v, found, err)
	}
	_ = m.Set(ctx, "a", "1", TierAPI)
	_ = m.Set(ctx, "b", "2", TierMeta)
	vals, found, err := m.MGet(ctx, "a", "nope", "b")
	if err != nil {
		t.Fatal(err)
	}
	if !found[0] || found[1] || !found[2] || vals[0] != "1" || vals[2] != "2" {
		t.Fatalf("MGet = %q %v", vals, found)
	}
	s := m.Stats()
	if s.Hits != 3 || s.Misses != 2 {
		t.Errorf("hits=%d misses=%d, want 3 and 2", s.Hits, s.Misses)
	}
	if got := s.HitRate(); got != 0.6 {
		t.Errorf("HitRate = %v, want 0.6 (hits/(hits+misses))", got)
	}
	// Expire refreshes to the tier's TTL; persistent removes it.
	if ok, err := m.Expire(ctx, "a", TierSession); err != nil || !ok {
		t.Fatalf("Expire: %v %v", ok, err)
	}
	if reply, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:a"); reply.(int64) < 1790 {
		t.Errorf("TTL after Expire(session) = %v, want ~1800", reply)
	}
	if ok, err := m.Expire(ctx, "a", TierPersistent); err != nil || !ok {
		t.Fatalf("Expire persistent: %v %v", ok, err)
	}
	if ok, err := m.Expire(ctx, "a", TierPersistent); err != nil || !ok {
		t.Fatalf("Expire persistent on a key without TTL must still report it exists: %v %v", ok, err)
	}
	if ok, _ := m.Expire(ctx, "nope", TierAPI); ok {
		t.Error("Expire on a missing key reported true")
	}
	n, err := m.Del(ctx, "a", "b", "nope")
	if err != nil || n != 2 {
		t.Fatalf("Del = %d, %v; want 2", n, err)
	}
	if _, found, _ := m.Get(ctx, "a"); found {
		t.Error("a still there after Del")
	}
}

func TestNewFailsWithoutRedis(t *testing.T) {
	c, _ := ProfileConfig(ProfileDevelopment)
	c.Addrs = []string{"127.0.0.1:1"}
	c.ConnectionTimeout = 500 * time.Millisecond
	c.MaxRetries = -1
	c.MinConnections = 0
	_, err := New(ctxT(t), c)
	if err == nil {
		t.Fatal("New against a closed port succeeded")
	}
	if k := ErrorKind(err); k != KindConnectionRefused {
		t.Errorf("ErrorKind(%v) = %q, want connection_refused", err, k)
	}
}

func TestAutoPipelineModeServesTheSameAPI(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.AutoPipeline = true
	m := newManager(t, cfg)
	ctx := ctxT(t)
	if err := m.Set(ctx, "k", "v", TierSession); err != nil {
		t.Fatal(err)
	}
	if v, found, err := m.Get(ctx, "k"); err != nil || !found || v != "v" {
		t.Fatalf("Get = %q %v %v", v, found, err)
	}
	if ttl, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:k"); ttl.(int64) < 1790 {
		t.Errorf("TTL through the autopipeliner = %v", ttl)
	}
	if _, found, err := m.Get(ctx, "missing"); err != nil || found {
		t.Fatalf("miss through the autopipeliner: %v %v", found, err)
	}
	// The metrics hook still sees the commands.
	var gets uint64
	for _, l := range m.CommandLatencies() {
		if l.Command == "get" {
			gets = l.Count
		}
	}
	if gets != 2 {
		t.Errorf("hook counted %d GETs, want 2", gets)
	}
	// A reset forgets them; what follows is counted afresh.
	m.ResetCommandLatencies()
	if l := m.CommandLatencies(); len(l) != 0 {
		t.Errorf("after a reset: %d commands, want none", len(l))
	}
	if _, _, err := m.Get(ctx, "missing"); err != nil {
		t.Fatal(err)
	}
	if l := m.CommandLatencies(); len(l) != 1 || l[0].Command != "get" || l[0].Count != 1 || l[0].Hist.TotalCount() != 1 {
		t.Errorf("after a reset and one GET: %+v", l)
	}
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if _, _, err := m.Get(ctx, "k"); ErrorKind(err) != KindClosed {
		t.Errorf("Get after Shutdown: %v (kind %q), want closed", err, ErrorKind(err))
	}
}

// A family's own TTL (the seed's steam:avatar:* = 24h in the 5-minute api
// tier) overrides its tier's, on Set, on a get-or-fetch fill and on Expire.
func TestKeyTTLOverridesTier(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.KeyTTL = map[string]time.Duration{"steam:avatar:{steamId}": 24 * time.Hour, "opendota:profile:{steamId}": 600 * time.Second, "driver:{id}:loc": 30 * time.Second}
	m := newManager(t, cfg)
	ctx := ctxT(t)
	ttlOf := func(key string) time.Duration {
		t.Helper()
		reply, err := d.Do(ctx, "primary-0", "TTL", "cacheproof:"+key)
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(reply.(int64)) * time.Second
	}
	near := func(got, want time.Duration) bool { return got <= want && got >= want-2*time.Second }
	if err := m.Set(ctx, "steam:avatar:1", "a", TierAPI); err != nil {
		t.Fatal(err)
	}
	if got := ttlOf("steam:avatar:1"); !near(got, 24*time.Hour) {
		t.Errorf("steam:avatar TTL %v, want 24h", got)
	}
	if _, _, err := m.GetOrFetchRaw(ctx, "opendota:profile:1", TierAPI, func(context.Context) (string, error) { return "p", nil }); err != nil {
		t.Fatal(err)
	}
	if got := ttlOf("opendota:profile:1"); !near(got, 600*time.Second) {
		t.Errorf("opendota fill TTL %v, want 600s", got)
	}
	if err := m.Set(ctx, "stratz:profile:1", "s", TierAPI); err != nil {
		t.Fatal(err)
	}
	if got := ttlOf("stratz:profile:1"); !near(got, 300*time.Second) {
		t.Errorf("stratz keeps the tier TTL: %v, want 300s", got)
	}
	if _, err := d.Do(ctx, "primary-0", "EXPIRE", "cacheproof:steam:avatar:1", "5"); err != nil {
		t.Fatal(err)
	}
	if ok, err := m.Expire(ctx, "steam:avatar:1", TierAPI); err != nil || !ok {
		t.Fatalf("Expire: %v %v", ok, err)
	}
	if got := ttlOf("steam:avatar:1"); !near(got, 24*time.Hour) {
		t.Errorf("Expire refreshed steam:avatar to %v, want 24h", got)
	}
	// The whole key is matched, not its start: driver:{id}:loc's TTL is not
	// driver:{id}:eta's, nor a longer key's that begins the same.
	for key, want := range map[string]time.Duration{"driver:7:loc": 30 * time.Second, "driver:7:eta": 300 * time.Second, "driver:7:loc:x": 300 * time.Second} {
		if err := m.Set(ctx, key, "v", TierAPI); err != nil {
			t.Fatal(err)
		}
		if got := ttlOf(key); !near(got, want) {
			t.Errorf("%s TTL %v, want %v", key, got, want)
		}
	}
}

// Two KeyTTL patterns that a key could match both are refused with an
// example key, as is a pattern that does not parse.
func TestKeyTTLPatternsMustNotOverlap(t *testing.T) {
	cfg, err := ProfileConfig(ProfileDevelopment)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addrs = []string{"127.0.0.1:6379"}
	cfg.KeyTTL = map[string]time.Duration{"driver:{id}:loc": time.Minute, "driver:{n}:loc": time.Hour}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `"driver:0:loc"`) {
		t.Errorf("overlapping patterns: %v, want an error naming driver:0:loc", err)
	}
	cfg.KeyTTL = map[string]time.Duration{"driver:{id:loc": time.Minute}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "without its '}'") {
		t.Errorf("malformed pattern: %v", err)
	}
}

func TestSetBatchKeepsEachTTL(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	items := []Item{{Key: "b:1", Val: "one", TTL: 90 * time.Second}, {Key: "b:2", Val: "two"}, {Key: "b:3", Val: "three", TTL: 5 * time.Second}}
	if err := m.SetBatch(ctx, items, 2); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		v, found, err := m.Get(ctx, it.Key)
		if err != nil || !found || v != it.Val {
			t.Errorf("%s = %q %v %v", it.Key, v, found, err)
		}
		reply, _ := d.Do(ctx, "primary-0", "PTTL", "cacheproof:"+it.Key)
		pttl := time.Duration(reply.(int64)) * time.Millisecond
		switch {
		case it.TTL == 0 && reply.(int64) != -1:
			t.Errorf("%s: PTTL %v, want none", it.Key, reply)
		case it.TTL > 0 && (pttl > it.TTL || pttl < it.TTL-2*time.Second):
			t.Errorf("%s: PTTL %v, want about %v", it.Key, pttl, it.TTL)
		}
	}
}

// By default the manager's connections speak RESP2, as the seed's ioredis
// does (Config.Protocol), not go-redis's default RESP3: Redis says so per
// client.
func TestManagerSpeaksRESP2(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	ctx := ctxT(t)
	info, err := m.Client().Do(ctx, "CLIENT", "INFO").Text()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(info), "resp=2") {
		t.Errorf("CLIENT INFO = %q, want resp=2", info)
	}
}

// max_conns bounds every connection the manager's commands use, pipelines
// included: Redis sees at most MaxConnections of them however many callers
// pipeline at once (go-redis v9.23 would open a pipeline pool of its own
// beside the main one).
func TestMaxConnsBoundsPipelines(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.MaxConnections, cfg.MinConnections = 3, 0
	cfg.InvalidationChannel = ""
	cfg.HealthCheckInterval = 0
	cfg.ClientName = "maxconns-test"
	m := newManager(t, cfg)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				k := fmt.Sprintf("mc:%d:%d", g, i)
				_ = m.Set(ctx, k, "v", TierAPI)
				_, _, _ = m.MGet(ctx, k, k+":a", k+":b")
				_ = m.HSet(ctx, k+":h", "f", "v", TierAPI)
			}
		}(g)
	}
	wg.Wait()
	list, err := m.Client().Do(ctx, "CLIENT", "LIST").Text()
	if err != nil {
		t.Fatal(err)
	}
	// CLIENT LIST counts the connection it came on, one of the manager's.
	if n := strings.Count(list, "name=maxconns-test"); n > cfg.MaxConnections {
		t.Errorf("Redis holds %d of the manager's connections, max_conns is %d:\n%s", n, cfg.MaxConnections, list)
	}
}
