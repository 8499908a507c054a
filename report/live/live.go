// Package live serves a run's figures as Prometheus metrics while it runs
// (cacheproof run --metrics-addr). The harness publishes one timeline row and
// one interval histogram per second; nothing is called per operation, so the
// endpoint costs the load generator nothing measurable. Metrics live in a
// private registry (no Go runtime or process noise, no global state) and use
// only low-cardinality labels: error kind, miss cause, tier, key family,
// fault kind and pool state, each capped.
package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cacheproof/cacheproof/result"
)

// DefaultLinger is how long Close keeps serving after the run so that the
// last scrape (Prometheus scrapes every 5-15 s) still sees the final figures.
const DefaultLinger = 5 * time.Second

// maxLabelValues caps distinct values per label; further values are folded
// into "other" so a misbehaving error classifier cannot explode a TSDB.
const maxLabelValues = 20

// LatencyBuckets are the Prometheus histogram bounds in seconds, spanning a
// sub-millisecond cache hit to a 60 s stall with extra resolution around the
// 5 ms target.
var LatencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Options configure a Server.
type Options struct {
	// Addr to listen on, such as "127.0.0.1:9090"; port 0 picks a free port.
	Addr string
	// Linger is how long Close keeps serving; 0 means DefaultLinger, a
	// negative value closes at once.
	Linger time.Duration
	// Shard is the run's --shard ("i/n"), put on every metric as the
	// ShardLabel label; "" for a whole run (no label).
	Shard string
}

// Server is the metrics endpoint of one run.
type Server struct {
	ln     net.Listener
	srv    *http.Server
	linger time.Duration
	col    *collector
	done   chan error
	once   sync.Once
}

// New listens on addr and serves /metrics with DefaultLinger.
func New(addr string) (*Server, error) {
	return NewWithOptions(Options{Addr: addr})
}

// NewWithOptions listens on o.Addr and starts serving /metrics.
func NewWithOptions(o Options) (*Server, error) {
	if o.Addr == "" {
		return nil, fmt.Errorf("live metrics: empty listen address")
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("live metrics: listen on %s: %w", o.Addr, err)
	}
	linger := o.Linger
	if linger == 0 {
		linger = DefaultLinger
	}
	var constLabels prometheus.Labels
	if o.Shard != "" {
		constLabels = prometheus.Labels{ShardLabel: o.Shard}
	}
	col := newCollector(newDescs(constLabels))
	reg := prometheus.NewRegistry()
	if err := reg.Register(col); err != nil {
		ln.Close()
		return nil, fmt.Errorf("live metrics: register: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "cacheproof live metrics: /metrics; the tool's own Go profiles: /debug/pprof/")
	})
	// The tool's own profiles while it runs, as Prometheus serves its
	// own: a heap profile taken twice during a soak shows what grows
	// (go tool pprof -base), which a profile at the end cannot.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s := &Server{ln: ln, linger: linger, col: col, done: make(chan error, 1),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// Addr is the address actually listened on (useful with port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Intervals are one sampling interval's latency histograms (µs; any may
// be nil): from intended start, the service time (send to reply), and per
// key family by name.
type Intervals struct {
	Latency, Service *hdrhistogram.Histogram
	ByFamily         map[string]*hdrhistogram.Histogram
}

// Publish records one sampling interval: row holds the interval's counters
// and the gauges at sampling time, iv its latency histograms. Call it once
// per interval from the sampler; it is safe to call concurrently with
// scrapes.
func (s *Server) Publish(row result.TimelineRow, iv Intervals) {
	s.col.publish(row, iv)
}

// Close keeps serving for the linger period (or until ctx is done), then
// shuts the server down gracefully. It is safe to call more than once.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if s.linger > 0 {
			t := time.NewTimer(s.linger)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if e := s.srv.Shutdown(sctx); e != nil {
			err = fmt.Errorf("live metrics: shutdown: %w", e)
			s.srv.Close()
		}
		if e := <-s.done; e != nil && err == nil {
			err = fmt.Errorf("live metrics: serve: %w", e)
		}
	})
	return err
}

// collector turns published intervals into metrics at scrape time.
type collector struct {
	mu sync.Mutex

	ops, errs, hits, misses   uint64
	lookupErrs, expired       uint64
	poolWaitMs                float64
	errsByKind, missesByCause map[string]uint64
	hitRateByTier             map[string]float64
	hitRateByFamily           map[string]float64
	// famLatency is each family's latency in its last interval with
	// operations (at most maxLabelValues families).
	famLatency map[string]result.Summary
	faultsSeen map[string]bool
	last       result.TimelineRow
	published  bool
	// counts are the metric table's live counters, by metric name.
	counts map[string]uint64
	// serverCPUS and serverCmds are Redis's CPU seconds and commands over
	// the published intervals.
	serverCPUS float64
	serverCmds uint64
	d          *descs

	// Cumulative latency histograms, as Prometheus bucket counts
	// (seconds): from intended start, and service time.
	lat, svc promHist
	interval result.Summary
}

// promHist is a cumulative Prometheus histogram over LatencyBuckets, fed
// one interval's HDR histogram (µs) at a time.
type promHist struct {
	counts []uint64
	n      uint64
	sumS   float64
}

// bucket turns an interval's HDR histogram into Prometheus bucket counts;
// it is the costly part, so it runs outside the collector's lock.
func bucket(h *hdrhistogram.Histogram) promHist {
	var p promHist
	if h == nil || h.TotalCount() == 0 {
		return p
	}
	p.counts = make([]uint64, len(LatencyBuckets))
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		v := float64(bar.To) / 1e6
		if i := sort.SearchFloat64s(LatencyBuckets, v); i < len(p.counts) { // first bound >= v
			p.counts[i] += uint64(bar.Count)
		}
	}
	p.n = uint64(h.TotalCount())
	p.sumS = h.Mean() * float64(p.n) / 1e6
	return p
}

// add accumulates an interval's buckets.
func (p *promHist) add(o promHist) {
	if p.counts == nil {
		p.counts = make([]uint64, len(LatencyBuckets))
	}
	for i, v := range o.counts {
		p.counts[i] += v
	}
	p.n += o.n
	p.sumS += o.sumS
}

// metric is the cumulative histogram as a Prometheus metric of d.
func (p *promHist) metric(d *prometheus.Desc) prometheus.Metric {
	buckets := make(map[float64]uint64, len(LatencyBuckets))
	var cum uint64
	for i, b := range LatencyBuckets {
		if i < len(p.counts) {
			cum += p.counts[i]
		}
		buckets[b] = cum
	}
	return prometheus.MustNewConstHistogram(d, p.n, p.sumS, buckets)
}

func newCollector(d *descs) *collector {
	return &collector{d: d, errsByKind: map[string]uint64{}, missesByCause: map[string]uint64{},
		hitRateByTier: map[string]float64{}, hitRateByFamily: map[string]float64{}, famLatency: map[string]result.Summary{}, faultsSeen: map[string]bool{},
		counts: map[string]uint64{}}
}

func (c *collector) publish(row result.TimelineRow, iv Intervals) {
	h := iv.Latency
	lat, service := bucket(h), bucket(iv.Service)
	var sum2 result.Summary
	if lat.n > 0 {
		sum2 = result.Summarize(h)
	}
	fams := make(map[string]result.Summary, len(iv.ByFamily))
	for name, fh := range iv.ByFamily {
		if fh != nil && fh.TotalCount() > 0 {
			fams[name] = result.Summarize(fh)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.published = true
	c.ops += row.Ops
	c.errs += row.Errors
	c.hits += row.Hits
	c.misses += row.Misses
	c.lookupErrs += row.LookupErrors
	for _, l := range c.d.table {
		c.counts[l.metric.Name] += l.metric.Interval(row)
	}
	c.serverCPUS += row.ServerCPUS
	c.serverCmds += row.ServerCommands
	c.expired += row.ExpiredKeys
	c.poolWaitMs += row.PoolWaitMs
	addCapped(c.errsByKind, row.ErrorsByKind)
	addCapped(c.missesByCause, row.MissesByCause)
	for k, v := range row.HitRateByTier {
		if _, ok := c.hitRateByTier[k]; ok || len(c.hitRateByTier) < maxLabelValues {
			c.hitRateByTier[k] = v
		}
	}
	for k, v := range row.HitRateByFamily {
		if _, ok := c.hitRateByFamily[k]; ok || len(c.hitRateByFamily) < maxLabelValues {
			c.hitRateByFamily[k] = v
		}
	}
	for k, v := range fams {
		if _, ok := c.famLatency[k]; ok || len(c.famLatency) < maxLabelValues {
			c.famLatency[k] = v
		}
	}
	for _, f := range strings.Split(row.Fault, ",") {
		if f = strings.TrimSpace(f); f != "" && (c.faultsSeen[f] || len(c.faultsSeen) < maxLabelValues) {
			c.faultsSeen[f] = true
		}
	}
	c.last = row
	c.lat.add(lat)
	c.svc.add(service)
	if lat.n > 0 {
		c.interval = sum2
	}
}

func addCapped(dst, src map[string]uint64) {
	for k, v := range src {
		if _, ok := dst[k]; !ok && len(dst) >= maxLabelValues-1 {
			k = "other"
		}
		dst[k] += v
	}
}

const ns = "cacheproof"

// ShardLabel is the label every metric carries on a sharded run (--shard
// i/n): its value is "i/n", so a dashboard grouping by it shows which
// shard fell behind. A whole run's metrics carry no such label.
const ShardLabel = "shard"

// descs are the endpoint's metric descriptions, made once per server so
// that a shard's const label is on every one of them.
type descs struct {
	requests, errors, latency, service, intervalQ, hits, misses     *prometheus.Desc
	lookupErrs                                                      *prometheus.Desc
	hitRate, hitTier, hitFamily, poolConns, poolWait, active, mem   *prometheus.Desc
	famLatency                                                      *prometheus.Desc
	maxMem, expired, clients, fault, elapsed, serverCPU, serverCmds *prometheus.Desc
	all                                                             []*prometheus.Desc
	table                                                           []tableCounter
	names                                                           []string
}

// newDescs describes every metric with the given const labels (nil for a
// whole run).
func newDescs(constLabels prometheus.Labels) *descs {
	d := &descs{}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		x := prometheus.NewDesc(ns+"_"+name, help, labels, constLabels)
		d.all = append(d.all, x)
		d.names = append(d.names, ns+"_"+name)
		return x
	}
	d.requests = desc("requests_total", "Cache operations issued by the load generator.")
	d.errors = desc("errors_total", "Failed cache operations by error kind.", "kind")
	d.latency = desc("request_duration_seconds", "Cache operation latency from intended start (coordinated-omission corrected).")
	d.service = desc("service_duration_seconds", "Cache operation service time, from the send to the reply: the pool's wait, retries, the network and Redis (request_duration_seconds less the late start).")
	d.intervalQ = desc("interval_latency_seconds", "Latency percentiles of the last sampling interval.", "quantile")
	d.hits = desc("cache_hits_total", "Cache lookups that hit.")
	d.misses = desc("cache_misses_total", "Cache lookups that missed, by cause (cold, expired, evicted).", "cause")
	d.lookupErrs = desc("cache_lookup_errors_total", "Cache lookups that failed (no answer from Redis; the caller went to the origin as on a miss).")
	d.hitRate = desc("hit_rate", "Hit rate of the last sampling interval (0..1): hits / (hits + misses + lookup errors), as the hit_rate target judges it.")
	d.hitTier = desc("hit_rate_by_tier", "Hit rate of the last sampling interval per cache tier.", "tier")
	d.famLatency = desc("interval_latency_by_family_seconds", "Latency percentiles from intended start of the last sampling interval in which the key family had operations, per key family (at most 20 families; two significant digits).", "family", "quantile")
	d.hitFamily = desc("hit_rate_by_family", "Hit rate of the last sampling interval in which the key family had lookups, per key family (at most 20 families).", "family")
	d.poolConns = desc("pool_connections", "Connections in the pool under test.", "state")
	d.poolWait = desc("pool_wait_seconds_total", "Time spent waiting for pooled connections.")
	d.active = desc("active_users", "Simulated users active now.")
	d.mem = desc("redis_used_memory_bytes", "Redis used_memory.")
	d.maxMem = desc("redis_maxmemory_bytes", "Redis maxmemory (0 = unlimited).")
	d.expired = desc("redis_expired_keys_total", "Keys Redis expired during the run.")
	d.clients = desc("redis_connected_clients", "Redis connected_clients.")
	d.serverCPU = desc("redis_cpu_seconds_total", "CPU seconds Redis's primaries spent during the run (INFO used_cpu_sys + used_cpu_user); every shard reads the same server, so take the max over shards, never the sum.")
	d.serverCmds = desc("redis_commands_total", "Commands Redis's primaries processed during the run (INFO total_commands_processed); shared by every shard as the CPU is.")
	d.fault = desc("fault_active", "1 while a fault of this kind is active.", "kind")
	d.elapsed = desc("elapsed_seconds", "Seconds since the run started, at the last sample.")
	for _, m := range result.Metrics() {
		if m.Live != "" && m.Interval != nil {
			d.table = append(d.table, tableCounter{metric: m, desc: desc(m.Live, m.Help)})
		}
	}
	return d
}

// MetricNames lists the name of every metric the endpoint serves (a
// histogram's series add _bucket, _sum and _count to its name): what a
// dashboard's queries may name. The dashboard's test reads it from here, so
// it cannot drift from a copy.
func MetricNames() []string {
	return append([]string(nil), newDescs(nil).names...)
}

// HistogramNames lists the metrics of MetricNames that are histograms.
func HistogramNames() []string {
	return []string{ns + "_request_duration_seconds", ns + "_service_duration_seconds"}
}

// famQuants are the quantiles of the per-family latency gauge.
var famQuants = intervalQuants[:2]

// intervalQuants are the quantiles of the last interval's latency gauge.
var intervalQuants = []struct {
	label string
	get   func(result.Summary) float64
}{
	{"0.5", func(s result.Summary) float64 { return s.P50 }}, {"0.99", func(s result.Summary) float64 { return s.P99 }},
	{"0.999", func(s result.Summary) float64 { return s.P999 }}, {"1", func(s result.Summary) float64 { return s.Max }},
}

// tableCounter is a metric table's count that has a live counter
// (result.Metric.Live): it sums the metric's Interval over the published
// rows.
type tableCounter struct {
	metric result.Metric
	desc   *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.d
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(d.requests, float64(c.ops))
	for k, v := range c.errsByKind {
		counter(d.errors, float64(v), k)
	}
	ch <- c.lat.metric(d.latency)
	ch <- c.svc.metric(d.service)
	counter(d.hits, float64(c.hits))
	for k, v := range c.missesByCause {
		counter(d.misses, float64(v), k)
	}
	counter(d.poolWait, c.poolWaitMs/1000)
	for _, l := range d.table {
		counter(l.desc, float64(c.counts[l.metric.Name]))
	}
	counter(d.lookupErrs, float64(c.lookupErrs))
	counter(d.serverCPU, c.serverCPUS)
	counter(d.serverCmds, float64(c.serverCmds))
	counter(d.expired, float64(c.expired))
	if !c.published {
		return // gauges would claim values nobody measured
	}
	for _, q := range intervalQuants {
		gauge(d.intervalQ, q.get(c.interval)/1000, q.label)
	}
	if c.last.Hits+c.last.Misses+c.last.LookupErrors > 0 {
		gauge(d.hitRate, result.LookupHitRate(c.last.Hits, c.last.Misses, c.last.LookupErrors))
	}
	for k, v := range c.hitRateByTier {
		gauge(d.hitTier, v, k)
	}
	for k, v := range c.famLatency {
		for _, q := range famQuants {
			gauge(d.famLatency, q.get(v)/1e3, k, q.label)
		}
	}
	for k, v := range c.hitRateByFamily {
		gauge(d.hitFamily, v, k)
	}
	idle := min(c.last.PoolIdle, c.last.PoolTotal)
	gauge(d.poolConns, float64(idle), "idle")
	gauge(d.poolConns, float64(c.last.PoolTotal-idle), "in_use")
	gauge(d.active, float64(c.last.Active))
	gauge(d.mem, float64(c.last.UsedMemory))
	gauge(d.maxMem, float64(c.last.MaxMemory))
	gauge(d.clients, float64(c.last.ConnectedClients))
	active := map[string]bool{}
	for _, f := range strings.Split(c.last.Fault, ",") {
		active[strings.TrimSpace(f)] = true
	}
	for k := range c.faultsSeen {
		v := 0.0
		if active[k] {
			v = 1
		}
		gauge(d.fault, v, k)
	}
	gauge(d.elapsed, c.last.T)
}
