package report_test

import (
	"bytes"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

// withEdges is the fixture with a client section and Redis's own latency,
// as a run now writes them.
func withEdges(t *testing.T) *result.Result {
	t.Helper()
	r := fixture(t)
	r.Client = result.ClientReport{
		GOGC: "400", GOGCSource: "tool", GOMEMLIMIT: "4GiB", GOMEMLIMITSource: "env",
		GOMAXPROCS: 8, NumCPU: 8, WindowS: 90, GCPauseP99Ms: 0.5243, GCCycles: 61, GCCPUFraction: 0.0213,
		CPUSeconds: 41.4, CPUPerRequestUs: 275.7, PeakRSSBytes: 412 << 20,
		ConnReadBufferBytes: 16 << 10, ConnWriteBufferBytes: 16 << 10, ConnBufferSource: "tool",
	}
	r.Server.LatencyStats = map[string]result.ServerLatency{
		"get":    {Calls: 160123, P50: 0.003007, P99: 0.038143, P999: 0.101375},
		"set":    {Calls: 20456, P50: 0.004015, P99: 0.031103, P999: 0.086015},
		"expire": {Calls: 3103, P50: 0.003007, P99: 0.010047, P999: 0.065023},
		"scan":   {Calls: 3, P50: 0.2, P99: 0.3, P999: 0.3},
	}
	return r
}

func TestTextShowsClientAndServerLatency(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteText(&buf, withEdges(t)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, re := range []string{
		`(?m)^service \(client call\)\s+p50 `,
		`(?m)^redis get \(in server\)\s+p50 0\.003ms  p99 0\.038ms  p99\.9 0\.101ms  \(calls 160,123\)$`,
		`(?m)^redis set \(in server\)\s+p50 0\.004ms  p99 0\.031ms  p99\.9 0\.086ms  \(calls 20,456\)$`,
		`(?m)^client \(this tool\)\s+GOGC 400 \(tool\), GOMEMLIMIT 4GiB \(env\), GOMAXPROCS 8 of 8 CPUs; CPU 41\.4s in 90s \(0\.46 cores, 275\.7µs/request\); GC 61 cycles, pause p99 0\.524ms, 2\.13% of CPU; peak RSS 412 MiB$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("text lacks %s:\n%s", re, out)
		}
	}
	// The console keeps to GET and SET; the HTML lists every command.
	if strings.Contains(out, "redis expire") || strings.Contains(out, "redis scan") {
		t.Errorf("text lists more than get and set:\n%s", out)
	}
}

// A light run: CPU under a second keeps its decimals, and a window without
// a collection says so rather than showing a 0ms pause.
func TestTextClientLightRun(t *testing.T) {
	r := withEdges(t)
	r.Client.CPUSeconds, r.Client.WindowS, r.Client.CPUPerRequestUs = 0.04, 1.9, 190.8
	r.Client.GCCycles, r.Client.GCPauseP99Ms, r.Client.GCCPUFraction = 0, 0, 0
	var buf bytes.Buffer
	if err := report.WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "CPU 0.04s in 1.9s (0.02 cores, 190.8µs/request); GC no collection in the window;") {
		t.Errorf("light run:\n%s", out)
	}
}

// A report without the sections (older, or merged) prints neither line.
func TestTextWithoutClientSection(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteText(&buf, fixture(t)); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.Contains(out, "client (this tool)") || strings.Contains(out, "(in server)") {
		t.Errorf("empty client or server latency printed:\n%s", out)
	}
}

func TestHTMLShowsClientAndServerLatency(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, withEdges(t)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	client := section(t, page, "client")
	for _, want := range []string{"<th>GOGC</th><td>400 (tool)</td>", "<th>GOMEMLIMIT</th><td>4GiB (env)</td>", "8 of 8 CPUs",
		"41.4s in 90s (0.46 cores, 275.7µs/request)", "61 cycles, pause p99 0.524ms, 2.13% of CPU", "412 MiB",
		"<th>connection buffers (read / write)</th><td>16 KiB / 16 KiB (tool)</td>"} {
		if !strings.Contains(client, want) {
			t.Errorf("client section lacks %q:\n%s", want, client)
		}
	}
	latency := section(t, page, "latency")
	if !strings.Contains(latency, "service (client call)") || !strings.Contains(latency, "pool wait, retries") {
		t.Error("service latency not labelled as the client's call")
	}
	// Redis's GET latency beside the client's GET latency, on one row.
	r := withEdges(t)
	get := regexp.MustCompile(`<tr><td>get</td><td class="n">160,123</td><td class="n">0.003ms</td><td class="n">0.038ms</td><td class="n">0.101ms</td><td class="n">([^<]+)</td><td class="n">([^<]+)</td>`).FindStringSubmatch(latency)
	if get == nil {
		t.Fatalf("no get row with Redis's and the client's latency in:\n%s", latency)
	}
	if want := result.FormatValue(r.Latency.ByOp["get"].P99, result.UnitMs); get[2] != want {
		t.Errorf("client get p99 %q beside Redis's, want %q", get[2], want)
	}
	if !strings.Contains(latency, "<tr><td>set</td>") || !strings.Contains(latency, "<tr><td>scan</td>") || !strings.Contains(latency, "not a client operation") {
		t.Error("set, or a command the client has no figures for, is missing")
	}
	if strings.Index(latency, "<tr><td>get</td>") > strings.Index(latency, "<tr><td>expire</td>") {
		t.Error("get is not listed first")
	}
}

func TestHTMLWithoutClientSection(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, fixture(t)); err != nil {
		t.Fatal(err)
	}
	if c := section(t, buf.String(), "client"); !strings.Contains(c, "no client section") {
		t.Errorf("client section of a report without one:\n%s", c)
	}
	if strings.Contains(buf.String(), "Redis's own latency") {
		t.Error("server latency table without figures")
	}
}

// Both sections survive JSON and match the schema.
func TestJSONClientAndServerLatency(t *testing.T) {
	r := withEdges(t)
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.ValidateJSON(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"gogc": "400"`, `"gogc_source": "tool"`, `"gomemlimit": "4GiB"`, `"gc_pause_p99_ms": 0.5243`, `"cpu_seconds": 41.4`,
		`"peak_rss_bytes": 432013312`, `"latency_stats": {`, `"p999": 0.101375`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	back, err := report.ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Client, r.Client) || back.Server.LatencyStats["get"] != r.Server.LatencyStats["get"] {
		t.Errorf("round trip: %+v %+v", back.Client, back.Server.LatencyStats)
	}
	bad := strings.Replace(buf.String(), `"gc_cpu_fraction": 0.0213`, `"gc_cpu_fraction": 2.13`, 1)
	if err := reporttest.ValidateJSON([]byte(bad)); err == nil {
		t.Error("a GC CPU fraction above 1 validated")
	}
}

// section returns the HTML of the element carrying data-section=name.
func section(t *testing.T, page, name string) string {
	t.Helper()
	i := strings.Index(page, `data-section="`+name+`"`)
	if i < 0 {
		t.Fatalf("no %s section", name)
	}
	end := strings.Index(page[i:], "</section>")
	if end < 0 {
		t.Fatalf("%s section not closed", name)
	}
	return page[i : i+end]
}

// Redis's own CPU per command stands beside the tool's, and a run the load
// generator limited says so at the top of the HTML and in the console.
func TestWritersShowCostAndBottleneck(t *testing.T) {
	r := withEdges(t)
	r.Server.CPUSeconds, r.Server.Commands, r.Server.CPUPerCommandUs = 6.21, 180_579, 34.39
	r.Client.CPUPerRedisCommandUs, r.Client.CPUVsRedis = 229.26, 6.67
	r.Client.Bottleneck = "3.2% of commands started over 1 ms late with in-flight slots free (the tool could not keep its schedule)"
	var buf bytes.Buffer
	if err := report.WriteText(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, re := range []string{
		`(?m)^redis cpu\s+CPU 6\.21s for 180,579 commands \(34\.4µs/command\)$`,
		`(?m)^client \(this tool\)\s+.*229\.3µs/Redis command, 6\.67× Redis's CPU\)`,
		`(?m)^WARNING\s+3\.2% of commands started over 1 ms late`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("text lacks %s:\n%s", re, out)
		}
	}
	buf.Reset()
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, `data-banner="bottleneck">Not Redis: the load generator or its machine was the bottleneck: 3.2% of commands`) {
		t.Error("HTML has no bottleneck banner")
	}
	if !strings.Contains(section(t, page, "redis"), "34.39µs over 180,579 commands") {
		t.Error("HTML redis section lacks Redis's CPU per command")
	}
	// Without a bottleneck there is no banner.
	r.Client.Bottleneck = ""
	buf.Reset()
	if err := report.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `data-banner="bottleneck"`) {
		t.Error("bottleneck banner on a run the tool did not limit")
	}
}
