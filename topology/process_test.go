package topology

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/internal/redistext"
)

func requireRedis(t *testing.T) {
	t.Helper()
	if _, err := FindRedisServer(""); err != nil {
		t.Skipf("process backend needs redis-server: %v", err)
	}
}

func addrOfNode(t *testing.T, d Deployment, name string) string {
	t.Helper()
	for _, n := range d.Nodes() {
		if n.Name == name {
			return n.Addr
		}
	}
	t.Fatalf("no node %s in %v", name, d.Nodes())
	return ""
}

func mustDo(t *testing.T, d Deployment, node string, args ...any) any {
	t.Helper()
	v, err := d.Do(ctxT(t), node, args...)
	if err != nil {
		t.Fatalf("Do(%s, %v): %v", node, args, err)
	}
	return v
}

// eventually polls f for up to 30 s; failover and resync take a few seconds.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after 30 s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func pingWithin(d Deployment, node string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := d.Do(ctx, node, "PING")
	return err
}

func wantPrimary(t *testing.T, d Deployment, name string) {
	t.Helper()
	eventually(t, "Primary() = "+name, func() error {
		p, err := d.Primary(ctxT(t))
		if err != nil {
			return err
		}
		if p.Name != name || p.Role != RolePrimary {
			return fmt.Errorf("Primary() = %+v", p)
		}
		return nil
	})
}

func waitLinkUp(t *testing.T, d Deployment, node string) {
	t.Helper()
	eventually(t, node+" replication link up", func() error {
		inf, err := d.Info(ctxT(t), node, "replication")
		if err != nil {
			return err
		}
		if inf["role"] != "slave" || inf["master_link_status"] != "up" {
			return fmt.Errorf("role %s link %s", inf["role"], inf["master_link_status"])
		}
		return nil
	})
}

// checkStopStart proves Stop and Start: the node goes away, comes back on
// the same address and (without persistence) empty.
func checkStopStart(t *testing.T, d Deployment, node string, kill bool) {
	t.Helper()
	ctx := ctxT(t)
	addr := addrOfNode(t, d, node)
	var err error
	if kill {
		err = d.Kill(ctx, node)
	} else {
		err = d.Stop(ctx, node)
	}
	if err != nil {
		t.Fatalf("stop/kill %s: %v", node, err)
	}
	if err := pingWithin(d, node, time.Second); err == nil {
		t.Fatalf("%s still answers after stop/kill", node)
	}
	if _, err := d.InfoAll(ctx, "server"); err != nil {
		t.Fatalf("InfoAll with %s down must skip it, got %v", node, err)
	}
	if err := d.Start(ctx, node); err != nil {
		t.Fatalf("Start(%s): %v", node, err)
	}
	if got := addrOfNode(t, d, node); got != addr {
		t.Fatalf("%s came back on %s, want %s", node, got, addr)
	}
	if err := pingWithin(d, node, time.Second); err != nil {
		t.Fatalf("%s does not answer after Start: %v", node, err)
	}
}

// checkPauseResume proves Pause stalls a node without closing it.
func checkPauseResume(t *testing.T, d Deployment, node string) {
	t.Helper()
	ctx := ctxT(t)
	if err := d.Pause(ctx, node); err != nil {
		t.Fatal(err)
	}
	err := pingWithin(d, node, 300*time.Millisecond)
	if err == nil {
		t.Fatalf("%s answered PING while paused", node)
	}
	if err := d.Resume(ctx, node); err != nil {
		t.Fatal(err)
	}
	eventually(t, node+" answers after resume", func() error { return pingWithin(d, node, time.Second) })

	// A timed pause ends by itself.
	if err := d.(TimedPauser).PauseFor(ctx, node, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := pingWithin(d, node, 100*time.Millisecond); err == nil {
		t.Fatalf("%s answered PING during PauseFor", node)
	}
	eventually(t, node+" answers after PauseFor ends", func() error { return pingWithin(d, node, time.Second) })
}

// checkClientKill proves CLIENT KILL TYPE normal cuts other clients' links.
func checkClientKill(t *testing.T, d Deployment, node string) {
	t.Helper()
	conn, err := net.Dial("tcp", addrOfNode(t, d, node))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	fmt.Fprintf(conn, "CLIENT SETNAME victim\r\n")
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("CLIENT SETNAME: %q %v", line, err)
	}
	n := mustDo(t, d, node, "CLIENT", "KILL", "TYPE", "normal")
	if k, ok := n.(int64); !ok || k < 1 {
		t.Fatalf("CLIENT KILL TYPE normal killed %v clients", n)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("victim connection still open after CLIENT KILL")
	}
}

func checkConfigSet(t *testing.T, d Deployment, node string) {
	t.Helper()
	mustDo(t, d, node, "CONFIG", "SET", "maxmemory", "3mb")
	v := mustDo(t, d, node, "CONFIG", "GET", "maxmemory")
	if s, ok := v.([]any); !ok || len(s) != 2 || s[1] != "3145728" {
		t.Fatalf("CONFIG GET maxmemory = %v", v)
	}
}

func TestStandalone(t *testing.T) {
	requireRedis(t)
	d := startT(t, Spec{MaxMemory: 64 << 20, MaxMemoryPolicy: "allkeys-lru", ExtraConfig: map[string]string{"hz": "20"}})
	ctx := ctxT(t)
	ep := d.Endpoints()
	if ep.Shape != ShapeStandalone || len(ep.Addrs) != 1 || !strings.HasPrefix(ep.Addrs[0], "127.0.0.1:") {
		t.Fatalf("Endpoints = %+v", ep)
	}
	c := redis.NewClient(&redis.Options{Addr: ep.Addrs[0]})
	defer c.Close()
	if err := c.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v := mustDo(t, d, "primary-0", "GET", "greeting"); v != "hello" {
		t.Fatalf("GET = %v", v)
	}
	if v, err := d.Do(ctx, "primary-0", "GET", "missing"); v != nil || err != nil {
		t.Fatalf("GET missing = %v, %v; want nil, nil", v, err)
	}
	inf, err := d.Info(ctx, "primary-0", "memory")
	if err != nil || inf["maxmemory_policy"] != "allkeys-lru" || inf["maxmemory"] != "67108864" {
		t.Fatalf("INFO memory: policy %q maxmemory %q err %v", inf["maxmemory_policy"], inf["maxmemory"], err)
	}
	if v := mustDo(t, d, "primary-0", "CONFIG", "GET", "hz"); fmt.Sprint(v) != "[hz 20]" {
		t.Fatalf("ExtraConfig hz not applied: %v", v)
	}
	if v := mustDo(t, d, "primary-0", "CONFIG", "GET", "save"); fmt.Sprint(v) != "[save ]" {
		t.Fatalf("persistence must be off by default, CONFIG GET save = %v", v)
	}
	if p, err := d.Primary(ctx); err != nil || p.Name != "primary-0" || p.Addr != ep.Addrs[0] {
		t.Fatalf("Primary = %+v, %v", p, err)
	}
	if _, err := d.Do(ctx, "nope", "PING"); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("Do on unknown node: %v", err)
	}

	checkConfigSet(t, d, "primary-0")
	checkClientKill(t, d, "primary-0")
	checkPauseResume(t, d, "primary-0")
	checkStopStart(t, d, "primary-0", false)
	if v := mustDo(t, d, "primary-0", "GET", "greeting"); v != nil {
		t.Fatalf("data survived a restart without persistence: %v", v)
	}
	mustDo(t, d, "primary-0", "SET", "greeting", "again")
	checkStopStart(t, d, "primary-0", true)
	// The pooled client of the test reconnects to the same address.
	eventually(t, "client reconnects", func() error { return c.Set(ctx, "k", "v", 0).Err() })

	all, err := d.InfoAll(ctx, "server")
	if err != nil || len(all) != 1 || all["primary-0"]["tcp_port"] == "" {
		t.Fatalf("InfoAll = %v, %v", all, err)
	}
	logs := t.TempDir()
	if err := d.KeepLogs(logs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(logs, "primary-0.log"))
	if err != nil || !strings.Contains(string(b), "Ready to accept connections") {
		t.Fatalf("kept log: %v, %.200s", err, b)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestPersistence(t *testing.T) {
	requireRedis(t)
	d := startT(t, Spec{Persistence: true})
	if v := mustDo(t, d, "primary-0", "CONFIG", "GET", "appendonly"); fmt.Sprint(v) != "[appendonly yes]" {
		t.Fatalf("CONFIG GET appendonly = %v", v)
	}
	mustDo(t, d, "primary-0", "SET", "durable", "1")
	eventually(t, "AOF written", func() error {
		inf, err := d.Info(ctxT(t), "primary-0", "persistence")
		if err != nil {
			return err
		}
		if inf["aof_rewrite_in_progress"] != "0" {
			return errors.New("AOF rewrite in progress")
		}
		return nil
	})
	checkStopStart(t, d, "primary-0", false)
	if v := mustDo(t, d, "primary-0", "GET", "durable"); v != "1" {
		t.Fatalf("with persistence the key must survive a restart, got %v", v)
	}
}

func TestReplica(t *testing.T) {
	t.Parallel() // mostly waiting on Redis timers; overlaps with the others
	requireRedis(t)
	d := startT(t, Spec{Shape: ShapeReplica, Replicas: 2})
	ctx := ctxT(t)
	ep := d.Endpoints()
	if len(ep.Addrs) != 3 || ep.Addrs[0] != addrOfNode(t, d, "primary-0") {
		t.Fatalf("Endpoints = %+v", ep)
	}
	roles := map[string]Role{}
	for _, n := range d.Nodes() {
		roles[n.Name] = n.Role
	}
	if roles["primary-0"] != RolePrimary || roles["replica-1"] != RoleReplica || roles["replica-2"] != RoleReplica {
		t.Fatalf("roles = %v", roles)
	}
	wantPrimary(t, d, "primary-0")

	mustDo(t, d, "primary-0", "SET", "k", "from-primary")
	if n := mustDo(t, d, "primary-0", "WAIT", 2, 5000); n != int64(2) {
		t.Fatalf("WAIT acknowledged by %v replicas", n)
	}
	for _, r := range []string{"replica-1", "replica-2"} {
		if v := mustDo(t, d, r, "GET", "k"); v != "from-primary" {
			t.Fatalf("GET on %s = %v", r, v)
		}
	}
	if _, err := d.Do(ctx, "replica-1", "SET", "k", "x"); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("write on a replica: %v, want READONLY", err)
	}

	checkConfigSet(t, d, "replica-1")
	checkClientKill(t, d, "primary-0")
	checkPauseResume(t, d, "replica-1")
	checkStopStart(t, d, "replica-2", false)
	waitLinkUp(t, d, "replica-2")
	checkStopStart(t, d, "primary-0", true)
	waitLinkUp(t, d, "replica-1")
	waitLinkUp(t, d, "replica-2")

	// Readonly fault: promote replica-1, demote primary-0 under it.
	p1 := strings.Split(addrOfNode(t, d, "replica-1"), ":")[1]
	mustDo(t, d, "replica-1", "REPLICAOF", "NO", "ONE")
	mustDo(t, d, "primary-0", "REPLICAOF", "127.0.0.1", p1)
	waitLinkUp(t, d, "primary-0")
	if _, err := d.Do(ctx, "primary-0", "SET", "k", "x"); err == nil || !strings.Contains(err.Error(), "READONLY") {
		t.Fatalf("write on demoted primary: %v, want READONLY", err)
	}
	wantPrimary(t, d, "replica-1")
	// And back.
	p0 := strings.Split(addrOfNode(t, d, "primary-0"), ":")[1]
	mustDo(t, d, "primary-0", "REPLICAOF", "NO", "ONE")
	mustDo(t, d, "replica-1", "REPLICAOF", "127.0.0.1", p0)
	waitLinkUp(t, d, "replica-1")
	wantPrimary(t, d, "primary-0")
	mustDo(t, d, "primary-0", "SET", "k", "writable-again")

	all, err := d.InfoAll(ctx, "replication")
	if err != nil || len(all) != 3 || all["primary-0"]["role"] != "master" {
		t.Fatalf("InfoAll = %v, %v", all, err)
	}
}

func TestSentinel(t *testing.T) {
	t.Parallel() // mostly waiting on Redis timers; overlaps with the others
	requireRedis(t)
	d := startT(t, Spec{Shape: ShapeSentinel, MasterName: "cacheproof-test"})
	ctx := ctxT(t)
	ep := d.Endpoints()
	if ep.MasterName != "cacheproof-test" || len(ep.SentinelAddrs) != 3 || len(ep.Addrs) != 2 {
		t.Fatalf("Endpoints = %+v", ep)
	}
	wantPrimary(t, d, "primary-0")

	// A sentinel-aware client finds the primary from the endpoints alone.
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: ep.MasterName, SentinelAddrs: ep.SentinelAddrs})
	defer fc.Close()
	if err := fc.Set(ctx, "k", "via-sentinel", 0).Err(); err != nil {
		t.Fatal(err)
	}
	mustDo(t, d, "primary-0", "WAIT", 1, 5000)
	if v := mustDo(t, d, "replica-1", "GET", "k"); v != "via-sentinel" {
		t.Fatalf("GET on replica = %v", v)
	}

	checkPauseResume(t, d, "sentinel-1")
	checkStopStart(t, d, "sentinel-2", true)
	checkStopStart(t, d, "sentinel-0", false)
	checkConfigSet(t, d, "replica-1")
	checkClientKill(t, d, "primary-0")

	mustDo(t, d, "sentinel-0", "SENTINEL", "FAILOVER", ep.MasterName)
	wantPrimary(t, d, "replica-1")
	eventually(t, "failover client writes to the new primary", func() error {
		return fc.Set(ctx, "k", "after-failover", 0).Err()
	})
	waitLinkUp(t, d, "primary-0")
	roles := map[string]Role{}
	for _, n := range d.Nodes() {
		roles[n.Name] = n.Role
	}
	if roles["replica-1"] != RolePrimary || roles["primary-0"] != RoleReplica || roles["sentinel-0"] != RoleSentinel {
		t.Fatalf("roles after failover = %v", roles)
	}
	checkStopStart(t, d, "primary-0", false)

	all, err := d.InfoAll(ctx, "")
	if err != nil || len(all) != 5 || all["sentinel-0"]["sentinel_masters"] != "1" {
		t.Fatalf("InfoAll = %v, %v", all, err)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel() // mostly waiting on Redis timers; overlaps with the others
	requireRedis(t)
	d := startT(t, Spec{Shape: ShapeCluster, MaxMemory: 32 << 20})
	ctx := ctxT(t)
	ep := d.Endpoints()
	if len(ep.Addrs) != 6 {
		t.Fatalf("Endpoints = %+v", ep)
	}
	wantPrimary(t, d, "node-0")

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: ep.Addrs})
	defer cc.Close()
	for i := range 100 {
		if err := cc.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	keys := 0
	for _, n := range []string{"node-0", "node-1", "node-2"} {
		c := mustDo(t, d, n, "DBSIZE").(int64)
		if c == 0 {
			t.Fatalf("%s holds no keys: slots not spread", n)
		}
		keys += int(c)
	}
	if keys != 100 {
		t.Fatalf("primaries hold %d keys, want 100", keys)
	}

	// A key in slot 0's range lives on node-0 and is read from its replica.
	key := "{slot0}"
	for i := 0; ; i++ {
		key = fmt.Sprintf("k%d", i)
		if slot := mustDo(t, d, "node-0", "CLUSTER", "KEYSLOT", key).(int64); slot <= 5460 {
			break
		}
	}
	mustDo(t, d, "node-0", "SET", key, "on-node-0")
	mustDo(t, d, "node-0", "WAIT", 1, 5000)
	rc := redis.NewClient(&redis.Options{Addr: addrOfNode(t, d, "node-3"), OnConnect: func(ctx context.Context, cn *redis.Conn) error {
		return cn.ReadOnly(ctx).Err()
	}})
	defer rc.Close()
	if v, err := rc.Get(ctx, key).Result(); err != nil || v != "on-node-0" {
		t.Fatalf("GET %s on replica node-3 = %q, %v", key, v, err)
	}

	checkConfigSet(t, d, "node-4")
	checkClientKill(t, d, "node-1")
	checkPauseResume(t, d, "node-2")
	checkStopStart(t, d, "node-5", true)
	waitClusterState(t, d)

	mustDo(t, d, "node-3", "CLUSTER", "FAILOVER")
	wantPrimary(t, d, "node-3")
	waitClusterState(t, d)
	if err := cc.Set(ctx, key, "after-failover", 0).Err(); err != nil {
		t.Fatalf("cluster client after failover: %v", err)
	}
}

func waitClusterState(t *testing.T, d Deployment) {
	t.Helper()
	eventually(t, "cluster_state:ok everywhere", func() error {
		for _, n := range d.Nodes() {
			v, err := d.Do(ctxT(t), n.Name, "CLUSTER", "INFO")
			if err != nil {
				return err
			}
			if s := redistext.ParseInfo(v.(string))["cluster_state"]; s != "ok" {
				return fmt.Errorf("%s: cluster_state %s", n.Name, s)
			}
		}
		return nil
	})
}
