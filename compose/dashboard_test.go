package compose

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/cacheproof/cacheproof/report/live"
)

// dashboard is the part of Grafana's dashboard model the checks read.
type dashboard struct {
	UID         string `json:"uid"`
	Annotations struct {
		List []struct {
			Name       string         `json:"name"`
			Datasource map[string]any `json:"datasource"`
			Expr       string         `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Panels []struct {
		Title      string         `json:"title"`
		Datasource map[string]any `json:"datasource"`
		Targets    []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// promqlFuncs are the PromQL functions and aggregation operators the
// dashboard may call: an identifier followed by "(" must be one of them.
var promqlFuncs = map[string]bool{
	"sum": true, "avg": true, "max": true, "min": true, "count": true, "topk": true, "bottomk": true, "quantile": true,
	"rate": true, "irate": true, "increase": true, "delta": true, "deriv": true, "histogram_quantile": true,
	"vector": true, "scalar": true, "clamp_min": true, "clamp_max": true, "abs": true, "max_over_time": true,
	"min_over_time": true, "avg_over_time": true, "label_replace": true, "sort": true, "sort_desc": true, "absent": true,
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true, "inf": true, "nan": true}
)

// promqlMetrics returns the metric names a PromQL expression selects:
// every identifier outside label matchers, ranges and grouping clauses that
// is neither a function it calls nor a keyword. An unknown function is an
// error, so a typo cannot pass as a call.
func promqlMetrics(expr string) ([]string, error) {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRanges.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // a number's exponent or suffix, as 1e5
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " "), "(") {
			if !promqlFuncs[word] {
				return nil, fmt.Errorf("unknown function %q", word)
			}
			continue
		}
		if promqlKeywords[strings.ToLower(word)] {
			continue
		}
		out = append(out, word)
	}
	return out, nil
}

func TestPromqlMetrics(t *testing.T) {
	got, err := promqlMetrics(`histogram_quantile(0.99, sum by (le, shard) (rate(a_bucket{kind="x{y}"}[$__rate_interval]))) / ignoring(kind) b + 1e5 * max(c offset 5m)`)
	if err != nil || strings.Join(got, ",") != "a_bucket,b,c" {
		t.Errorf("got %v, %v; want a_bucket, b, c", got, err)
	}
	if _, err := promqlMetrics(`rat(a[1m])`); err == nil {
		t.Error("an unknown function must be an error")
	}
}

// Every query of the dashboard (panels and annotations) names only metrics
// the live endpoint serves, as its registry lists them, and at least one;
// the dashboard shows what an SRE watching a sharded soak needs.
func TestDashboardNamesOnlyExportedMetrics(t *testing.T) {
	b, err := Files.ReadFile("grafana/cacheproof.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/cacheproof.json: %v", err)
	}
	exported := map[string]bool{}
	for _, n := range live.MetricNames() {
		exported[n] = true
	}
	for _, h := range live.HistogramNames() {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			exported[h+suffix] = true
		}
	}
	uid := datasourceUID(t)
	used := map[string]bool{}
	check := func(where, expr string, ds map[string]any) {
		if ds["uid"] != uid {
			t.Errorf("%s: datasource %v, want the provisioned uid %q", where, ds, uid)
		}
		names, err := promqlMetrics(expr)
		if err != nil {
			t.Errorf("%s: %q: %v", where, expr, err)
			return
		}
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s: %q names %s, which the live endpoint does not serve", where, expr, n)
			}
			used[n] = true
		}
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			check("panel "+p.Title, q.Expr, p.Datasource)
		}
	}
	var faults bool
	for _, a := range d.Annotations.List {
		if a.Expr == "" {
			continue
		}
		check("annotation "+a.Name, a.Expr, a.Datasource)
		faults = faults || strings.Contains(a.Expr, "cacheproof_fault_active")
	}
	if !faults {
		t.Error("no annotation marks the fault windows (cacheproof_fault_active)")
	}
	// What the dashboard must show: load, both latency views, hit rate
	// (per family too), pool, errors, Redis memory, evictions and CPU.
	for _, n := range []string{"cacheproof_requests_total", "cacheproof_abandoned_operations_total", "cacheproof_late_requests_total",
		"cacheproof_request_duration_seconds_bucket", "cacheproof_interval_latency_seconds", "cacheproof_cache_hits_total",
		"cacheproof_hit_rate_by_family", "cacheproof_pool_wait_seconds_total", "cacheproof_pool_timeouts_total", "cacheproof_errors_total",
		"cacheproof_redis_used_memory_bytes", "cacheproof_redis_evicted_keys_total", "cacheproof_redis_cpu_seconds_total"} {
		if !used[n] {
			t.Errorf("the dashboard shows no %s", n)
		}
	}
}

// datasourceUID is the uid Grafana's provisioning gives the Prometheus
// data source, which every query of the dashboard must name.
func datasourceUID(t *testing.T) string {
	b, err := Files.ReadFile("grafana/datasource.yml")
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &ds); err != nil || len(ds.Datasources) != 1 {
		t.Fatalf("grafana/datasource.yml: %v (%d data sources)", err, len(ds.Datasources))
	}
	if d := ds.Datasources[0]; d.Type != "prometheus" || d.URL != "http://prometheus:9090" {
		t.Errorf("data source %+v, want the project's prometheus service", d)
	}
	return ds.Datasources[0].UID
}

// The project's Prometheus scrapes every shard's metrics endpoint, at the
// address each shard serves, and each shard runs its slice of the load.
func TestShardsProjectScrapesEveryShard(t *testing.T) {
	o := ShardsOptions{N: 3, RunArgs: []string{"--duration", "2s"}}
	files, err := Shards(o)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[f.Path] = f.Content
	}
	var prom struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(byPath["prometheus.yml"], &prom); err != nil || len(prom.ScrapeConfigs) != 1 {
		t.Fatalf("prometheus.yml: %v\n%s", err, byPath["prometheus.yml"])
	}
	var targets []string
	for _, sc := range prom.ScrapeConfigs[0].StaticConfigs {
		targets = append(targets, sc.Targets...)
	}
	var proj struct {
		Services map[string]struct {
			Image   string   `yaml:"image"`
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(byPath["compose.yml"], &proj); err != nil {
		t.Fatalf("compose.yml: %v", err)
	}
	for i := 0; i < o.N; i++ {
		svc, ok := proj.Services[ShardService(i)]
		if !ok {
			t.Fatalf("no service %s in compose.yml", ShardService(i))
		}
		cmd := strings.Join(svc.Command, " ")
		addr := svc.Command[slices.Index(svc.Command, "--metrics-addr")+1]
		_, port, _ := strings.Cut(addr, ":")
		if want := ShardService(i) + ":" + port; !slices.Contains(targets, want) {
			t.Errorf("prometheus.yml scrapes %v, not %s where shard %d serves", targets, want, i)
		}
		if !strings.Contains(cmd, fmt.Sprintf("--shard %d/3", i)) || !strings.HasSuffix(cmd, "--duration 2s") || svc.Image != generatorImage {
			t.Errorf("%s: image %s, command %q", ShardService(i), svc.Image, cmd)
		}
	}
	if len(targets) != o.N || prom.ScrapeConfigs[0].MetricsPath != "/metrics" {
		t.Errorf("prometheus.yml scrapes %v at %s, want the %d shards' /metrics", targets, prom.ScrapeConfigs[0].MetricsPath, o.N)
	}
	if got := strings.Join(proj.Services["merge"].Command, " "); !strings.Contains(got, ShardReport(2)) {
		t.Errorf("merge step %q does not read shard 2's report", got)
	}
	if _, err := Shards(ShardsOptions{}); err == nil {
		t.Error("zero shards must be an error")
	}
}

// docker compose (or docker-compose) accepts the project as written; this
// needs the client only, not an engine.
func TestShardsProjectConfig(t *testing.T) {
	cc := composeCommand()
	if cc == nil {
		t.Skip("SKIP: neither `docker compose` nor `docker-compose` is installed (.ci/docker.sh installs docker-compose)")
	}
	dir := t.TempDir()
	files, err := Shards(ShardsOptions{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Content, os.FileMode(f.Mode)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ShardsScenario), []byte("name: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(cc[1:], "-f", filepath.Join(dir, "compose.yml"), "--profile", "merge", "--profile", "dashboards", "config")
	out, err := exec.Command(cc[0], args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cc, " "), err, out)
	}
	for _, svc := range []string{"shard-0", "shard-1", "merge", "prometheus", "grafana"} {
		if !strings.Contains(string(out), "  "+svc+":") {
			t.Errorf("resolved config lacks service %s:\n%s", svc, out)
		}
	}
}
