package harness

import (
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/topology"
)

// Redis's CPU is summed over the recorded rows only, and set beside the
// tool's per Redis command.
func TestFillCostOverRecordedRows(t *testing.T) {
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
	fillCost(res, true)
	if res.Server.CPUSeconds != 0.5 || res.Server.Commands != 20_000 || res.Server.CPUPerCommandUs != 25 {
		t.Errorf("server cost %+v, want 0.5s for 20,000 commands, 25µs each", res.Server)
	}
	if res.Client.CPUPerRedisCommandUs != 50 || res.Client.CPUVsRedis != 2 {
		t.Errorf("client %vµs/Redis command, %v× Redis; want 50 and 2", res.Client.CPUPerRedisCommandUs, res.Client.CPUVsRedis)
	}
	if res.Client.Bottleneck != "" {
		t.Errorf("bottleneck %q on a run with 0.75 of 2 CPUs busy and nothing late", res.Client.Bottleneck)
	}
}

func TestBottleneckVerdict(t *testing.T) {
	idle := result.ClientReport{CPUSeconds: 10, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2}
	for _, tc := range []struct {
		name     string
		users    result.UsersReport
		pool     result.PoolReport
		client   result.ClientReport
		redisCPU float64
		local    bool
		want     string // "" for no bottleneck
	}{
		{"on schedule", result.UsersReport{Commands: 10_000, Late: 50}, result.PoolReport{}, idle, 10, true, ""},
		{"late with slots free", result.UsersReport{Commands: 10_000, Late: 300}, result.PoolReport{}, idle, 10, true, "3.0% of commands started over 1 ms late"},
		{"late waiting on Redis", result.UsersReport{Commands: 10_000, Late: 300, LateWaitingForSlot: 290}, result.PoolReport{}, idle, 10, true, ""},
		{"late behind a saturated pool", result.UsersReport{Commands: 10_000, Late: 8000}, result.PoolReport{Timeouts: 900}, idle, 10, true, ""},
		{"tool CPU saturated", result.UsersReport{Commands: 10_000}, result.PoolReport{Timeouts: 900}, result.ClientReport{CPUSeconds: 190, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2}, 0, false, "the tool used 1.90 of the 2 CPUs"},
		{"machine shared and full", result.UsersReport{Commands: 10_000}, result.PoolReport{}, result.ClientReport{CPUSeconds: 100, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2}, 85, true, "together used 1.85 of this machine's 2 CPUs"},
		{"remote Redis busy", result.UsersReport{Commands: 10_000}, result.PoolReport{}, result.ClientReport{CPUSeconds: 100, WindowS: 100, GOMAXPROCS: 2, NumCPU: 2}, 85, false, ""},
	} {
		got := bottleneck(tc.users, tc.pool, tc.client, tc.redisCPU, tc.local)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: bottleneck %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	node := func(addr string) topology.Node { return topology.Node{Name: addr, Addr: addr} }
	if !loopbackOnly([]topology.Node{node("127.0.0.1:6379"), node("[::1]:7000"), node("localhost:1")}) {
		t.Error("loopback nodes not seen as local")
	}
	if loopbackOnly([]topology.Node{node("127.0.0.1:6379"), node("10.1.2.3:6379")}) || loopbackOnly(nil) {
		t.Error("a remote or empty node list seen as local")
	}
}
