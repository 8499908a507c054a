package sizing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/internal/redistext"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// Fit is one data type's cost: bytes = A + B*(key length + value length),
// least squares over MEMORY USAGE of the sample, A then shifted so that the
// sample's total matches the measured used_memory delta (MEMORY USAGE
// leaves out the dict's bucket array).
type Fit struct {
	A    float64 `json:"a_bytes"`
	B    float64 `json:"b_per_byte"`
	Keys int     `json:"keys"`
	// MeanAbsErr is the fit's mean absolute error per key, in bytes
	// (jemalloc's size classes make single keys step around the line).
	MeanAbsErr float64 `json:"mean_abs_err_bytes"`
	// Alloc: bytes = A + B*(the key's allocations, stringAlloc) instead
	// of the length line; A is then what the allocations leave out (the
	// dicts' buckets) and B 1.
	Alloc bool `json:"alloc,omitempty"`
}

// Calibration is what a real redis-server charges for the workload's keys.
type Calibration struct {
	RedisVersion string         `json:"redis_version"`
	Allocator    string         `json:"allocator"`
	Types        map[string]Fit `json:"types"`
	// Typed is, for hash and zset families, the price by field count and
	// encoding (Types holds strings and counters).
	Typed map[string]TypedCal `json:"typed,omitempty"`
	// Volatile is the bytes a TTL adds to a key (its expires-dict entry,
	// 24 bytes in jemalloc's 32 class); VolatileMeasured the used_memory
	// delta of EXPIRE over the sample, less the expires dict's buckets.
	Volatile         float64 `json:"volatile_bytes"`
	VolatileMeasured float64 `json:"volatile_measured_bytes"`
	// Startup is used_memory_startup. PerClient is the used_memory of one
	// more connection in use (it sent a command within the last 2 s, so
	// Redis keeps its 16 KB query buffer, and its reply buffer is sized to
	// the workload's replies); PerIdleClient that of a connection Redis's
	// client cron has shrunk (idle over 2 s: query buffer freed, reply
	// buffer at its 1 KB floor). Both are measured, not assumed: on Redis
	// 7.0.15, about 25 KB and 4 KB (a connection that has just sent its
	// first command holds about 39 KB until the cron reaches it). The base
	// a maxmemory must also hold is Startup plus the run's connections.
	Startup       int64   `json:"startup_bytes"`
	PerClient     float64 `json:"per_client_bytes"`
	PerIdleClient float64 `json:"per_idle_client_bytes"`
	// PerConnOutside is the part of a connection's used_memory that INFO
	// mem_clients_normal leaves out (the connection object, the client's
	// lists and dicts; about 2 KB): an idle connection's used_memory less
	// its mem_clients_normal. A run reports mem_clients_normal
	// (timeline clients_memory); Redis's base from it is that plus this
	// for each connection (ClientsBase).
	PerConnOutside float64 `json:"per_conn_outside_bytes"`
	Source         string  `json:"source"`
	TookS          float64 `json:"took_s"`
	// Config is the calibration server's eviction settings (CONFIG GET
	// of ServerSettings): the scenario's on a scratch server, an external
	// server's own with --redis-url.
	Config map[string]string `json:"config,omitempty"`
	// External is set when the calibration server is the user's own
	// (--redis-url): its settings, not the scenario's, are what a run
	// meets (the run does not CONFIG SET a server it did not start).
	External bool `json:"external,omitempty"`
	// PipelinedWriteS is the seconds a write command took, the sample's
	// strings written in pipelines of 256 as the run's prefill writes
	// (its batches are 512): the prefill's duration is its commands
	// times this, which places its keys on Redis's LRU clock. It is this
	// machine's speed when calibrated (a loaded host writes slower).
	PipelinedWriteS float64 `json:"pipelined_write_s_per_command"`
	// LatencyHistogram is the bytes one command's latency histogram holds
	// (0 when the server keeps none). With latency-tracking on (Redis 7's
	// default), call() records every command's duration in a per-command
	// hdr_histogram that updateCommandLatencyHistogram allocates on the
	// command's first call (server.c) and CONFIG RESETSTAT frees; it
	// counts in used_memory, so in what eviction must keep under
	// maxmemory. Measured as the used_memory growth of the first call of a
	// command the calibration does not otherwise send: 24,688 B on
	// 7.0.15. A run holds one per command it sends after its reset
	// (Setup.Commands): 7 for a cache of strings, 12 for one of hashes and
	// sorted sets, 173-296 KB; the calibration's startup and its
	// connections' deltas hold none of them.
	LatencyHistogram float64 `json:"latency_histogram_bytes"`
	// RoundTripS is the mean seconds a GET holds a pooled go-redis
	// connection on this machine (checkout, write, Redis, reply, return),
	// one at a time on a quiet server: the service time of Clients' model
	// of how many of a pool's connections are in use at once.
	RoundTripS float64 `json:"round_trip_s"`
}

// ServerSettings are the settings that change what the simulator does,
// read from the calibration server's CONFIG.
var ServerSettings = []string{"maxmemory", "maxmemory-policy", "maxmemory-samples", "lfu-log-factor", "lfu-decay-time", "hz",
	"hash-max-listpack-entries", "hash-max-listpack-value", "zset-max-listpack-entries", "zset-max-listpack-value"}

// Conns is the connections a run keeps open to Redis: Active is how many
// of them, on average, hold their buffers in Redis (they sent a command
// within Redis's idle window), Idle the rest, shrunk by the client cron.
// Both are expected values, so fractional.
type Conns struct{ Active, Idle float64 }

// Total is every connection, rounded.
func (n Conns) Total() int { return int(math.Round(n.Active + n.Idle)) }

// Base is the used_memory of the server with no keys, n's clients and the
// latency histograms of the commands the run sends.
func (c *Calibration) Base(n Conns, commands int) float64 {
	return float64(c.Startup) + max(n.Active, 1)*c.PerClient + n.Idle*c.PerIdleClient +
		float64(commands)*c.LatencyHistogram
}

// ClientsBase is Base with the clients' memory a run measured instead of
// modelled: clientsMem is its mean INFO mem_clients_normal, conns its mean
// connected_clients.
func (c *Calibration) ClientsBase(clientsMem, conns float64, commands int) float64 {
	return float64(c.Startup) + clientsMem + conns*c.PerConnOutside + float64(commands)*c.LatencyHistogram
}

// Costs prices the trace's families by their data types.
func (c *Calibration) Costs(fams []workload.Family) (*Costs, error) {
	out := &Costs{A: make([]float64, len(fams)), B: make([]float64, len(fams)), Volatile: c.Volatile, Typed: make([]*TypedCost, len(fams)), Alloc: make([]uint8, len(fams))}
	for i, f := range fams {
		typ := priceType(f)
		if tc, ok := c.Typed[typ]; ok {
			out.Typed[i] = &TypedCost{Small: tc.Small, Large: tc.Large, MaxEntries: tc.MaxEntries, MaxValue: tc.MaxValue,
				Zset: typ == workload.TypeZSet, Fill: min(max(f.Members, 1), zsetFillMax), ListpackA: tc.ListpackA, HashtableA: tc.HashtableA}
			continue
		}
		fit, ok := c.Types[typ]
		if !ok {
			return nil, fmt.Errorf("sizing: calibration has no fit for data type %q (family %s)", typ, f.Name)
		}
		out.A[i], out.B[i] = fit.A, fit.B
		if fit.Alloc {
			out.Alloc[i] = allocString
			if typ == typeCounter {
				out.Alloc[i] = allocCounter
			}
		}
	}
	return out, nil
}

func dataType(t string) string {
	if t == "" {
		return workload.TypeString
	}
	return t
}

// typeCounter prices a rate-limit family's keys: integers INCR creates
// (no value string: Redis keeps a small integer in the object itself, and
// shares none when maxmemory has an LRU or LFU policy), priced by key
// length alone.
const typeCounter = "counter"

// priceType is the calibration line a family's keys are priced by.
func priceType(f workload.Family) string {
	if f.RateLimit > 0 {
		return typeCounter
	}
	return dataType(f.Type)
}

// calibrationMethod names the measurement in the cache's file names: a
// change to what is measured, or how, changes it, so an old calibration is
// not reused.
const calibrationMethod = "m15"

// CalibrateOptions say which server to measure.
type CalibrateOptions struct {
	// RedisURL is an external server (redis://host:port/db); its keys are
	// written under a unique prefix and deleted afterwards. "" starts a
	// scratch redis-server (RedisServer, or $CACHEPROOF_REDIS_SERVER, then
	// PATH).
	RedisURL    string
	RedisServer string
	// SettingsURL is an external server that is only read (CONFIG GET):
	// its maxmemory-policy and tuning start the scratch server the keys
	// are measured on, and are the calibration's Config (External set),
	// with no key written to it. Ignored with RedisURL.
	SettingsURL string
	// CacheDir keeps a calibration per server version and sample; ""
	// disables the cache.
	CacheDir string
	// Keys is the sample's size per data type (default 3000).
	Keys int
	// Sleep waits for Redis's client cron (tests replace it).
	Sleep func(time.Duration)
	// Policy and Config are the scenario's maxmemory-policy and
	// target.redis.config, which the scratch server is started with (an
	// LRU or LFU policy makes Redis share no integers, so a counter costs
	// its own object; the listpack limits decide a hash's encoding).
	Policy string
	Config map[string]string
}

// calSample is the sample's key and value lengths: the workload's own
// (from the trace, so the fit is exact where its keys are) plus a
// log-uniform spread from 16 B to 64 KiB so the line holds over the range.
func calSample(t *Trace, n int) (klen, vlen []int) {
	rng := rand.New(rand.NewPCG(7, 11))
	seen := make([]int32, len(t.Keys))
	for _, e := range t.events {
		if seen[e.key] == 0 && e.size > 0 {
			seen[e.key] = e.size
		}
	}
	own := n * 2 / 3
	for i := 0; i < own && len(t.Keys) > 0; i++ {
		k := rng.IntN(len(t.Keys))
		klen = append(klen, int(t.Keys[k].KeyLen))
		vlen = append(vlen, int(max(seen[k], int32(workload.MinValueSize))))
	}
	for len(klen) < n {
		klen = append(klen, 12+rng.IntN(32))
		vlen = append(vlen, int(16*math.Pow(4096, rng.Float64())))
	}
	return klen, vlen
}

// Calibrate measures, on a real redis-server, what the trace's keys cost.
func Calibrate(ctx context.Context, t *Trace, o CalibrateOptions) (*Calibration, error) {
	began := time.Now()
	if o.Keys <= 0 {
		o.Keys = 3000
	}
	// Strings are always measured: their EXPIRE prices every type's TTL.
	types := map[string]bool{workload.TypeString: true}
	for _, f := range t.Families {
		types[priceType(f)] = true
	}
	typed := typedSamples(t)
	klen, vlen := calSample(t, o.Keys)

	var settings map[string]string
	unreadable := ""
	if o.SettingsURL != "" && o.RedisURL == "" {
		var err error
		// A server that refuses CONFIG (a managed Redis may) or cannot be
		// reached leaves the scenario's settings in force, said so in the
		// calibration's source.
		if settings, err = readSettings(ctx, o.SettingsURL); err != nil {
			settings, unreadable = nil, err.Error()
		}
	}
	if settings != nil {
		// The scratch server runs as the external one does.
		cfg := maps.Clone(o.Config)
		if cfg == nil {
			cfg = map[string]string{}
		}
		for k, v := range settings {
			switch k {
			case "maxmemory":
			case "maxmemory-policy":
				o.Policy = v
			default:
				cfg[k] = v
			}
		}
		o.Config = cfg
	}

	var client *redis.Client
	source := ""
	if o.RedisURL != "" {
		opt, err := redis.ParseURL(o.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("sizing: --redis-url: %w", err)
		}
		client = redis.NewClient(opt)
		source = "external redis at " + opt.Addr
	} else {
		dir, err := os.MkdirTemp("", "cacheproof-size-")
		if err != nil {
			return nil, fmt.Errorf("sizing: scratch folder: %w", err)
		}
		defer os.RemoveAll(dir)
		// The run's policy and settings, and a maxmemory far above the
		// sample (0 would make Redis share small integers whatever the
		// policy).
		policy := o.Policy
		if policy == "" {
			policy = "noeviction"
		}
		dep, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone,
			RedisServer: o.RedisServer, Dir: dir, MaxMemory: 16 << 30, MaxMemoryPolicy: policy, ExtraConfig: o.Config})
		if err != nil {
			return nil, &EnvError{Op: "start a scratch redis-server", Err: err}
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = dep.Close(cctx)
		}()
		client = redis.NewClient(&redis.Options{Addr: dep.Endpoints().Addrs[0], PoolSize: 1})
		source = "scratch redis-server started by cacheproof size"
		switch {
		case settings != nil:
			source += " with the settings of the external target (CONFIG GET)"
		case unreadable != "":
			source += " with the scenario's settings (the external target's CONFIG could not be read: " + unreadable + ")"
		}
	}
	defer client.Close()
	info, err := client.Info(ctx, "server", "memory").Result()
	if err != nil {
		return nil, &EnvError{Op: "INFO", Err: err}
	}
	kv := redistext.ParseInfo(info)
	version, alloc := kv["redis_version"], kv["mem_allocator"]
	// The server's settings are read every time, cached calibration or
	// not: an external server's are what the run meets, and may have
	// changed since.
	config := map[string]string{}
	for _, name := range ServerSettings {
		if v, err := client.ConfigGet(ctx, name).Result(); err == nil && v[name] != "" {
			config[name] = v[name]
		}
	}
	external := o.RedisURL != ""
	if settings != nil {
		config, external = settings, true
	}
	// The cache is keyed by the server's settings too (its listpack
	// limits decide the typed prices).
	keyed := maps.Clone(config)
	maps.Copy(keyed, o.Config)
	digest := fmt.Sprintf("%x", sampleDigest(klen, vlen, types, typed, o.Policy, keyed))
	cachePath := ""
	if o.CacheDir != "" && version != "" {
		cachePath = filepath.Join(o.CacheDir, "calibration-"+calibrationMethod+"-"+version+"-"+digest+".json")
		if data, err := os.ReadFile(cachePath); err == nil {
			var c Calibration
			// A calibration from before the idle-client measurement is
			// measured again.
			if json.Unmarshal(data, &c) == nil && c.Types != nil && c.PerIdleClient > 0 && c.RoundTripS > 0 && c.PerConnOutside > 0 {
				c.Source = "cached (" + cachePath + ") from a " + c.Source
				if unreadable != "" {
					c.Source += "; the external target's CONFIG could not be read (" + unreadable + "): the scenario's settings are used"
				}
				c.Config, c.External = config, external
				return &c, nil
			}
		}
	}
	c := &Calibration{RedisVersion: version, Allocator: alloc, Types: map[string]Fit{}, Source: source, Config: config, External: external}
	c.Startup, _ = strconv.ParseInt(kv["used_memory_startup"], 10, 64)
	sleep := o.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	if c.PerClient, c.PerIdleClient, c.PerConnOutside, err = perClient(ctx, client, meanLen(vlen[:len(vlen)*2/3]), sleep); err != nil {
		return nil, err
	}
	if c.LatencyHistogram, err = latencyHistogram(ctx, client); err != nil {
		return nil, err
	}
	if c.RoundTripS, err = roundTrip(ctx, client); err != nil {
		return nil, err
	}
	// A short unique prefix, so the sample's keys can be as short as the
	// workload's (each is padded to its length; the fit takes the length
	// it really has).
	prefix := fmt.Sprintf("cps%x:", time.Now().UnixNano()%(1<<32))
	var vols []float64
	for _, typ := range slices.Sorted(maps.Keys(typed)) {
		tc, err := calibrateTyped(ctx, client, prefix+typ[:1]+":", typ, typed[typ])
		if err != nil {
			return nil, err
		}
		if c.Typed == nil {
			c.Typed = map[string]TypedCal{}
		}
		c.Typed[typ] = tc
	}
	for _, typ := range []string{workload.TypeString, typeCounter} {
		if !types[typ] {
			continue
		}
		var writeS *float64
		if typ == workload.TypeString {
			writeS = &c.PipelinedWriteS
		}
		fit, vol, err := calibrateType(ctx, client, prefix+typ[:1]+":", typ, klen, vlen, sleep, writeS)
		if err != nil {
			return nil, err
		}
		c.Types[typ] = fit
		vols = append(vols, vol)
	}
	for _, v := range vols {
		c.VolatileMeasured += v / float64(len(vols))
	}
	// A TTL is an entry of the expires dict: 24 bytes, in jemalloc's 32
	// class (its buckets the simulator counts itself). The delta EXPIRE
	// made on the sample is kept beside it as a check: pipelined it
	// reads 32.0 B a key on Redis 7.0.15, one command a round trip some
	// 8 B more (the connection's buffers churn).
	c.Volatile = float64(jeClass(24))
	c.TookS = time.Since(began).Seconds()
	if cachePath != "" {
		if data, err := json.MarshalIndent(c, "", "  "); err == nil {
			if os.MkdirAll(o.CacheDir, 0o755) == nil {
				_ = os.WriteFile(cachePath, data, 0o644)
			}
		}
	}
	return c, nil
}

func sampleDigest(klen, vlen []int, types map[string]bool, typed map[string]*typedSample, policy string, cfg map[string]string) uint64 {
	h := uint64(14695981039346656037)
	mix := func(x uint64) { h = (h ^ x) * 1099511628211 }
	mixs := func(s string) {
		for _, b := range []byte(s) {
			mix(uint64(b))
		}
		mix(0)
	}
	for i := range klen {
		mix(uint64(klen[i]))
		mix(uint64(vlen[i]))
	}
	mixs(policy)
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		mixs(k)
		mixs(cfg[k])
	}
	for _, typ := range slices.Sorted(maps.Keys(typed)) {
		ts := typed[typ]
		mixs(typ)
		mix(uint64(ts.klen))
		mix(uint64(ts.maxFields))
		for _, v := range ts.vals {
			mix(uint64(v))
		}
	}
	for _, t := range []string{workload.TypeString, workload.TypeHash, workload.TypeZSet, typeCounter} {
		if types[t] {
			mix(uint64(len(t)))
		}
	}
	return h
}

// EnvError marks a failure of the environment (no redis-server, a
// server that does not answer): the command maps it to exit 3.
type EnvError struct {
	Op  string
	Err error
}

func (e *EnvError) Error() string { return "sizing: " + e.Op + ": " + e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

func usedMemory(ctx context.Context, c *redis.Client) (int64, error) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, &EnvError{Op: "INFO memory", Err: err}
	}
	v, err := strconv.ParseInt(redistext.ParseInfo(info)["used_memory"], 10, 64)
	if err != nil {
		return 0, &EnvError{Op: "INFO memory", Err: fmt.Errorf("used_memory: %w", err)}
	}
	return v, nil
}

// usedMemoryOwn is used_memory less the asking connection's own buffers
// (CLIENT INFO tot-mem): Redis 7 grows and shrinks a connection's query
// and reply buffers by up to 16 KB as it reads commands and as its cron
// runs, which on a group of a few dozen keys is hundreds of bytes a key.
func usedMemoryOwn(ctx context.Context, c *redis.Client) (float64, error) {
	u, err := usedMemory(ctx, c)
	if err != nil {
		return 0, err
	}
	info, err := c.ClientInfo(ctx).Result()
	if err != nil || info == nil {
		return 0, &EnvError{Op: "CLIENT INFO", Err: err}
	}
	return float64(u) - float64(info.TotalMemory), nil
}

// memoryAndKeys reads usedMemoryOwn and then keyCounts: what each end of a
// calibration delta (before the keys get a TTL, after) takes.
func memoryAndKeys(ctx context.Context, c *redis.Client) (mem, keys, volatile float64, err error) {
	if mem, err = usedMemoryOwn(ctx, c); err != nil {
		return 0, 0, 0, err
	}
	keys, volatile, err = keyCounts(ctx, c)
	return mem, keys, volatile, err
}

// keyCounts is the keys of the connection's database and those with a TTL
// (INFO keyspace).
func keyCounts(ctx context.Context, c *redis.Client) (keys, volatile float64, err error) {
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		return 0, 0, &EnvError{Op: "DBSIZE", Err: err}
	}
	info, err := c.Info(ctx, "keyspace").Result()
	if err != nil {
		return 0, 0, &EnvError{Op: "INFO keyspace", Err: err}
	}
	db := fmt.Sprintf("db%d", c.Options().DB)
	for _, part := range strings.Split(redistext.ParseInfo(info)[db], ",") {
		if v, ok := strings.CutPrefix(part, "expires="); ok {
			volatile, _ = strconv.ParseFloat(v, 64)
		}
	}
	return float64(n), volatile, nil
}

func meanLen(v []int) int {
	if len(v) == 0 {
		return 1
	}
	sum := 0
	for _, x := range v {
		sum += x
	}
	return max(sum/len(v), 1)
}

// perClient measures what one more connection adds to used_memory, on
// eight extra connections that each write and read a value of the
// workload's mean size: idle, once Redis's client cron has shrunk their
// buffers (a connection idle over 2 s loses its query buffer; waited for
// until used_memory stops falling, at most 6 s), then in use, after each
// has sent a read every 200 ms for a second (the query buffer is back, the
// reply buffer holds the largest recent reply).
func perClient(ctx context.Context, c *redis.Client, vlen int, sleep func(time.Duration)) (active, idle, outside float64, err error) {
	const n = 8
	key := fmt.Sprintf("cacheproof:size:client:%d", time.Now().UnixNano())
	if err := c.Set(ctx, key, strings.Repeat("v", vlen), time.Minute).Err(); err != nil {
		return 0, 0, 0, &EnvError{Op: "SET", Err: err}
	}
	defer c.Del(context.Background(), key)
	// used_memory less the observer's own buffers: the connection that
	// asks INFO has its reply buffer shrunk by the same cron meanwhile.
	observed := func() (float64, error) {
		u, err := usedMemory(ctx, c)
		if err != nil {
			return 0, err
		}
		own := 0.0
		if info, err := c.ClientInfo(ctx).Result(); err == nil && info != nil {
			own = float64(info.TotalMemory)
		}
		return float64(u) - own, nil
	}
	before, err := observed()
	if err != nil {
		return 0, 0, 0, err
	}
	opt := *c.Options()
	opt.PoolSize, opt.MinIdleConns = n, 0
	extra := redis.NewClient(&opt)
	defer extra.Close()
	conns := make([]*redis.Conn, 0, n)
	defer func() {
		for _, cn := range conns {
			_ = cn.Close()
		}
	}()
	round := func() error {
		for _, cn := range conns {
			if err := cn.Get(ctx, key).Err(); err != nil {
				return &EnvError{Op: "GET on an extra connection", Err: err}
			}
		}
		return nil
	}
	opened := time.Now()
	for range n {
		conns = append(conns, extra.Conn())
	}
	if err := round(); err != nil {
		return 0, 0, 0, err
	}
	per := func() (float64, error) {
		u, err := observed()
		return math.Max((u-before)/n, 0), err
	}
	// Idle: the cron frees an idle connection's query buffer once it has
	// been idle over 2 s (whole seconds), then shrinks its reply buffer.
	prev := math.Inf(1)
	for waited := time.Duration(0); waited < 6*time.Second; waited += 250 * time.Millisecond {
		sleep(250 * time.Millisecond)
		v, err := per()
		if err != nil {
			return 0, 0, 0, err
		}
		idle = v
		if waited >= 3*time.Second && v >= prev {
			break
		}
		prev = v
	}
	for range 5 {
		if err := round(); err != nil {
			return 0, 0, 0, err
		}
		sleep(200 * time.Millisecond)
	}
	if err := round(); err != nil {
		return 0, 0, 0, err
	}
	if active, err = per(); err != nil {
		return 0, 0, 0, err
	}
	// What mem_clients_normal counts of a connection is its CLIENT LIST
	// tot-mem (the client struct and its buffers: about 22 KB in use,
	// 1,800 B idle on 7.0.15); the rest of its used_memory is outside it,
	// the same in use or idle (about 2.2 KB). CLIENT
	// LIST computes tot-mem as it answers (mem_clients_normal is the
	// cron's running sum of the same figures). It is asked only now: a
	// command's first call allocates its latency histogram, which must
	// not fall inside the deltas above. The extra connections are the
	// ones that last ran GET and are no older than this measurement;
	// unless exactly n are found (an external server's own clients),
	// outside stays 0 and a run's clients' memory is not used.
	own, err := c.ClientInfo(ctx).Result()
	if err != nil || own == nil {
		return 0, 0, 0, &EnvError{Op: "CLIENT INFO", Err: err}
	}
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		return 0, 0, 0, &EnvError{Op: "CLIENT LIST", Err: err}
	}
	maxAge := int64(time.Since(opened).Seconds()) + 1
	var tot, seen float64
	for _, line := range strings.Split(list, "\n") {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				f[k] = v
			}
		}
		id, _ := strconv.ParseInt(f["id"], 10, 64)
		age, _ := strconv.ParseInt(f["age"], 10, 64)
		if id == own.ID || f["cmd"] != "get" || age > maxAge {
			continue
		}
		m, _ := strconv.ParseFloat(f["tot-mem"], 64)
		tot += m
		seen++
	}
	if seen == n {
		outside = math.Max(active-tot/seen, 0)
	}
	return active, idle, outside, nil
}

// roundTrip is the mean time a GET holds one of c's pooled connections
// (the pool's checkout, the write, Redis, the reply's read and the
// return) when requests come as a run's do: paced, each from a goroutine
// woken for it, the process idle in between (a gap of 2 ms on average,
// exponential), so the wake-ups of the netpoller and the scheduler that a
// run's requests pay are in it. One after another in a tight loop a GET
// takes 26 us on this 2-core machine; paced, about 3 times that, as a
// run's reply split shows (its arrival and wait p50 0.055 and 0.021 ms on
// the corpus's volatile-lfu cache).
func roundTrip(ctx context.Context, c *redis.Client) (float64, error) {
	key := fmt.Sprintf("cacheproof:size:rtt:%d", time.Now().UnixNano())
	if err := c.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		return 0, &EnvError{Op: "SET", Err: err}
	}
	defer c.Del(context.Background(), key)
	const warm, n = 20, 300
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total time.Duration
		first error
	)
	next := time.Now()
	for i := range warm + n {
		next = next.Add(time.Duration(rng.ExpFloat64() * float64(2*time.Millisecond)))
		time.Sleep(time.Until(next))
		wg.Add(1)
		go func(measured bool) {
			defer wg.Done()
			began := time.Now()
			err := c.Get(ctx, key).Err()
			took := time.Since(began)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = &EnvError{Op: "GET", Err: err}
			}
			if measured {
				total += took
			}
		}(i >= warm)
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return total.Seconds() / n, nil
}

// latencyHistogram measures what one command's latency histogram adds to
// used_memory: 0 when CONFIG latency-tracking is not "yes" (off, or a
// Redis before 7 that has no such setting), else the growth of used_memory
// (less the asking connection's buffers) over the first call of commands
// the calibration sends nowhere else, the median of those that grew it (on
// a server that has already run one, as an external one may have, its
// histogram exists and the call adds nothing).
func latencyHistogram(ctx context.Context, c *redis.Client) (float64, error) {
	v, err := c.ConfigGet(ctx, "latency-tracking").Result()
	if err != nil || v["latency-tracking"] != "yes" {
		return 0, nil
	}
	// Twice first: INFO and CLIENT INFO get their own histograms.
	for range 2 {
		if _, err := usedMemoryOwn(ctx, c); err != nil {
			return 0, err
		}
	}
	var grew []float64
	for _, cmd := range [][]any{{"LASTSAVE"}, {"TIME"}, {"ECHO", "cacheproof"}} {
		before, err := usedMemoryOwn(ctx, c)
		if err != nil {
			return 0, err
		}
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			return 0, &EnvError{Op: fmt.Sprint(cmd[0]), Err: err}
		}
		after, err := usedMemoryOwn(ctx, c)
		if err != nil {
			return 0, err
		}
		if d := after - before; d > 0 {
			grew = append(grew, d)
		}
	}
	if len(grew) == 0 {
		return 0, nil
	}
	slices.Sort(grew)
	return grew[len(grew)/2], nil
}

// calibrateType writes the sample as keys of data type typ, fits MEMORY
// USAGE against length, measures the used_memory delta (keys without a
// TTL, then with one), and deletes the keys.
// readSettings is CONFIG GET of ServerSettings on the server at url.
func readSettings(ctx context.Context, u string) (map[string]string, error) {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("sizing: the target's address %q: %w", u, err)
	}
	opt.PoolSize = 1
	c := redis.NewClient(opt)
	defer c.Close()
	out := map[string]string{}
	for _, name := range ServerSettings {
		v, err := c.ConfigGet(ctx, name).Result()
		if err != nil {
			return nil, &EnvError{Op: "CONFIG GET " + name + " on " + opt.Addr, Err: err}
		}
		if v[name] != "" {
			out[name] = v[name]
		}
	}
	return out, nil
}

// calibrateType measures typ's fit on the sample; writeS, when not nil,
// receives the pipelined writes' time per command.
func calibrateType(ctx context.Context, c *redis.Client, prefix, typ string, klen, vlen []int, sleep func(time.Duration), writeS *float64) (Fit, float64, error) {
	keys := make([]string, len(klen))
	for i := range klen {
		k := prefix + strconv.Itoa(i) + ":"
		if len(k) < klen[i] {
			k += strings.Repeat("k", klen[i]-len(k))
		}
		keys[i] = k
	}
	val := func(n int) string { return strings.Repeat("v", max(n, 1)) }
	defer func() {
		for i := 0; i < len(keys); i += 500 {
			_ = c.Unlink(context.Background(), keys[i:min(i+500, len(keys))]...).Err()
		}
	}()
	// used_memory less the writer's own buffers (its query buffer holds
	// up to a pipeline's largest value when the delta is read).
	before, keysBefore, volBefore, err := memoryAndKeys(ctx, c)
	if err != nil {
		return Fit{}, 0, err
	}
	// perCmd is each pipeline's time per command, of the last pipeDo.
	var perCmd []float64
	pipeDo := func(each func(p redis.Pipeliner, i int)) error {
		perCmd = perCmd[:0]
		for i := 0; i < len(keys); i += 256 {
			p := c.Pipeline()
			for j := i; j < min(i+256, len(keys)); j++ {
				each(p, j)
			}
			began := time.Now()
			if _, err := p.Exec(ctx); err != nil {
				return &EnvError{Op: "write the calibration sample", Err: err}
			}
			perCmd = append(perCmd, time.Since(began).Seconds()/float64(min(i+256, len(keys))-i))
		}
		return nil
	}
	err = pipeDo(func(p redis.Pipeliner, i int) {
		switch typ {
		case workload.TypeHash:
			p.HSet(ctx, keys[i], "f", val(vlen[i]))
		case workload.TypeZSet:
			p.ZAdd(ctx, keys[i], redis.Z{Score: 1, Member: val(vlen[i])})
		case typeCounter:
			p.Incr(ctx, keys[i])
		default:
			p.Set(ctx, keys[i], val(vlen[i]), 0)
		}
	})
	if err != nil {
		return Fit{}, 0, err
	}
	if writeS != nil && len(perCmd) > 0 {
		// The median pipeline: a stall of the loaded host in one of them
		// is not the server's pace.
		slices.Sort(perCmd)
		*writeS = perCmd[len(perCmd)/2]
	}
	// Let Redis finish rehashing the grown dicts (the cron's active
	// rehash): mid-rehash both tables are allocated.
	sleep(300 * time.Millisecond)
	filled, err := usedMemoryOwn(ctx, c)
	if err != nil {
		return Fit{}, 0, err
	}
	usage := make([]float64, len(keys))
	for i := 0; i < len(keys); i += 256 {
		p := c.Pipeline()
		cmds := make([]*redis.IntCmd, 0, 256)
		for j := i; j < min(i+256, len(keys)); j++ {
			cmds = append(cmds, p.MemoryUsage(ctx, keys[j], 0))
		}
		if _, err := p.Exec(ctx); err != nil {
			return Fit{}, 0, &EnvError{Op: "MEMORY USAGE", Err: err}
		}
		for j, cmd := range cmds {
			usage[i+j] = float64(cmd.Val())
		}
	}
	if err := pipeDo(func(p redis.Pipeliner, i int) { p.Expire(ctx, keys[i], time.Hour) }); err != nil {
		return Fit{}, 0, err
	}
	sleep(300 * time.Millisecond)
	withTTL, keysAfter, volAfter, err := memoryAndKeys(ctx, c)
	if err != nil {
		return Fit{}, 0, err
	}
	// The dicts' bucket arrays the sample grew, which the simulator
	// counts itself (by the keys it holds): left out of the per-key
	// prices.
	mainBuckets := 8 * (dictTable(keysAfter) - dictTable(keysBefore))
	volBuckets := 8 * (dictTable(volAfter) - dictTable(volBefore))
	if typ == workload.TypeString || typ == typeCounter {
		// Priced by what Redis allocates for each key (stringAlloc, from
		// its source and jemalloc's size classes); the used_memory delta
		// gives the constant the allocations leave out (the dicts'
		// buckets).
		kind := allocString
		if typ == typeCounter {
			kind = allocCounter
		}
		var sum, sumUsage float64
		alloc := make([]float64, len(keys))
		for i := range keys {
			alloc[i] = float64(stringAlloc(kind, int64(len(keys[i])), int64(max(vlen[i], 1))))
			sum += alloc[i]
			sumUsage += usage[i]
		}
		n := float64(len(keys))
		// MEMORY USAGE counts the dict entry as 24 bytes, not its 32: the
		// error is judged after each side's mean.
		shift := (sumUsage - sum) / n
		var mae float64
		for i := range keys {
			mae += math.Abs(alloc[i]+shift-usage[i]) / n
		}
		return Fit{A: (filled - before - mainBuckets - sum) / n, B: 1, Alloc: true, Keys: len(keys), MeanAbsErr: mae},
			math.Max((withTTL-filled-volBuckets)/n, 0), nil
	}
	// Least squares of usage on length (a counter's: its key's).
	xlen := func(i int) float64 {
		if typ == typeCounter {
			return float64(len(keys[i]))
		}
		return float64(len(keys[i]) + vlen[i])
	}
	n := float64(len(keys))
	var sx, sy, sxx, sxy float64
	for i := range keys {
		x := xlen(i)
		sx += x
		sy += usage[i]
		sxx += x * x
		sxy += x * usage[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return Fit{}, 0, errors.New("sizing: calibration sample has a single length")
	}
	b := (n*sxy - sx*sy) / den
	a := (sy - b*sx) / n
	var mae float64
	for i := range keys {
		mae += math.Abs(a + b*xlen(i) - usage[i])
	}
	// Whatever used_memory grew by beyond MEMORY USAGE's sum (the dict's
	// buckets, allocator rounding MEMORY USAGE does not see) is spread
	// over the keys.
	a += (filled - before - mainBuckets - sy) / n
	return Fit{A: a, B: b, Keys: len(keys), MeanAbsErr: mae / n}, math.Max((withTTL-filled-volBuckets)/n, 0), nil
}

// TypedCal is what a hash or sorted-set key costs on the server, per
// encoding (TypedCost's lines), with the server's listpack limits
// (hash-max-listpack-entries / -value, zset-max-listpack-*).
type TypedCal struct {
	Small      TypedLine `json:"listpack"`
	Large      TypedLine `json:"large"`
	MaxEntries int       `json:"max_listpack_entries"`
	MaxValue   int       `json:"max_listpack_value"`
	// ListpackA is what a listpack-encoded key costs beyond its
	// listpack's allocation and its name's sds (the object, the dict
	// entry, and what the allocator adds): the listpack groups' mean of
	// used_memory's growth per key less those two, each from Redis's
	// encoding (lpBytes). 0: no listpack group was measured.
	ListpackA float64 `json:"listpack_a_bytes,omitempty"`
	// HashtableA is, for a hash in its hashtable encoding, what it costs
	// beyond its dict's bucket array (8 bytes a bucket, a power of two),
	// its fields' dict entries (32) and name and value sds, and its own
	// name's sds: the hashtable groups' mean. 0: none measured.
	HashtableA float64 `json:"hashtable_a_bytes,omitempty"`
	// Groups is the measured groups (keys of one field count and value
	// size), MeanAbsErr the fit's mean absolute error per key over them.
	Groups     int     `json:"groups"`
	MeanAbsErr float64 `json:"mean_abs_err_bytes"`
}

// TypedLine is bytes = A + C·fields + B·(key + Σ name and value bytes).
type TypedLine struct {
	A float64 `json:"a_bytes"`
	B float64 `json:"b_per_byte"`
	C float64 `json:"c_per_field"`
}

// typedSample is what a data type's calibration writes: the workload's key
// length, its value sizes (for a hash, those of one field) and its most
// fields per key.
type typedSample struct {
	klen      int
	vals      []int
	maxFields int
}

// typedSamples collects, per typed data type, the trace's key lengths,
// value sizes and field counts.
func typedSamples(t *Trace) map[string]*typedSample {
	out := map[string]*typedSample{}
	var klenSum, klenN = map[string]int{}, map[string]int{}
	for _, f := range t.Families {
		typ := dataType(f.Type)
		if typ != workload.TypeHash && typ != workload.TypeZSet {
			continue
		}
		ts := out[typ]
		if ts == nil {
			ts = &typedSample{}
			out[typ] = ts
		}
		n := f.Fields
		if typ == workload.TypeZSet {
			n = max(f.Members, min(max(f.Members, 1), zsetFillMax))
		}
		ts.maxFields = max(ts.maxFields, n, 1)
	}
	for _, k := range t.Keys {
		typ := dataType(t.Families[k.Fam].Type)
		if out[typ] != nil {
			klenSum[typ] += int(k.KeyLen)
			klenN[typ]++
		}
	}
	for _, e := range t.events {
		typ := dataType(t.Families[t.Keys[e.key].Fam].Type)
		if ts := out[typ]; ts != nil && e.size > 0 && len(ts.vals) < 4096 {
			ts.vals = append(ts.vals, max(int(e.size), workload.MinValueSize))
		}
	}
	for typ, ts := range out {
		ts.klen = max(klenSum[typ]/max(klenN[typ], 1), 8)
		if len(ts.vals) == 0 {
			ts.vals = []int{workload.MinValueSize}
		}
		slices.Sort(ts.vals)
	}
	return out
}

// zsetFillMax is the most members the run's fill of a sorted set writes
// (harness's zsetFill).
const zsetFillMax = 100

// calibrateTyped measures hashes or sorted sets by their field count: for
// field counts from 1 to the workload's most, and (for hashes) value sizes
// at the workload's 10th, 50th and 90th percentiles, it writes a group of
// keys as the run does (fields f0..fN-1 / members m0..mN-1), takes the
// group's used_memory delta per key and its encoding, deletes it, and fits
// each encoding's line by least squares. The listpack limits come from the
// server's CONFIG.
func calibrateTyped(ctx context.Context, c *redis.Client, prefix, typ string, ts *typedSample) (TypedCal, error) {
	zset := typ == workload.TypeZSet
	cfgName := "hash-max-listpack-"
	if zset {
		cfgName = "zset-max-listpack-"
	}
	var cal TypedCal
	for _, lim := range []struct {
		name string
		to   *int
		def  int
	}{{"entries", &cal.MaxEntries, 128}, {"value", &cal.MaxValue, 64}} {
		*lim.to = lim.def
		if v, err := c.ConfigGet(ctx, cfgName+lim.name).Result(); err == nil {
			if n, err := strconv.Atoi(v[cfgName+lim.name]); err == nil {
				*lim.to = n
			}
		}
	}
	var ns []int
	for i := range 8 {
		ns = append(ns, int(math.Round(math.Pow(float64(ts.maxFields), float64(i)/7))))
	}
	if ts.maxFields > cal.MaxEntries {
		ns = append(ns, cal.MaxEntries, cal.MaxEntries+1)
	}
	slices.Sort(ns)
	ns = slices.Compact(ns)
	vs := []int{0}
	if !zset {
		q := func(p float64) int { return ts.vals[int(p*float64(len(ts.vals)-1))] }
		vs = []int{q(0.1), q(0.5), q(0.9)}
		if ts.vals[0] <= cal.MaxValue {
			vs = append(vs, ts.vals[0])
		}
		slices.Sort(vs)
		vs = slices.Compact(vs)
	}
	type obs struct {
		large              bool
		v                  int
		n, bytes, alloc, y float64
		lp                 float64 // the listpack's and the name's allocations
		ht                 float64 // a hashtable's buckets, entries and sds
	}
	var all []obs
	for _, n := range ns {
		for _, v := range vs {
			// Enough keys that a group's delta is not one allocation's
			// step; each field written by its own HSET (as the run does:
			// one command's bytes, not a query buffer of the whole hash).
			perGroup := max(24, min(200, 4000/n))
			keys := make([]string, perGroup)
			for i := range keys {
				k := fmt.Sprintf("%s%d:%d:%d:", prefix, n, v, i)
				if len(k) < ts.klen {
					k += strings.Repeat("k", ts.klen-len(k))
				}
				keys[i] = k
			}
			before, err := usedMemoryOwn(ctx, c)
			if err != nil {
				return cal, err
			}
			val := strings.Repeat("v", max(v, 1))
			bytes, alloc, lp := 0, int64(0), int64(0)
			// The hash's dict after n HSETs of new fields, as the simulator
			// grows it (a table being rehashed counts both).
			d := htAfter(int32(n), v > cal.MaxValue, int32(cal.MaxEntries))
			ht := 8*int64(d.size+d.old) + sdsAlloc(int64(ts.klen))
			for j := range n {
				ht += jeClass(24) + sdsAlloc(int64(fieldNameLen(int32(j)))) + sdsAlloc(int64(len(val)))
				bytes += int(fieldNameLen(int32(j)))
				lp += lpStringEntry(int64(fieldNameLen(int32(j))))
				if zset {
					lp += lpIntEntry(int64(n - j))
				} else {
					bytes += len(val)
					alloc += sdsAlloc(int64(len(val)))
					lp += lpStringEntry(int64(len(val)))
				}
			}
			var enc *redis.StringCmd
			for i := 0; i < len(keys); i += 16 {
				p := c.Pipeline()
				for _, k := range keys[i:min(i+16, len(keys))] {
					if zset {
						zs := make([]redis.Z, n)
						for j := range zs {
							zs[j] = redis.Z{Score: float64(n - j), Member: "m" + strconv.Itoa(j)}
						}
						p.ZAdd(ctx, k, zs...)
						continue
					}
					for j := range n {
						p.HSet(ctx, k, "f"+strconv.Itoa(j), val)
					}
				}
				if i == 0 {
					enc = p.ObjectEncoding(ctx, keys[0])
				}
				if _, err := p.Exec(ctx); err != nil {
					return cal, &EnvError{Op: "write the " + typ + " calibration sample", Err: err}
				}
			}
			after, err := usedMemoryOwn(ctx, c)
			if err != nil {
				return cal, err
			}
			if err := c.Del(ctx, keys...).Err(); err != nil {
				return cal, &EnvError{Op: "delete the " + typ + " calibration sample", Err: err}
			}
			all = append(all, obs{large: enc.Val() != "listpack", v: v, n: float64(n), bytes: float64(ts.klen + bytes), alloc: float64(alloc),
				lp: float64(jeClass(lpHeader+lp) + sdsAlloc(int64(ts.klen))), ht: float64(ht), y: (after - before) / float64(perGroup)})
		}
	}
	fit := func(large bool) (TypedLine, bool) {
		var xs [][3]float64
		var ys []float64
		sizes := map[int]bool{}
		// A hashtable's values are priced by their allocations (B = 1).
		byAlloc := large && !zset
		for _, o := range all {
			if o.large == large {
				x := o.bytes
				if byAlloc {
					x = o.alloc
				}
				xs = append(xs, [3]float64{1, o.n, x})
				ys = append(ys, o.y)
				sizes[o.v] = true
			}
		}
		if len(xs) == 0 {
			return TypedLine{}, false
		}
		// The bytes' own slope needs value sizes that vary apart from the
		// field count.
		a, cc, b := leastSquares3(xs, ys, !zset && !byAlloc && len(sizes) > 1)
		return TypedLine{A: a, B: b, C: cc}, true
	}
	small, okS := fit(false)
	large, okL := fit(true)
	switch {
	case !okS && !okL:
		return cal, errors.New("sizing: " + typ + " calibration measured nothing")
	case !okS:
		small = large
	case !okL:
		large = small
	}
	cal.Small, cal.Large, cal.Groups = small, large, len(all)
	nlp, nht := 0, 0
	for _, o := range all {
		switch {
		case !o.large:
			cal.ListpackA += o.y - o.lp
			nlp++
		case !zset:
			cal.HashtableA += o.y - o.ht
			nht++
		}
	}
	if nlp > 0 {
		cal.ListpackA /= float64(nlp)
	}
	if nht > 0 {
		cal.HashtableA /= float64(nht)
	}
	for _, o := range all {
		l, x := small, o.bytes
		if o.large {
			l = large
			if !zset {
				x = o.alloc
			}
		}
		cal.MeanAbsErr += math.Abs(l.A+l.C*o.n+l.B*x-o.y) / float64(len(all))
	}
	return cal, nil
}

// The listpack encoding (listpack.c of Redis 7): a 6-byte header and an
// end byte, then each entry: its encoding and data, and a back-length of
// the two.
const lpHeader = 7

// lpBacklen is the bytes of an entry's back-length: 7 bits a byte.
func lpBacklen(l int64) int64 {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

// lpStringEntry is a listpack entry of a string of n bytes that is not an
// integer's text (field and member names, values): a 1-byte header up to
// 63 bytes, 2 up to 4095, else 5.
func lpStringEntry(n int64) int64 {
	h := int64(5)
	switch {
	case n < 64:
		h = 1
	case n < 4096:
		h = 2
	}
	return h + n + lpBacklen(h+n)
}

// lpIntEntry is a listpack entry of integer v (a score with no fraction
// is one: ZADD writes it as its text, which the listpack stores as an
// integer): 1 byte for 0..127, then 13, 16, 24, 32 or 64 bits.
func lpIntEntry(v int64) int64 {
	var l int64
	switch {
	case v >= 0 && v <= 127:
		l = 1
	case v >= -4096 && v <= 4095:
		l = 2
	case v >= -1<<15 && v < 1<<15:
		l = 3
	case v >= -1<<23 && v < 1<<23:
		l = 4
	case v >= -1<<31 && v < 1<<31:
		l = 5
	default:
		l = 9
	}
	return l + lpBacklen(l)
}

// leastSquares3 fits y = a + c·x1 + b·x2 (x0 = 1). When x2 does not vary
// apart from x1 (full false: a single value size, or a sorted set's
// member names), b is taken as one byte per byte and a, c fitted on what
// is left.
func leastSquares3(xs [][3]float64, ys []float64, full bool) (a, c, b float64) {
	if full {
		if sol, ok := solve3(normal3(xs, ys)); ok {
			return sol[0], sol[1], sol[2]
		}
	}
	return leastSquares2(xs, ys)
}

func normal3(xs [][3]float64, ys []float64) [3][4]float64 {
	var m [3][4]float64
	for i, x := range xs {
		for r := range 3 {
			for col := range 3 {
				m[r][col] += x[r] * x[col]
			}
			m[r][3] += x[r] * ys[i]
		}
	}
	return m
}

// leastSquares2 fits y - x2 = a + c·x1.
func leastSquares2(xs [][3]float64, ys []float64) (a, c, b float64) {
	var n, sx, sy, sxx, sxy float64
	for i, x := range xs {
		y := ys[i] - x[2]
		n++
		sx += x[1]
		sy += y
		sxx += x[1] * x[1]
		sxy += x[1] * y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return sy / n, 0, 1
	}
	c = (n*sxy - sx*sy) / den
	return (sy - c*sx) / n, c, 1
}

// solve3 solves a 3x3 system by Gaussian elimination with partial
// pivoting; ok is false when it is (nearly) singular.
func solve3(m [3][4]float64) ([3]float64, bool) {
	scale := 0.0
	for r := range 3 {
		scale = math.Max(scale, math.Abs(m[r][r]))
	}
	for col := range 3 {
		p := col
		for r := col + 1; r < 3; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		if math.Abs(m[p][col]) <= 1e-9*scale {
			return [3]float64{}, false
		}
		m[col], m[p] = m[p], m[col]
		for r := range 3 {
			if r == col {
				continue
			}
			f := m[r][col] / m[col][col]
			for k := col; k < 4; k++ {
				m[r][k] -= f * m[col][k]
			}
		}
	}
	return [3]float64{m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]}, true
}
