package profile

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
)

// startRedis runs a private redis-server (topology's process backend, on
// a loopback port, stopped when the test ends) with extra configuration,
// and returns its address and an unguarded client the test fills it with.
func startRedis(t *testing.T, config map[string]string) (string, *redis.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone, Dir: t.TempDir(), ExtraConfig: config})
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	addr := d.Endpoints().Addrs[0]
	c := redis.NewClient(&redis.Options{Addr: addr, Password: config["requirepass"]})
	t.Cleanup(func() { c.Close() })
	return addr, c
}

// fill writes a small keyspace of known families: 400 products (hash, 5
// fields of 40 bytes, 300 s TTL), 300 carts (string of 200 bytes, 30 min
// TTL), 200 leaderboards (zset of 10 members, no TTL) and one config key.
func fill(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	p := c.Pipeline()
	for i := range 400 {
		k := fmt.Sprintf("product:%d:info", 1000+i)
		for f := range 5 {
			p.HSet(ctx, k, fmt.Sprintf("f%d", f), fmt.Sprintf("%040d", i))
		}
		p.Expire(ctx, k, 300*time.Second)
	}
	for i := range 300 {
		p.Set(ctx, fmt.Sprintf("cart:%08x-1111-2222-3333-444455556666", i), fmt.Sprintf("%0200d", i), 30*time.Minute)
	}
	for i := range 200 {
		k := fmt.Sprintf("board:%d", 7_000_000_000_000_000_000+int64(i))
		for m := range 10 {
			p.ZAdd(ctx, k, redis.Z{Score: float64(m), Member: fmt.Sprintf("m%d", m)})
		}
	}
	p.Set(ctx, "config:global", "x", 0)
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

func quickConfig(url string) Config {
	return Config{Options: Options{URL: url, MaxOpsPerSec: 20000}, Sample: 2000, Duration: 300 * time.Millisecond,
		Probe: DefaultProbe, Elems: 3, MaxLines: 10000}
}

func TestWriteIsRefused(t *testing.T) {
	addr, raw := startRedis(t, nil)
	base, err := redis.ParseURL("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	n := dial(base, addr, 1000)
	defer n.close()
	ctx := context.Background()
	for _, args := range [][]any{{"set", "k", "v"}, {"del", "k"}, {"flushall"}, {"config", "set", "maxmemory", "1mb"}, {"memory", "purge"}, {"cluster", "reset"}} {
		err := n.do(ctx, args...).Err()
		if err == nil || !errorsIs(err, ErrRefused) {
			t.Errorf("%v: err %v, want ErrRefused", args, err)
		}
	}
	p := n.c.Pipeline()
	p.Do(ctx, "get", "k")
	p.Do(ctx, "set", "k", "v")
	if _, err := p.Exec(ctx); !errorsIs(err, ErrRefused) {
		t.Errorf("pipeline with a SET: err %v, want ErrRefused", err)
	}
	if n, err := raw.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("key k exists (%d, %v): a refused write reached the server", n, err)
	}
	if err := n.do(ctx, "memory", "usage", "k").Err(); err != nil && err != redis.Nil {
		t.Errorf("MEMORY USAGE refused: %v", err)
	}
}

func TestProfileFindsFamilies(t *testing.T) {
	addr, c := startRedis(t, map[string]string{"maxmemory-policy": "allkeys-lru", "maxmemory": "64mb"})
	fill(t, c)
	p, err := Run(context.Background(), quickConfig("redis://"+addr))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		typ  string
		keys float64
		ttl  time.Duration
		tier string
		size float64
		len  float64
	}{
		"product:{product_id}:info": {"hash", 400, 300 * time.Second, "api", 40, 5},
		"cart:{cart_id}":            {"string", 300, 30 * time.Minute, "session", 200, 200},
		"board:{board_id}":          {"zset", 200, 0, "persistent", 2, 10},
	}
	got := map[string]Family{}
	for _, f := range p.Families {
		got[f.Pattern] = f
	}
	for pat, w := range want {
		f, ok := got[pat]
		if !ok {
			t.Errorf("family %s not found; families: %v", pat, patterns(p))
			continue
		}
		if f.Type != w.typ || f.Keys != w.keys || f.TTL.TTL != w.ttl || f.TTL.Tier != w.tier || f.Size.Mean != w.size || f.Len != w.len {
			t.Errorf("%s: type %s keys %.0f ttl %s tier %q size %.1f len %.1f, want %+v", pat, f.Type, f.Keys, f.TTL.TTL, f.TTL.Tier, f.Size.Mean, f.Len, w)
		}
	}
	if p.ExplainedKeys < 0.99 {
		t.Errorf("families explain %.3f of the keys, want all but config:global", p.ExplainedKeys)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "not observed") }) {
		t.Errorf("without --observe the notes do not say popularity is estimated: %v", p.Notes)
	}
	if _, ok := p.Unread["OBJECT IDLETIME"]; ok {
		t.Errorf("OBJECT IDLETIME unread under LRU: %+v", p.Unread["OBJECT IDLETIME"])
	}
	text, err := p.Scenario(DefaultScenario)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	dir := t.TempDir()
	if err := p.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	var back Profile
	if data, err := os.ReadFile(filepath.Join(dir, "profile.json")); err != nil || json.Unmarshal(data, &back) != nil || len(back.Families) != len(p.Families) {
		t.Errorf("profile.json does not read back: %v", err)
	}
	if page, err := os.ReadFile(filepath.Join(dir, "profile.html")); err != nil || !strings.Contains(string(page), "product:{product_id}:info") {
		t.Errorf("profile.html lacks the families: %v", err)
	}
}

func TestUnreadUnderACLAndPolicy(t *testing.T) {
	addr, c := startRedis(t, map[string]string{"maxmemory-policy": "allkeys-lru"})
	fill(t, c)
	ctx := context.Background()
	// A read-only user denied MEMORY: its usage is reported as unread.
	if err := c.Do(ctx, "acl", "setuser", "reader", "on", ">secret", "~*", "+@read", "+scan", "+type", "+pttl", "+object", "+info", "+ping", "+dbsize", "+hrandfield", "+zrandmember", "-memory").Err(); err != nil {
		t.Fatal(err)
	}
	p, err := Run(ctx, quickConfig("redis://reader:secret@"+addr))
	if err != nil {
		t.Fatal(err)
	}
	u := p.Unread["MEMORY USAGE"]
	if u == nil || u.Count == 0 || !contains(u.Why, "NOPERM") {
		t.Errorf("MEMORY USAGE under an ACL without it: unread %+v, want NOPERM", u)
	}
	if len(p.Families) < 3 {
		t.Errorf("families %v: the profile should go on without MEMORY USAGE", patterns(p))
	}
	// OBJECT FREQ under an LRU policy: the profiler asks IDLETIME instead,
	// and a LFU policy read under an LRU server says so.
	if _, ok := p.Unread["OBJECT FREQ"]; ok {
		t.Errorf("OBJECT FREQ asked under LRU")
	}
	n := dial(mustParse(t, "redis://"+addr), addr, 1000)
	defer n.close()
	unread := Unread{}
	if _, err := readKeys(ctx, n, []string{"cart:00000001-1111-2222-3333-444455556666"}, SampleOptions{LFU: true}, unread); err != nil {
		t.Fatal(err)
	}
	if u := unread["OBJECT FREQ"]; u == nil || !contains(u.Why, "LFU") {
		t.Errorf("OBJECT FREQ under allkeys-lru: unread %+v, want Redis's LFU error", u)
	}
}

func TestAuthFailureIsEnvError(t *testing.T) {
	addr, _ := startRedis(t, map[string]string{"requirepass": "right"})
	_, err := Run(context.Background(), quickConfig("redis://:wrong@"+addr))
	var env *EnvError
	if err == nil || !errorsAs(err, &env) {
		t.Fatalf("wrong password: err %v, want an EnvError", err)
	}
	p, err := Run(context.Background(), quickConfig("redis://:right@"+addr))
	if err != nil || p.Deployment.Shape != "standalone" {
		t.Fatalf("right password: %v %+v", err, p)
	}
	if contains(p.URL, "right") {
		t.Errorf("profile URL %q keeps the password", p.URL)
	}
}

func mustParse(t *testing.T, u string) *redis.Options {
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func patterns(p *Profile) []string {
	var out []string
	for _, f := range p.Families {
		out = append(out, f.Pattern)
	}
	return out
}

// The probe backs off when the server's PING latency rises and stops the
// profile when it stays up: a client of the test blocks the server with
// DEBUG SLEEP over and over, as a saturated server would answer.
func TestProbeBacksOffAndStops(t *testing.T) {
	addr, c := startRedis(t, map[string]string{"enable-debug-command": "yes"})
	n := dial(mustParse(t, "redis://"+addr), addr, 1000)
	defer n.close()
	o := ProbeOptions{Every: 20 * time.Millisecond, Rise: 4, Slack: 2 * time.Millisecond, StopAfter: 3}
	pr := &probe{n: n, limit: []*limiter{n.limit}, o: o}
	if err := pr.baseline(context.Background()); err != nil { // before the server is busy
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		for ctx.Err() == nil {
			c.Do(ctx, "debug", "sleep", "0.05")
		}
	}()
	stopped := make(chan error, 1)
	pr.run(ctx, func(err error) { stopped <- err })
	cancel()
	<-busy
	select {
	case err := <-stopped:
		if !contains(err.Error(), "PING latency stayed above") {
			t.Errorf("stopped with %v", err)
		}
	default:
		t.Fatal("the probe returned without stopping")
	}
	rep := pr.report()
	if rep.Backoffs != 4 || rep.Slow < 4+o.StopAfter-1 || rep.Stopped == "" {
		t.Errorf("probe report %+v: want 4 halvings to 1/16, then a stop", rep)
	}
	if rate, _ := n.limit.current(); rate != 1000.0/16 {
		t.Errorf("rate at the stop %g, want 1/16 of 1000", rate)
	}
}

// Over TLS (rediss://, a self-signed server certificate made by openssl,
// skip_verify in the URL), the sample and MONITOR both work.
func TestProfileOverTLS(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	crt, key := filepath.Join(dir, "redis.crt"), filepath.Join(dir, "redis.key")
	if out, err := exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=localhost").CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, c := startRedis(t, map[string]string{"tls-port": strconv.Itoa(port), "tls-cert-file": crt, "tls-key-file": key,
		"tls-ca-cert-file": crt, "tls-auth-clients": "no"})
	fill(t, c)
	cfg := quickConfig(fmt.Sprintf("rediss://127.0.0.1:%d?skip_verify=true", port))
	cfg.Duration, cfg.Observe = time.Second, time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // something for MONITOR to see
		for ctx.Err() == nil {
			c.Get(ctx, "cart:00000001-1111-2222-3333-444455556666")
			time.Sleep(5 * time.Millisecond)
		}
	}()
	p, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Families) < 3 || p.Observation.Accesses == 0 || len(p.Unread) != 0 {
		t.Errorf("over TLS: families %v, %d accesses observed, unread %v", patterns(p), p.Observation.Accesses, p.Unread)
	}
}

// A server that turns slow while it is profiled stops the profile: Run
// still returns what it read, and says why it stopped.
func TestRunStopsWhenTheServerSlows(t *testing.T) {
	addr, c := startRedis(t, map[string]string{"enable-debug-command": "yes"})
	fill(t, c)
	cfg := quickConfig("redis://" + addr)
	cfg.Duration = 20 * time.Second
	cfg.Probe = ProbeOptions{Every: 20 * time.Millisecond, Rise: 4, Slack: 2 * time.Millisecond, StopAfter: 3}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		time.Sleep(300 * time.Millisecond) // after the baseline
		for ctx.Err() == nil {
			c.Do(ctx, "debug", "sleep", "0.05")
		}
	}()
	p, err := Run(context.Background(), cfg)
	cancel()
	<-busy
	if err != nil {
		t.Fatal(err)
	}
	if p.Stopped == "" || p.Probe.Stopped == "" || p.Traffic.Window >= cfg.Duration {
		t.Errorf("stopped %q, probe %+v, window %s: want a stop before the window's end", p.Stopped, p.Probe, p.Traffic.Window)
	}
}
