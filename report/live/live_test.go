package live

import (
	"context"
	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cacheproof/cacheproof/result"
)

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

func TestPublishAndScrape(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := NewWithOptions(Options{Addr: "127.0.0.1:0", Linger: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || strings.HasSuffix(s.Addr(), ":0") {
		t.Fatalf("addr %s", s.Addr())
	}
	// Before any sample: counters at zero, no invented gauges.
	first := scrape(t, s.Addr())
	if !strings.Contains(first, "cacheproof_requests_total 0") || strings.Contains(first, "cacheproof_hit_rate ") {
		t.Errorf("before publishing:\n%s", first)
	}
	for i := 1; i <= 2; i++ {
		h := result.NewHistogram()
		h.RecordValues(400, 900)    // 0.4 ms
		h.RecordValues(4000, 90)    // 4 ms
		h.RecordValues(200_000, 10) // 200 ms
		// Service time: the same operations less their late start.
		svc := result.NewHistogram()
		svc.RecordValues(300, 990) // 0.3 ms
		svc.RecordValues(3000, 10) // 3 ms
		s.Publish(result.TimelineRow{T: float64(i), Ops: 1000, Errors: 3, ErrorsByKind: map[string]uint64{"timeout": 2, "connection": 1},
			Hits: 950, Misses: 50, MissesByCause: map[string]uint64{"expired": 30, "cold": 20}, HitRateByTier: map[string]float64{"api": 0.9},
			EvictedKeys: 5, UsedMemory: 100 << 20, MaxMemory: 256 << 20, ConnectedClients: 12, PoolTotal: 20, PoolIdle: 5,
			PoolTimeouts: 1, PoolWaitMs: 250, Active: 10000, Late: 4, Fault: "restart"}, Intervals{Latency: h, Service: svc})
	}
	body := scrape(t, s.Addr())
	for _, want := range []string{
		"cacheproof_requests_total 2000",
		`cacheproof_errors_total{kind="timeout"} 4`,
		`cacheproof_errors_total{kind="connection"} 2`,
		"cacheproof_cache_hits_total 1900",
		`cacheproof_cache_misses_total{cause="expired"} 60`,
		"cacheproof_hit_rate 0.95",
		`cacheproof_hit_rate_by_tier{tier="api"} 0.9`,
		`cacheproof_pool_connections{state="idle"} 5`,
		`cacheproof_pool_connections{state="in_use"} 15`,
		"cacheproof_pool_timeouts_total 2",
		"cacheproof_pool_wait_seconds_total 0.5",
		"cacheproof_redis_evicted_keys_total 10",
		"cacheproof_redis_maxmemory_bytes 2.68435456e+08",
		`cacheproof_fault_active{kind="restart"} 1`,
		"cacheproof_active_users 10000",
		"cacheproof_late_requests_total 8",
		// Histogram built from the HDR: 1,800 values at 0.4 ms, 180 at 4 ms, 20 at 200 ms.
		`cacheproof_request_duration_seconds_bucket{le="0.0005"} 1800`,
		`cacheproof_request_duration_seconds_bucket{le="0.005"} 1980`,
		`cacheproof_request_duration_seconds_bucket{le="0.25"} 2000`,
		`cacheproof_request_duration_seconds_bucket{le="+Inf"} 2000`,
		"cacheproof_request_duration_seconds_count 2000",
		// and the service time's: 1,980 at 0.3 ms, 20 at 3 ms.
		`cacheproof_service_duration_seconds_bucket{le="0.0005"} 1980`,
		`cacheproof_service_duration_seconds_bucket{le="0.005"} 2000`,
		"cacheproof_service_duration_seconds_count 2000",
		`cacheproof_interval_latency_seconds{quantile="0.99"} 0.004`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(body, "go_goroutines") || strings.Contains(body, "process_") {
		t.Error("the private registry must not carry runtime or process metrics")
	}

	// Close lingers: the endpoint still answers during the linger period.
	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- s.Close(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	if !strings.Contains(scrape(t, s.Addr()), "cacheproof_requests_total 2000") {
		t.Error("last scrape during linger lost the figures")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Error("Close returned before the linger period")
	}
	if _, err := http.Get("http://" + s.Addr() + "/metrics"); err == nil {
		t.Error("endpoint still up after Close")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestCloseHonoursContextAndLabelCap(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := NewWithOptions(Options{Addr: "127.0.0.1:0", Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]uint64{}
	for i := 0; i < 100; i++ {
		kinds[strings.Repeat("k", i+1)] = 1
	}
	s.Publish(result.TimelineRow{T: 1, Ops: 100, Errors: 100, ErrorsByKind: kinds}, Intervals{})
	body := scrape(t, s.Addr())
	if n := strings.Count(body, "cacheproof_errors_total{"); n > maxLabelValues {
		t.Errorf("%d error kinds exported, cap is %d", n, maxLabelValues)
	}
	if !strings.Contains(body, `cacheproof_errors_total{kind="other"}`) {
		t.Error("overflowing kinds not folded into other")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	if _, err := New("256.0.0.1:99999"); err == nil {
		t.Error("a bad address must fail")
	}
}

// The live hit rate is the one the target judges: failed lookups did not
// hit. Failed lookups and abandoned operations are exported as counters.
func TestLiveHitRateCountsLookupErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := NewWithOptions(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s.Publish(result.TimelineRow{T: 1, Ops: 1000, Hits: 900, Misses: 50, LookupErrors: 50, Abandoned: 7}, Intervals{})
	body := scrape(t, s.Addr())
	for _, want := range []string{"cacheproof_hit_rate 0.9\n", "cacheproof_cache_lookup_errors_total 50", "cacheproof_abandoned_operations_total 7"} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// A family's hit rate is the last interval's in which it had lookups: a
// family quiet in the latest second keeps its figure instead of vanishing.
func TestLiveHitRateByFamily(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := NewWithOptions(Options{Addr: "127.0.0.1:0", Linger: -1})
	if err != nil {
		t.Fatal(err)
	}
	quotes, profile := result.NewFamilyHistogram(), result.NewFamilyHistogram()
	quotes.RecordValues(2000, 100) // 2 ms
	profile.RecordValues(500, 100) // 0.5 ms
	s.Publish(result.TimelineRow{T: 1, Ops: 10, Hits: 9, Misses: 1, HitRateByFamily: map[string]float64{"quotes": 0.5, "profile": 0.95}},
		Intervals{ByFamily: map[string]*hdrhistogram.Histogram{"quotes": quotes, "profile": profile}})
	later := result.NewFamilyHistogram()
	later.RecordValues(8000, 100) // 8 ms
	s.Publish(result.TimelineRow{T: 2, Ops: 10, Hits: 9, Misses: 1, HitRateByFamily: map[string]float64{"quotes": 0.75}},
		Intervals{ByFamily: map[string]*hdrhistogram.Histogram{"quotes": later}})
	body := scrape(t, s.Addr())
	// Latency likewise: the family's last interval with operations.
	for _, want := range []string{`cacheproof_hit_rate_by_family{family="quotes"} 0.75`, `cacheproof_hit_rate_by_family{family="profile"} 0.95`,
		`cacheproof_interval_latency_by_family_seconds{family="quotes",quantile="0.99"} 0.008`,
		`cacheproof_interval_latency_by_family_seconds{family="profile",quantile="0.5"} 0.0005`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
}

// A shard's endpoint puts its "i/n" on every series, so a dashboard that
// groups by shard shows which one fell behind; Redis's CPU and commands
// (one server behind every shard) are counters of their own.
func TestShardLabelOnEverySeries(t *testing.T) {
	defer goleak.VerifyNone(t)
	s, err := NewWithOptions(Options{Addr: "127.0.0.1:0", Linger: -1, Shard: "2/3"})
	if err != nil {
		t.Fatal(err)
	}
	h := result.NewHistogram()
	h.RecordValues(400, 10)
	s.Publish(result.TimelineRow{T: 1, Ops: 10, Hits: 9, Misses: 1, Late: 3, ServerCPUS: 0.25, ServerCommands: 40,
		ErrorsByKind: map[string]uint64{"timeout": 1}, Fault: "pause"}, Intervals{Latency: h})
	s.Publish(result.TimelineRow{T: 2, Ops: 10, Hits: 9, Misses: 1, ServerCPUS: 0.5, ServerCommands: 60}, Intervals{Latency: h})
	body := scrape(t, s.Addr())
	for _, want := range []string{
		`cacheproof_requests_total{shard="2/3"} 20`,
		`cacheproof_late_requests_total{shard="2/3"} 3`,
		`cacheproof_errors_total{kind="timeout",shard="2/3"} 1`,
		`cacheproof_redis_cpu_seconds_total{shard="2/3"} 0.75`,
		`cacheproof_redis_commands_total{shard="2/3"} 100`,
		`cacheproof_fault_active{kind="pause",shard="2/3"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	names := map[string]bool{}
	for _, n := range MetricNames() {
		names[n] = true
	}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, `shard="2/3"`) {
			t.Errorf("series without the shard label: %s", line)
		}
		name := line[:strings.IndexAny(line, "{ ")]
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !names[name] && !names[base] {
			t.Errorf("served %s, which MetricNames does not list", name)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
}
