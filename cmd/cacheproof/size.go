package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/redistext"
	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/sizing"
	"github.com/cacheproof/cacheproof/topology"
)

const sizeExamples = `
The scenario's access stream (the run's own: same workload, seed, prefill
and phases) is simulated against Redis's eviction at many maxmemory sizes;
a key's memory is measured on a scratch redis-server (or --redis-url).

Examples:
  # how much memory does the baseline need for its 95 % target?
  cacheproof size -s baseline

  # the same scenario as 'cacheproof run -s baseline --duration 60s', with
  # 64, 128 and 256 MB always on the curve
  cacheproof size -s baseline --duration 60s --at 64mb,128mb,256mb

  # what if the api tier kept keys 10 minutes, and sessions an hour?
  cacheproof size -s baseline --ttl api=600s --ttl session=1h

Exit codes: 0 the scenario's maxmemory meets the target with its policy,
1 it does not, 2 usage or invalid scenario, 3 environment (no redis-server).
`

type sizeFlags struct {
	scenarioFlags
	loadShapeFlags
	target     string
	at         []string
	policies   []string
	ttl        []string
	noWhatIfs  bool
	points     int
	sampleRate float64
	redisURL   string
	noCache    bool
	conns      int
	clientsMem string
	jsonOut    bool
	prefill    time.Duration
}

// sizeMain is `cacheproof size`: flags and files here, the simulation in
// package sizing.
func sizeMain(args []string, stdout, stderr io.Writer) int {
	errf := errorf(stderr, "size")
	var f sizeFlags
	fs := newFlagSet("size", stderr)
	f.scenarioFlags.register(fs, scenarioHelp{outInfix: "size-", quietKeeps: "answer", redisServerFor: " for the scratch server"})
	f.loadShapeFlags.register(fs)
	fs.StringVar(&f.target, "target", "", "hit rate to size for, e.g. 95% or 0.95 (default: the scenario's hit_rate target, else 95%)")
	fs.StringSliceVar(&f.at, "at", nil, "maxmemory sizes always simulated, e.g. 64mb,128mb,256mb")
	fs.StringSliceVar(&f.policies, "policy", nil, "policies to compute besides the scenario's own (default allkeys-lru,allkeys-lfu,volatile-ttl,exact-lru; any of Redis's eight and exact-lru)")
	fs.StringArrayVar(&f.ttl, "ttl", nil, "TTL what-if, tier=duration (api=600s) or family=duration for a family with its own ttl: (driver_location=60s) (repeatable; default: each expiring tier's TTL and each family's own doubled)")
	fs.BoolVar(&f.noWhatIfs, "no-what-ifs", false, "compute no TTL what-ifs")
	fs.IntVar(&f.points, "points", 0, "maxmemory sizes per curve (default 24)")
	fs.Float64Var(&f.sampleRate, "sample-rate", 0, "SHARDS key sampling rate in (0,1] (default: about 600,000 sampled accesses)")
	fs.StringVar(&f.redisURL, "redis-url", "", "calibrate on this Redis (redis://host:port) instead of a scratch redis-server, and take its maxmemory, policy and settings from its CONFIG; its sample keys are deleted afterwards (an external standalone or replica target's CONFIG is read without this, and its keys priced on a scratch server)")
	fs.BoolVar(&f.noCache, "no-cache", false, "measure the calibration again instead of reusing the cached one")
	fs.StringVar(&f.clientsMem, "clients-memory", "", "the clients' memory Redis held during a run (its timeline's clients_memory, INFO mem_clients_normal, averaged over the recorded phases, e.g. 240kb); with --conns, Redis's base is priced with it instead of modelled connections")
	fs.IntVar(&f.conns, "conns", 0, "connections Redis holds during the run, as a run measured them (report.json server.connected_clients; default: every instance's pool at max_conns, its pub/sub and manager connections, the sampler); as many of them as the model says are in use (from the request rate and a measured round trip) are priced with their buffers, the rest idle")
	fs.DurationVar(&f.prefill, "prefill-span", 0, "how long the run's prefill took to write its keys, as a run measured it (default: the calibration's pipelined write time per command times the prefill's commands); it places the prefill's keys on Redis's 1 s LRU clock")
	fs.BoolVar(&f.jsonOut, "json", false, "print sizing.json to stdout instead of the summary")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cacheproof size [--scenario] FILE|NAME [flags]\n\nHow much memory, with which eviction policy and TTLs, gives the target hit rate.\n\nFlags:\n%s%s", fs.FlagUsages(), sizeExamples)
	}
	if code := parseWithScenario(fs, args, &f.scenario, "cacheproof size -s baseline", stderr); code != next {
		return code
	}
	o := sizing.Options{Points: f.points, Trace: sizing.TraceOptions{Rate: f.sampleRate},
		Cal: sizing.CalibrateOptions{RedisURL: f.redisURL, RedisServer: f.redisServer}}
	if fs.Changed("target") {
		t, err := parseHitRate(f.target)
		if err != nil {
			errf("--target %q: %v", f.target, err)
			return exitUsage
		}
		o.Target = t
	}
	if fs.Changed("points") && (f.points < 2 || f.points > 200) {
		errf("--points %d: must be between 2 and 200", f.points)
		return exitUsage
	}
	if fs.Changed("conns") && f.conns < 1 {
		errf("--conns %d: must be at least 1", f.conns)
		return exitUsage
	}
	o.Connections = f.conns
	if f.clientsMem != "" {
		v, err := units.ParseSize(f.clientsMem)
		if err != nil || v <= 0 {
			errf("--clients-memory %q: want a positive size such as 240kb", f.clientsMem)
			return exitUsage
		}
		if f.conns < 1 {
			errf("--clients-memory needs --conns: the connections it was measured over")
			return exitUsage
		}
		o.ClientsMemory = float64(v)
	}
	if fs.Changed("prefill-span") && (f.prefill <= 0 || f.prefill > time.Hour) {
		errf("--prefill-span %v: must be positive and at most 1h", f.prefill)
		return exitUsage
	}
	o.PrefillSpan = f.prefill
	if fs.Changed("sample-rate") && !(f.sampleRate > 0 && f.sampleRate <= 1) {
		errf("--sample-rate %v: must be in (0, 1]", f.sampleRate)
		return exitUsage
	}
	for _, a := range f.at {
		n, err := redistext.ParseMemory(a)
		if err != nil || n < 1<<20 {
			errf("--at %q: not a size of at least 1mb (e.g. 64mb)", a)
			return exitUsage
		}
		o.At = append(o.At, n)
	}
	for _, p := range f.policies {
		ok := false
		for _, q := range sizing.Simulated {
			ok = ok || p == q
		}
		if !ok {
			errf("--policy %q: not one of %s", p, strings.Join(sizing.Simulated, ", "))
			return exitUsage
		}
		o.Policies = append(o.Policies, p)
	}
	if f.noWhatIfs && len(f.ttl) > 0 {
		errf("--no-what-ifs and --ttl contradict each other")
		return exitUsage
	}
	if f.noWhatIfs {
		o.WhatIfs = map[string]time.Duration{}
	}
	for _, t := range f.ttl {
		tier, d, ok := strings.Cut(t, "=")
		dur, err := time.ParseDuration(d)
		if !ok || tier == "" || err != nil || dur <= 0 {
			errf("--ttl %q: want tier=duration or family=duration with a positive duration, e.g. api=600s", t)
			return exitUsage
		}
		if o.WhatIfs == nil {
			o.WhatIfs = map[string]time.Duration{}
		}
		o.WhatIfs[tier] = dur
	}
	if !f.noCache {
		o.Cal.CacheDir = sizingCacheDir()
	}

	sc, code := f.resolveScenario(stderr)
	if code != next {
		return code
	}
	if code := f.loadShapeFlags.apply(fs, sc, f.seedOverride(fs), errf, stderr); code != next {
		return code
	}
	if o.Cal.RedisURL == "" {
		// An external target's CONFIG (maxmemory, policy, LFU tuning, hz,
		// listpack limits) is what a run meets: size reads it (and
		// writes nothing there; the keys are priced on a scratch server
		// started with those settings).
		if u, ok := externalURL(sc.Target); ok {
			o.Cal.SettingsURL = u
		}
	}
	if !sc.Target.OwnsNodes() && sc.Target.Redis.MaxMemory == 0 && o.Cal.SettingsURL == "" && f.quiet {
		errf("note: the scenario's external Redis has no maxmemory; the curve is still computed")
	}
	if !f.quiet && !f.jsonOut {
		o.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	}
	rs := &runState{stdout: stdout, stderr: stderr}
	ctx, stopSignals := rs.interruptible()
	defer stopSignals()
	z, err := sizing.Answer(ctx, sc, o, result.ToolInfo{Name: "cacheproof", Version: toolVersion(), GoVersion: runtime.Version()})
	if err != nil {
		if ctx.Err() != nil {
			errf("interrupted")
			return exitInterrupted
		}
		errf("%v", err)
		return exitCode(err, exitUsage)
	}

	outDir, code := f.makeOutDir(sc.Name, errf)
	if code != next {
		return code
	}
	files, werr := report.SizingReport.WriteAll(z, report.Outputs{Dir: outDir})
	switch {
	case f.jsonOut:
		if err := report.SizingReport.Write(stdout, report.JSON, z); err != nil {
			errf("%v", err)
		}
	case f.quiet:
		for _, p := range z.Policies {
			fmt.Fprintf(stdout, "maxmemory needed for %.1f%% with %s: %s\n", 100*z.TargetHitRate, p.Policy, sizeNeeded(p.NeededBytes))
		}
	default:
		if err := report.SizingReport.Write(stdout, report.Text, z); err != nil {
			errf("console summary: %v", err)
		}
		fmt.Fprintf(stdout, "\nreports: %s\n", strings.Join(files, ", "))
	}
	if werr != nil {
		errf("writing reports: %v", werr)
		return exitEnvironment
	}
	if !z.Enough() {
		return exitTargetMiss
	}
	return exitOK
}

func sizeNeeded(n *int64) string {
	if n == nil {
		return "not reachable"
	}
	return report.MB(float64(*n))
}

// parseHitRate reads "95%", "95.5 %" or "0.95".
func parseHitRate(s string) (float64, error) {
	v, pct, err := units.ParsePercent(s)
	if err != nil {
		return 0, errors.New("not a number or percentage")
	}
	if !pct && v > 1 {
		v /= 100
	}
	if !(v > 0 && v < 1) {
		return 0, errors.New("must be between 0% and 100% (exclusive)")
	}
	return v, nil
}

// externalURL is the redis:// URL of an external standalone or replica
// target's first node (its credentials included), for size to read the
// CONFIG of; ok is false for a target cacheproof starts,
// a cluster or sentinel one, or one with TLS (--redis-url names a node
// there).
func externalURL(t topology.Settings) (string, bool) {
	if t.OwnsNodes() || t.TLS != nil || len(t.Addrs) == 0 {
		return "", false
	}
	switch topology.Shape(t.Topology) {
	case "", topology.ShapeStandalone, topology.ShapeReplica:
	default:
		return "", false
	}
	u := url.URL{Scheme: "redis", Host: t.Addrs[0]}
	switch {
	case t.Username != "":
		u.User = url.UserPassword(t.Username, t.Password)
	case t.Password != "":
		u.User = url.UserPassword("", t.Password)
	}
	return u.String(), true
}
