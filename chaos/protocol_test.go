package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/topology"
)

// protoT starts a standalone redis-server and the protocol proxy in front
// of it; it returns the proxy, the node and a go-redis client that goes
// through the proxy with no retries (each error is the first reply's).
func protoT(t *testing.T) (*Protocol, topology.Deployment, topology.Node, *redis.Client) {
	t.Helper()
	d := startT(t, topology.ShapeStandalone)
	node := d.Nodes()[0]
	p, err := NewProtocol(ProtocolOptions{Addrs: []string{node.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	c := redis.NewClient(&redis.Options{Addr: p.Addr(node.Addr), MaxRetries: -1, Protocol: 3})
	t.Cleanup(func() { _ = c.Close() })
	return p, d, node, c
}

// inject plays one occurrence of a kind on node directly (no timeline), as
// the runner's Inject would, and returns its end.
func inject(t *testing.T, p *Protocol, node topology.Node, s Spec) (end func(), ns *notes) {
	t.Helper()
	s.For = time.Minute
	f := mustFault(t, s)
	ns = &notes{}
	e, err := f.kind.Inject(ctxT(t), &Target{Protocol: p, Node: node, Fault: f, notes: ns})
	if err != nil {
		t.Fatalf("inject %s: %v", f, err)
	}
	return func() {
		if err := e(ctxT(t)); err != nil {
			t.Errorf("end %s: %v", f, err)
		}
	}, ns
}

// Every error the protocol-error kind injects reaches the client as that
// Redis error, classified by the pool as its own kind; commands the fault
// does not name pass, and after the fault the named ones pass again.
func TestProtocolErrorReachesTheClient(t *testing.T) {
	p, _, node, c := protoT(t)
	ctx := ctxT(t)
	want := map[string]string{
		"loading": pool.KindLoading, "busy": pool.KindBusy, "oom": pool.KindOOM, "masterdown": pool.KindMasterDown,
		"tryagain": pool.KindTryAgain, "clusterdown": pool.KindClusterDown, "readonly": pool.KindReadOnly,
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for name, kind := range want {
		end, ns := inject(t, p, node, Spec{Kind: "protocol-error", Params: map[string]any{"error": name, "commands": []any{"get"}}})
		err := c.Get(ctx, "k").Err()
		if got := pool.ErrorKind(err); got != kind {
			t.Errorf("error %s: GET failed with %v (kind %q), want kind %q", name, err, got, kind)
		}
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Errorf("error %s on GET only: SET failed too: %v", name, err)
		}
		end()
		if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
			t.Errorf("after the %s fault: GET = %q, %v", name, v, err)
		}
		if n := ns.take(); len(n) != 2 || !strings.Contains(n[1], "on 1 of 1 matching commands") {
			t.Errorf("error %s: notes %q, want the one GET counted", name, n)
		}
	}
}

// In a pipeline only the commands the fault names fail, each in its place:
// the proxy answers for them and forwards the others in order.
func TestProtocolErrorKeepsPipelineOrder(t *testing.T) {
	p, _, node, c := protoT(t)
	ctx := ctxT(t)
	end, _ := inject(t, p, node, Spec{Kind: "protocol-error", Params: map[string]any{"error": "loading", "commands": []any{"GET"}}})
	defer end()
	cmds, _ := c.Pipelined(ctx, func(pp redis.Pipeliner) error {
		for i := range 20 {
			pp.Set(ctx, fmt.Sprint("p", i), i, 0)
			pp.Get(ctx, fmt.Sprint("p", i))
			pp.Incr(ctx, "counter")
		}
		return nil
	})
	for i, cmd := range cmds {
		switch cmd.Name() {
		case "get":
			if pool.ErrorKind(cmd.Err()) != pool.KindLoading {
				t.Errorf("command %d (%s): %v, want LOADING", i, cmd.Args(), cmd.Err())
			}
		case "incr":
			if n, err := cmd.(*redis.IntCmd).Result(); err != nil || n != int64(i/3+1) {
				t.Errorf("command %d (%s) = %d, %v; want %d: replies out of order", i, cmd.Args(), n, err, i/3+1)
			}
		default:
			if cmd.Err() != nil {
				t.Errorf("command %d (%s): %v", i, cmd.Args(), cmd.Err())
			}
		}
	}
}

// A redirect names the node the command was sent to and the key's slot;
// a standalone client does not follow it and sees moved_ask.
func TestProtocolRedirect(t *testing.T) {
	p, _, node, c := protoT(t)
	ctx := ctxT(t)
	for _, r := range []string{"moved", "ask"} {
		end, _ := inject(t, p, node, Spec{Kind: "protocol-redirect", Params: map[string]any{"redirect": r}})
		err := c.Get(ctx, "somekey").Err()
		want := fmt.Sprintf("%s 11058 %s", strings.ToUpper(r), node.Addr)
		if err == nil || err.Error() != want || pool.ErrorKind(err) != pool.KindMovedAsk {
			t.Errorf("redirect %s: GET failed with %v (kind %q), want %q", r, err, pool.ErrorKind(err), want)
		}
		// A command without a key is not redirected.
		if err := c.Ping(ctx).Err(); err != nil {
			t.Errorf("redirect %s: PING: %v", r, err)
		}
		end()
	}
}

// The delay holds the replies of the commands it names, and only those:
// the rule counts the EVALSHA calls and none of the GETs around them.
func TestProtocolDelayOnlyMatchingCommands(t *testing.T) {
	p, _, node, c := protoT(t)
	ctx := ctxT(t)
	script := redis.NewScript(`return redis.call('GET', KEYS[1])`)
	if err := script.Load(ctx, c).Err(); err != nil {
		t.Fatal(err)
	}
	const delay = 150 * time.Millisecond
	end, ns := inject(t, p, node, Spec{Kind: "protocol-delay", Params: map[string]any{"delay": delay, "commands": []any{"EVALSHA"}}})
	for range 3 {
		start := time.Now()
		if err := script.EvalSha(ctx, c, []string{"k"}).Err(); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("EVALSHA: %v", err)
		}
		if took := time.Since(start); took < delay {
			t.Errorf("EVALSHA answered after %s, before the %s delay", took, delay)
		}
		if err := c.Get(ctx, "k").Err(); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("GET: %v", err)
		}
	}
	end()
	if n := ns.take(); len(n) != 2 || !strings.Contains(n[1], "on 3 of 3 matching commands") {
		t.Errorf("notes %q, want the 3 EVALSHA and no GET counted", n)
	}
}

// A cut sends part of the reply and breaks the connection: the client sees
// a connection error (connection_reset), for truncate (FIN) and reset
// (RST) alike; after the fault the client reconnects and works.
func TestProtocolCut(t *testing.T) {
	p, _, node, c := protoT(t)
	ctx := ctxT(t)
	if err := c.Set(ctx, "big", strings.Repeat("x", 4096), 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, cut := range []string{"truncate", "reset"} {
		end, _ := inject(t, p, node, Spec{Kind: "protocol-cut", Params: map[string]any{"cut": cut, "commands": []any{"GET"}}})
		err := c.Get(ctx, "big").Err()
		if pool.ErrorKind(err) != pool.KindConnectionReset {
			t.Errorf("cut %s: GET failed with %v (kind %q), want connection_reset", cut, err, pool.ErrorKind(err))
		}
		end()
		if v, err := c.Get(ctx, "big").Result(); err != nil || len(v) != 4096 {
			t.Errorf("after the %s fault: GET = %d bytes, %v", cut, len(v), err)
		}
	}
}

// Played by the runner, a protocol fault lasts its for: and ends cleanly:
// commands fail while it is on and pass once it is over, on the same
// client.
func TestProtocolFaultThroughTheRunner(t *testing.T) {
	p, d, _, c := protoT(t)
	ctx := ctxT(t)
	f := mustFaults(t, Spec{Kind: "protocol-error", At: 200 * time.Millisecond, For: 600 * time.Millisecond, Params: map[string]any{"error": "oom", "commands": []any{"SET"}}})
	r := NewRunner(f, Options{Deployment: d, Protocol: p, Total: 5 * time.Second, Logf: t.Logf})
	r.Start(time.Now())
	var during, after error
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && during == nil {
		during = c.Set(ctx, "k", "v", 0).Err()
		time.Sleep(20 * time.Millisecond)
	}
	if pool.ErrorKind(during) != pool.KindOOM {
		t.Fatalf("during the fault SET gave %v, want OOM", during)
	}
	for time.Now().Before(deadline) {
		if after = c.Set(ctx, "k", "v", 0).Err(); after == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.Stop()
	if after != nil {
		t.Errorf("SET still fails after the fault: %v", after)
	}
	evs := r.Events()
	if len(evs) != 1 || !evs[0].Injected || !evs[0].Ended {
		t.Fatalf("events %+v", evs)
	}
}

// The codec finds where every RESP2 and RESP3 value ends, so a reply is
// forwarded whole; a command's first key gives its slot as Redis computes
// it (CLUSTER KEYSLOT's documented answers).
func TestRESPCodec(t *testing.T) {
	frames := []string{
		"+OK\r\n", "-ERR x\r\n", ":12\r\n", "$-1\r\n", "$3\r\nabc\r\n", "$0\r\n\r\n", "*-1\r\n",
		"*2\r\n$1\r\na\r\n:1\r\n", "_\r\n", "#t\r\n", ",1.5\r\n", "(123\r\n", "!3\r\nERR\r\n", "=7\r\ntxt:abc\r\n",
		"%1\r\n+k\r\n*1\r\n+v\r\n", "~2\r\n:1\r\n:2\r\n", ">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n",
		"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n",
	}
	stream := strings.Join(frames, "")
	r := bufio.NewReaderSize(strings.NewReader(stream), 16)
	for i, want := range frames {
		got, err := readFrame(r, nil)
		if err != nil || string(got) != want {
			t.Errorf("frame %d = %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := readFrame(bufio.NewReader(strings.NewReader("?x\r\n")), nil); !errors.Is(err, errProtocol) {
		t.Errorf("a bad type byte: %v, want errProtocol", err)
	}
	cmd, err := readCommand(bufio.NewReader(strings.NewReader("*5\r\n$7\r\nevalsha\r\n$2\r\nab\r\n$1\r\n1\r\n$7\r\nsomekey\r\n$1\r\nx\r\n")))
	if err != nil || cmd.name() != "EVALSHA" || string(cmd.firstKey()) != "somekey" {
		t.Fatalf("EVALSHA command: %v %v", cmd, err)
	}
	inline, err := readCommand(bufio.NewReader(strings.NewReader("get foo\r\n")))
	if err != nil || inline.name() != "GET" || string(inline.firstKey()) != "foo" {
		t.Fatalf("inline command: %v %v", inline, err)
	}
	for key, slot := range map[string]int{"somekey": 11058, "foo{hash_tag}": 2515, "hash_tag": 2515, "foo": 12182} {
		if got := hashSlot([]byte(key)); got != slot {
			t.Errorf("hashSlot(%q) = %d, want %d", key, got, slot)
		}
	}
}

// On a cluster the client follows the proxy's redirects: the nodes it
// learns from CLUSTER SLOTS, and the node a MOVED names, are dialled
// through the proxy (the pool's DialAddrs does this for the manager), so
// each redirect comes back through it. With every GET redirected and three
// redirects allowed, one GET is sent four times and fails as moved_ask; a
// SET, not named, passes.
func TestProtocolRedirectFollowedOnCluster(t *testing.T) {
	d := startT(t, topology.ShapeCluster)
	ctx := ctxT(t)
	var addrs []string
	for _, n := range d.Nodes() {
		addrs = append(addrs, n.Addr)
	}
	p, err := NewProtocol(ProtocolOptions{Addrs: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	via := p.DialAddrs()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: d.Endpoints().Addrs, MaxRedirects: 3, MaxRetries: -1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := via[addr]; ok {
				addr = to
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}})
	defer c.Close()
	if err := c.Set(ctx, "somekey", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	var rules []*Rule
	for _, a := range addrs {
		r := &Rule{Action: ActRedirect, Redirect: "MOVED", Fraction: 1, Commands: []string{"GET"}}
		undo, err := p.Apply(a, r)
		if err != nil {
			t.Fatal(err)
		}
		defer undo()
		rules = append(rules, r)
	}
	err = c.Get(ctx, "somekey").Err()
	if pool.ErrorKind(err) != pool.KindMovedAsk || !strings.HasPrefix(err.Error(), "MOVED 11058 ") {
		t.Errorf("GET under a MOVED storm: %v (kind %q)", err, pool.ErrorKind(err))
	}
	var fired uint64
	for _, r := range rules {
		_, f := r.Counts()
		fired += f
	}
	if fired != 4 {
		t.Errorf("the proxy redirected %d GETs, want 4 (the GET and 3 redirects followed through the proxy)", fired)
	}
	if err := c.Set(ctx, "somekey", "w", 0).Err(); err != nil {
		t.Errorf("SET, not named by the fault: %v", err)
	}
}

// The protocol kinds act on the RESP proxy: the run starts that proxy and
// not Toxiproxy for them, every shard plays them, and an external Redis
// allows them; a network fault still asks for Toxiproxy alone.
func TestProtocolKindsNeedTheProtocolProxy(t *testing.T) {
	specs := map[string]Spec{
		"protocol-error":    {Kind: "protocol-error", For: time.Second, Params: map[string]any{"error": "oom"}},
		"protocol-redirect": {Kind: "protocol-redirect", For: time.Second},
		"protocol-delay":    {Kind: "protocol-delay", For: time.Second, Params: map[string]any{"delay": time.Millisecond}},
		"protocol-cut":      {Kind: "protocol-cut", For: time.Second},
	}
	for name, s := range specs {
		f := mustFaults(t, s)
		if !NeedsProtocol(f) || NeedsProxy(f) || f[0].ActsOnRedis() {
			t.Errorf("%s: needs protocol %v, needs Toxiproxy %v, acts on Redis %v", name, NeedsProtocol(f), NeedsProxy(f), f[0].ActsOnRedis())
		}
		if run, _ := ForShard(f, 1, 2); len(run) != 1 {
			t.Errorf("%s: shard 1 of 2 does not play it", name)
		}
	}
	n := mustFaults(t, Spec{Kind: "network", For: time.Second, Params: map[string]any{"toxic": "down"}})
	if NeedsProtocol(n) || !NeedsProxy(n) {
		t.Errorf("network: needs protocol %v, needs Toxiproxy %v", NeedsProtocol(n), NeedsProxy(n))
	}
}

// A client may write a long pipeline before it reads any reply: the proxy
// must keep reading commands while the client's socket is full of replies
// it has not read. With a bounded queue of pending replies the proxy
// stopped reading once the queue was full and waited for the client to
// read, while the client was still writing: this test timed out. 5,000
// GETs of a 4 kB key holding 4 kB, 20 MB each way, all written first.
func TestProtocolLongPipelineDoesNotDeadlock(t *testing.T) {
	p, _, node, c := protoT(t)
	ctx := ctxT(t)
	key := strings.Repeat("k", 4096)
	val := strings.Repeat("v", 4096)
	if err := c.Set(ctx, key, val, 0).Err(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", p.Addr(node.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	const n = 5000
	cmd := fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
	w := bufio.NewWriterSize(conn, 1<<20)
	for range n {
		if _, err := w.WriteString(cmd); err != nil {
			t.Fatalf("writing the pipeline: %v", err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("writing the pipeline: %v (the proxy stopped reading commands)", err)
	}
	r := bufio.NewReaderSize(conn, 1<<16)
	want := fmt.Sprintf("$%d\r\n%s\r\n", len(val), val)
	var buf []byte
	for i := range n {
		if buf, err = readFrame(r, buf[:0]); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if string(buf) != want {
			t.Fatalf("reply %d: %q...", i, buf[:min(len(buf), 20)])
		}
	}
}
