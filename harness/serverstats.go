package harness

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/selfmeasure"
	"github.com/cacheproof/cacheproof/topology"
)

// statsControl is the part of a deployment that resets and reads Redis's
// per-command statistics (topology.Deployment has it; see seams.go).
type statsControl interface {
	topology.InfoSource
	topology.NodeLister
	Do(ctx context.Context, node string, args ...any) (any, error)
}

// resetServerStats runs CONFIG RESETSTAT on every data node the tool owns,
// just before the load starts, so that INFO latencystats and commandstats
// (which Redis keeps cumulatively, with no way to subtract two readings of a
// percentile) cover the load: warm-up and recorded phases, not the prefill,
// whose bulk writes would otherwise dominate SET's figures. It is done then,
// not when the first recorded phase begins, because then nothing else is
// running: the sampler's counters (evicted_keys, keyspace_hits, ...) lose no
// event to the reset. The latency percentiles therefore include warm-up, as
// the server section's counters do.
//
// The sampler's last readings of a reset node are dropped, so its next
// reading counts from the reset as from a node's start (see observe); the
// peak memory it saw (prefill included) is kept. A node restarted by a fault
// starts its statistics afresh, so they then cover the time since.
//
// An external deployment is never reset: its statistics are its owner's
// (other clients and monitoring read them); the note returned says that its
// latency figures cover the server's life. A note is also returned when a
// reset failed.
func (s *sampler) resetServerStats(ctx context.Context, dep statsControl, owned bool) string {
	if !owned {
		return "server latency (INFO latencystats) of an external Redis is not reset by the tool: it covers the server's life since its start or last CONFIG RESETSTAT, not only this run"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var failed []string
	for _, n := range dep.Nodes() {
		if n.Role == topology.RoleSentinel {
			continue
		}
		if _, err := dep.Do(ctx, n.Name, "CONFIG", "RESETSTAT"); err != nil {
			failed = append(failed, fmt.Sprintf("%s (%v)", n.Name, err))
			continue
		}
		delete(s.server.last, n.Name)
	}
	if len(failed) > 0 {
		return "CONFIG RESETSTAT failed on " + strings.Join(failed, ", ") + ": that node's server latency covers its life, prefill included"
	}
	return ""
}

// controlCommands are what the tool itself sends to observe and steer Redis
// (INFO, CONFIG RESETSTAT, the pool's PING and HELLO, fault controls). They
// are not the cache's traffic, so the latency section leaves them out.
var controlCommands = map[string]bool{
	"info": true, "config": true, "client": true, "hello": true, "ping": true, "auth": true,
	"select": true, "command": true, "cluster": true, "sentinel": true, "replicaof": true,
	"slaveof": true, "debug": true, "shutdown": true, "latency": true, "slowlog": true,
	"memory": true, "role": true, "readonly": true, "readwrite": true, "quit": true, "reset": true,
	"failover": true, "wait": true, "dbsize": true,
}

// serverLatency reads INFO latencystats and commandstats from every primary
// and returns Redis's per-command latency in milliseconds (see
// result.ServerLatency for how several primaries combine). Replicas are left
// out, as in the server counters: what they run is the replication stream,
// not the cache's requests. The note is non-empty when no primary had
// latency figures (Redis before 7, or latency-tracking off).
func serverLatency(ctx context.Context, dep statsControl) (map[string]result.ServerLatency, string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	primary := map[string]bool{}
	for _, n := range dep.Nodes() {
		if n.Role == topology.RolePrimary {
			primary[n.Name] = true
		}
	}
	lat, _ := dep.InfoAll(ctx, "latencystats")
	cmd, _ := dep.InfoAll(ctx, "commandstats")
	out := map[string]result.ServerLatency{}
	read := 0
	for node, l := range lat {
		if !primary[node] {
			continue
		}
		read++
		mergeServerLatency(out, parseLatencyStats(l, cmd[node]))
	}
	if len(out) == 0 {
		if read == 0 {
			return nil, "server latency: INFO latencystats could not be read from any primary"
		}
		return nil, "server latency: INFO latencystats has no per-command figures (Redis before 7, or latency-tracking off): Redis's own latency is not reported"
	}
	return out, ""
}

// parseLatencyStats turns one node's INFO latencystats and commandstats
// (key/value pairs as topology's INFO parser returns them) into per-command
// latency in milliseconds:
//
//	latency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=10.015
//	cmdstat_get:calls=1234,usec=5678,usec_per_call=4.60,...
//
// Percentiles Redis does not report (latency-tracking-info-percentiles
// changed) stay 0. An empty latencystats (Redis before 7) gives an empty map.
func parseLatencyStats(lat, cmd map[string]string) map[string]result.ServerLatency {
	out := map[string]result.ServerLatency{}
	for k, v := range lat {
		name, ok := strings.CutPrefix(k, "latency_percentiles_usec_")
		if !ok || controlCommands[baseCommand(name)] {
			continue
		}
		var sl result.ServerLatency
		for _, part := range strings.Split(v, ",") {
			p, x, ok := strings.Cut(part, "=")
			if !ok {
				continue
			}
			us, err := strconv.ParseFloat(x, 64)
			if err != nil {
				continue
			}
			ms := math.Round(us*1e3) / 1e6 // Redis measures in ns, prints µs
			switch p {
			case "p50":
				sl.P50 = ms
			case "p99":
				sl.P99 = ms
			case "p99.9":
				sl.P999 = ms
			}
		}
		for _, part := range strings.Split(cmd["cmdstat_"+name], ",") {
			if x, ok := strings.CutPrefix(part, "calls="); ok {
				sl.Calls, _ = strconv.ParseUint(x, 10, 64)
			}
		}
		out[name] = sl
	}
	return out
}

// baseCommand is a command's name without its subcommand ("config|get").
func baseCommand(name string) string {
	b, _, _ := strings.Cut(name, "|")
	return b
}

// mergeServerLatency folds one node's figures in: calls add up, each
// percentile is the highest of the nodes'.
func mergeServerLatency(into, node map[string]result.ServerLatency) {
	for name, n := range node {
		cur := into[name]
		cur.Calls += n.Calls
		cur.P50 = math.Max(cur.P50, n.P50)
		cur.P99 = math.Max(cur.P99, n.P99)
		cur.P999 = math.Max(cur.P999, n.P999)
		into[name] = cur
	}
}

// fillRunEnvironment puts what the run ran under into the result: the
// tool's own section (client) and Redis's own per-command latency
// (server.latency_stats), so a reader can tell Redis's time from the tool's.
func fillRunEnvironment(res *result.Result, dep statsControl, client *selfmeasure.Collector) {
	res.Client = client.Report(res.Users.Requests)
	res.Client.ConnReadBufferBytes, res.Client.ConnWriteBufferBytes, res.Client.ConnBufferSource = pool.ConnReadBufferBytes, pool.ConnWriteBufferBytes, "tool"
	lat, note := serverLatency(context.Background(), dep)
	res.Server.LatencyStats = lat
	if note != "" {
		res.Notes = append(res.Notes, note)
	}
	selfmeasure.FillCost(res, selfmeasure.LoopbackOnly(dep.Nodes()))
	if res.Client.Bottleneck != "" {
		res.Notes = append(res.Notes, "not Redis: the load generator or its machine was the bottleneck: "+res.Client.Bottleneck)
	}
}
