package bots

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// BenchmarkExec is the scenario path's cost per operation, one caller at a
// time, against a real redis-server: the bot layer, the cache manager and
// go-redis as a run drives them (engine.Executor), without the dispatcher.
// Allocations per operation are the stable figure on a shared machine;
// cpu-µs/op is this process's CPU (getrusage, Redis excluded) per
// operation, and tool/redis the same over redis-server's own CPU (INFO
// cpu) in the same loop: the figure scripts/scenario-cost.sh measures over
// a whole run, here per kind of operation.
func BenchmarkExec(b *testing.B) {
	dep, cfg := standaloneRedis(b)
	ctx := context.Background()
	mgr, err := pool.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer mgr.Shutdown(ctx)
	api := &workload.Family{Name: "profile", KeyPattern: "profile:{id}", Keys: 64, Tier: string(pool.TierAPI), MeanSize: 1024, Source: workload.SourceInternal, Defined: true}
	session := &workload.Family{Name: "session", KeyPattern: "session:{id}", Keys: 64, Tier: string(pool.TierSession), MeanSize: 256, Source: workload.SourceInternal, Defined: true, Index: 1}
	limit := &workload.Family{Name: "limit", KeyPattern: "limit:{id}", Keys: 64, MeanSize: 16, Source: workload.SourceInternal, Defined: true, Index: 2, RateLimit: 1 << 30, TTL: time.Minute}
	l := New(Options{
		Cache:  mgr,
		Origin: workload.NewOrigin(map[string]workload.OriginConfig{workload.SourceInternal: {}}, 1),
		Ledger: workload.NewLedger(),
		TTL:    map[string]time.Duration{api.Name: cfg.TTL[pool.TierAPI], session.Name: cfg.TTL[pool.TierSession], limit.Name: time.Minute},
	})
	if i, err := l.Connect(ctx, mgr, cfg, 1, []workload.Family{*api, *session, *limit}); err != nil {
		b.Fatalf("connect instance %d: %v", i, err)
	}
	defer l.Close()
	l.SetStart(time.Now())
	key := func(f *workload.Family, i int) string {
		return strings.Replace(f.KeyPattern, "{id}", strconv.Itoa(i%64), 1)
	}
	for i := range 64 { // every read below hits
		for _, f := range []*workload.Family{api, session} {
			if err := mgr.Set(ctx, key(f, i), workload.Value(key(f, i), 1, f.MeanSize), pool.Tier(f.Tier)); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name string
		op   func(i int) workload.Op
	}{
		{"getorfetch-hit", func(i int) workload.Op {
			return workload.Op{Kind: workload.OpGetOrFetch, Family: api, Key: key(api, i), Size: api.MeanSize}
		}},
		{"sessionget-hit", func(i int) workload.Op {
			return workload.Op{Kind: workload.OpSessionGet, Family: session, Key: key(session, i), Size: session.MeanSize}
		}},
		{"mget-3", func(i int) workload.Op {
			return workload.Op{Kind: workload.OpMGet, Family: api, Key: key(api, i), Keys: []string{key(api, i), key(api, i+1), key(api, i+2)}, Size: api.MeanSize}
		}},
		{"ratelimit", func(i int) workload.Op {
			return workload.Op{Kind: workload.OpRateLimit, Family: limit, Key: key(limit, i)}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ops := make([]workload.Op, 64)
			for i := range ops {
				ops[i] = c.op(i)
			}
			var rec engine.Record
			rec.Init()
			redis0 := redisCPU(b, dep)
			cpu0 := selfCPU()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%64 == 0 {
					rec.Init() // the record of one command; a run makes one per command
				}
				due := time.Now()
				l.Exec(ctx, 0, &rec, &ops[i%64], &due)
			}
			b.StopTimer()
			cpu := selfCPU() - cpu0
			b.ReportMetric(cpu.Seconds()*1e6/float64(b.N), "cpu-µs/op")
			if r := redisCPU(b, dep) - redis0; r > 0 {
				b.ReportMetric(cpu.Seconds()/r.Seconds(), "tool/redis")
			}
			if n := rec.Mismatches; n > 0 {
				b.Fatalf("%d values failed verification", n)
			}
		})
	}
}

// selfCPU is this process's user and system CPU so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is redis-server's own user and system CPU so far (INFO cpu).
func redisCPU(b *testing.B, dep topology.Deployment) time.Duration {
	b.Helper()
	v, err := dep.Do(context.Background(), "primary-0", "INFO", "cpu")
	if err != nil {
		b.Fatal(err)
	}
	s, _ := v.(string)
	var total float64
	for _, line := range strings.Split(s, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if rest, ok := strings.CutPrefix(line, f); ok {
				x, err := strconv.ParseFloat(rest, 64)
				if err != nil {
					b.Fatal(fmt.Errorf("INFO cpu %q: %w", line, err))
				}
				total += x
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}
