package sizing

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/scenarios"
	"github.com/cacheproof/cacheproof/topology"
)

// TestTypedPricesMatchRedis checks the hash and sorted-set prices against
// a real redis-server: keys written as the run writes them (one HSET and
// EXPIRE per field; a sorted set's fill, then single-member ZADDs) with
// field counts and value sizes the calibration did not use, the model's
// price summed over them against used_memory's growth, and per key
// against MEMORY USAGE (which leaves out allocator rounding of the dict
// entries, so it reads a few percent under used_memory).
func TestTypedPricesMatchRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	ctx := context.Background()
	tr, _ := loadTrace(t, "testdata/corpus/hash-zset.yaml", TraceOptions{Rate: 0.2})
	cal, err := Calibrate(ctx, tr, CalibrateOptions{Policy: "allkeys-lru"})
	if err != nil {
		t.Fatal(err)
	}
	costs, err := cal.Costs(tr.Families)
	if err != nil {
		t.Fatal(err)
	}
	dep, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone,
		Dir: t.TempDir(), MaxMemory: 1 << 30, MaxMemoryPolicy: "allkeys-lru"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dep.Close(context.Background()) }()
	c := redis.NewClient(&redis.Options{Addr: dep.Endpoints().Addrs[0], PoolSize: 1})
	defer c.Close()

	rng := rand.New(rand.NewPCG(3, 4))
	for fi, f := range tr.Families {
		tc := costs.Typed[fi]
		if tc == nil {
			continue
		}
		if err := c.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		before, err := usedMemoryOwn(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		var model, usage float64
		var htOff []float64
		keys := 150
		if tc.Zset {
			keys = 1000
		}
		for i := range keys {
			key := f.Name + ":check:" + strconv.Itoa(i)
			ki := KeyInfo{Fam: int16(fi), KeyLen: int32(len(key)), Weight: 1}
			st := &sim{t: &Trace{Keys: []KeyInfo{ki}}, fbits: make([][]uint64, 1), nf: make([]int32, 1), fbytes: make([]int64, 1), falloc: make([]int64, 1), lpb: make([]int64, 1), nalloc: make([]int64, 1), ht: make([]htDict, 1), cost: make([]float64, 1), large: make([]bool, 1)}
			p := c.Pipeline()
			if tc.Zset {
				fill := make([]redis.Z, tc.Fill)
				for j := range fill {
					fill[j] = redis.Z{Score: float64(tc.Fill - j), Member: "m" + strconv.Itoa(j)}
					st.addField(0, tc, int32(j), 0)
				}
				p.ZAdd(ctx, key, fill...)
				for range rng.IntN(5) {
					m := int32(rng.IntN(max(f.Members, 1)))
					p.ZAdd(ctx, key, redis.Z{Score: 1e6, Member: "m" + strconv.Itoa(int(m))})
					st.addField(0, tc, m, 0)
				}
			} else {
				size := 30 + rng.IntN(600)
				for range 1 + rng.IntN(f.Fields) {
					fld := int32(rng.IntN(f.Fields))
					p.HSet(ctx, key, "f"+strconv.Itoa(int(fld)), strings.Repeat("v", size))
					st.addField(0, tc, fld, int32(size))
				}
			}
			p.Expire(ctx, key, time.Hour)
			mu := p.MemoryUsage(ctx, key, 0)
			enc := p.ObjectEncoding(ctx, key)
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			model += st.typedPrice(0, tc) + cal.Volatile
			usage += float64(mu.Val())
			if enc.Val() == "hashtable" {
				// MEMORY USAGE counts a dict entry at its 24 bytes (the
				// allocation is 32) and leaves out what the measured
				// constant holds beside the hash's own allocations: key
				// by key, the rest is what the model prices.
				htOff = append(htOff, st.typedPrice(0, tc)-float64(mu.Val())-8*float64(st.nf[0]))
			}
		}
		if len(htOff) > 0 {
			slices.Sort(htOff)
			med := htOff[len(htOff)/2]
			off := 0
			for _, d := range htOff {
				if math.Abs(d-med) > 16 {
					off++
				}
			}
			t.Logf("%s: %d hashtable hashes, model less MEMORY USAGE (and 8 B a field) %.0f B (min %.0f, max %.0f), %d over 16 B from it", f.Name, len(htOff), med, htOff[0], htOff[len(htOff)-1], off)
			if off > len(htOff)/10 {
				t.Errorf("%s: the model's price of %d of %d hashtable hashes is not MEMORY USAGE's plus a constant (%.0f B) within 16 B", f.Name, off, len(htOff), med)
			}
		}
		// Redis finishes growing its dicts (the cron's active rehash)
		// before the delta is read, as the calibration waits.
		time.Sleep(300 * time.Millisecond)
		after, err := usedMemoryOwn(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		used := after - before
		// The dicts' buckets, which the simulator counts by the keys held.
		model += 16 * dictTable(float64(keys))
		t.Logf("%s (%d keys): model %.0f B/key, used_memory %.0f B/key (%+.1f%%), MEMORY USAGE %.0f B/key",
			f.Name, keys, model/float64(keys), used/float64(keys), 100*(model/used-1), usage/float64(keys))
		// A listpack (the sorted sets here) is priced by its bytes as
		// Redis encodes them, in jemalloc's class (a line fitted on member
		// counts read 6 %, 33 B a key, under: the allocation steps through
		// the classes); a hashtable by its allocations, its dict's old
		// table kept while the commands on the hash rehash it (a line per
		// field read 2.4 % under; now 1.8 %).
		const bound = 0.05
		if math.Abs(model/used-1) > bound {
			t.Errorf("%s: the model prices %d keys at %.0f B, Redis's used_memory grew %.0f B (%+.1f%%; bound %.0f%%)", f.Name, keys, model, used, 100*(model/used-1), 100*bound)
		}
		// MEMORY USAGE leaves out the expires entry, the dicts' buckets
		// and the dict entry's rounding (about 56 B a key here).
		if usage > used*1.02 || usage < used*0.8 {
			t.Errorf("%s: MEMORY USAGE sums %.0f B against used_memory's %.0f B: the measure itself is off", f.Name, usage, used)
		}
	}
}

// TestExternalServerSettings: sizing a scenario whose Redis is external
// reads that server's CONFIG (maxmemory, policy, LFU tuning) instead of
// the scenario's, says so in its notes, and writes no key there (the keys
// are priced on a scratch server started with those settings).
func TestExternalServerSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	ctx := context.Background()
	dep, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone,
		Dir: t.TempDir(), MaxMemory: 8 << 20, MaxMemoryPolicy: "allkeys-lfu", ExtraConfig: map[string]string{"lfu-log-factor": "5", "hz": "20"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dep.Close(context.Background()) }()
	addr := dep.Endpoints().Addrs[0]
	s, err := scenarios.Load("testdata/corpus/lru-skewed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Prepare(ctx, s, Options{Trace: TraceOptions{Rate: 0.2}, Cal: CalibrateOptions{SettingsURL: "redis://" + addr, Keys: 300}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Policy != "allkeys-lfu" || st.MaxMemory != 8<<20 || st.LFU.LogFactor != 5 || st.Hz != 20 {
		t.Errorf("settings: policy %q, maxmemory %d, lfu-log-factor %d, hz %d; want the server's allkeys-lfu, 8 MiB, 5, 20", st.Policy, st.MaxMemory, st.LFU.LogFactor, st.Hz)
	}
	if !st.Cal.External || len(st.Notes) != 2 {
		t.Errorf("external %v, notes %q: want the two settings that differ from the scenario's (maxmemory, policy) noted", st.Cal.External, st.Notes)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
	defer c.Close()
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("the external server holds %d keys (%v) after sizing: want none written", n, err)
	}
	// A target whose CONFIG cannot be read (refused, or unreachable as
	// here) leaves the scenario's settings, and says so.
	st, err = Prepare(ctx, s, Options{Trace: TraceOptions{Rate: 0.2}, Cal: CalibrateOptions{SettingsURL: "redis://127.0.0.1:1", Keys: 300}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Cal.External || st.Policy != s.Target.Redis.MaxMemoryPolicy || !strings.Contains(st.Cal.Source, "could not be read") {
		t.Errorf("unreadable target: external %v, policy %q, source %q: want the scenario's settings, said so", st.Cal.External, st.Policy, st.Cal.Source)
	}
}

// TestLatencyHistogramsAreBase checks the price of Redis 7's per-command
// latency histograms against a real redis-server: after CONFIG RESETSTAT
// (which frees them, as the run's reset does), the first call of each of
// the commands a run of the hash and sorted-set cache sends grows
// used_memory by one histogram each, and with latency-tracking off the
// calibration prices none.
func TestLatencyHistogramsAreBase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	ctx := context.Background()
	dep, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone,
		Dir: t.TempDir(), MaxMemory: 1 << 30, MaxMemoryPolicy: "allkeys-lru"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dep.Close(context.Background()) }()
	c := redis.NewClient(&redis.Options{Addr: dep.Endpoints().Addrs[0], PoolSize: 1})
	defer c.Close()
	if v, err := c.ConfigGet(ctx, "latency-tracking").Result(); err != nil || v["latency-tracking"] == "" {
		t.Skipf("this redis-server has no latency-tracking (%v): no histograms to price", err)
	}
	h, err := latencyHistogram(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if h <= 0 {
		t.Fatalf("latency histogram priced %.0f B with latency-tracking on: want a measured size", h)
	}
	tr, _ := loadTrace(t, "testdata/corpus/hash-zset.yaml", TraceOptions{Rate: 0.2})
	cmds := Commands(tr, true)
	for _, want := range []string{"get", "set", "hget", "hset", "pexpire", "zrange", "zadd", "info", "ping"} {
		if !slices.Contains(cmds, want) {
			t.Errorf("Commands = %v: want %s (the corpus's runs send it)", cmds, want)
		}
	}
	if err := c.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var before float64
	for range 2 { // the second reading, once INFO and CLIENT INFO have theirs again
		if before, err = usedMemoryOwn(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// The data commands on a key that does not exist: they allocate
	// nothing but their histogram.
	fresh := 0
	for _, cmd := range [][]any{{"GET", "nokey"}, {"HGET", "nokey", "f1"}, {"ZRANGE", "nokey", 0, 10}, {"PEXPIRE", "nokey", 1000}, {"PING"}} {
		if err := c.Do(ctx, cmd...).Err(); err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		fresh++
	}
	after, err := usedMemoryOwn(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := after-before, float64(fresh)*h; math.Abs(got-want) > 0.02*want {
		t.Errorf("%d first calls after CONFIG RESETSTAT grew used_memory by %.0f B: want %d histograms of %.0f B (%.0f)", fresh, got, fresh, h, want)
	}
	if err := c.ConfigSet(ctx, "latency-tracking", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if h, err := latencyHistogram(ctx, c); err != nil || h != 0 {
		t.Errorf("latency-tracking off: histogram priced %.0f B (%v), want 0", h, err)
	}
}
