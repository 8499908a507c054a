package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cacheproof/cacheproof/harness"
)

// rawMain is raw mode: a closed-loop GET/SET load through the cache
// manager, flag-compatible in spirit with redis-benchmark (-c -n -d -r -t),
// so `make bench` can run both against one Redis and compare them.
func rawMain(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("raw", stderr)
	addr := fs.String("addr", "", "Redis address host:port (default: start a redis-server here)")
	clients := fs.IntP("clients", "c", 50, "concurrent clients")
	requests := fs.IntP("requests", "n", 100000, "requests per test")
	size := fs.IntP("data-size", "d", 3, "value size in bytes")
	keyspace := fs.IntP("keyspace", "r", 100000, "random keys key:000000000000 .. keyspace-1")
	tests := fs.StringP("tests", "t", "set,get", "tests to run, in order: set, get, mix (SET:GET by --ratio)")
	ratio := fs.String("ratio", "1:10", "SET:GET ratio of the mix test, as memtier_benchmark's --ratio")
	conns := fs.Int("conns", 0, "pool size (max connections; default = clients)")
	autoPipe := fs.Bool("auto-pipeline", false, "batch concurrent commands through go-redis auto-pipelining")
	rate := fs.Float64("rate", 0, "open loop: send this many requests a second in all, latency measured from each request's due time (0: closed loop, as redis-benchmark)")
	noManager := fs.Bool("no-manager", false, "send through a plain go-redis client instead of the cache manager: the client library's own cost")
	asJSON := fs.Bool("json", false, "print one JSON object per test")
	redisServer := fs.String("redis-server", "", "redis-server binary when no --addr is given")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the tool itself to this file (go tool pprof)")
	tracePath := fs.String("trace", "", "write a Go execution trace of the tool itself to this file (go tool trace): when each caller waited to run")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof raw [flags]\n\nRaw mode: a closed-loop (or, with --rate, open-loop) GET/SET load through the\npooled cache manager, no think time, no workload model; the client-side speed check behind `make bench`.\n\nFlags:\n%s\nExample:\n  cacheproof raw --addr 127.0.0.1:6379 -c 50 -n 200000 -d 100 -r 100000 -t set,get\n", fs.FlagUsages())
	}
	if code := parseFlags(fs, args, stderr); code != next {
		return code
	}
	if *noManager && *autoPipe {
		fmt.Fprintln(stderr, "cacheproof raw: --auto-pipeline is the manager's: it cannot go with --no-manager")
		return exitUsage
	}
	if *conns == 0 {
		*conns = *clients
	}
	if *clients < 1 || *requests < 1 || *keyspace < 1 || *size < 0 || *conns < 1 || *rate < 0 {
		fmt.Fprintln(stderr, "cacheproof raw: --clients, --requests, --keyspace and --conns must be at least 1, --data-size and --rate at least 0")
		return exitUsage
	}
	var setW, getW int
	if _, err := fmt.Sscanf(*ratio, "%d:%d", &setW, &getW); err != nil || setW < 0 || getW < 0 || setW+getW == 0 {
		fmt.Fprintf(stderr, "cacheproof raw: --ratio: expected SET:GET such as 1:10, got %q\n", *ratio)
		return exitUsage
	}
	for _, rec := range []struct {
		path  string
		start func(string) (func(), error)
	}{{*cpuProfile, startCPUProfile}, {*tracePath, startTrace}} {
		if rec.path == "" {
			continue
		}
		done, err := rec.start(rec.path)
		if err != nil {
			fmt.Fprintf(stderr, "cacheproof raw: %v\n", err)
			return exitUsage
		}
		defer done()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	res, err := harness.Raw(ctx,
		harness.RawTarget{Addr: *addr, RedisServer: *redisServer, Conns: *conns, AutoPipeline: *autoPipe, NoManager: *noManager},
		harness.RawOptions{
			Tests: strings.Split(*tests, ","), Clients: *clients, Requests: *requests, ValueSize: *size, Keyspace: *keyspace,
			SetRatio: setW, GetRatio: getW, Seed: 1, Rate: *rate,
		})
	for _, r := range res {
		if *asJSON {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
			continue
		}
		fmt.Fprintf(stdout, "%-4s %9.0f ops/s  p50 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms  cpu %.2fus/op  errors %d  (%d requests, %d clients, auto-pipeline %v, GOMAXPROCS %d (%s))\n",
			strings.ToUpper(r.Test), r.OpsPerSec, r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Latency.Max, r.CPUPerOpUs, r.Errors, r.Requests, *clients, *autoPipe, r.GOMAXPROCS, r.GOMAXPROCSSource)
		if r.Rate > 0 {
			held := "held"
			if r.OpsPerSec < 0.99*r.Rate {
				held = "NOT held"
			}
			fmt.Fprintf(stdout, "     open loop at %.0f/s (%s): latency from each request's due time; sent to answered p50 %.3fms  p99 %.3fms  p99.9 %.3fms\n",
				r.Rate, held, r.Service.P50, r.Service.P99, r.Service.P999)
		}
		if w := r.Wire; w != nil {
			fmt.Fprintf(stdout, "     on the wire (write to first reply byte, redis-benchmark's clock): p50 %.3fms  p99 %.3fms  p99.9 %.3fms\n",
				w.P50, w.P99, w.P999)
		}
		if a, k := r.Arrival, r.Wake; a != nil && k != nil {
			fmt.Fprintf(stdout, "       until the reply was in the socket (kernel's arrival stamp: network and Redis): p50 %.3fms  p99 %.3fms  p99.9 %.3fms\n", a.P50, a.P99, a.P999)
			fmt.Fprintf(stdout, "       from then until the tool read it (its own wait to run):                    p50 %.3fms  p99 %.3fms  p99.9 %.3fms\n", k.P50, k.P99, k.P999)
		}
		if h := r.HostTimer; h != nil {
			fmt.Fprintf(stdout, "     this machine (host timer probe): %.2f%% of %d wake-ups over 1 ms late, worst %.1fms\n", 100*h.LateFraction, h.Wakes, h.MaxMs)
		} else if r.HostTimerNote != "" {
			fmt.Fprintf(stdout, "     this machine (host timer probe): not measured: %s\n", r.HostTimerNote)
		}
		if s := r.Sched; s != nil {
			fmt.Fprintf(stdout, "     the tool's own scheduling delay: p50 %.3fms  p99 %.3fms  p99.9 %.3fms  (%.2f%% of %d waits over 1 ms)\n",
				s.P50Ms, s.P99Ms, s.P999Ms, 100*s.Over1msFraction, s.Count)
		}
	}
	if err == nil {
		return exitOK
	}
	// An error of no known type after an interrupt is the interrupt's.
	const untyped = -1
	code := exitCode(err, untyped)
	if code == untyped && ctx.Err() != nil {
		return exitInterrupted
	}
	if cfgErr := (*harness.ConfigError)(nil); errors.As(err, &cfgErr) {
		err = cfgErr.Err
	}
	fmt.Fprintf(stderr, "cacheproof raw: %v\n", err)
	if code == untyped {
		return exitUsage
	}
	return code
}
