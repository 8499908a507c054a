package sizing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
}

// Calibration is what a real redis-server charges for the workload's keys.
type Calibration struct {
	RedisVersion string         `json:"redis_version"`
	Allocator    string         `json:"allocator"`
	Types        map[string]Fit `json:"types"`
	// Volatile is the bytes a TTL adds to a key (its expires-dict entry),
	// measured as the used_memory delta of EXPIRE over the sample.
	Volatile float64 `json:"volatile_bytes"`
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
	Source        string  `json:"source"`
	TookS         float64 `json:"took_s"`
}

// Conns is the connections a run keeps open to Redis: Active ones send
// commands all the time (the pools' and the sampler's), Idle ones almost
// never (each instance's pub/sub subscriber).
type Conns struct{ Active, Idle int }

// Total is every connection.
func (n Conns) Total() int { return n.Active + n.Idle }

// Base is the used_memory of the server with no keys and n's clients.
func (c *Calibration) Base(n Conns) float64 {
	return float64(c.Startup) + float64(max(n.Active, 1))*c.PerClient + float64(n.Idle)*c.PerIdleClient
}

// Costs prices the trace's families by their data types.
func (c *Calibration) Costs(fams []workload.Family) (*Costs, error) {
	out := &Costs{A: make([]float64, len(fams)), B: make([]float64, len(fams)), Volatile: c.Volatile}
	for i, f := range fams {
		typ := priceType(f)
		fit, ok := c.Types[typ]
		if !ok {
			return nil, fmt.Errorf("sizing: calibration has no fit for data type %q (family %s)", typ, f.Name)
		}
		out.A[i], out.B[i] = fit.A, fit.B
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
const calibrationMethod = "m3"

// CalibrateOptions say which server to measure.
type CalibrateOptions struct {
	// RedisURL is an external server (redis://host:port/db); its keys are
	// written under a unique prefix and deleted afterwards. "" starts a
	// scratch redis-server (RedisServer, or $CACHEPROOF_REDIS_SERVER, then
	// PATH).
	RedisURL    string
	RedisServer string
	// CacheDir keeps a calibration per server version and sample; ""
	// disables the cache.
	CacheDir string
	// Keys is the sample's size per data type (default 3000).
	Keys int
	// Sleep waits for Redis's client cron (tests replace it).
	Sleep func(time.Duration)
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
	types := map[string]bool{}
	for _, f := range t.Families {
		types[priceType(f)] = true
	}
	klen, vlen := calSample(t, o.Keys)

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
		dep, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone,
			RedisServer: o.RedisServer, Dir: dir, MaxMemoryPolicy: "noeviction"})
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
	}
	defer client.Close()
	info, err := client.Info(ctx, "server", "memory").Result()
	if err != nil {
		return nil, &EnvError{Op: "INFO", Err: err}
	}
	kv := redistext.ParseInfo(info)
	version, alloc := kv["redis_version"], kv["mem_allocator"]
	digest := fmt.Sprintf("%x", sampleDigest(klen, vlen, types))
	cachePath := ""
	if o.CacheDir != "" && version != "" {
		cachePath = filepath.Join(o.CacheDir, "calibration-"+calibrationMethod+"-"+version+"-"+digest+".json")
		if data, err := os.ReadFile(cachePath); err == nil {
			var c Calibration
			// A calibration from before the idle-client measurement is
			// measured again.
			if json.Unmarshal(data, &c) == nil && c.Types != nil && c.PerIdleClient > 0 {
				c.Source = "cached (" + cachePath + ") from a " + c.Source
				return &c, nil
			}
		}
	}
	c := &Calibration{RedisVersion: version, Allocator: alloc, Types: map[string]Fit{}, Source: source}
	c.Startup, _ = strconv.ParseInt(kv["used_memory_startup"], 10, 64)
	sleep := o.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	if c.PerClient, c.PerIdleClient, err = perClient(ctx, client, meanLen(vlen[:len(vlen)*2/3]), sleep); err != nil {
		return nil, err
	}
	// A short unique prefix, so the sample's keys can be as short as the
	// workload's (each is padded to its length; the fit takes the length
	// it really has).
	prefix := fmt.Sprintf("cps%x:", time.Now().UnixNano()%(1<<32))
	var vols []float64
	for _, typ := range []string{workload.TypeString, workload.TypeHash, workload.TypeZSet, typeCounter} {
		if !types[typ] {
			continue
		}
		fit, vol, err := calibrateType(ctx, client, prefix+typ[:1]+":", typ, klen, vlen)
		if err != nil {
			return nil, err
		}
		c.Types[typ] = fit
		vols = append(vols, vol)
	}
	for _, v := range vols {
		c.Volatile += v / float64(len(vols))
	}
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

func sampleDigest(klen, vlen []int, types map[string]bool) uint64 {
	h := uint64(14695981039346656037)
	mix := func(x uint64) { h = (h ^ x) * 1099511628211 }
	for i := range klen {
		mix(uint64(klen[i]))
		mix(uint64(vlen[i]))
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
func perClient(ctx context.Context, c *redis.Client, vlen int, sleep func(time.Duration)) (active, idle float64, err error) {
	const n = 8
	key := fmt.Sprintf("cacheproof:size:client:%d", time.Now().UnixNano())
	if err := c.Set(ctx, key, strings.Repeat("v", vlen), time.Minute).Err(); err != nil {
		return 0, 0, &EnvError{Op: "SET", Err: err}
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
		return 0, 0, err
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
	for range n {
		conns = append(conns, extra.Conn())
	}
	if err := round(); err != nil {
		return 0, 0, err
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
			return 0, 0, err
		}
		idle = v
		if waited >= 3*time.Second && v >= prev {
			break
		}
		prev = v
	}
	for range 5 {
		if err := round(); err != nil {
			return 0, 0, err
		}
		sleep(200 * time.Millisecond)
	}
	if err := round(); err != nil {
		return 0, 0, err
	}
	if active, err = per(); err != nil {
		return 0, 0, err
	}
	return active, idle, nil
}

// calibrateType writes the sample as keys of data type typ, fits MEMORY
// USAGE against length, measures the used_memory delta (keys without a
// TTL, then with one), and deletes the keys.
func calibrateType(ctx context.Context, c *redis.Client, prefix, typ string, klen, vlen []int) (Fit, float64, error) {
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
	before, err := usedMemory(ctx, c)
	if err != nil {
		return Fit{}, 0, err
	}
	pipeDo := func(each func(p redis.Pipeliner, i int)) error {
		for i := 0; i < len(keys); i += 256 {
			p := c.Pipeline()
			for j := i; j < min(i+256, len(keys)); j++ {
				each(p, j)
			}
			if _, err := p.Exec(ctx); err != nil {
				return &EnvError{Op: "write the calibration sample", Err: err}
			}
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
	filled, err := usedMemory(ctx, c)
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
	withTTL, err := usedMemory(ctx, c)
	if err != nil {
		return Fit{}, 0, err
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
	a += (float64(filled-before) - sy) / n
	return Fit{A: a, B: b, Keys: len(keys), MeanAbsErr: mae / n}, math.Max(float64(withTTL-filled)/n, 0), nil
}
