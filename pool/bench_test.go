package pool

import (
	"context"
	"strconv"
	"testing"

	"github.com/cacheproof/cacheproof/topology"
	"github.com/redis/go-redis/v9"
)

// BenchmarkGetSet compares the Manager with a bare go-redis client on the
// same local redis-server, in one run, so the Manager's overhead (hooks,
// counters, tier lookup) can be read off directly:
//
//	go test -run '^$' -bench GetSet -benchmem ./pool/
//
// Both sides use the same pool size; b.RunParallel drives
// benchParallelism*GOMAXPROCS concurrent callers, as the harness's many
// users do (auto-pipelining only pays off with many callers in flight).
const benchParallelism = 16

func BenchmarkGetSet(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	d, err := topology.Start(ctx, topology.Spec{Backend: topology.BackendProcess, Shape: topology.ShapeStandalone, Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(ctx)
	addr := d.Endpoints().Addrs[0]

	cfg, _ := ProfileConfig(ProfileDevelopment)
	cfg.Addrs = []string{addr}
	cfg.HealthCheckInterval = 0
	cfg.InvalidationChannel = ""
	for _, auto := range []bool{false, true} {
		cfg.AutoPipeline = auto
		m, err := New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		bare := redis.NewClient(&redis.Options{Addr: addr, PoolSize: cfg.MaxConnections, MinIdleConns: cfg.MinConnections, DisableIdentity: true})
		var bareCmd redis.Cmdable = bare
		if auto {
			ap, err := bare.AutoPipeline()
			if err != nil {
				b.Fatal(err)
			}
			bareCmd = ap
		}
		suffix := ""
		if auto {
			suffix = "/autopipeline"
		}
		val := string(make([]byte, 2048)) // the stratz profile's 2 KB
		for i := 0; i < 1000; i++ {
			_ = m.Set(ctx, "bench:"+strconv.Itoa(i), val, TierAPI)
		}
		keys := make([]string, 1000)
		for i := range keys {
			keys[i] = "bench:" + strconv.Itoa(i)
		}
		b.Run("Get/bare"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := bareCmd.Get(ctx, keys[i%len(keys)]).Err(); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
		b.Run("Get/manager"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, _, err := m.Get(ctx, keys[i%len(keys)]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
		b.Run("Set/bare"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := bareCmd.Set(ctx, keys[i%len(keys)], val, cfg.TTL[TierAPI]).Err(); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
		b.Run("Set/manager"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := m.Set(ctx, keys[i%len(keys)], val, TierAPI); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
		b.Run("GetOrFetchRaw/hit"+suffix, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			fetch := func(context.Context) (string, error) { return val, nil }
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, _, err := m.GetOrFetchRaw(ctx, keys[i%len(keys)], TierAPI, fetch); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
		_ = bare.Close()
		_ = m.Shutdown(ctx)
	}
}
