package sizing

import (
	"context"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/runplan"
	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/workload"
)

// Options configure a sizing.
type Options struct {
	// Target is the hit rate to size for (a fraction); 0 takes the
	// scenario's hit_rate target, else 0.95.
	Target float64
	// Policies to compute (default Policies).
	Policies []string
	// Points is the number of maxmemory sizes of each curve (default 24);
	// At adds sizes (bytes) that are always simulated.
	Points int
	At     []int64
	// WhatIfs are TTL changes to evaluate, by tier ("api" → 600s) or by
	// the name of a family with its own ttl: ("driver_location" → 60s).
	// nil doubles every expiring tier's TTL and every family's own; an
	// empty non-nil map asks for none.
	WhatIfs map[string]time.Duration
	Trace   TraceOptions
	Cal     CalibrateOptions
	// Calibration skips the measurement when set (tests, run --predict
	// reusing one).
	Calibration *Calibration
	// Connections, when positive, is the number of connections Redis
	// holds during the run as measured (INFO connected_clients, e.g. from
	// a run's report) instead of Clients' every pool at max_conns: as
	// many as Clients has in use are priced in use (all of them when
	// fewer), the rest idle.
	Connections int
	// ClientsMemory, when positive with Connections, is the clients'
	// memory a run measured (the mean of its timeline's clients_memory,
	// INFO mem_clients_normal, over the recorded phases): Redis's base is
	// priced with it (Calibration.ClientsBase) instead of the modelled
	// connections, whatever load the run's host was under.
	ClientsMemory float64
	// Workers bounds parallel simulations (default GOMAXPROCS).
	Workers int
	// Repeats is how many simulations each curve point is the mean of
	// (default Repeats), each with its own sampling seed and its own
	// place of the run's start within Redis's clock second and LFU minute
	// (the run starts whenever it starts: Redis's clocks tick on the wall
	// clock's seconds and minutes).
	Repeats int
	// PrefillSpan, when positive, is how long the run's prefill takes to
	// write its keys (as a run measured it) instead of the calibration's
	// pipelined write time per command times the prefill's commands.
	PrefillSpan time.Duration
	Logf        func(format string, args ...any)
}

func (o *Options) logf(format string, a ...any) {
	if o.Logf != nil {
		o.Logf(format, a...)
	}
}

// Setup is a scenario made ready to simulate: its plan, stream, prices and
// the scenario's Redis settings.
type Setup struct {
	Scenario *scenarios.Scenario
	Plan     *runplan.Plan
	Trace    *Trace
	Cal      *Calibration
	Costs    *Costs
	Base     float64
	Clients  Conns
	// Commands is what the run sends Redis after its reset (Commands):
	// Base holds a latency histogram for each.
	Commands []string
	TTL      []time.Duration
	Samples  int
	// LFU and Hz are the scenario's lfu-log-factor, lfu-decay-time and hz
	// (target.redis.config; Redis's defaults when unset).
	LFU LFUConfig
	Hz  int
	// Repeats and PrefillSpan are Options'; PrefillPerWrite the
	// calibration's pipelined write time per command.
	Repeats         int
	PrefillSpan     time.Duration
	PrefillPerWrite time.Duration
	// MaxMemory and Policy are what the run meets: the scenario's, or an
	// external calibration server's own (Notes say which differ).
	MaxMemory int64
	Policy    string
	Notes     []string
}

// Repeats is the simulations a curve point is the mean of by default.
const Repeats = 4

// Prepare builds the stream and measures (or takes) the calibration.
func Prepare(ctx context.Context, s *scenarios.Scenario, o Options) (*Setup, error) {
	plan, err := runplan.Of(s)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	to := o.Trace
	to.NearFamilies, to.NearTTL = plan.Pool.NearCache, plan.Pool.NearCacheTTL
	tr, err := BuildTrace(plan.Workload, plan.Run, plan.Phases, plan.History, to)
	if err != nil {
		return nil, err
	}
	// The manager writes every key under its prefix: Redis holds the
	// longer name.
	if p := int32(len(plan.Pool.KeyPrefix)); p > 0 {
		for i := range tr.Keys {
			tr.Keys[i].KeyLen += p
		}
	}
	o.logf("stream: %d commands, %d ops; sampled at %.3g: %d accesses of %d keys (%.1fs)", tr.Commands, tr.Ops, tr.Rate, tr.Events(), len(tr.Keys), time.Since(began).Seconds())
	cal := o.Calibration
	if cal == nil {
		co := o.Cal
		if co.Policy == "" {
			co.Policy = s.Target.Redis.MaxMemoryPolicy
		}
		if co.Config == nil {
			co.Config = s.Target.Redis.Config
		}
		if cal, err = Calibrate(ctx, tr, co); err != nil {
			return nil, err
		}
		o.logf("calibration: %s, redis %s (%.1fs)", cal.Source, cal.RedisVersion, cal.TookS)
	}
	costs, err := cal.Costs(tr.Families)
	if err != nil {
		return nil, err
	}
	st := &Setup{Scenario: s, Plan: plan, Trace: tr, Cal: cal, Costs: costs,
		Clients: Clients(plan, tr, cal.RoundTripS), TTL: make([]time.Duration, len(tr.Families)), Samples: 5}
	if o.Connections > 0 {
		// A run's count of connections: the model's in use (at most all
		// of them), the rest idle.
		total := float64(o.Connections)
		active := min(st.Clients.Active, total)
		st.Clients = Conns{Active: active, Idle: total - active}
	}
	st.Commands = Commands(tr, plan.Pool.InvalidationChannel != "")
	st.Base = cal.Base(st.Clients, len(st.Commands))
	if o.ClientsMemory > 0 && o.Connections > 0 && cal.PerConnOutside > 0 {
		st.Base = cal.ClientsBase(o.ClientsMemory, float64(o.Connections), len(st.Commands))
		st.Notes = append(st.Notes, fmt.Sprintf("Redis's base from the run's own clients' memory (mean mem_clients_normal %.0f KB over %d connections)", o.ClientsMemory/1024, o.Connections))
	}
	st.Repeats, st.PrefillSpan = o.Repeats, o.PrefillSpan
	if st.Repeats <= 0 {
		st.Repeats = Repeats
	}
	st.PrefillPerWrite = time.Duration(cal.PipelinedWriteS * float64(time.Second))
	for i, f := range tr.Families {
		st.TTL[i] = plan.TTL[f.Name]
		if st.TTL[i] == 0 && f.RateLimit > 0 {
			// A rate-limit counter expires with its window (the Lua
			// script's PEXPIRE), not by the manager's TTLs.
			st.TTL[i] = f.TTL
		}
	}
	st.LFU = LFUConfig{LogFactor: lfuLogFactor, DecayTime: lfuDecayTime}
	st.Hz = defaultHz
	st.MaxMemory, st.Policy = int64(s.Target.Redis.MaxMemory), s.Target.Redis.MaxMemoryPolicy
	if cal.External {
		// The run does not CONFIG SET a server it did not start: its own
		// maxmemory and policy are what the run meets.
		if n, err := strconv.ParseInt(cal.Config["maxmemory"], 10, 64); err == nil && n > 0 && n != st.MaxMemory {
			st.Notes = append(st.Notes, fmt.Sprintf("maxmemory %s from the server's CONFIG (the scenario says %s)", units.Size(n), s.Target.Redis.MaxMemory))
			st.MaxMemory = n
		}
		if p := cal.Config["maxmemory-policy"]; p != "" && p != st.Policy {
			st.Notes = append(st.Notes, fmt.Sprintf("maxmemory-policy %s from the server's CONFIG (the scenario says %q)", p, st.Policy))
			st.Policy = p
		}
	}
	for _, c := range []struct {
		name string
		min  int
		to   *int
	}{{"maxmemory-samples", 1, &st.Samples}, {"lfu-log-factor", 0, &st.LFU.LogFactor},
		{"lfu-decay-time", 0, &st.LFU.DecayTime}, {"hz", 1, &st.Hz}} {
		// The scenario's setting, else the calibration server's; an
		// external server's own first (the run meets it as it is).
		v, ok := s.Target.Redis.Config[c.name]
		if sv, found := cal.Config[c.name]; found && (cal.External || !ok) {
			if ok && sv != v {
				st.Notes = append(st.Notes, fmt.Sprintf("%s %s from the server's CONFIG (the scenario says %s)", c.name, sv, v))
			}
			v, ok = sv, true
		}
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < c.min {
			return nil, fmt.Errorf("sizing: target.redis.config %s %q: not an integer of at least %d", c.name, v, c.min)
		}
		*c.to = n
	}
	return st, nil
}

// clientWindow is how long a connection keeps its buffers in Redis after
// its last command: the client cron (clientsCronResizeQueryBuffer, Redis
// 7.0) frees an empty query buffer once server.unixtime less the
// client's lastinteraction exceeds 2, in whole seconds, so 2 to 3 s after
// the command, and it reaches each of a few dozen clients several times a
// second (at least CLIENTS_CRON_MIN_ITERATIONS clients a call, hz calls a
// second). During runs `CLIENT LIST` shows the split: a connection that
// served within it at 22-29 KB (tot-mem), one idle longer at 1.8 KB.
const clientWindow = 3 * time.Second

// Clients is the connections a run keeps open to Redis, each of which
// holds a client struct and buffers in used_memory, and how many of them
// hold their buffers (Conns.Active, priced at PerClient) rather than the
// cron's shrunk ones (Conns.Idle, at PerIdleClient).
//
// Every instance's pool may open max_conns connections (a stall of a few
// milliseconds puts them to work), and keeps them; all of them are
// counted, an upper bound (a quiet run of the corpus's volatile-lfu cache
// held 7 of 12). go-redis hands out the connection returned last (LIFO),
// so only as many serve requests in clientWindow as were busy at once at
// the window's peak: poolInUse, from the phases' request rate per
// instance (every read counted with its fill, the most there can be) and
// hold, the calibration's round trip. Besides them the sampler's
// connection (INFO every second) is in use, and each instance's pub/sub
// subscriber is too (go-redis pings it every 3 s when no message came)
// while its manager connection idles. On the corpus's volatile-lfu cache
// (one instance, 300 users, max_conns 12) this is 3.1 pool connections in
// use where CLIENT LIST showed 3 with 22-29 KB; the model before this
// priced all 12 in use, 230 KB (3 % of an 8 MB cache) more than Redis held.
func Clients(plan *runplan.Plan, tr *Trace, hold float64) Conns {
	inst := float64(max(plan.Workload.Instances, 1))
	maxc := float64(max(plan.Pool.MaxConnections, 1))
	busy := maxc
	if span := (tr.End - tr.History).Seconds(); span > 0 && hold > 0 {
		rate := float64(tr.RoundTrips+tr.PhaseReads) / span / inst
		busy = min(poolInUse(rate, hold, clientWindow.Seconds()), maxc)
	}
	n := Conns{Active: inst*busy + 1, Idle: inst * (maxc - busy + 1)}
	if plan.Pool.InvalidationChannel != "" {
		n.Active += inst
	}
	return n
}

// poolInUse is the expected number of a LIFO pool's connections that serve
// at least one request in a window of the given seconds, at rate requests
// a second each holding a connection hold seconds. Requests arrive as a
// Poisson stream (the run's many users, each of whom sends on its own
// clock), so the connections busy at once are Poisson with mean m = rate
// * hold (an M/G/infinity queue), and a request that finds j busy (which
// an arrival sees with the same odds) takes the (j+1)-th from the stack.
// The (j+1)-th connection serves in the window if any of its n = rate *
// window requests finds j or more busy: 1 - exp(-n * P(busy >= j)).
func poolInUse(rate, hold, window float64) float64 {
	m, n := rate*hold, rate*window
	if n <= 0 {
		return 0
	}
	// pmf of Poisson(m) up to where it no longer counts, then its tails.
	pmf := []float64{math.Exp(-m)}
	for j := 1; j < 10_000 && (float64(j) < m || pmf[j-1] > 1e-18); j++ {
		pmf = append(pmf, pmf[j-1]*m/float64(j))
	}
	used, tail := 0.0, 0.0
	tails := make([]float64, len(pmf))
	for j := len(pmf) - 1; j >= 0; j-- {
		tail += pmf[j]
		tails[j] = tail
	}
	for j := range pmf {
		// P(busy >= j) for j = 0 is 1: the first connection serves if any
		// request came.
		p := tails[j]
		if j == 0 {
			p = 1
		}
		used += -math.Expm1(-n * p)
	}
	return used
}

// controlCommands are what a run sends Redis after its CONFIG RESETSTAT
// besides the workload's: the sampler's INFO, the pools' PING, HELLO and
// CLIENT SETNAME on the connections they open once the load begins, and
// the reset itself (its histogram is allocated as it returns). INFO
// commandstats after corpus runs: these five and the data commands.
var controlCommands = []string{"info", "ping", "hello", "client|setname", "config|resetstat"}

// Commands is the Redis commands (commandstats' names) a run of the trace
// sends after its reset, the load's start: each holds a latency histogram
// in used_memory (Calibration.LatencyHistogram). The data commands follow
// from what the load's operations do to each family, as the pool issues
// them: a read is GET, HGET or ZRANGE, and a miss's fill a write; a write
// is SET, HSET or ZADD (a hash's and a sorted set's with a PEXPIRE), a
// rate-limit counter's the script's EVALSHA with its INCR, PTTL and
// PEXPIRE; a session read that extends the TTL the script's EVALSHA, GET
// and PEXPIRE; a refresh EXPIRE; a deletion DEL; a read of several keys
// at once MGET; an invalidation DEL and, when the pool has an
// invalidation channel (publishes), PUBLISH. (The corpus's runs sent
// exactly these: GET and SET for string caches; with HGET, HSET, PEXPIRE,
// ZRANGE and ZADD for the hash and sorted-set one; the small validation
// scenario's DEL, EVALSHA, GET, INCR, MGET, PEXPIRE, PTTL, PUBLISH and SET.)
func Commands(t *Trace, publishes bool) []string {
	set := map[string]bool{}
	for _, c := range controlCommands {
		set[c] = true
	}
	if t.MultiReads {
		set["mget"] = true
	}
	if t.Invalidations {
		set["del"] = true
		if publishes {
			set["publish"] = true
		}
	}
	write := func(typ string) []string {
		switch typ {
		case workload.TypeHash:
			return []string{"hset", "pexpire"}
		case workload.TypeZSet:
			return []string{"zadd", "pexpire"}
		case typeCounter:
			return []string{"evalsha", "incr", "pttl", "pexpire"}
		}
		return []string{"set"}
	}
	read := map[string]string{workload.TypeHash: "hget", workload.TypeZSet: "zrange"}
	for i := range t.events {
		e := &t.events[i]
		if e.phase < 0 {
			continue
		}
		typ := priceType(t.Families[t.Keys[e.key].Fam])
		var cmds []string
		switch e.kind & evKind {
		case evRead:
			r := read[typ]
			if r == "" {
				r = "get"
			}
			cmds = append(write(typ), r)
			if e.kind&evAlsoRefresh != 0 {
				cmds = append(cmds, "evalsha", "pexpire")
			}
		case evWrite:
			cmds = write(typ)
		case evRefresh:
			cmds = []string{"expire"}
		case evDelete:
			cmds = []string{"del"}
		}
		for _, c := range cmds {
			set[c] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// job is one simulation of the grid.
type job struct {
	policy string
	mem    int64 // maxmemory bytes; 0 = unbounded
	ttl    []time.Duration
	res    *SimResult
}

// run simulates jobs in parallel.
func (st *Setup) run(ctx context.Context, jobs []*job, workers int) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ch := make(chan *job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				capacity := math.Inf(1)
				if j.mem > 0 {
					capacity = float64(j.mem) - st.Base
					if capacity <= 0 {
						capacity = 1 // below the base: nothing fits
					}
				}
				ttl := j.ttl
				if ttl == nil {
					ttl = st.TTL
				}
				r, err := st.simulate(j.policy, capacity, ttl, uint64(j.mem), j.mem > 0)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				j.res = r
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// simulate is one curve point: the mean of st.Repeats simulations (one
// when unbounded, where neither the seed nor the clock matters), the i-th
// with its own seed and the run's start i/Repeats of the way into Redis's
// clock second and into its LFU minute.
func (st *Setup) simulate(policy string, capacity float64, ttl []time.Duration, seed uint64, bounded bool) (*SimResult, error) {
	n := 1
	if bounded {
		n = max(st.Repeats, 1)
	}
	rs := make([]*SimResult, 0, n)
	one := func(i int) error {
		lfu := st.LFU
		r, err := Simulate(st.Trace, SimConfig{Policy: policy, Capacity: capacity, Samples: st.Samples,
			Costs: st.Costs, TTL: ttl, Seed: seed ^ 0x5eed ^ uint64(i)<<40, LFU: &lfu, Hz: st.Hz,
			ClockPhase: repeatPhase(i, n), PrefillSpan: st.PrefillSpan, PrefillPerWrite: st.PrefillPerWrite})
		if err != nil {
			return err
		}
		rs = append(rs, r)
		return nil
	}
	for i := range n {
		if err := one(i); err != nil {
			return nil, err
		}
	}
	// A cache of few large keys (the corpus's 300 hashes of up to 200
	// fields) moves by points from one simulation to the next: which
	// hashes a few evictions hit decides dozens of field misses. Its
	// point takes more simulations, n at a time, until the mean's
	// standard error is small.
	for bounded && len(rs) < MaxRepeats && noisy(rs) {
		for range n {
			if err := one(len(rs)); err != nil {
				return nil, err
			}
		}
	}
	return meanResult(rs), nil
}

// MaxRepeats bounds the simulations of one curve point (see noisy).
const MaxRepeats = 16

// repeatPhase is the i-th simulation's start within Redis's clock second
// and LFU minute: the first n spread evenly (0, 1/n, ...), further ones
// between them (the base-2 radical inverse of i).
func repeatPhase(i, n int) time.Duration {
	span := time.Minute + time.Second
	if i < n {
		return time.Duration(i) * span / time.Duration(n)
	}
	var f, w float64 = 0, 0.5
	for x := i; x > 0; x >>= 1 {
		if x&1 == 1 {
			f += w
		}
		w /= 2
	}
	return time.Duration(f * float64(span))
}

// noisy reports whether the mean of rs is still uncertain: a standard
// error over 0.25 points overall, or over 0.5 points for a family with at
// least a tenth of the lookups (the families the validation bounds).
func noisy(rs []*SimResult) bool {
	if len(rs) < 2 {
		return false
	}
	se := func(x func(*SimResult) float64) float64 {
		var m, v float64
		for _, r := range rs {
			m += x(r)
		}
		m /= float64(len(rs))
		for _, r := range rs {
			v += (x(r) - m) * (x(r) - m)
		}
		return math.Sqrt(v / float64(len(rs)-1) / float64(len(rs)))
	}
	if se((*SimResult).HitRate) > 0.0025 {
		return true
	}
	var total float64
	for _, l := range rs[0].Lookups {
		total += l
	}
	for f, l := range rs[0].Lookups {
		if l < 0.1*total {
			continue
		}
		if se(func(r *SimResult) float64 { return r.Hits[f] / max(r.Lookups[f], 1) }) > 0.005 {
			return true
		}
	}
	return false
}

// meanResult is the mean of simulations of one trace.
func meanResult(rs []*SimResult) *SimResult {
	if len(rs) == 1 {
		return rs[0]
	}
	n := float64(len(rs))
	m := &SimResult{}
	add := func(to *[]float64, from []float64) {
		if *to == nil {
			*to = make([]float64, len(from))
		}
		for i, v := range from {
			(*to)[i] += v / n
		}
	}
	for _, r := range rs {
		add(&m.Hits, r.Hits)
		add(&m.Lookups, r.Lookups)
		add(&m.EvictedBy, r.EvictedBy)
		add(&m.KeysBy, r.KeysBy)
		add(&m.BytesBy, r.BytesBy)
		m.Evicted += r.Evicted / n
		m.Expired += r.Expired / n
		m.OOM += r.OOM / n
		m.Keys += r.Keys / n
		m.VolatileKeys += r.VolatileKeys / n
		m.Peak += r.Peak / n
		m.End += r.End / n
		m.StaleAvg += r.StaleAvg / n
		m.PrefillWrites += r.PrefillWrites / n
		m.PrefillSpan += r.PrefillSpan / time.Duration(len(rs))
	}
	return m
}

// point turns a simulation into a curve point.
// curveFigures reads one policy's computed curve (under ttl, nil: the
// scenario's): its hit rate at the scenario's maxmemory (0 when the curve
// has no point there) and the least maxmemory that reaches out's target,
// whose search runs k more simulations.
func (st *Setup) curveFigures(ctx context.Context, pol string, ttl []time.Duration, c []result.SizingPoint, out *result.Sizing, workers int) (at float64, needed *int64, k int, err error) {
	for _, p := range c {
		if p.MaxMemoryBytes == out.MaxMemoryBytes {
			at = p.HitRate
		}
	}
	needed, k, err = st.needed(ctx, pol, ttl, c, out.TargetHitRate, workers)
	return at, needed, k, err
}

func (st *Setup) point(j *job) result.SizingPoint {
	r := j.res
	p := result.SizingPoint{MaxMemoryBytes: j.mem, HitRate: r.HitRate(), Tiers: map[string]float64{}, Families: map[string]float64{},
		Evicted: r.Evicted, Expired: r.Expired, OOM: r.OOM}
	th, tl := map[string]float64{}, map[string]float64{}
	for i, f := range st.Trace.Families {
		if r.Lookups[i] == 0 {
			continue
		}
		p.Families[f.Name] = r.Hits[i] / r.Lookups[i]
		// The tier the run counts the family under (a family with its
		// own ttl: has none of its own).
		tier := f.Tier
		if t := st.Plan.CountedTier[f.Name]; t != "" {
			tier = t
		}
		th[tier] += r.Hits[i]
		tl[tier] += r.Lookups[i]
	}
	for t, l := range tl {
		p.Tiers[t] = th[t] / l
	}
	return p
}

// grid is n sizes from lo to hi, geometric, plus the extra ones, rounded
// to 64 KiB.
func grid(lo, hi float64, n int, extra []int64) []int64 {
	var out []int64
	for i := range n {
		x := lo * math.Pow(hi/lo, float64(i)/float64(max(n-1, 1)))
		out = append(out, int64(math.Round(x/65536))*65536)
	}
	out = append(out, extra...)
	slices.Sort(out)
	return slices.Compact(out)
}

// needed finds the smallest maxmemory (to 1 % or 256 KiB) whose hit rate
// meets target, bisecting between the grid points around the crossing.
func (st *Setup) needed(ctx context.Context, policy string, ttl []time.Duration, curve []result.SizingPoint, target float64, workers int) (*int64, int, error) {
	idx := -1
	for i, p := range curve {
		if p.MaxMemoryBytes > 0 && p.HitRate >= target {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, 0, nil
	}
	hi := curve[idx].MaxMemoryBytes
	lo := int64(st.Base)
	if idx > 0 {
		lo = curve[idx-1].MaxMemoryBytes
	}
	sims := 0
	// Bisect with `workers` probes per round (a parallel k-section).
	for hi-lo > max(hi/100, 256<<10) {
		k := max(workers, 1)
		jobs := make([]*job, k)
		for i := range jobs {
			jobs[i] = &job{policy: policy, ttl: ttl, mem: lo + (hi-lo)*int64(i+1)/int64(k+1)}
		}
		if err := st.run(ctx, jobs, workers); err != nil {
			return nil, sims, err
		}
		sims += k
		newLo, newHi := lo, hi
		for _, j := range jobs {
			if j.res.HitRate() >= target {
				newHi = j.mem
				break
			}
			newLo = j.mem
		}
		lo, hi = newLo, newHi
	}
	h := (hi + 65535) / 65536 * 65536
	return &h, sims, nil
}

// Compute sizes the scenario: the curve per policy, the answer for the
// target, the sampled-vs-exact LRU gap and the TTL what-ifs.
func Compute(ctx context.Context, s *scenarios.Scenario, o Options) (*result.Sizing, *Setup, error) {
	began := time.Now()
	st, err := Prepare(ctx, s, o)
	if err != nil {
		return nil, nil, err
	}
	out := &result.Sizing{
		SchemaVersion: result.SchemaVersion, Kind: result.KindSizing,
		Scenario:       result.ScenarioInfo{Name: s.Name, Description: s.Description, File: s.File, Seed: s.Seed},
		StartedAt:      began.UTC(),
		MaxMemoryBytes: st.MaxMemory,
		Policy:         st.Policy,
		TargetHitRate:  o.Target,
	}
	if out.TargetHitRate == 0 {
		out.TargetHitRate = ScenarioTarget(s)
	}
	tr := st.Trace
	out.Method = result.SizingMethod{SampleRate: tr.Rate, Commands: tr.Commands, Ops: tr.Ops, Events: tr.Events(), Keys: len(tr.Keys),
		HistoryS: tr.History.Seconds(), MaxMemorySamples: st.Samples,
		Expiry: "lazy on access, and Redis 7's active expire cycle: 10 times a second, 20 volatile keys at a time from a sweeping cursor, repeated while more than 10% of them were expired"}
	for i, p := range st.Plan.Phases {
		if tr.Recorded[i] {
			out.Method.RecordedS += p.Duration.Seconds()
		}
	}
	cal := st.Cal
	out.Calibration = result.SizingCalibration{RedisVersion: cal.RedisVersion, Source: cal.Source, Types: map[string]result.SizingFit{},
		VolatileBytes: cal.Volatile, BaseBytes: st.Base, PoolConns: st.Clients.Total(), ConnsInUse: st.Clients.Active, RoundTripS: cal.RoundTripS,
		LatencyHistogramBytes: cal.LatencyHistogram, Commands: st.Commands,
		PerClientBytes: cal.PerClient, PerIdleClientBytes: cal.PerIdleClient}
	for t, f := range cal.Types {
		out.Calibration.Types[t] = result.SizingFit{A: f.A, B: f.B, Keys: f.Keys, MeanAbsErr: f.MeanAbsErr, Alloc: f.Alloc}
	}
	for t, f := range cal.Typed {
		if out.Calibration.Typed == nil {
			out.Calibration.Typed = map[string]result.SizingTypedFit{}
		}
		out.Calibration.Typed[t] = result.SizingTypedFit{Listpack: result.SizingLine(f.Small), Large: result.SizingLine(f.Large),
			MaxListpackEntries: f.MaxEntries, MaxListpackValue: f.MaxValue, Groups: f.Groups, MeanAbsErr: f.MeanAbsErr,
			ListpackA: f.ListpackA, HashtableA: f.HashtableA}
	}
	out.Calibration.ServerConfig = cal.Config
	// The scenario's own policy is always simulated: its answer (and the
	// exit code) is never another policy's.
	scenPolicy := out.Policy
	if scenPolicy == "" {
		scenPolicy = AllKeysLRU
		out.Policy = scenPolicy
	}
	if _, _, ok := policyOf(scenPolicy); !ok {
		return nil, st, fmt.Errorf("sizing: the scenario's maxmemory_policy %q is not one the simulator models (%v)", scenPolicy, Simulated)
	}
	policies := slices.Clone(o.Policies)
	if len(policies) == 0 {
		policies = slices.Clone(Policies)
	}
	if !slices.Contains(policies, scenPolicy) {
		policies = append([]string{scenPolicy}, policies...)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	simBegan := time.Now()
	// The unbounded cache: the working set and the ceiling.
	unb := &job{policy: ExactLRU}
	if err := st.run(ctx, []*job{unb}, 1); err != nil {
		return nil, st, err
	}
	sims := 1
	ws := unb.res.Peak + st.Base
	out.WorkingSetBytes = int64(ws)
	out.CeilingHitRate = unb.res.HitRate()
	o.logf("unbounded: working set %.1f MB, hit rate %.2f%%", ws/(1<<20), 100*out.CeilingHitRate)
	if r := unb.res; r.PrefillWrites > 0 {
		how := fmt.Sprintf("the calibration's pipelined write time, %.1f µs a command, times its commands", st.PrefillPerWrite.Seconds()*1e6)
		if st.PrefillSpan > 0 {
			how = "as given"
		}
		st.Notes = append(st.Notes, fmt.Sprintf("the prefill writes its keys with %.0f commands over %.2f s (%s): Redis's LRU clock (1 s) and LFU minute stamp each key as it arrives; each curve point is the mean of %d simulations, each with its own seed and the run's start at its own place in Redis's clock second and minute",
			r.PrefillWrites, r.PrefillSpan.Seconds(), how, max(st.Repeats, 1)))
	}
	points := o.Points
	if points <= 0 {
		points = 24
	}
	extra := append([]int64(nil), o.At...)
	if out.MaxMemoryBytes > 0 {
		extra = append(extra, out.MaxMemoryBytes)
	}
	sizes := grid(math.Max(st.Base+ws/100, ws/40), ws*1.05, points, extra)
	var jobs []*job
	for _, pol := range policies {
		for _, m := range sizes {
			jobs = append(jobs, &job{policy: pol, mem: m})
		}
	}
	if err := st.run(ctx, jobs, workers); err != nil {
		return nil, st, err
	}
	sims += len(jobs)
	curves := map[string][]result.SizingPoint{}
	for _, j := range jobs {
		curves[j.policy] = append(curves[j.policy], st.point(j))
	}
	for _, pol := range policies {
		c := curves[pol]
		sp := result.SizingPolicy{Policy: pol, Curve: c}
		var k int
		var err error
		if sp.AtMaxMemory, sp.NeededBytes, k, err = st.curveFigures(ctx, pol, nil, c, out, workers); err != nil {
			return nil, st, err
		}
		sims += k
		out.Policies = append(out.Policies, sp)
	}
	if lru, ex := curves[AllKeysLRU], curves[ExactLRU]; len(lru) == len(ex) {
		for i := range lru {
			out.SampledLRUGapPoints = math.Max(out.SampledLRUGapPoints, 100*math.Abs(lru[i].HitRate-ex[i].HitRate))
		}
	}
	if out.CeilingHitRate < out.TargetHitRate {
		out.Notes = append(out.Notes, fmt.Sprintf("no maxmemory reaches %.1f%%: even an unbounded cache gives %.2f%% (first reads and TTL expiry miss whatever the memory; see the TTL what-ifs)",
			100*out.TargetHitRate, 100*out.CeilingHitRate))
	}

	// What-ifs, with the scenario's policy (each says which it is).
	pol := scenPolicy
	whatifs := o.WhatIfs
	if whatifs == nil {
		// Each expiring tier's TTL doubled, and each family with a TTL of
		// its own (ttl:) doubled.
		whatifs = map[string]time.Duration{}
		for i, f := range tr.Families {
			if tr.Lookups[i] == 0 || f.RateLimit > 0 {
				continue
			}
			if d := st.Plan.TierTTL[f.Tier]; d > 0 && st.TTL[i] == d {
				whatifs[f.Tier] = 2 * d
			} else if f.Tier == "" && st.TTL[i] > 0 {
				whatifs[f.Name] = 2 * st.TTL[i]
			}
		}
	}
	names := slices.Sorted(maps.Keys(whatifs))
	for _, name := range names {
		to := whatifs[name]
		ttl := append([]time.Duration(nil), st.TTL...)
		changed := false
		var from time.Duration
		tier, family := name, ""
		if _, isTier := st.Plan.TierTTL[name]; isTier {
			from = st.Plan.TierTTL[name]
			for i, f := range tr.Families {
				// A family with its own TTL inside the tier keeps it, as the
				// manager's per-pattern TTLs do.
				if f.Tier == name && st.TTL[i] == from {
					ttl[i] = to
					changed = true
				}
			}
			if !changed {
				return nil, st, fmt.Errorf("sizing: what-if %s=%s: no family takes the %s tier's TTL", name, to, name)
			}
		} else {
			tier, family = "", name
			for i, f := range tr.Families {
				if f.Name == name && f.RateLimit == 0 {
					from, ttl[i], changed = st.TTL[i], to, true
				}
			}
			if !changed {
				return nil, st, fmt.Errorf("sizing: what-if %s=%s: no tier or family is named %q (tiers: %s)", name, to, name, strings.Join(slices.Sorted(maps.Keys(st.Plan.TierTTL)), ", "))
			}
		}
		w := result.SizingWhatIf{Tier: tier, Family: family, Policy: pol, FromS: from.Seconds(), ToS: to.Seconds()}
		ub := &job{policy: ExactLRU, ttl: ttl}
		if err := st.run(ctx, []*job{ub}, 1); err != nil {
			return nil, st, err
		}
		w.WorkingSetBytes = int64(ub.res.Peak + st.Base)
		w.CeilingHitRate = ub.res.HitRate()
		wsizes := grid(math.Max(st.Base+float64(w.WorkingSetBytes)/100, float64(w.WorkingSetBytes)/40), float64(w.WorkingSetBytes)*1.05, 12, extra)
		var wj []*job
		for _, m := range wsizes {
			wj = append(wj, &job{policy: pol, mem: m, ttl: ttl})
		}
		if err := st.run(ctx, wj, workers); err != nil {
			return nil, st, err
		}
		sims += 1 + len(wj)
		var c []result.SizingPoint
		for _, j := range wj {
			c = append(c, st.point(j))
		}
		var k int
		var err error
		if w.AtMaxMemory, w.NeededBytes, k, err = st.curveFigures(ctx, pol, ttl, c, out, workers); err != nil {
			return nil, st, err
		}
		sims += k
		out.WhatIfs = append(out.WhatIfs, w)
	}
	out.Method.Simulations = sims
	out.Method.SimulateS = time.Since(simBegan).Seconds()
	if tr.Rate < 1 {
		out.Notes = append(out.Notes, fmt.Sprintf("keys sampled at %.3g (SHARDS): each kept key stands for %.0f, its memory scaled alike; single-key families are kept whole", tr.Rate, 1/tr.Rate))
	}
	out.Notes = append(out.Notes, modelNotes(st)...)
	out.Notes = append(out.Notes, st.Notes...)
	out.DurationS = time.Since(began).Seconds()
	return out, st, nil
}

// modelNotes state what the model approximates.
func modelNotes(st *Setup) []string {
	notes := []string{
		"the stream is the run's own (runplan.Of: the same workload model, seed, prefill history and phases); the prefill's survivors are written oldest first at the history's end, as the run's prefill does",
		"origin fetch failures (0.2-1% of api misses) are not modelled: the run leaves those keys unfilled, so it may read slightly lower",
	}
	for i, f := range st.Trace.Families {
		if tc := st.Costs.Typed[i]; tc != nil {
			what := "hashes read and written per field (HGET, HSET): a field never written misses though its key is there"
			if tc.Zset {
				what = fmt.Sprintf("sorted sets read whole (ZRANGE), filled with %d members on a miss and rescored per member (ZADD)", tc.Fill)
			}
			notes = append(notes, fmt.Sprintf("family %s holds %s; a key is priced by the fields it holds and its encoding (listpack up to %d entries of at most %d bytes, measured on the server)", f.Name, what, tc.MaxEntries, tc.MaxValue))
		}
	}
	return notes
}

// ScenarioTarget is the scenario's hit_rate target as a fraction (its
// bound, for ">= 95%" or "> 95%"), else 0.95.
func ScenarioTarget(s *scenarios.Scenario) float64 {
	for _, t := range s.Targets {
		if t.Name != "hit_rate" {
			continue
		}
		var op string
		var v float64
		if n, _ := fmt.Sscanf(t.Expr, "%s %f%%", &op, &v); n == 2 && (op == ">=" || op == ">") && v > 0 && v <= 100 {
			return v / 100
		}
	}
	return 0.95
}
