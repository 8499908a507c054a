package harness

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/selfmeasure"
	"github.com/cacheproof/cacheproof/topology"
)

// RawOptions configure raw mode: a closed-loop GET/SET load with no think
// time and no workload model, shaped like redis-benchmark's "-t set,get -c
// Clients -n Requests -d ValueSize -r Keyspace" so the two can be measured
// side by side on the same Redis. It exists to prove the client side of
// cacheproof is not the bottleneck of what it measures.
type RawOptions struct {
	Tests     []string // "set", "get", "mix", in order (redis-benchmark runs them one after the other)
	Clients   int      // concurrent callers
	Requests  int      // per test
	ValueSize int      // bytes
	Keyspace  int      // keys "key:000000000000" .. Keyspace-1, as redis-benchmark -r
	// SetRatio, GetRatio weigh the "mix" test as memtier_benchmark's
	// --ratio SET:GET does (default 1:10).
	SetRatio, GetRatio int
	Seed               uint64
	// Rate, when positive, makes the load open-loop: request i is due at
	// start + i/Rate whatever the replies do, the Clients callers take the
	// due requests in turn, and each request's latency is measured from
	// when it was due, not from when a caller got to it (no coordinated
	// omission: a caller that falls behind shows as latency, as it would
	// to the users it stands for). 0 is closed-loop, as redis-benchmark.
	Rate float64
}

// rawClient is what raw mode sends its commands through: the cache manager
// (what a run measures) or a plain go-redis client (the library's own
// floor, RawTarget.NoManager).
type rawClient interface {
	get(ctx context.Context, key string) error
	set(ctx context.Context, key, val string) error
	// pool is the go-redis client whose pool the commands go through.
	pool() redis.UniversalClient
}

// managerClient sends raw mode's commands through the cache manager.
type managerClient struct{ m *pool.Manager }

func (c managerClient) get(ctx context.Context, key string) error {
	_, _, err := c.m.Get(ctx, key)
	return err
}

func (c managerClient) set(ctx context.Context, key, val string) error {
	return c.m.Set(ctx, key, val, pool.TierPersistent)
}

func (c managerClient) pool() redis.UniversalClient { return c.m.Client() }

// plainClient sends them through a go-redis client with none of the
// manager's hooks, dialer or tiers.
type plainClient struct{ c *redis.Client }

func (c plainClient) get(ctx context.Context, key string) error {
	err := c.c.Get(ctx, key).Err()
	if err == redis.Nil {
		return nil
	}
	return err
}

func (c plainClient) set(ctx context.Context, key, val string) error {
	return c.c.Set(ctx, key, val, 0).Err()
}

func (c plainClient) pool() redis.UniversalClient { return c.c }

// RawResult is one test of raw mode.
type RawResult struct {
	Test      string         `json:"test"`
	Requests  uint64         `json:"requests"`
	Errors    uint64         `json:"errors"`
	ElapsedS  float64        `json:"elapsed_s"`
	OpsPerSec float64        `json:"ops_per_sec"`
	Latency   result.Summary `json:"latency_ms"`
	// CPUS is the process's user+system CPU seconds during the test;
	// CPUPerOpUs divides it by the requests: the client's cost per
	// operation, comparable across tools whatever the machine's speed.
	CPUS       float64 `json:"cpu_s"`
	CPUPerOpUs float64 `json:"cpu_per_op_us"`
	// Sched is the tool's own goroutine scheduling delay during the test:
	// how much of the latency above was the caller waiting for a thread
	// after its reply arrived (docs/performance.md).
	Sched *result.SchedLatency `json:"sched_latency,omitempty"`
	// Rate is the open-loop rate the test was held to (0: closed loop);
	// then Latency is measured from each request's due time and Service
	// from when it was sent, and OpsPerSec below Rate says the tool could
	// not hold it.
	Rate    float64         `json:"rate,omitempty"`
	Service *result.Summary `json:"service_latency_ms,omitempty"`
	// Wire is each request's latency as redis-benchmark measures its own:
	// from the write that sent it to the first read of its reply, without
	// the pool, encoding and parsing around them (pool/replytimer.go says
	// what each counts). Absent with auto-pipelining, where one write carries many
	// requests.
	Wire *result.Summary `json:"wire_latency_ms,omitempty"`
	// Arrival and Wake split each request's wire latency at the moment
	// the kernel received its reply (SO_TIMESTAMPNS): Arrival is write to
	// arrival (the network and Redis), Wake arrival to the read that
	// returned it (the tool's own wait to run). Through the manager's
	// connections only (pool's raw-syscall reads), not with --no-manager.
	Arrival *result.Summary `json:"arrival_latency_ms,omitempty"`
	Wake    *result.Summary `json:"wake_latency_ms,omitempty"`
	// GCCycles and GCCPUS are the collections during the test and the CPU
	// the runtime estimates they took: on one P, time no caller ran.
	GCCycles uint64  `json:"gc_cycles"`
	GCCPUS   float64 `json:"gc_cpu_s"`
	// HostTimer is what the host timer probe (a separate process sleeping
	// ~200 times a second) saw of this machine's wake-ups during the test:
	// how noisy the machine was while it ran. HostTimerNote says why it is
	// absent.
	HostTimer     *result.HostTimer `json:"host_timer,omitempty"`
	HostTimerNote string            `json:"host_timer_note,omitempty"`
	// GOMAXPROCS is how many threads ran Go code at once during the test,
	// and GOMAXPROCSSource where that came from: "tool" when raw mode left
	// a local Redis a CPU of its own (selfmeasure.LeaveCPUForRedis), "env"
	// or "default".
	GOMAXPROCS       int    `json:"gomaxprocs"`
	GOMAXPROCSSource string `json:"gomaxprocs_source"`
}

// RawTarget says where raw mode's load goes and through what pool.
type RawTarget struct {
	// Addr is a Redis host:port; "" starts a standalone redis-server here
	// (process backend) for the tests and stops it after them.
	Addr string
	// RedisServer is the binary when Addr is empty ("" =
	// $CACHEPROOF_REDIS_SERVER, then PATH).
	RedisServer string
	// Conns is the pool's maximum connections (0 = RawOptions.Clients).
	Conns int
	// AutoPipeline batches concurrent commands through go-redis
	// auto-pipelining.
	AutoPipeline bool
	// NoManager sends the commands through a plain go-redis client (its
	// defaults but the pool size, RESP2 and no client identity, as the
	// manager's) instead of the cache manager: the client library's own
	// cost, which no tool built on it can go under (docs/performance.md).
	NoManager bool
}

// Raw is raw mode wired end to end: it reaches (or starts) Redis, builds
// the production-profile cache manager on it (sized to Conns; sentinel,
// health checks and invalidation off) and runs RunRaw through it. A Redis
// that cannot start or be reached is an *EnvError. The results of the tests
// that ran are returned beside an error.
func Raw(ctx context.Context, t RawTarget, o RawOptions) ([]RawResult, error) {
	addr := t.Addr
	if addr == "" {
		dep, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone, RedisServer: t.RedisServer})
		if err != nil {
			return nil, &EnvError{Op: "start redis", Err: err}
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = dep.Close(cctx)
		}()
		addr = dep.Endpoints().Addrs[0]
	}
	var client rawClient
	var wire *pool.ReplyTimer
	if !t.AutoPipeline {
		wire = &pool.ReplyTimer{KeepWire: true}
	}
	if t.NoManager {
		if t.AutoPipeline {
			return nil, &ConfigError{Err: fmt.Errorf("raw: auto-pipelining is the manager's: it cannot be measured without it")}
		}
		conns := cmp.Or(t.Conns, o.Clients)
		opts := &redis.Options{Addr: addr, PoolSize: conns, Protocol: 2, DisableIdentity: true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}}
		d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 5 * time.Minute} // go-redis's default dialer's
		opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return wire.Wrap(c), nil
		}
		c := redis.NewClient(opts)
		defer func() { _ = c.Close() }()
		if err := c.Ping(ctx).Err(); err != nil {
			return nil, &EnvError{Op: "connect " + addr, Err: err}
		}
		client = plainClient{c}
	} else {
		mgr, err := rawManager(ctx, addr, t, o, wire)
		if err != nil {
			return nil, err
		}
		defer func() { _ = mgr.Shutdown(context.Background()) }()
		client = managerClient{mgr}
	}
	restore, _, source := selfmeasure.LeaveCPUForRedis(selfmeasure.LoopbackOnly([]topology.Node{{Addr: addr}}))
	defer restore()
	probe := selfmeasure.StartHostProbe()
	defer probe.Close()
	res, err := runRaw(ctx, client, wire, probe, o)
	for i := range res {
		res[i].GOMAXPROCSSource = source
	}
	return res, err
}

// rawManager is the production profile pointed at one address, with only
// what raw mode measures: the pool and the hooks.
func rawManager(ctx context.Context, addr string, t RawTarget, o RawOptions, wire *pool.ReplyTimer) (*pool.Manager, error) {
	cfg, err := pool.ProfileConfig(pool.ProfileProduction)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	conns := t.Conns
	if conns == 0 {
		conns = o.Clients
	}
	cfg.Addrs = []string{addr}
	cfg.EnableSentinel = false
	cfg.MinConnections = min(cfg.MinConnections, conns)
	cfg.MaxConnections = conns
	cfg.AutoPipeline = t.AutoPipeline
	cfg.HealthCheckInterval = 0
	cfg.InvalidationChannel = ""
	if wire != nil {
		cfg.WrapConn = wire.Wrap
	}
	mgr, err := pool.New(ctx, cfg)
	if err != nil {
		return nil, &EnvError{Op: "connect " + addr, Err: err}
	}
	return mgr, nil
}

// RunRaw runs each test in turn through the manager (so the pool, its
// hooks and auto-pipelining setting are what is measured).
func RunRaw(ctx context.Context, mgr *pool.Manager, o RawOptions) ([]RawResult, error) {
	return runRaw(ctx, managerClient{mgr}, nil, nil, o)
}

// runRaw runs the tests through client; wire, when not nil, times the
// requests on client's connections as well (RawResult.Wire).
func runRaw(ctx context.Context, client rawClient, wire *pool.ReplyTimer, probe *selfmeasure.HostProbe, o RawOptions) ([]RawResult, error) {
	if o.Clients < 1 || o.Requests < 1 || o.Keyspace < 1 || o.ValueSize < 0 || o.Rate < 0 {
		return nil, fmt.Errorf("raw: clients, requests and keyspace must be positive, value size and rate not negative")
	}
	val := string(make([]byte, o.ValueSize))
	var out []RawResult
	for _, test := range o.Tests {
		if test != "get" && test != "set" && test != "mix" {
			return out, fmt.Errorf("raw: unknown test %q (expected set, get or mix)", test)
		}
		r, err := runRawTest(ctx, client, wire, probe, o, test, val)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func runRawTest(ctx context.Context, client rawClient, wire *pool.ReplyTimer, probe *selfmeasure.HostProbe, o RawOptions, test, val string) (RawResult, error) {
	var issued atomic.Int64
	var errs atomic.Uint64
	hists := make([]*hdrhistogram.Histogram, o.Clients)
	var service []*hdrhistogram.Histogram
	var interval time.Duration
	if o.Rate > 0 {
		service = make([]*hdrhistogram.Histogram, o.Clients)
		interval = time.Duration(float64(time.Second) / o.Rate)
	}
	setW, getW := o.SetRatio, o.GetRatio
	if setW <= 0 && getW <= 0 {
		setW, getW = 1, 10
	}
	var wg sync.WaitGroup
	if wire != nil {
		warmConns(ctx, client.pool(), o.Clients)
		wire.Take() // what the connections did before this test
	}
	cpu0 := selfmeasure.CPUTime()
	sched := selfmeasure.SchedWindow()
	gc := selfmeasure.GCWindow()
	host := func() (*result.HostTimer, string) { return nil, "" }
	if probe != nil {
		host = probe.Window()
	}
	start := time.Now()
	for c := 0; c < o.Clients; c++ {
		h := result.NewHistogram()
		hists[c] = h
		var sh *hdrhistogram.Histogram
		if service != nil {
			sh = result.NewHistogram()
			service[c] = sh
		}
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(o.Seed, seed))
			key := make([]byte, 0, 16)
			for {
				i := issued.Add(1)
				if i > int64(o.Requests) || ctx.Err() != nil {
					return
				}
				key = append(key[:0], "key:"...)
				key = appendPadded(key, rng.IntN(o.Keyspace))
				k := string(key)
				isSet := test == "set"
				if test == "mix" {
					isSet = rng.IntN(setW+getW) < setW
				}
				// Open loop: wait for the request's due time (a caller
				// that is late sends at once) and measure from it.
				var due time.Time
				if interval > 0 {
					due = start.Add(time.Duration(i-1) * interval)
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				t0 := time.Now()
				var err error
				if isSet {
					err = client.set(ctx, k, val)
				} else {
					err = client.get(ctx, k)
				}
				t1 := time.Now()
				if sh != nil {
					_ = sh.RecordValue(max(t1.Sub(t0).Microseconds(), 1))
					t0 = due
				}
				_ = h.RecordValue(max(t1.Sub(t0).Microseconds(), 1))
				if err != nil {
					errs.Add(1)
				}
			}
		}(uint64(c) + 1)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := selfmeasure.CPUTime() - cpu0
	schedLat := sched()
	gcCycles, gcCPU := gc()
	hostTimer, hostNote := host()
	all := merged(hists)
	n := uint64(all.TotalCount())
	r := RawResult{
		Test: test, Requests: n, Errors: errs.Load(), ElapsedS: elapsed.Seconds(),
		OpsPerSec: float64(n) / elapsed.Seconds(), Latency: result.Summarize(all), CPUS: cpu.Seconds(),
		Sched: schedLat, GOMAXPROCS: runtime.GOMAXPROCS(0), Rate: o.Rate, GCCycles: gcCycles, GCCPUS: gcCPU,
		HostTimer: hostTimer, HostTimerNote: hostNote,
	}
	if service != nil {
		s := result.Summarize(merged(service))
		r.Service = &s
	}
	if wire != nil {
		t := wire.Take()
		w := result.Summarize(t.Wire)
		r.Wire = &w
		if t.Arrival != nil {
			a, k := result.Summarize(t.Arrival), result.Summarize(t.Wait)
			r.Arrival, r.Wake = &a, &k
		}
	}
	if n > 0 {
		r.CPUPerOpUs = float64(cpu.Microseconds()) / float64(n)
	}
	return r, ctx.Err()
}

// merged is one histogram of every caller's.
func merged(hs []*hdrhistogram.Histogram) *hdrhistogram.Histogram {
	all := result.NewHistogram()
	for _, h := range hs {
		all.Merge(h)
	}
	return all
}

// appendPadded writes n as 12 digits, as redis-benchmark's __rand_int__.
func appendPadded(b []byte, n int) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < 12; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// warmConns opens and readies every connection the test will use (PING
// on each, each held until all are), as redis-benchmark connects its
// clients before it starts the clock: go-redis dials a connection's
// handshake on its first use, and on the wire those handshakes would
// otherwise count as the test's requests.
func warmConns(ctx context.Context, c redis.UniversalClient, n int) {
	rc, ok := c.(*redis.Client)
	if !ok {
		return
	}
	n = min(n, rc.Options().PoolSize)
	held := make([]*redis.Conn, 0, n)
	defer func() {
		for _, cn := range held {
			_ = cn.Close()
		}
	}()
	for range n {
		cn := rc.Conn()
		held = append(held, cn)
		if cn.Ping(ctx).Err() != nil {
			return
		}
	}
}
