package selfmeasure

import (
	"runtime"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/topology"
)

// Redis's CPU is summed over the recorded rows only, and set beside the
// tool's per Redis command.
func TestFillCostOverRecordedRows(t *testing.T) {
	defer func(f func() float64) { hostLoadNow = f }(hostLoadNow)
	hostLoadNow = func() float64 { return 0.4 }
	res := &result.Result{
		Phases: []result.PhaseReport{{Name: "warmup"}, {Name: "steady", Recorded: true}},
		Timeline: []result.TimelineRow{
			{Phase: "warmup", ServerCPUS: 5, ServerCommands: 1000},
			{Phase: "steady", ServerCPUS: 0.3, ServerCommands: 10_000},
			{Phase: "steady", ServerCPUS: 0.2, ServerCommands: 10_000},
		},
		Users:  result.UsersReport{Commands: 3000},
		Client: result.ClientReport{CPUSeconds: 1, WindowS: 2, GOMAXPROCS: 2, NumCPU: 2},
	}
	FillCost(res, true)
	if res.Server.CPUSeconds != 0.5 || res.Server.Commands != 20_000 || res.Server.CPUPerCommandUs != 25 {
		t.Errorf("server cost %+v, want 0.5s for 20,000 commands, 25µs each", res.Server)
	}
	if res.Client.CPUPerRedisCommandUs != 50 || res.Client.CPUVsRedis != 2 {
		t.Errorf("client %vµs/Redis command, %v× Redis; want 50 and 2", res.Client.CPUPerRedisCommandUs, res.Client.CPUVsRedis)
	}
	if res.Client.Bottleneck != "" {
		t.Errorf("bottleneck %q on a run with 0.75 of 2 CPUs busy and nothing late", res.Client.Bottleneck)
	}
	if res.Client.HostLoad1m != 0.4 {
		t.Errorf("host load %v, want the machine's 0.4", res.Client.HostLoad1m)
	}
	if hostLoad() <= 0 {
		t.Error("/proc/loadavg not read")
	}
}

func TestBottleneckVerdict(t *testing.T) {
	idle := result.ClientReport{CPUSeconds: 10, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2}
	// lagged: the p99 from intended start is well above the p99 from the
	// send, so late starts moved the tail; level: they did not.
	lagged := result.LatencyReport{Overall: result.Summary{P99: 4}, Service: result.Summary{P99: 2}}
	level := result.LatencyReport{Overall: result.Summary{P99: 2.1}, Service: result.Summary{P99: 2}}
	for _, tc := range []struct {
		name     string
		users    result.UsersReport
		pool     result.PoolReport
		lat      result.LatencyReport // zero: lagged
		client   result.ClientReport
		redisCPU float64
		local    bool
		want     string // "" for no bottleneck
	}{
		{"on schedule", result.UsersReport{Commands: 10_000, Late: 50}, result.PoolReport{}, lagged, idle, 10, true, ""},
		{"late with slots free", result.UsersReport{Commands: 10_000, Late: 300}, result.PoolReport{}, lagged, idle, 10, true, "3.0% of commands started over 1 ms late"},
		{"late but the tail did not move", result.UsersReport{Commands: 10_000, Late: 1700}, result.PoolReport{}, level, idle, 10, true, ""},
		{"late waiting on Redis", result.UsersReport{Commands: 10_000, Late: 300, LateWaitingForSlot: 290}, result.PoolReport{}, lagged, idle, 10, true, ""},
		{"late behind a saturated pool", result.UsersReport{Commands: 10_000, Late: 8000}, result.PoolReport{Timeouts: 900}, lagged, idle, 10, true, ""},
		{"tool CPU saturated", result.UsersReport{Commands: 10_000}, result.PoolReport{Timeouts: 900}, lagged, result.ClientReport{CPUSeconds: 190, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2}, 0, false, "the tool used 1.90 of the 2 CPUs"},
		{"machine shared and full", result.UsersReport{Commands: 10_000}, result.PoolReport{}, lagged, result.ClientReport{CPUSeconds: 100, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2}, 85, true, "together used 1.85 of this machine's 2 CPUs"},
		{"remote Redis busy", result.UsersReport{Commands: 10_000}, result.PoolReport{}, lagged, result.ClientReport{CPUSeconds: 100, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2}, 85, false, ""},
		{"late as the host's own timer", result.UsersReport{Commands: 10_000, Late: 300}, result.PoolReport{}, lagged, withHost(idle, 10_000, 200), 10, true, "as late (2.00% over 1 ms, worst 4.0 ms, while the tool and Redis used 0.20 of its 2 CPUs): threads here waited for a CPU"},
		{"later than the host's timer", result.UsersReport{Commands: 10_000, Late: 300}, result.PoolReport{}, lagged, withHost(idle, 10_000, 20), 10, true, "(the tool could not keep its schedule)"},
		{"host timer never late", result.UsersReport{Commands: 10_000, Late: 300}, result.PoolReport{}, lagged, withHost(idle, 10_000, 0), 10, true, "(the tool could not keep its schedule)"},
		{"tool's goroutines waited for a thread", result.UsersReport{Commands: 10_000}, result.PoolReport{}, lagged, withSched(idle, 2.5), 10, true, "waited 2.50 ms (p99) for a thread"},
		{"scheduling delay small beside the tail", result.UsersReport{Commands: 10_000}, result.PoolReport{}, lagged, withSched(idle, 1.2), 10, true, ""},
		{"scheduling delay under a millisecond", result.UsersReport{Commands: 10_000}, result.PoolReport{}, result.LatencyReport{Overall: result.Summary{P99: 1}, Service: result.Summary{P99: 1}}, withSched(idle, 0.8), 10, true, ""},
		{"host oversubscribed", result.UsersReport{Commands: 10_000}, result.PoolReport{}, level, result.ClientReport{CPUSeconds: 10, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2, HostLoad1m: 3.4}, 10, true, "load average 3.40 on 2 CPUs"},
	} {
		lat := tc.lat
		if lat.Overall.P99 == 0 {
			lat = lagged
		}
		got := bottleneck(tc.users, tc.pool, lat, tc.client, tc.redisCPU, tc.local)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: bottleneck %q, want %q", tc.name, got, tc.want)
		}
	}
}

// withSched is c with the tool's goroutine scheduling delay p99 at ms.
func withSched(c result.ClientReport, ms float64) result.ClientReport {
	c.Sched = &result.SchedLatency{Count: 1000, P50Ms: 0.01, P99Ms: ms, P999Ms: 2 * ms}
	return c
}

// withHost is c with a host timer probe that saw late of wakes over 1 ms.
func withHost(c result.ClientReport, wakes, late uint64) result.ClientReport {
	c.HostTimer = &result.HostTimer{Wakes: wakes, Late: late, LateFraction: float64(late) / float64(wakes), MaxMs: 4}
	return c
}

func TestLoopbackOnly(t *testing.T) {
	node := func(addr string) topology.Node { return topology.Node{Name: addr, Addr: addr} }
	if !LoopbackOnly([]topology.Node{node("127.0.0.1:6379"), node("[::1]:7000"), node("localhost:1")}) {
		t.Error("loopback nodes not seen as local")
	}
	if LoopbackOnly([]topology.Node{node("127.0.0.1:6379"), node("10.1.2.3:6379")}) || LoopbackOnly(nil) {
		t.Error("a remote or empty node list seen as local")
	}
}

func TestLeaveCPUForRedis(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: nothing to leave")
	}
	restore, procs, source := LeaveCPUForRedis(true)
	if procs != 1 || runtime.GOMAXPROCS(0) != 1 || source != "tool" {
		t.Errorf("local Redis: GOMAXPROCS %d (reported %d, %s), want 1 set by the tool", runtime.GOMAXPROCS(0), procs, source)
	}
	restore()
	if runtime.GOMAXPROCS(0) != 2 {
		t.Errorf("after restore GOMAXPROCS %d, want 2", runtime.GOMAXPROCS(0))
	}
	if _, procs, source := LeaveCPUForRedis(false); procs != 2 || source != "default" {
		t.Errorf("remote Redis: %d %s, want Go's 2, default", procs, source)
	}
	t.Setenv("GOMAXPROCS", "2")
	if _, procs, source := LeaveCPUForRedis(true); procs != 2 || source != "env" {
		t.Errorf("GOMAXPROCS in the environment: %d %s, want it kept", procs, source)
	}
}
